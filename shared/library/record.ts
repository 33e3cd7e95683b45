import type { InStatement, Row, Transaction } from "@libsql/client";
import { type Db, yieldToEventLoop } from "../db.ts";
import { REPAIR_PRIORITY } from "../rd/store.ts";
import type { SweepFs } from "./fs.ts";
import type { BrokenReason } from "./inspect.ts";
import {
  addToBucket,
  type Bucket,
  DETAIL_FIELDS,
  indexFromKeys,
  KEY_VERSION,
  type KeyedTorrent,
  matchTorrent,
  nameKeys,
  normalizeName,
  type Release,
  type ReleaseDetail,
  releaseOf,
  type TorrentRef,
} from "./match.ts";

/** A broken link as the sweep records it. */
export interface BrokenLink {
  path: string;
  root: string;
  target: string;
  reason: BrokenReason;
  torrentName: string | null;
  matchedTorrentId: string | null;
  matchKind: string | null;
}

/**
 * Maps broken links to torrents by the name parsed from their target. Torrents are keyed once
 * (keyTorrents); a run looks up only the torrents its names can match, level by level, and matches
 * among those. The answers are those of an index over the whole account, since no other torrent can
 * match a name at any level.
 */
export async function matchLinks(db: Db, links: BrokenLink[]): Promise<number> {
  const needing = links.filter((l) => l.torrentName !== null);
  if (needing.length === 0) return 0;
  await keyTorrents(db);
  // no torrent listed yet (before the first scan): nothing to read names for
  if ((await db.execute("SELECT 1 FROM torrent_keys LIMIT 1")).rows.length === 0) return 0;
  const names = [...new Set(needing.map((l) => l.torrentName ?? ""))];
  // Exact filenames first: Zurg and rclone name a torrent's folder after its filename, so most names end
  // here, and a name matched exactly is never normalized.
  const exact = await torrentsBy(db, "filename", names);
  const normalized = new Map<string, string>();
  for (const n of names) if (!exact.has(n)) normalized.set(n, normalizeName(n));
  const near = await torrentsBy(db, "normalized", [...new Set(normalized.values())]);
  // Only names with no candidate at either strict level reach the fuzzy level, so only their buckets
  // are loaded (a title's bucket can hold every release of it); each name's release is read once.
  const releases = new Map<string, Release>();
  for (const [n, norm] of normalized) if (!near.has(norm)) releases.set(n, releaseOf(n, norm));
  const index = indexFromKeys(exact, near, await fuzzyCandidates(db, releases.values()));
  let matched = 0;
  for (const link of needing) {
    const name = link.torrentName ?? "";
    const m = matchTorrent(index, name, normalized.get(name), releases.get(name));
    if (m.match) {
      link.matchedTorrentId = m.match.torrent.id;
      link.matchKind = m.match.kind;
      matched++;
    }
  }
  return matched;
}

// torrent_keys holds only listed torrents' current keys (migration 0007), so the lookups below need no
// join back to torrents. Their rows come back as one JSON array built by SQLite: the driver's cost per
// row was half of the query's time (8k rows: 149 ms as rows, 80 ms as JSON).

/**
 * The torrents whose `column` equals one of `values`, by that value: an index probe per value, in sorted
 * order so that each index page is read once (10k names: 27 ms unsorted, 16 ms sorted).
 */
async function torrentsBy(
  db: Db,
  column: "filename" | "normalized",
  unsorted: readonly string[],
): Promise<Map<string, Bucket<TorrentRef>>> {
  const found = new Map<string, Bucket<TorrentRef>>();
  if (unsorted.length === 0) return found;
  const values = [...unsorted].sort();
  const rs = await db.execute({
    // by filename, the key is the filename: only the id comes back
    sql: `SELECT json_group_array(json_array(j.key, k.id${column === "filename" ? "" : ", k.filename"})) AS rows
          FROM json_each(?1) j JOIN torrent_keys k ON k.${column} = j.value`,
    args: [JSON.stringify(values)],
  });
  const rows = JSON.parse(String(rs.rows[0]?.rows ?? "[]")) as [number, string, string?][];
  for (const [i, id, filename] of rows) {
    const key = values[i] ?? "";
    addToBucket(found, key, { id, filename: filename ?? key });
  }
  return found;
}

