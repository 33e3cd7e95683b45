// The infringing flow after RD refused the content: remove the dead symlinks that point into the
// torrent, then have the owning Sonarr/Radarr rescan and search for exactly those episodes or movies.
// Only symlinks inside LIBRARY_ROOTS whose target still does not resolve are ever removed.

import { dirname, resolve } from "node:path";
import type { ArrClient } from "../clients/servarr.ts";
import type { Db } from "../db.ts";
import type { Logger } from "../log.ts";
import {
  type ActionEntry,
  type ArrPlanItem,
  actionClose,
  actionInsert,
  doneTargets,
  pendingAction,
  type Repair,
} from "./store.ts";

/** The file calls the flow makes (node:fs/promises, or a test double). */
export interface LinkFs {
  lstat(path: string): Promise<{ isSymbolicLink(): boolean; isDirectory(): boolean }>;
  stat(path: string): Promise<unknown>;
  realpath(path: string): Promise<string>;
  readlink(path: string): Promise<string>;
  unlink(path: string): Promise<void>;
}

/** Optional Plex partial refresh of a folder. */
export interface FolderRefresher {
  refreshPath(folder: string, signal?: AbortSignal): Promise<unknown>;
}

/** What the infringing flow needs. */
export interface InfringingDeps {
  db: Db;
  fs: LinkFs | null;
  libraryRoots: readonly string[];
  arr: readonly ArrClient[];
  plex: FolderRefresher | null;
  log: Logger;
  now: () => number;
  signal: AbortSignal;
}

type Journal = (kind: string, target: string, detail?: Record<string, unknown>) => ActionEntry;

/** Why a link may not be removed, or null when it may. */
export async function unsafeToRemove(
  fs: LinkFs,
  roots: readonly string[],
  path: string,
  recordedTarget?: string,
): Promise<string | null> {
  const abs = resolve(path);
  if (abs !== path) return "path is not absolute and normalised";
  const root = roots.find((r) => abs.startsWith(`${r}/`));
  if (!root) return "outside LIBRARY_ROOTS";
  // The root must be the folder itself, and the link's folder must really lie under it: a root or
  // folder replaced by a symlink would otherwise lead the deletion elsewhere.
  const rootStat = await fs.lstat(root);
  if (rootStat.isSymbolicLink() || !rootStat.isDirectory()) return "library root is not a plain folder";
  const realDir = await fs.realpath(dirname(abs));
  const realRoot = await fs.realpath(root);
  if (realDir !== realRoot && !realDir.startsWith(`${realRoot}/`)) return "link's folder resolves outside its root";
  if (!(await fs.lstat(abs)).isSymbolicLink()) return "not a symlink";
  try {
    await fs.stat(abs);
    return "target resolves again";
  } catch {
    // still broken: go on
  }
  // Re-pointed since the sweep saw it broken: not the link that was recorded (and on a dead mount a
  // healthy link would look broken too).
  if (recordedTarget !== undefined && resolve(dirname(abs), await fs.readlink(abs)) !== recordedTarget) {
    return "link changed since the sweep";
  }
  return null;
}

/** Broken links recorded for the repair's torrent (by matched id or by the torrent folder name). */
async function linksOf(db: Db, r: Repair): Promise<{ path: string; target: string }[]> {
  const rs = await db.execute({
    sql: `SELECT path, target FROM broken_links WHERE state = 'broken'
            AND ((? IS NOT NULL AND matched_torrent_id = ?) OR (? IS NOT NULL AND torrent_name = ?)) ORDER BY path`,
    args: [r.torrentId, r.torrentId, r.filename, r.filename],
  });
  return rs.rows.map((row) => ({ path: String(row.path), target: String(row.target) }));
}

/** The links the flow would remove now (read-only: for dry runs). */
export async function removableLinks(deps: InfringingDeps, r: Repair): Promise<string[]> {
  const fs = deps.fs;
  if (!fs) return [];
  const out: string[] = [];
  for (const { path, target } of await linksOf(deps.db, r)) {
    const why = await unsafeToRemove(fs, deps.libraryRoots, path, target).catch((err: Error) => err.message);
    if (why === null) out.push(path);
  }
  return out;
}

