import type { Transaction } from "@libsql/client";
import type { Db } from "../db.ts";

/** Where the library sweep stands (one row). */
export interface SweepState {
  generation: number;
  status: "idle" | "pending" | "running" | "completed";
  rootIndex: number;
  cursor: string | null;
  entries: number;
  links: number;
  broken: number;
  matched: number;
  skipped: number;
  startedAt: number | null;
  updatedAt: number | null;
  completedAt: number | null;
  guardReason: string | null;
  guardAt: number | null;
}

const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));

/** Reads the sweep's state. */
export async function readSweepState(db: Db | Transaction): Promise<SweepState> {
  const r = (await db.execute("SELECT * FROM sweep_state WHERE id = 1")).rows[0];
  return {
    generation: Number(r?.generation ?? 0),
    status: (r?.status ?? "idle") as SweepState["status"],
    rootIndex: Number(r?.root_index ?? 0),
    cursor: r?.cursor === null || r?.cursor === undefined ? null : String(r.cursor),
    entries: Number(r?.entries ?? 0),
    links: Number(r?.links ?? 0),
    broken: Number(r?.broken ?? 0),
    matched: Number(r?.matched ?? 0),
    skipped: Number(r?.skipped ?? 0),
    startedAt: num(r?.started_at),
    updatedAt: num(r?.updated_at),
    completedAt: num(r?.completed_at),
    guardReason: r?.guard_reason === null || r?.guard_reason === undefined ? null : String(r.guard_reason),
    guardAt: num(r?.guard_at),
  };
}

/** Writes the sweep's state (in the transaction that wrote what it describes). */
export async function writeSweepState(db: Db | Transaction, s: SweepState): Promise<void> {
  await db.execute({
    // A new sweep asked for (pending) while this generation's run was in flight stays asked for:
    // only the write that starts the next generation replaces it.
    sql: `UPDATE sweep_state SET
            status = CASE WHEN status = 'pending' AND generation = ?1 THEN 'pending' ELSE ?2 END, generation = ?1,
            root_index = ?3, cursor = ?4, entries = ?5, links = ?6, broken = ?7,
            matched = ?8, skipped = ?9, started_at = ?10, updated_at = ?11, completed_at = ?12, guard_reason = ?13, guard_at = ?14
          WHERE id = 1`,
    args: [
      s.generation,
      s.status,
      s.rootIndex,
      s.cursor,
      s.entries,
      s.links,
      s.broken,
      s.matched,
      s.skipped,
      s.startedAt,
      s.updatedAt,
      s.completedAt,
      s.guardReason,
      s.guardAt,
    ],
  });
}

/** Records that the mount guard stopped the sweep, and why; touches nothing else. */
export async function recordGuard(db: Db, reason: string | null, now: number): Promise<void> {
  await db.execute({
    sql: "UPDATE sweep_state SET guard_reason = ?, guard_at = CASE WHEN ? IS NULL THEN guard_at ELSE ? END WHERE id = 1",
    args: [reason, reason, now],
  });
}

/** Asks for a new sweep from the start at the next run. */
export async function requestSweep(db: Db, now: number): Promise<void> {
  await db.execute({ sql: "UPDATE sweep_state SET status = 'pending', updated_at = ? WHERE id = 1", args: [now] });
}
