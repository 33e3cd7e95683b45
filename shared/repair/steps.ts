// The repair executor: one persisted step of one repair. A mutating call is journaled (`pending`, and the
// row's step_started_at set) before it is sent and closed after, so a run that dies in between is
// reconciled by the next one with a read instead of a blind repeat.

import type { InStatement } from "@libsql/client";
import type { DebridProvider, DebridTorrentInfo } from "../clients/debrid.ts";
import { magnetFor, RdError } from "../clients/real-debrid.ts";
import type { Db } from "../db.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type InfringingDeps, linksStep, rearrStep } from "./links.ts";
import { advance, type Observation, type RepairPolicy, type StepError, type Transition } from "./machine.ts";
import {
  type ActionEntry,
  type AttemptRecord,
  actionClose,
  actionInsert,
  attemptStatements,
  pendingAction,
  type Repair,
  type RepairPatch,
  transitionStatements,
} from "./store.ts";

/** What a step needs; built once per run by retry-drain. */
export interface StepDeps extends InfringingDeps {
  db: Db;
  rd: DebridProvider;
  policy: RepairPolicy;
  now: () => number;
  runId: string;
  job: string;
  log: Logger;
  signal: AbortSignal;
  /** Last 429/34/5 seen by any process sharing the database. */
  lastThrottleAt: () => Promise<number | null>;
}

/** What one step did. */
export interface StepResult {
  id: number;
  from: string;
  to: string;
  transition: Transition;
}

// How far back a torrent found after a crash may have been added and still be ours (clock skew).
const ADOPT_SLACK_MS = 5 * 60_000;

