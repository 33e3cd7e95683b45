import type { Clients } from "./clients/index.ts";
import { type Config, maskText, secretValues } from "./config.ts";
import type { Db } from "./db.ts";
import { errorMessage, JobAbortedError, JobFailedError } from "./errors.ts";
import type { Host, JobDefinition, JobSummary, Trigger } from "./job.ts";
import { acquireLease, type LeaseRefusal, releaseLeaseStatement, renewLease } from "./lease.ts";
import type { Logger } from "./log.ts";
import { appendLine } from "./log-file.ts";

/** Final state of a run that happened, or why it did not. */
export type RunStatus = "succeeded" | "failed" | "aborted" | "skipped";

/** Why a trigger did not start a run. */
export type SkipReason = "running-here" | "shutting-down" | LeaseRefusal;

/** What every trigger gets back from the runner. */
export interface RunResult {
  id: string | null;
  job: string;
  trigger: Trigger;
  status: RunStatus;
  dryRun: boolean;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  summary: JobSummary | null;
  error: string | null;
  skipReason?: SkipReason;
}

export interface RunOptions {
  trigger: Trigger;
  dryRun?: boolean | undefined;
  limit?: number | undefined;
  /** Which items to work on, for jobs that take them (retry-drain: repair ids, from `rdtm repair`). */
  ids?: readonly number[] | undefined;
  /** Schedule occurrence, for scheduled triggers (see tickOf). */
  tick?: number | undefined;
}

/** A job name that is not in the registry. */
export class UnknownJobError extends Error {
  override name = "UnknownJobError";
  constructor(readonly job: string) {
    super(`unknown job: ${job}`);
  }
}

export interface RunnerDeps {
  jobs: readonly JobDefinition[];
  config: Config;
  db: Db;
  log: Logger;
  host: Host;
  clients: Clients;
  /** Identifies this process in leases and run rows. */
  holder?: string;
  now?: () => number;
}

