import type { InStatement, Row } from "@libsql/client";
import type { Db } from "../db.ts";
import type { RepairState, RepairView, Transition } from "./machine.ts";
import { FINAL_STATES, REPAIR_STATES } from "./machine.ts";

/** A repair row as the pipeline reads it. */
export interface Repair extends RepairView {
  id: number;
  torrentId: string | null;
  hash: string;
  filename: string | null;
  priority: number;
  nextAttemptAt: number;
  errorClass: string | null;
  lastError: string | null;
  oldFiles: string[] | null;
  selectIds: number[] | null;
  stepStartedAt: number | null;
  discarded: string[];
  arrPlan: ArrPlanItem[] | null;
  plannedAt: number | null;
  createdAt: number;
}

/** One Sonarr/Radarr command the infringing flow sends; `key` makes it journal-idempotent. */
export interface ArrPlanItem {
  key: string;
  instance: string;
  command: "rescan" | "search";
  itemId: number;
  episodeIds: number[];
}

const OPEN = [...REPAIR_STATES].filter((s) => !FINAL_STATES.has(s));

const json = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Maps a row of `repairs` to a Repair. */
export function toRepair(row: Row): Repair {
  return {
    id: Number(row.id),
    torrentId: strOrNull(row.torrent_id),
    hash: String(row.hash),
    filename: strOrNull(row.filename),
    reason: String(row.reason),
    priority: Number(row.priority),
    state: String(row.state) as RepairState,
    attempt: Number(row.attempt),
    transient: Number(row.transient ?? 0),
    nextAttemptAt: Number(row.next_attempt_at),
    outcome: strOrNull(row.outcome),
    errorClass: strOrNull(row.error_class),
    lastError: strOrNull(row.last_error),
    newTorrentId: strOrNull(row.new_torrent_id),
    deadlineAt: numOrNull(row.deadline_at),
    oldFiles: json<string[]>(row.old_files),
    selectIds: json<number[]>(row.select_ids),
    stepStartedAt: numOrNull(row.step_started_at),
    discarded: json<string[]>(row.discarded) ?? [],
    arrPlan: json<ArrPlanItem[]>(row.arr_plan),
    plannedAt: numOrNull(row.planned_at),
    createdAt: Number(row.created_at),
  };
}

/**
 * Open repairs that are due, by priority then age. A dry run skips those it planned in the last
 * `replanAfterMs` so its journal does not repeat the same plan every few minutes.
 */
export async function dueRepairs(
  db: Db,
  now: number,
  limit: number,
  opts: { dryRun?: boolean; replanAfterMs?: number; ids?: readonly number[] } = {},
): Promise<Repair[]> {
  const args: (string | number)[] = [...OPEN, now];
  let extra = "";
  if (opts.dryRun) {
    extra += " AND (planned_at IS NULL OR planned_at <= ?)";
    args.push(now - (opts.replanAfterMs ?? 86_400_000));
  }
  if (opts.ids) {
    extra += " AND id IN (SELECT value FROM json_each(?))";
    args.push(JSON.stringify(opts.ids));
  }
  const rs = await db.execute({
    sql: `SELECT * FROM repairs WHERE state IN (${OPEN.map(() => "?").join(",")}) AND next_attempt_at <= ?${extra}
          ORDER BY priority, next_attempt_at, id LIMIT ?`,
    args: [...args, limit],
  });
  return rs.rows.map(toRepair);
}

/** One repair by id. */
export async function getRepair(db: Db, id: number): Promise<Repair | null> {
  const rs = await db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id] });
  return rs.rows[0] ? toRepair(rs.rows[0]) : null;
}

/** Column changes besides the transition (facts a step learned). */
export interface RepairPatch {
  newTorrentId?: string | null;
  oldFiles?: string[];
  selectIds?: number[] | null;
  stepStartedAt?: number | null;
  discarded?: string[];
  arrPlan?: ArrPlanItem[] | null;
  plannedAt?: number;
}