/** Advances repair `r` by one step and persists the result. */
export async function stepRepair(deps: StepDeps, r: Repair): Promise<StepResult> {
  const calls: AttemptRecord[] = [];
  const rd = timed(deps.rd, calls, deps.now);
  const commit = async (obs: Observation, patch: RepairPatch = {}, extraIn: InStatement[] = []) => {
    const extra = [...extraIn];
    const now = deps.now();
    const t = advance(r, obs, deps.policy, now);
    const deleted = r.state === "deleting_old" ? r.torrentId : r.state === "discarding" ? r.newTorrentId : null;
    // A deleted torrent must not be queued again by a scan before the next full scan sees it gone.
    if (deleted !== null && t.state !== r.state) extra.push(markGone(deleted, now));
    await deps.db.batch(
      [...extra, ...transitionStatements(r, t, now, patch), ...attemptStatements(r.id, deps.runId, calls)],
      "write",
    );
    return { id: r.id, from: r.state, to: t.state, transition: t };
  };
  const journal = (kind: string, target: string, detail?: Record<string, unknown>): ActionEntry => ({
    runId: deps.runId,
    job: deps.job,
    kind,
    target,
    repairId: r.id,
    ...(detail ? { detail } : {}),
  });

  /** A mutating call: journal + mark, call, then close + commit; an unknown outcome stays pending. */
  const mutate = async (
    entry: ActionEntry,
    call: () => Promise<Observation>,
    patch: (obs: Observation) => RepairPatch = () => ({}),
  ) => {
    const now = deps.now();
    const [ins] = await deps.db.batch(
      [
        actionInsert(entry, "pending", now),
        { sql: "UPDATE repairs SET step_started_at = ?, updated_at = ? WHERE id = ?", args: [now, now, r.id] },
      ],
      "write",
    );
    const actionId = Number(ins?.rows[0]?.id);
    let obs: Observation;
    try {
      obs = await call();
    } catch (err) {
      if (deps.signal.aborted) throw err;
      const e = stepError(err);
      if (outcomeUnknown(err)) {
        // The request may have reached RD: keep the journal entry pending and let the next run check.
        return commit(await errorObs(e), { stepStartedAt: now });
      }
      return commit(await errorObs(e), {}, [actionClose(actionId, "failed", deps.now(), e.message)]);
    }
    return commit(obs, patch(obs), [actionClose(actionId, "done", deps.now())]);
  };
  const errorObs = async (error: StepError): Promise<Observation> => ({
    type: "error",
    error,
    lastThrottleAt: await deps.lastThrottleAt(),
  });

  try {
    switch (r.state) {
      case "queued": {
        const old = r.torrentId ? await infoOrNull(rd, r.torrentId) : null;
        const oldFiles = old ? selectedPaths(old) : await linkFiles(deps.db, r);
        const gone = old === null && r.torrentId !== null ? [markGone(r.torrentId, deps.now())] : [];
        return await commit({ type: "inspected", status: old?.status ?? null }, { oldFiles }, gone);
      }
      case "adding": {
        if (r.stepStartedAt !== null) {
          const found = await findReplacement(rd, r, r.stepStartedAt - ADOPT_SLACK_MS);
          const pending = await pendingAction(deps.db, r.id, "add_magnet");
          if (found) {
            const close = pending === null ? [] : [actionClose(pending, "done", deps.now())];
            return await commit({ type: "added", id: found }, { newTorrentId: found }, close);
          }
          if (pending !== null) await deps.db.execute(actionClose(pending, "failed", deps.now(), "never reached RD"));
        }
        const magnet = magnetFor(r.hash, r.filename ?? r.hash);
        return await mutate(
          journal("add_magnet", r.hash, { magnet, replaces: r.torrentId }),
          async () => ({ type: "added", id: (await rd.addMagnet(magnet, deps.signal)).id }),
          (obs) => (obs.type === "added" ? { newTorrentId: obs.id } : {}),
        );
      }
      case "added":
      case "waiting": {
        const info = await infoOrNull(rd, need(r.newTorrentId));
        if (!info) return await commit({ type: "polled", status: null, filesMatch: false, selectable: false });
        const ids = selectionFor(info, r.oldFiles ?? []);
        const filesMatch = sameSelection(info, r.oldFiles ?? []);
        return await commit(
          { type: "polled", status: info.status, filesMatch, selectable: ids !== null },
          ids !== null && info.status === "waiting_files_selection" ? { selectIds: ids } : {},
        );
      }
      case "selecting": {
        const id = need(r.newTorrentId);
        if (r.stepStartedAt !== null) {
          const info = await infoOrNull(rd, id);
          const pending = await pendingAction(deps.db, r.id, "select_files");
          if (info && info.status !== "waiting_files_selection") {
            const close = pending === null ? [] : [actionClose(pending, "done", deps.now())];
            return await commit({ type: "step_done" }, {}, close);
          }
          if (pending !== null) await deps.db.execute(actionClose(pending, "failed", deps.now(), "never reached RD"));
        }
        const ids = r.selectIds ?? [];
        return await mutate(journal("select_files", id, { fileIds: ids, paths: r.oldFiles }), async () => {
          await rd.selectFiles(id, ids.length > 0 ? ids : "all", deps.signal);
          return { type: "step_done" };
        });
      }
      case "deleting_old":
      case "discarding": {
        const old = r.state === "deleting_old";
        const id = old ? r.torrentId : r.newTorrentId;
        const kind = old ? "delete_old_torrent" : "delete_new_torrent";
        const patch: RepairPatch = old || id === null ? {} : { discarded: [...r.discarded, id] };
        if (id === null) return await commit({ type: "step_done" }, patch);
        if (r.stepStartedAt !== null) {
          const pending = await pendingAction(deps.db, r.id, kind);
          if ((await infoOrNull(rd, id)) === null) {
            const close = pending === null ? [] : [actionClose(pending, "done", deps.now())];
            return await commit({ type: "step_done" }, patch, close);
          }
          if (pending !== null) await deps.db.execute(actionClose(pending, "failed", deps.now(), "never reached RD"));
        }
        const why = old ? `replaced by ${r.newTorrentId ?? "nothing"} (${r.outcome ?? "repaired"})` : r.outcome;
        return await mutate(
          journal(kind, id, { hash: r.hash, why }),
          async () => {
            await rd.deleteTorrent(id, deps.signal);
            return { type: "step_done" };
          },
          () => patch,
        );
      }
      case "unlinking":
        await linksStep(deps, r, journal);
        return await commit({ type: "step_done" });
      case "rearr": {
        const plan = await rearrStep(deps, r, journal);
        return await commit({ type: "step_done" }, { arrPlan: plan });
      }
      default:
        throw new Error(`repair ${r.id} is ${r.state}: nothing to do`);
    }
  } catch (err) {
    if (deps.signal.aborted) throw err;
    const e = stepError(err);
    deps.log.warn("Repair step failed.", { repair: r.id, state: r.state, error: e.message });
    return commit(await errorObs(e));
  }
}

/** A call that failed without RD's answer (connection lost, timeout, garbled 2xx): it may have happened. */
function outcomeUnknown(err: unknown): boolean {
  return err instanceof RdError && (err.status === undefined || err.info.class === "malformed");
}

/** Any thrown error as a classified StepError. */
export function stepError(err: unknown): StepError {
  if (err instanceof RdError) {
    return {
      class: err.info.class,
      message: err.message,
      status: err.status,
      code: typeof err.code === "number" ? err.code : undefined,
    };
  }
  if (err instanceof Error && err.name === "ArrError") return { class: "arr", message: err.message };
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return { class: "filesystem", message: err.message };
  }
  return { class: "unavailable", message: errorMessage(err) };
}