/** Removes the repair's broken links, each journaled before it goes; safe to run again after a crash. */
export async function linksStep(deps: InfringingDeps, r: Repair, journal: Journal): Promise<void> {
  const links = await linksOf(deps.db, r);
  if (links.length === 0) return;
  const fs = deps.fs;
  if (!fs) throw Object.assign(new Error("no filesystem here to remove links"), { code: "ENOSYS" });
  const guard = await deps.db.execute("SELECT guard_reason FROM sweep_state WHERE id = 1");
  const held = guard.rows[0]?.guard_reason;
  if (held) throw Object.assign(new Error(`mount guard holds: ${String(held)}`), { code: "EGUARD" });
  const removed = await doneTargets(deps.db, r.id, "unlink");
  const failures: string[] = [];
  for (const { path, target: recorded } of links) {
    deps.signal.throwIfAborted();
    try {
      await removeOne(path, recorded);
    } catch (err) {
      if (deps.signal.aborted) throw err;
      // One link it cannot touch (a folder it may not enter) must not hold back the others.
      failures.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
      deps.log.warn("Could not remove a broken link; the others go on.", { repair: r.id, path, error: String(err) });
    }
  }
  if (failures.length > 0) {
    const code = /EACCES|EPERM/.test(failures.join()) ? "EACCES" : "EIO";
    throw Object.assign(new Error(`${failures.length} link(s) not removed: ${failures[0]}`), { code });
  }

  async function removeOne(path: string, recorded: string): Promise<void> {
    if (!fs) return;
    const markRemoved = {
      sql: "UPDATE broken_links SET state = 'removed', resolved_at = ? WHERE path = ?",
      args: [deps.now(), path],
    };
    const gone = await fs.lstat(path).then(
      () => false,
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return true;
        throw err;
      },
    );
    if (gone) {
      // Removed by this repair before a crash (the journal says pending), or by someone else.
      const pending = removed.has(path) ? null : await pendingAction(deps.db, r.id, "unlink", path);
      const close = pending === null ? [] : [actionClose(pending, "done", deps.now())];
      await deps.db.batch([...close, markRemoved], "write");
      return;
    }
    const why = await unsafeToRemove(fs, deps.libraryRoots, path, recorded);
    if (why !== null) {
      deps.log.warn("Broken link left in place.", { repair: r.id, path, why });
      if (why === "target resolves again") {
        await deps.db.execute({
          sql: "UPDATE broken_links SET state = 'resolved', resolved_at = ? WHERE path = ?",
          args: [deps.now(), path],
        });
      }
      return;
    }
    const target = await fs.readlink(path);
    const [ins] = await deps.db.batch(
      [actionInsert(journal("unlink", path, { target, reason: "infringing" }), "pending", deps.now())],
      "write",
    );
    const id = Number(ins?.rows[0]?.id);
    try {
      await fs.unlink(path);
    } catch (err) {
      // Refused (permissions): nothing happened, so the entry is closed as failed, not left pending.
      await deps.db.execute(actionClose(id, "failed", deps.now(), err instanceof Error ? err.message : String(err)));
      throw err;
    }
    await deps.db.batch([actionClose(id, "done", deps.now()), markRemoved], "write");
  }
}

/**
 * Asks the owning *arr of every removed link to rescan the series/movie and search exactly the
 * episodes/movie again. The plan is fixed (and returned to be stored) before the first command,
 * because a rescan removes the file records the plan is derived from.
 */
export async function rearrStep(deps: InfringingDeps, r: Repair, journal: Journal): Promise<ArrPlanItem[]> {
  const plan = r.arrPlan ?? (await planArr(deps, r));
  if (r.arrPlan === null) {
    await deps.db.execute({ sql: "UPDATE repairs SET arr_plan = ? WHERE id = ?", args: [JSON.stringify(plan), r.id] });
  }
  const done = await doneTargets(deps.db, r.id, "arr_command");
  for (const item of plan) {
    if (done.has(item.key)) continue;
    const client = deps.arr.find((a) => a.instance.name === item.instance);
    if (!client) continue;
    const entry = journal("arr_command", item.key, { ...item });
    const [ins] = await deps.db.batch([actionInsert(entry, "pending", deps.now())], "write");
    const id = Number(ins?.rows[0]?.id);
    try {
      if (item.command === "rescan") await client.rescan(item.itemId, deps.signal);
      else await client.search({ itemId: item.itemId, episodeIds: item.episodeIds }, deps.signal);
    } catch (err) {
      await deps.db.execute(actionClose(id, "failed", deps.now(), err instanceof Error ? err.message : String(err)));
      throw err;
    }
    await deps.db.execute(actionClose(id, "done", deps.now()));
  }
  if (deps.plex) await refreshPlex(deps, r, journal);
  return plan;
}

/** The *arr commands for the links removed (or, in a dry run, that would be removed). */
export async function planArr(deps: InfringingDeps, r: Repair, removed?: readonly string[]): Promise<ArrPlanItem[]> {
  const paths = removed ? [...removed] : [...(await doneTargets(deps.db, r.id, "unlink"))].sort();
  const byItem = new Map<string, { instance: string; itemId: number; episodeIds: Set<number> }>();
  for (const path of paths) {
    for (const client of deps.arr) {
      const owner = await client.findOwner(path, deps.signal);
      if (!owner) continue;
      const key = `${owner.instance}:${owner.itemId}`;
      const entry = byItem.get(key) ?? { instance: owner.instance, itemId: owner.itemId, episodeIds: new Set() };
      for (const e of owner.episodeIds) entry.episodeIds.add(e);
      byItem.set(key, entry);
      break;
    }
  }
  const plan: ArrPlanItem[] = [];
  for (const { instance, itemId, episodeIds } of byItem.values()) {
    const episodes = [...episodeIds].sort((a, b) => a - b);
    plan.push({ key: `${instance}:rescan:${itemId}`, instance, command: "rescan", itemId, episodeIds: [] });
    plan.push({
      key: `${instance}:search:${itemId}:${episodes.join(",")}`,
      instance,
      command: "search",
      itemId,
      episodeIds: episodes,
    });
  }
  return plan;
}

async function refreshPlex(deps: InfringingDeps, r: Repair, journal: Journal): Promise<void> {
  const plex = deps.plex;
  if (!plex) return;
  const folders = new Set([...(await doneTargets(deps.db, r.id, "unlink"))].map((p) => dirname(p)));
  const done = await doneTargets(deps.db, r.id, "plex_refresh");
  for (const folder of [...folders].sort()) {
    if (done.has(folder)) continue;
    const [ins] = await deps.db.batch([actionInsert(journal("plex_refresh", folder), "pending", deps.now())], "write");
    const id = Number(ins?.rows[0]?.id);
    try {
      await plex.refreshPath(folder, deps.signal);
      await deps.db.execute(actionClose(id, "done", deps.now()));
    } catch (err) {
      // A Plex refresh is a convenience: Plex finds the change on its own scan anyway.
      await deps.db.execute(actionClose(id, "failed", deps.now(), err instanceof Error ? err.message : String(err)));
      deps.log.warn("Plex refresh failed.", { repair: r.id, folder, error: String(err) });
    }
  }
}