/** The statements that persist a transition (and a patch) of repair `r`. */
export function transitionStatements(r: Repair, t: Transition, now: number, patch: RepairPatch = {}): InStatement[] {
  const sets: string[] = [
    "state = ?",
    "attempt = ?",
    "transient = ?",
    "next_attempt_at = ?",
    "outcome = ?",
    "error_class = coalesce(?, error_class)",
    "last_error = ?",
    "updated_at = ?",
  ];
  const args: (string | number | null)[] = [
    t.state,
    t.attempt,
    t.transient,
    t.nextAttemptAt,
    t.outcome,
    t.errorClass,
    t.lastError ?? (t.state === r.state ? r.lastError : null),
    now,
  ];
  const set = (col: string, v: string | number | null) => {
    sets.push(`${col} = ?`);
    args.push(v);
  };
  if (FINAL_STATES.has(t.state)) set("finished_at", now);
  if (t.deadlineAt !== undefined) set("deadline_at", t.deadlineAt);
  if (t.clearNew) {
    set("new_torrent_id", null);
    set("select_ids", null);
    set("deadline_at", null);
  }
  if (patch.newTorrentId !== undefined) set("new_torrent_id", patch.newTorrentId);
  if (patch.oldFiles !== undefined) set("old_files", JSON.stringify(patch.oldFiles));
  if (patch.selectIds !== undefined) set("select_ids", patch.selectIds && JSON.stringify(patch.selectIds));
  if (patch.discarded !== undefined) set("discarded", JSON.stringify(patch.discarded));
  if (patch.arrPlan !== undefined) set("arr_plan", patch.arrPlan && JSON.stringify(patch.arrPlan));
  if (patch.plannedAt !== undefined) set("planned_at", patch.plannedAt);
  set("step_started_at", patch.stepStartedAt ?? null);
  const out: InStatement[] = [{ sql: `UPDATE repairs SET ${sets.join(", ")} WHERE id = ?`, args: [...args, r.id] }];
  if (t.permanent) {
    out.push({
      sql: `INSERT INTO permanent_failures (hash, torrent_id, filename, error_type, detail, processed, failed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (hash) DO UPDATE SET torrent_id = excluded.torrent_id, filename = excluded.filename,
              error_type = excluded.error_type, detail = excluded.detail, processed = excluded.processed,
              failed_at = excluded.failed_at, reset_at = NULL`,
      args: [
        r.hash,
        r.torrentId,
        r.filename,
        t.permanent.errorType,
        t.lastError ?? r.lastError,
        t.permanent.processed ? 1 : 0,
        now,
      ],
    });
  }
  return out;
}

/** A journal entry: what is about to be done (pending), was done, failed, or only planned (dry run). */
export interface ActionEntry {
  runId: string;
  job: string;
  kind: string;
  target: string;
  detail?: Record<string, unknown>;
  repairId?: number | null;
}

/** Statement inserting a journal entry in `state`. */
export function actionInsert(a: ActionEntry, state: "planned" | "pending" | "done" | "failed", now: number) {
  return {
    sql: `INSERT INTO actions (run_id, job, kind, target, detail, state, created_at, updated_at, repair_id)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    args: [
      a.runId,
      a.job,
      a.kind,
      a.target,
      a.detail ? JSON.stringify(a.detail) : null,
      state,
      now,
      now,
      a.repairId ?? null,
    ],
  };
}

/** Statement closing a pending journal entry as done or failed. */
export function actionClose(id: number, state: "done" | "failed", now: number, error?: string): InStatement {
  return {
    sql: "UPDATE actions SET state = ?, updated_at = ?, error = ? WHERE id = ? AND state = 'pending'",
    args: [state, now, error ?? null, id],
  };
}

/** The open (pending) journal entry of a repair for this kind, left by a run that did not finish. */
export async function pendingAction(db: Db, repairId: number, kind: string, target?: string): Promise<number | null> {
  const rs = await db.execute({
    sql: `SELECT id FROM actions WHERE repair_id = ? AND kind = ? AND state = 'pending' AND (? IS NULL OR target = ?)
          ORDER BY id DESC LIMIT 1`,
    args: [repairId, kind, target ?? null, target ?? null],
  });
  return rs.rows[0] ? Number(rs.rows[0].id) : null;
}

/** Targets of this repair's journal entries of `kind` that are done (for steps made of several actions). */
export async function doneTargets(db: Db, repairId: number, kind: string): Promise<Set<string>> {
  const rs = await db.execute({
    sql: "SELECT target FROM actions WHERE repair_id = ? AND kind = ? AND state = 'done'",
    args: [repairId, kind],
  });
  return new Set(rs.rows.map((r) => String(r.target)));
}

/** One call made for a repair, for the attempts table. */
export interface AttemptRecord {
  endpoint: string;
  status: number | null;
  errorCode: number | null;
  latencyMs: number;
  message: string | null;
  at: number;
}

/** Statements recording the calls a step made. */
export function attemptStatements(repairId: number, runId: string, calls: readonly AttemptRecord[]): InStatement[] {
  return calls.map((c) => ({
    sql: `INSERT INTO attempts (repair_id, run_id, at, endpoint, status, error_code, latency_ms, message)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    args: [repairId, runId, c.at, c.endpoint, c.status, c.errorCode, c.latencyMs, c.message],
  }));
}
