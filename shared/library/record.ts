import type { Transaction } from "@libsql/client";
import type { Db } from "../db.ts";
import { REPAIR_PRIORITY } from "../rd/store.ts";
import type { SweepFs } from "./fs.ts";
import type { BrokenReason } from "./inspect.ts";
import { indexFromKeys, KEY_VERSION, type KeyedTorrent, matchTorrent, nameKeys, normalizeName } from "./match.ts";

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
 * (keyTorrents); a run loads only the torrents that share a filename, a normalized name or a fuzzy
 * bucket with one of its links and matches among those. The answers are those of an index over the
 * whole account, since no other torrent can match a link at any level.
 */
export async function matchLinks(db: Db, links: BrokenLink[]): Promise<number> {
  const needing = links.filter((l) => l.torrentName !== null);
  if (needing.length === 0) return 0;
  await keyTorrents(db);
  const names = [...new Set(needing.map((l) => l.torrentName ?? ""))];
  const normalized = new Map(names.map((n) => [n, normalizeName(n)]));
  // The exact and normalized levels first; only names with no candidate there reach the fuzzy level,
  // so only their buckets are loaded (a title's bucket can hold every release of it).
  const rows = await keyedTorrents(
    db,
    `SELECT rowid FROM torrent_keys WHERE filename IN (SELECT value FROM json_each(?1))
     UNION SELECT rowid FROM torrent_keys WHERE normalized IN (SELECT value FROM json_each(?2))`,
    [JSON.stringify(names), JSON.stringify([...normalized.values()])],
    false,
  );
  const strict = indexFromKeys(rows);
  const fuzzy = names.filter((n) => !strict.byFilename.has(n) && !strict.byNormalized.has(normalized.get(n) ?? ""));
  // a fuzzy bucket's rows first: the index keeps the first row of a torrent, and they carry the detail
  const index =
    fuzzy.length === 0
      ? strict
      : indexFromKeys([
          ...(await keyedTorrents(
            db,
            "SELECT rowid FROM torrent_keys WHERE release IN (SELECT value FROM json_each(?1))",
            [JSON.stringify([...new Set(fuzzy.map((n) => nameKeys(n).release))])],
            true,
          )),
          ...rows,
        ]);
  let matched = 0;
  for (const link of needing) {
    const name = link.torrentName ?? "";
    const m = matchTorrent(index, name, normalized.get(name));
    if (m.match) {
      link.matchedTorrentId = m.match.torrent.id;
      link.matchKind = m.match.kind;
      matched++;
    }
  }
  return matched;
}

/**
 * Listed torrents whose torrent_keys rowid is among `rowids` (a SELECT), keyed from their current filename;
 * `detail` only when the fuzzy level needs it. The rows come back as one JSON array built by SQLite:
 * the driver's cost per row was half of the query's time (8k rows: 149 ms as rows, 80 ms as JSON).
 */
async function keyedTorrents(db: Db, rowids: string, args: string[], detail: boolean): Promise<KeyedTorrent[]> {
  const rs = await db.execute({
    sql: `SELECT json_group_array(json_array(k.id, k.filename, k.normalized, k.release${detail ? ", k.detail" : ""})) AS rows
          FROM torrent_keys k JOIN torrents t ON t.id = k.id
          WHERE k.rowid IN (${rowids}) AND t.gone_at IS NULL AND t.filename = k.filename`,
    args,
  });
  const rows = JSON.parse(String(rs.rows[0]?.rows ?? "[]")) as [string, string, string, string, string?][];
  return rows.map(([id, filename, normalized, release, d]) => ({
    torrent: { id, filename },
    normalized,
    release,
    detail: d ?? "",
  }));
}

const KEY_CHUNK = 2_000;

/**
 * Keys every listed torrent that has no keys yet, or keys computed from another filename or by
 * other rules (KEY_VERSION): in id order, a chunk at a time with a turn of the event loop between,
 * so keying a whole account once (~2 s for 100k) never holds the server. Returns how many it keyed.
 */
export async function keyTorrents(db: Db): Promise<number> {
  let keyed = 0;
  let after = "";
  for (;;) {
    const rs = await db.execute({
      sql: `SELECT t.id, t.filename FROM torrents t LEFT JOIN torrent_keys k ON k.id = t.id
            WHERE t.id > ?1 AND t.gone_at IS NULL AND (k.id IS NULL OR k.filename <> t.filename OR k.version <> ?2)
            ORDER BY t.id LIMIT ?3`,
      args: [after, KEY_VERSION, KEY_CHUNK],
    });
    if (rs.rows.length === 0) break;
    const rows = rs.rows.map((r) => {
      const filename = String(r.filename);
      const k = nameKeys(filename);
      return [String(r.id), filename, k.normalized, k.release, k.detail];
    });
    await db.execute({
      sql: `INSERT INTO torrent_keys (id, filename, normalized, release, detail, version)
            SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ?2 FROM json_each(?1) WHERE true
            ON CONFLICT (id) DO UPDATE SET filename = excluded.filename, normalized = excluded.normalized,
              release = excluded.release, detail = excluded.detail, version = excluded.version`,
      args: [JSON.stringify(rows), KEY_VERSION],
    });
    keyed += rows.length;
    after = String(rs.rows.at(-1)?.id);
    if (rs.rows.length < KEY_CHUNK) break;
    await new Promise((r) => setImmediate(r));
  }
  // keys of torrents no longer in the table (the rows are kept while gone, so this is rare)
  if (keyed > 0) await db.execute("DELETE FROM torrent_keys WHERE id NOT IN (SELECT id FROM torrents)");
  return keyed;
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
    sql: `INSERT INTO broken_links (path, root, target, reason, torrent_name, matched_torrent_id, match_kind, state, generation, first_seen_at, last_seen_at)
          SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, 'broken', ?2, ?3, ?3
          FROM json_each(?1) WHERE true
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