const gate = (field: "resolution" | "source" | "codec") =>
  `(q.${field} IS NULL OR k.detail ->> ${DETAIL_FIELDS[field]} IS NULL OR k.detail ->> ${DETAIL_FIELDS[field]} = q.${field})`;

/**
 * fuzzyCandidates' lookup, over [release, resolution, source, codec, revision] rows (?1). The gates are read
 * from the index of migration 0008, whose expressions are these.
 */
export const FUZZY_CANDIDATES_SQL = `WITH q AS MATERIALIZED (
    SELECT value ->> 0 AS release, value ->> 1 AS resolution, value ->> 2 AS source, value ->> 3 AS codec,
      value ->> 4 AS revision
    FROM json_each(?1))
  SELECT json_group_array(json_array(id, filename, release, json(detail))) AS rows FROM torrent_keys
  WHERE rowid IN (
    SELECT k.rowid FROM q JOIN torrent_keys k ON k.release = q.release
    WHERE k.detail ->> ${DETAIL_FIELDS.revision} = q.revision AND ${gate("resolution")} AND ${gate("source")} AND ${gate("codec")})`;

/**
 * The keyed torrents of these releases' fuzzy buckets that pass the scalar gates of the fuzzy level
 * (resolution, source and codec agree where both state one, same PROPER/REPACK marks) for at least one of
 * them, with their stored detail. Those gates are checked again in fuzzyScore; here they only keep the
 * torrents that would score 0 from being read: a title's bucket holds every release of it (a run's 1,743
 * names: 7,862 bucket rows, 1,818 past these gates).
 */
async function fuzzyCandidates(db: Db, releases: Iterable<Release>): Promise<KeyedTorrent[]> {
  // each distinct query once (names of one release often share it), serialized once
  const queries = new Set<string>();
  for (const r of releases) queries.add(JSON.stringify([r.key, r.resolution, r.source, r.codec, r.revision]));
  if (queries.size === 0) return [];
  const rs = await db.execute({ sql: FUZZY_CANDIDATES_SQL, args: [`[${[...queries].join(",")}]`] });
  const rows = JSON.parse(String(rs.rows[0]?.rows ?? "[]")) as [string, string, string, ReleaseDetail][];
  return rows.map(([id, filename, release, detail]) => ({ torrent: { id, filename }, release, detail }));
}

const KEY_CHUNK = 2_000;

/**
 * Keys the torrents that need it, a chunk at a time with a turn of the event loop between, so keying a
 * whole account once (~3 s for 100k) never holds the server: first those past the watermark on rowid
 * (new since the last pass), then those queued by the triggers of migration 0007 (renamed, listed again).
 * When KEY_VERSION changes, every key is dropped and computed again. A key is written only if its torrent
 * still has the filename it was computed from; one renamed meanwhile was queued again by the trigger.
 * Returns how many torrents it keyed.
 */