function markGone(id: string, now: number): InStatement {
  return { sql: "UPDATE torrents SET gone_at = coalesce(gone_at, ?) WHERE id = ?", args: [now, id] };
}

function need(id: string | null): string {
  if (id === null) throw new Error("repair has no replacement torrent id in a state that needs one");
  return id;
}

/** Torrent info, or null when RD says it does not exist (404 / code 7). */
export async function infoOrNull(rd: DebridProvider, id: string): Promise<DebridTorrentInfo | null> {
  try {
    return await rd.getTorrent(id);
  } catch (err) {
    if (err instanceof RdError && err.info.class === "not_found") return null;
    throw err;
  }
}

/** After a crash during addMagnet: a torrent with our hash, added since, that is not the old one. */
async function findReplacement(rd: DebridProvider, r: Repair, since: number): Promise<string | null> {
  const page = await rd.listTorrents({ offset: 0, limit: 100 });
  const found = page.items.find(
    (t) => t.hash === r.hash && t.id !== r.torrentId && !r.discarded.includes(t.id) && t.addedAt >= since,
  );
  return found?.id ?? null;
}

/** Paths the torrent has selected. */
export function selectedPaths(info: DebridTorrentInfo): string[] {
  return info.files.filter((f) => f.selected).map((f) => f.path);
}

/**
 * File ids of `info` to select so it has the same files as the old torrent (by path: ids may differ).
 * Every file when the old selection is unknown; null when a wanted file is missing.
 */
export function selectionFor(info: DebridTorrentInfo, wanted: readonly string[]): number[] | null {
  if (wanted.length === 0) return info.files.map((f) => f.id);
  const byPath = new Map(info.files.map((f) => [f.path, f.id]));
  const ids: number[] = [];
  for (const p of wanted) {
    const id = byPath.get(p) ?? suffixMatch(info, p);
    if (id === undefined) return null;
    ids.push(id);
  }
  return ids;
}

// Paths from broken links are file names, not whole paths inside the torrent.
function suffixMatch(info: DebridTorrentInfo, wanted: string): number | undefined {
  if (wanted.startsWith("/")) return undefined;
  return info.files.find((f) => f.path === `/${wanted}` || f.path.endsWith(`/${wanted}`))?.id;
}

/** Whether the new torrent's selection covers exactly the old one's (any selection when unknown). */
export function sameSelection(info: DebridTorrentInfo, wanted: readonly string[]): boolean {
  const selected = info.files.filter((f) => f.selected);
  if (wanted.length === 0) return selected.length > 0;
  const want = selectionFor(info, wanted);
  if (want === null) return false;
  const got = new Set(selected.map((f) => f.id));
  return want.length === got.size && want.every((id) => got.has(id));
}

/** Without the old torrent: the file names its broken links pointed at. */
async function linkFiles(db: Db, r: Repair): Promise<string[]> {
  const rs = await db.execute({
    sql: `SELECT DISTINCT target FROM broken_links WHERE state = 'broken' AND (matched_torrent_id = ? OR torrent_name = ?)`,
    args: [r.torrentId, r.filename],
  });
  return rs.rows.map((row) => String(row.target).split("/").pop() ?? "").filter((n) => n !== "");
}

/** The provider with every call timed into `calls` (the attempts table). */
function timed(rd: DebridProvider, calls: AttemptRecord[], now: () => number): DebridProvider {
  const wrap =
    <A extends unknown[], T>(endpoint: string, fn: (...a: A) => Promise<T>) =>
    async (...a: A): Promise<T> => {
      const at = now();
      const started = performance.now();
      try {
        const out = await fn(...a);
        calls.push({ endpoint, status: 200, errorCode: null, latencyMs: ms(started), message: null, at });
        return out;
      } catch (err) {
        const rde = err instanceof RdError ? err : null;
        calls.push({
          endpoint,
          status: rde?.status ?? null,
          errorCode: typeof rde?.code === "number" ? rde.code : null,
          latencyMs: ms(started),
          message: errorMessage(err).slice(0, 500),
          at,
        });
        throw err;
      }
    };
  return {
    name: rd.name,
    getUser: rd.getUser.bind(rd),
    activeCount: rd.activeCount.bind(rd),
    listTorrents: wrap("/torrents", rd.listTorrents.bind(rd)),
    getTorrent: wrap("/torrents/info", rd.getTorrent.bind(rd)),
    addMagnet: wrap("/torrents/addMagnet", rd.addMagnet.bind(rd)),
    selectFiles: wrap("/torrents/selectFiles", rd.selectFiles.bind(rd)),
    deleteTorrent: wrap("/torrents/delete", rd.deleteTorrent.bind(rd)),
  };
}

const ms = (started: number) => Math.round(performance.now() - started);
