import type { Transaction } from "@libsql/client";
import type { Db } from "../db.ts";
import { REPAIR_PRIORITY } from "../rd/store.ts";
import type { SweepFs } from "./fs.ts";
import type { BrokenReason } from "./inspect.ts";
import { buildMatchIndex, matchTorrent } from "./match.ts";

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
 * Maps broken links to torrents by the name parsed from their target. The index over the torrents
 * table is built once per run and only when some link needs it.
 */
export async function matchLinks(db: Db, links: BrokenLink[]): Promise<number> {
  const needing = links.filter((l) => l.torrentName !== null);
  if (needing.length === 0) return 0;
  const rs = await db.execute("SELECT id, filename, status FROM torrents WHERE gone_at IS NULL");
  const index = buildMatchIndex(
    rs.rows.map((r) => ({ id: String(r.id), filename: String(r.filename), status: String(r.status) })),
  );
  let matched = 0;
  for (const link of needing) {
    const m = matchTorrent(index, link.torrentName ?? "");
    if (m.match) {
      link.matchedTorrentId = m.match.torrent.id;
      link.matchKind = m.match.kind;
      matched++;
    }
  }
  return matched;
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