interface Inflight {
  runId: string | null;
  startedAt: number;
  progress: JobSummary | null;
  promise: Promise<RunResult>;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const PROGRESS_WRITE_MS = 2_000;

/** Runs jobs for every trigger: lease, single-flight, abort signal, job_runs row, errors caught here. */
export type Runner = ReturnType<typeof createRunner>;

/** Creates the one runner a process uses. */
export function createRunner(deps: RunnerDeps) {
  const { jobs, config, db, log, host, clients } = deps;
  const now = deps.now ?? Date.now;
  const holder = deps.holder ?? `${host.runtime}-${crypto.randomUUID().slice(0, 8)}`;
  const ttlMs = config.LEASE_TTL_SECONDS * 1000;
  const inflight = new Map<string, Inflight>();
  const shutdown = new AbortController();
  const secrets = [
    ...secretValues(config),
    ...clients.arr.map((a) => a.instance.apiKey),
    ...clients.qbit.flatMap((q) => [q.instance.password, q.instance.apiKey]),
  ].filter((x): x is string => typeof x === "string" && x.length >= 4);
  let stopping = false;

  function find(name: string): JobDefinition {
    const job = jobs.find((j) => j.name === name);
    if (!job) throw new UnknownJobError(name);
    return job;
  }

  function skipped(job: string, opts: RunOptions, reason: SkipReason): RunResult {
    const t = now();
    const dryRun = opts.dryRun ?? config.DRY_RUN;
    return {
      id: null,
      job,
      trigger: opts.trigger,
      status: "skipped",
      dryRun,
      startedAt: t,
      endedAt: t,
      durationMs: 0,
      summary: null,
      error: null,
      skipReason: reason,
    };
  }

  async function execute(job: JobDefinition, opts: RunOptions, slot: Inflight): Promise<RunResult> {
    const runId = crypto.randomUUID();
    const dryRun = opts.dryRun ?? config.DRY_RUN;
    const startedAt = now();
    const lease = { job: job.name, holder, runId, ttlMs, tick: opts.tick, now: startedAt };
    const refusal = await acquireLease(db, lease);
    if (refusal) return skipped(job.name, opts, refusal);

    slot.runId = runId;
    slot.startedAt = startedAt;
    try {
      await db.batch(
        [
          {
            // We hold the lease, so any other "running" row of this job belongs to a process that died.
            sql: "UPDATE job_runs SET status = 'interrupted', ended_at = ?, error = 'the process stopped during the run; its lease expired' WHERE job = ? AND status = 'running'",
            args: [startedAt, job.name],
          },
          {
            sql: "INSERT INTO job_runs (id, job, trigger, tick_at, dry_run, holder, status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            args: [runId, job.name, opts.trigger, opts.tick ?? null, dryRun ? 1 : 0, holder, startedAt],
          },
        ],
        "write",
      );
    } catch (err) {
      // The run never started: give the lease back rather than block the job for a whole TTL.
      await db.execute(releaseLeaseStatement(job.name, holder, runId)).catch(() => {});
      throw err;
    }

    const own = new AbortController();
    // A plain timer, held until the run ends: an AbortSignal.timeout() inside AbortSignal.any() is only
    // weakly held and can be collected before it fires, leaving the run without a timeout.
    const timeoutMs = job.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = setTimeout(
      () => own.abort(new DOMException(`the run took longer than ${timeoutMs} ms`, "TimeoutError")),
      timeoutMs,
    );
    const signal = AbortSignal.any([own.signal, shutdown.signal]);
    const jobLog = log.withTag(job.name);
    let renewedAt = startedAt;
    const heartbeat = setInterval(
      () => {
        const at = now();
        renewLease(db, { ...lease, now: at })
          .then((held) => {
            if (held) renewedAt = at;
            else own.abort(new Error("lease lost to another process"));
          })
          .catch((err: unknown) => {
            jobLog.warn("lease heartbeat failed", { error: errorMessage(err) });
            // Past the TTL another process may take the job: stop before two copies run at once.
            if (now() - renewedAt >= ttlMs)
              own.abort(new Error(`lease not renewed for ${ttlMs} ms: ${errorMessage(err)}`));
          });
      },
      Math.max(500, ttlMs / 3),
    );
    let lastProgressWrite = 0;

    let status: RunStatus = "succeeded";
    let summary: JobSummary | null = null;
    let error: string | null = null;
    try {
      summary = await job.run({
        job: job.name,
        runId,
        trigger: opts.trigger,
        dryRun,
        limit: opts.limit,
        ids: opts.ids,
        config,
        db,
        log: jobLog,
        signal,
        host,
        clients,
        now,
        progress(p) {
          slot.progress = p;
          const t = now();
          if (t - lastProgressWrite < PROGRESS_WRITE_MS) return;
          lastProgressWrite = t;
          db.execute({ sql: "UPDATE job_runs SET progress = ? WHERE id = ?", args: [JSON.stringify(p), runId] }).catch(
            () => {},
          );
        },
      });
    } catch (err) {
      const aborted = signal.aborted || err instanceof JobAbortedError;
      status = aborted ? "aborted" : "failed";
      if (err instanceof JobFailedError) summary = err.summary;
      // Masked before it is stored: the run's error is shown by GET /jobs, the API and the dashboard.
      error = maskText(
        errorMessage(
          aborted && signal.reason instanceof Error && !(err instanceof JobAbortedError) ? signal.reason : err,
        ),
        secrets,
      );
      jobLog.error(aborted ? "run aborted" : "run failed", { runId, trigger: opts.trigger, error }, err);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(deadline);
    }

    const endedAt = now();
    const durationMs = endedAt - startedAt;
    try {
      await db.batch(
        [
          {
            sql: "UPDATE job_runs SET status = ?, ended_at = ?, summary = ?, error = ? WHERE id = ?",
            args: [status, endedAt, summary ? JSON.stringify(summary) : null, error, runId],
          },
          releaseLeaseStatement(job.name, holder, runId),
          {
            sql: "INSERT INTO metrics (at, type, name, value, tags) VALUES (?, 'job', 'duration_ms', ?, ?)",
            args: [endedAt, durationMs, JSON.stringify({ job: job.name, status, trigger: opts.trigger })],
          },
        ],
        "write",
      );
    } catch (err) {
      // The lease expires by itself and the next run marks this row interrupted.
      jobLog.error("could not record the end of the run", { runId, error: errorMessage(err) }, err);
    }
    if (config.METRICS_FILE && host.runtime === "node") {
      // The seed's metrics.jsonl: a plain history outside the database, for tail -f and scripts.
      const at = new Date(endedAt).toISOString();
      const line = JSON.stringify({ at, job: job.name, status, durationMs, dryRun, summary });
      await appendLine(config.METRICS_FILE, line).catch((err: unknown) =>
        jobLog.warn("could not append to METRICS_FILE", { file: config.METRICS_FILE, error: errorMessage(err) }),
      );
    }
    if (status === "succeeded")
      jobLog.info("run finished", { runId, trigger: opts.trigger, dryRun, durationMs, ...summary });
    return {
      id: runId,
      job: job.name,
      trigger: opts.trigger,
      status,
      dryRun,
      startedAt,
      endedAt,
      durationMs,
      summary,
      error,
    };
  }

  return {
    holder,
    jobs,
    /** Runs a job now unless it is already running here or elsewhere; never throws for job errors. */
    run(name: string, opts: RunOptions): Promise<RunResult> {
      const job = find(name);
      if (stopping) return Promise.resolve(skipped(name, opts, "shutting-down"));
      const current = inflight.get(name);
      if (current) return Promise.resolve(skipped(name, opts, "running-here"));
      const slot: Inflight = { runId: null, startedAt: now(), progress: null, promise: Promise.resolve(null as never) };
      inflight.set(name, slot);
      slot.promise = execute(job, opts, slot).finally(() => inflight.delete(name));
      return slot.promise;
    },
    /** Runs in progress in this process, with their last progress report. */
    running(): Map<string, { runId: string | null; startedAt: number; progress: JobSummary | null }> {
      return new Map(
        [...inflight].map(([k, s]) => [k, { runId: s.runId, startedAt: s.startedAt, progress: s.progress }]),
      );
    },
    /** Refuses new runs, lets running ones finish for `graceMs`, then aborts them and waits briefly. */
    async shutdown(graceMs: number): Promise<void> {
      stopping = true;
      const all = () => Promise.allSettled([...inflight.values()].map((s) => s.promise));
      if (inflight.size === 0) return;
      const finished = await Promise.race([all().then(() => true), sleep(graceMs).then(() => false)]);
      if (finished) return;
      log.warn("aborting running jobs", { jobs: [...inflight.keys()] });
      shutdown.abort(new JobAbortedError("shutdown", new Error("service is shutting down")));
      await Promise.race([all(), sleep(5_000)]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
