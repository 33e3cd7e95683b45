import type { Row } from "@libsql/client";
import { accountCounts } from "../api.ts";
import type { Db } from "../db.ts";
import { readSweepState } from "../library/sweep-state.ts";

/** The overview's numbers; the live stream sends the same shape as `counts` events. */
export interface Counts {
  torrents: Record<string, number>;
  repairs: Record<string, number>;
  brokenLinks: Record<string, number>;
  strikes: Record<string, number>;
  permanentFailures: number;
  guard: { tripped: boolean; reason: string | null; at: number | null };
}

const byKey = (rows: Row[], key: string) => Object.fromEntries(rows.map((r) => [String(r[key]), Number(r.n)]));

/** Torrents by RD status, repairs by state, broken links by state, strikes by class, open failures, guard. */
export async function overviewCounts(db: Db): Promise<Counts> {
  const [account, links, strikes, failures, sweep] = await Promise.all([
    accountCounts(db),
    db.execute("SELECT state, count(*) AS n FROM broken_links GROUP BY state ORDER BY state"),
    db.execute("SELECT class, count(*) AS n FROM qbit_strikes GROUP BY class ORDER BY class"),
    db.execute("SELECT count(*) AS n FROM permanent_failures WHERE reset_at IS NULL"),
    readSweepState(db),
  ]);
  return {
    torrents: account.torrents,
    repairs: account.repairs,
    brokenLinks: byKey(links.rows, "state"),
    strikes: byKey(strikes.rows, "class"),
    permanentFailures: Number(failures.rows[0]?.n ?? 0),
    guard: { tripped: sweep.guardReason !== null, reason: sweep.guardReason, at: sweep.guardAt },
  };
}

/** One job run as the pages and the live stream show it (times in ms). */
export interface RunView {
  id: string;
  job: string;
  status: string;
  trigger: string;
  dryRun: boolean;
  startedAt: number;
  endedAt: number | null;
  summary: unknown;
  error: string | null;
}

/** A job_runs row as a RunView. */
export function runView(r: Row): RunView {
  return {
    id: String(r.id),
    job: String(r.job),
    status: String(r.status),
    trigger: String(r.trigger),
    dryRun: Number(r.dry_run) === 1,
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    summary: r.summary === null ? null : (JSON.parse(String(r.summary)) as unknown),
    error: r.error === null ? null : String(r.error),
  };
}

const RUN_COLUMNS = "id, job, status, trigger, dry_run, started_at, ended_at, summary, error";

/** The newest runs, newest first. */
export async function recentRuns(db: Db, limit: number): Promise<RunView[]> {
  const rs = await db.execute({
    sql: `SELECT ${RUN_COLUMNS} FROM job_runs ORDER BY started_at DESC LIMIT ?`,
    args: [limit],
  });
  return rs.rows.map(runView);
}

// No run lasts a day (job timeouts are minutes), so this bound lets the started_at index serve the poll.
const LONGEST_RUN_MS = 24 * 3_600_000;

/** Runs that started or ended at or after `since`, or are still running: what the live stream watches. */
export async function runsTouchedSince(db: Db, since: number): Promise<RunView[]> {
  const rs = await db.execute({
    sql: `SELECT ${RUN_COLUMNS} FROM job_runs
          WHERE started_at >= ?2 AND (started_at >= ?1 OR ended_at >= ?1 OR status = 'running')
          ORDER BY started_at DESC LIMIT 50`,
    args: [since, since - LONGEST_RUN_MS],
  });
  return rs.rows.map(runView);
}