export async function keyTorrents(db: Db): Promise<number> {
  const state = (await db.execute("SELECT keyed_rowid, version, deletes FROM torrent_keys_state WHERE id = 1")).rows[0];
  let mark = Number(state?.keyed_rowid ?? 0);
  const deletes = Number(state?.deletes ?? 0);
  if (Number(state?.version ?? 0) !== KEY_VERSION) {
    await db.batch(
      [
        "DELETE FROM torrent_keys",
        "DELETE FROM torrent_keys_queue",
        {
          sql: "INSERT OR REPLACE INTO torrent_keys_state (id, keyed_rowid, version, deletes) VALUES (1, 0, ?, ?)",
          args: [KEY_VERSION, deletes],
        },
      ],
      "write",
    );
    mark = 0;
  }
  let keyed = 0;
  // past the watermark, up to the last torrent now: one inserted meanwhile is past `top`, for the next pass
  const top = Number((await db.execute("SELECT coalesce(max(rowid), 0) AS top FROM torrents")).rows[0]?.top ?? 0);
  while (mark < top) {
    const rs = await db.execute({
      sql: `SELECT rowid AS r, id, filename FROM torrents t WHERE rowid > ?1 AND rowid <= ?2 AND gone_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM torrent_keys k WHERE k.id = t.id)
            ORDER BY rowid LIMIT ?3`,
      args: [mark, top, KEY_CHUNK],
    });
    const next = rs.rows.length < KEY_CHUNK ? top : Number(rs.rows.at(-1)?.r);
    // moved only if no torrent was deleted meanwhile: a deleted rowid can be given to a new torrent this
    // pass never read; then the watermark stays where the delete put it, and the next pass looks from there
    keyed += await writeKeys(db, rs.rows, {
      sql: "UPDATE torrent_keys_state SET keyed_rowid = max(keyed_rowid, ?1) WHERE id = 1 AND deletes = ?2",
      args: [next, deletes],
    });
    mark = next;
    if (mark < top) await yieldToEventLoop();
  }
  let after = "";
  for (;;) {
    const rs = await db.execute({
      // filename null: no longer listed, or keyed already (past the watermark after a delete)
      sql: `SELECT q.id, CASE WHEN k.id IS NULL THEN t.filename END AS filename
            FROM torrent_keys_queue q
            LEFT JOIN torrents t ON t.id = q.id AND t.gone_at IS NULL
            LEFT JOIN torrent_keys k ON k.id = t.id AND k.filename = t.filename
            WHERE q.id > ?1 ORDER BY q.id LIMIT ?2`,
      args: [after, KEY_CHUNK],
    });
    if (rs.rows.length === 0) break;
    // dequeued: keyed now, or no longer listed; one renamed meanwhile stays
    keyed += await writeKeys(db, rs.rows, {
      sql: `DELETE FROM torrent_keys_queue WHERE id IN (SELECT value FROM json_each(?1))
            AND NOT EXISTS (SELECT 1 FROM torrents t WHERE t.id = torrent_keys_queue.id AND t.gone_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM torrent_keys k WHERE k.id = t.id AND k.filename = t.filename))`,
      args: [JSON.stringify(rs.rows.map((r) => String(r.id)))],
    });
    after = String(rs.rows.at(-1)?.id);
    if (rs.rows.length < KEY_CHUNK) break;
    await yieldToEventLoop();
  }
  return keyed;
}

/** Writes the keys of these torrents (rows of id and filename; null filename: skipped), then `then`, in one batch. */
async function writeKeys(db: Db, torrents: readonly Row[], then: InStatement): Promise<number> {
  const rows: string[][] = [];
  for (const r of torrents) {
    if (r.filename === null) continue;
    const filename = String(r.filename);
    const k = nameKeys(filename);
    rows.push([String(r.id), filename, k.normalized, k.release, k.detail]);
  }
  const [written] = await db.batch(
    [
      {
        sql: `INSERT INTO torrent_keys (id, filename, normalized, release, detail, version)
              SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, jsonb(j.value ->> 4), ?2
              FROM json_each(?1) j JOIN torrents t ON t.id = j.value ->> 0 AND t.filename = j.value ->> 1 AND t.gone_at IS NULL
              WHERE true
              ON CONFLICT (id) DO UPDATE SET filename = excluded.filename, normalized = excluded.normalized,
                release = excluded.release, detail = excluded.detail, version = excluded.version`,
        args: [JSON.stringify(rows), KEY_VERSION],
      },
      then,
    ],
    "write",
  );
  return written?.rowsAffected ?? 0;
}

/**
 * Records a run's broken links (first seen kept, last seen and generation moved) and queues one
 * repair per matched torrent (reason symlink_broken, highest priority), as the RD scans do.
 */
