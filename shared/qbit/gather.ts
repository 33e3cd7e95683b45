// What qbit-check reads before it decides anything: which services answer, qBittorrent's torrents (one
// listing per instance), the reasons qBittorrent logged since the last run, and every *arr queue.
// Requests grow with pages and candidates, never with the number of healthy items.

import type { QbitClient, QbitTorrent } from "../clients/qbittorrent.ts";
import type { ArrClient, ArrQueueItem } from "../clients/servarr.ts";
import type { Db } from "../db.ts";
import { errorMessage } from "../errors.ts";

/** A service that did not answer this run: its items get no strikes. */
export interface Outage {
  service: string;
  error: string;
}

/** Everything a run knows about the downloads. */
export interface Snapshot {
  /** Torrents of the reachable qBittorrent instances, by lower-case hash. */
  torrents: Map<string, { client: QbitClient; torrent: QbitTorrent }>;
  /** Queues of the reachable *arr instances. */
  queues: { client: ArrClient; items: ArrQueueItem[] }[];
  outages: Outage[];
  /** Last reason logged per qBittorrent instance and torrent name. */
  reasons: Map<string, string>;
}

// qBittorrent's own wording (src/base/bittorrent/sessionimpl.cpp) for the reasons it does not expose elsewhere.
const FILE_ERROR = /File error alert\. Torrent: "(.*)"\. File: "(.*)"\. Reason: "(.*)"/;
const TORRENT_ERROR = /Torrent errored\. Torrent: "(.*)"\. Error: "(.*)"/;

/** The torrent name and reason of a log line that reports one, else null. */
export function reasonOf(message: string): { torrent: string; reason: string } | null {
  const f = FILE_ERROR.exec(message);
  if (f) return { torrent: f[1] ?? "", reason: f[3] ?? "" };
  const t = TORRENT_ERROR.exec(message);
  if (t) return { torrent: t[1] ?? "", reason: t[2] ?? "" };
  return null;
}

/** Reads every service once; a service that fails is an outage, not an error of the run. */
export async function gather(
  db: Db,
  qbits: readonly QbitClient[],
  arrs: readonly ArrClient[],
  now: number,
  signal: AbortSignal,
): Promise<Snapshot> {
  const snap: Snapshot = { torrents: new Map(), queues: [], outages: [], reasons: new Map() };
  await Promise.all(
    qbits.map(async (client) => {
      const name = client.instance.name;
      try {
        const state = await client.serverState(signal);
        // Without its own connection every tracker looks dead: not the releases' fault.
        if (state.connectionStatus === "disconnected") throw new Error("qBittorrent reports no internet connection");
        const list = await client.torrents(undefined, signal);
        for (const torrent of list) snap.torrents.set(torrent.hash, { client, torrent });
        await readLog(db, client, now, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        snap.outages.push({ service: name, error: errorMessage(err) });
      }
    }),
  );
  await Promise.all(
    arrs.map(async (client) => {
      try {
        snap.queues.push({ client, items: await client.queueAll(signal) });
      } catch (err) {
        if (signal.aborted) throw err;
        snap.outages.push({ service: client.instance.name, error: errorMessage(err) });
      }
    }),
  );
  const rs = await db.execute("SELECT instance, torrent, reason FROM qbit_reasons");
  for (const r of rs.rows) snap.reasons.set(`${String(r.instance)}\u0000${String(r.torrent)}`, String(r.reason));
  return snap;
}

/**
 * The reasons qBittorrent logged, kept per torrent name. Only warnings and critical entries are read, all
 * of them each run: a small part of the log, and unlike a cursor it survives qBittorrent restarting
 * its numbering.
 */
async function readLog(db: Db, client: QbitClient, now: number, signal: AbortSignal): Promise<void> {
  const name = client.instance.name;
  const lines = await client.log(null, signal, { problems: true });
  const latest = new Map<string, string>();
  for (const line of lines) {
    const r = reasonOf(line.message);
    if (r) latest.set(r.torrent, r.reason);
  }
  if (latest.size === 0) return;
  const rs = await db.execute({ sql: "SELECT torrent, reason FROM qbit_reasons WHERE instance = ?", args: [name] });
  const stored = new Map(rs.rows.map((r) => [String(r.torrent), String(r.reason)]));
  const stmts = [...latest]
    .filter(([torrent, reason]) => stored.get(torrent) !== reason)
    .map(([torrent, reason]) => ({
      sql: `INSERT INTO qbit_reasons (instance, torrent, reason, at) VALUES (?, ?, ?, ?)
            ON CONFLICT (instance, torrent) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
      args: [name, torrent, reason, now],
    }));
  if (stmts.length > 0) await db.batch(stmts, "write");
}
