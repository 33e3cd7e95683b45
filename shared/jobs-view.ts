import type { AppDeps } from "./app.ts";
import { heldLeases } from "./lease.ts";
import { iso } from "./query.ts";
import { nextRunOf } from "./schedule.ts";

const json = (text: unknown) => (typeof text === "string" ? (JSON.parse(text) as unknown) : null);

/** Every registered job with its schedule, next run, whether it runs now (in any process) and its last run. */
export async function listJobs(deps: Pick<AppDeps, "config" | "db" | "runner">) {
  const now = Date.now();
  const [held, last] = await Promise.all([
    heldLeases(deps.db, now),
    deps.db.execute(
      `SELECT * FROM job_runs r
       WHERE r.rowid = (SELECT rowid FROM job_runs x WHERE x.job = r.job AND x.status <> 'running' ORDER BY started_at DESC LIMIT 1)`,
    ),
  ]);
  const lastByJob = new Map(last.rows.map((r) => [String(r.job), r]));
  const local = deps.runner.running();
  return deps.runner.jobs.map((job) => {
    const schedule = deps.config.schedules[job.name] ?? null;
    const lease = held.get(job.name);
    const r = lastByJob.get(job.name);
    return {
      name: job.name,
      description: job.description,
      schedule,
      enabled: schedule !== null,
      nextRun: iso(nextRunOf(schedule, now)),
      running: lease
        ? {
            runId: lease.runId,
            holder: lease.holder,
            since: iso(lease.since),
            progress: local.get(job.name)?.progress ?? null,
          }
        : null,
      lastRun: r
        ? {
            id: String(r.id),
            status: String(r.status),
            trigger: String(r.trigger),
            dryRun: Number(r.dry_run) === 1,
            startedAt: iso(Number(r.started_at)),
            endedAt: iso(r.ended_at === null ? null : Number(r.ended_at)),
            summary: json(r.summary),
            error: r.error === null ? null : String(r.error),
          }
        : null,
    };
  });
}