export async function recordBrokenLinks(
  tx: Transaction,
  links: readonly BrokenLink[],
  generation: number,
  now: number,
): Promise<number> {
  if (links.length === 0) return 0;
  await tx.execute({
    // each row made JSONB once (as the scan's upsert does): seven ->> on its text parsed it seven times
    sql: `WITH r AS MATERIALIZED (SELECT jsonb(value) AS j FROM json_each(?1))
          INSERT INTO broken_links (path, root, target, reason, torrent_name, matched_torrent_id, match_kind, state, generation, first_seen_at, last_seen_at)
          SELECT j ->> 0, j ->> 1, j ->> 2, j ->> 3, j ->> 4, j ->> 5, j ->> 6, 'broken', ?2, ?3, ?3
          FROM r WHERE true
          ON CONFLICT (path) DO UPDATE SET target = excluded.target, reason = excluded.reason, torrent_name = excluded.torrent_name,
            matched_torrent_id = excluded.matched_torrent_id, match_kind = excluded.match_kind, state = 'broken',
            generation = excluded.generation, last_seen_at = excluded.last_seen_at, resolved_at = NULL`,
    args: [
      JSON.stringify(
        links.map((l) => [l.path, l.root, l.target, l.reason, l.torrentName, l.matchedTorrentId, l.matchKind]),
      ),
      generation,
      now,
    ],
  });
  const ids = [...new Set(links.map((l) => l.matchedTorrentId).filter((id): id is string => id !== null))];
  if (ids.length === 0) return 0;
  const queued = await tx.execute({
    sql: `INSERT INTO repairs (torrent_id, hash, filename, reason, priority, state, attempt, next_attempt_at, created_at, updated_at)
          SELECT t.id, t.hash, t.filename, 'symlink_broken', ${REPAIR_PRIORITY.symlink_broken}, 'queued', 0, ?2, ?2, ?2
          FROM torrents t
          WHERE t.id IN (SELECT value FROM json_each(?1))
            AND NOT EXISTS (SELECT 1 FROM permanent_failures p WHERE p.hash = t.hash AND p.reset_at IS NULL)
            AND NOT EXISTS (SELECT 1 FROM repairs r WHERE r.hash = t.hash AND r.state NOT IN ('done', 'failed', 'cancelled'))
          ON CONFLICT DO NOTHING`,
    args: [JSON.stringify(ids), now],
  });
  return queued.rowsAffected;
}

/** Paths currently recorded as broken, so a run can tell which of the links it found fine were fixed. */
export async function brokenPathSet(db: Db): Promise<Set<string>> {
  const rs = await db.execute("SELECT path FROM broken_links WHERE state = 'broken'");
  return new Set(rs.rows.map((r) => String(r.path)));
}

/** Links this run judged fine that were recorded broken: resolved. */
export async function resolveFixed(tx: Transaction, paths: readonly string[], now: number): Promise<number> {
  if (paths.length === 0) return 0;
  const rs = await tx.execute({
    sql: "UPDATE broken_links SET state = 'resolved', resolved_at = ? WHERE state = 'broken' AND path IN (SELECT value FROM json_each(?))",
    args: [now, JSON.stringify(paths)],
  });
  return rs.rowsAffected;
}

/**
 * At the end of a sweep, broken links it did not meet again: `removed` only when the link itself is
 * gone (lstat says so). One it could not check (an unreadable folder, an uncertain mount answer)
 * keeps its state: nothing is called fixed without having been looked at.
 */
export async function settleStale(
  tx: Transaction,
  fs: Pick<SweepFs, "lstatSync">,
  generation: number,
  now: number,
): Promise<number> {
  const rs = await tx.execute({
    sql: "SELECT path FROM broken_links WHERE state = 'broken' AND generation < ?",
    args: [generation],
  });
  const gone: string[] = [];
  for (const r of rs.rows) {
    const path = String(r.path);
    try {
      fs.lstatSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") gone.push(path);
    }
  }
  if (gone.length === 0) return 0;
  const up = await tx.execute({
    sql: "UPDATE broken_links SET state = 'removed', resolved_at = ? WHERE path IN (SELECT value FROM json_each(?))",
    args: [now, JSON.stringify(gone)],
  });
  return up.rowsAffected;
}
