import type { Db } from "./db.ts";

/** Why a lease could not be taken. */
export type LeaseRefusal = "held" | "tick-taken";

export interface LeaseRequest {
  job: string;
  holder: string;
  runId: string;
  now: number;
  ttlMs: number;
  /** Schedule occurrence for scheduled triggers: each tick is taken by one process only. */
  tick?: number | undefined;
}

/**
 * Takes the job's lease when it is free or expired (and, for a scheduled trigger, when nobody took
 * this tick yet) in one conditional UPDATE, so two processes can never both win.
 * Returns null on success, else why not.
 */
export async function acquireLease(db: Db, req: LeaseRequest): Promise<LeaseRefusal | null> {
  const tick = req.tick ?? null;
  const [, update] = await db.batch(
    [
      { sql: "INSERT OR IGNORE INTO leases (job) VALUES (?)", args: [req.job] },
      {
        sql: `UPDATE leases SET holder = ?, run_id = ?, acquired_at = ?, expires_at = ?,
                last_tick = CASE WHEN ? IS NULL THEN last_tick ELSE ? END
              WHERE job = ? AND (holder IS NULL OR expires_at <= ?) AND (? IS NULL OR last_tick < ?)`,
        args: [req.holder, req.runId, req.now, req.now + req.ttlMs, tick, tick, req.job, req.now, tick, tick],
      },
    ],
    "write",
  );
  if (update?.rowsAffected === 1) return null;
  if (tick === null) return "held";
  const rs = await db.execute({ sql: "SELECT last_tick FROM leases WHERE job = ?", args: [req.job] });
  return Number(rs.rows[0]?.last_tick ?? 0) >= tick ? "tick-taken" : "held";
}

/** Extends a held lease; false means it was lost (expired and taken over) and the run must stop. */
export async function renewLease(db: Db, req: LeaseRequest): Promise<boolean> {
  const rs = await db.execute({
    sql: "UPDATE leases SET expires_at = ? WHERE job = ? AND holder = ? AND run_id = ?",
    args: [req.now + req.ttlMs, req.job, req.holder, req.runId],
  });
  return rs.rowsAffected === 1;
}

/** SQL that frees the lease if this run still holds it (used inside the run's final batch). */
export function releaseLeaseStatement(job: string, holder: string, runId: string) {
  return {
    sql: "UPDATE leases SET holder = NULL, run_id = NULL, expires_at = 0 WHERE job = ? AND holder = ? AND run_id = ?",
    args: [job, holder, runId],
  };
}

/** Jobs whose lease is currently held (by any process), with the run holding it. */
export async function heldLeases(
  db: Db,
  now: number,
): Promise<Map<string, { holder: string; runId: string; since: number }>> {
  const rs = await db.execute({
    sql: "SELECT job, holder, run_id, acquired_at FROM leases WHERE holder IS NOT NULL AND expires_at > ?",
    args: [now],
  });
  return new Map(
    rs.rows.map((r) => [
      String(r.job),
      { holder: String(r.holder), runId: String(r.run_id), since: Number(r.acquired_at) },
    ]),
  );
}
