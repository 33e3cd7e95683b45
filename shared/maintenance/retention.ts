import type { Db } from "../db.ts";

const DAY_MS = 86_400_000;
const CHUNK = 5_000;

export interface RetentionPolicy {
  now: number;
  historyDays: number;
  metricsDays: number;
}

/** Table, age column and extra condition of each pruned kind of history. */
const TARGETS = [
  { table: "job_runs", column: "started_at", keep: "history", where: "status <> 'running'" },
  { table: "attempts", column: "at", keep: "history", where: "1 = 1" },
  // Pending actions are in flight: never pruned, whatever their age.
  { table: "actions", column: "created_at", keep: "history", where: "state <> 'pending'" },
  { table: "metrics", column: "at", keep: "metrics", where: "1 = 1" },
] as const;

/** Rows older than the policy, per table: deleted unless `dryRun`, where they are only counted. */
export async function pruneHistory(db: Db, policy: RetentionPolicy, dryRun: boolean): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of TARGETS) {
    const days = t.keep === "history" ? policy.historyDays : policy.metricsDays;
    const cutoff = policy.now - days * DAY_MS;
    const cond = `${t.column} < ? AND ${t.where}`;
    if (dryRun) {
      const rs = await db.execute({ sql: `SELECT count(*) AS n FROM ${t.table} WHERE ${cond}`, args: [cutoff] });
      counts[t.table] = Number(rs.rows[0]?.n ?? 0);
      continue;
    }
    // Small chunks keep each write transaction short, so scans and repairs are never blocked for long.
    let total = 0;
    for (;;) {
      const rs = await db.execute({
        sql: `DELETE FROM ${t.table} WHERE rowid IN (SELECT rowid FROM ${t.table} WHERE ${cond} LIMIT ${CHUNK})`,
        args: [cutoff],
      });
      total += rs.rowsAffected;
      if (rs.rowsAffected < CHUNK) break;
    }
    counts[t.table] = total;
  }
  return counts;
}
