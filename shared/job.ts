import type { Clients } from "./clients/index.ts";
import type { Config } from "./config.ts";
import type { Db } from "./db.ts";
import type { Logger } from "./log.ts";

/** What started a run. */
export type Trigger = "cron" | "http" | "worker" | "cli" | "test";

/** JSON-serialisable counts, ids and cursors a run reports. */
export type JobSummary = Record<string, unknown>;

/** Capabilities that differ between the Node server and the Worker runtime. */
export interface Host {
  runtime: "node" | "worker";
  /** Writes an online copy of the database to a new file; absent where there is no filesystem. */
  backupDatabase?: (db: Db, opts: { dir: string; keep: number; now: number }) => Promise<BackupResult>;
}

/** Outcome of one database backup. */
export interface BackupResult {
  file: string;
  bytes: number;
  removed: string[];
}

/** Everything a job's run gets; a job reads nothing else (no process.env, no singletons). */
export interface JobContext {
  job: string;
  runId: string;
  trigger: Trigger;
  dryRun: boolean;
  /** Caller's cap on the amount of work (items, pages) for this run, when given. */
  limit: number | undefined;
  /** Specific items to work on, when the caller names them (retry-drain: repair ids). */
  ids?: readonly number[] | undefined;
  config: Config;
  db: Db;
  log: Logger;
  signal: AbortSignal;
  host: Host;
  /** Service clients; a service that is not configured is null. */
  clients: Clients;
  now: () => number;
  /** Reports progress while running; shown by /jobs and persisted on the run row. */
  progress: (p: JobSummary) => void;
}

/** A job: one file in functions/, invoked by cron, HTTP, Worker, CLI and tests through the runner. */
export interface JobDefinition<N extends string = string, S extends JobSummary = JobSummary> {
  name: N;
  description: string;
  /** Default cron pattern (5 fields, so Workers crons can share it); SCHEDULE_<NAME> overrides it. */
  schedule: string;
  /** Longest a run may take before it is aborted; defaults to 10 minutes. */
  timeoutMs?: number;
  run: (ctx: JobContext) => Promise<S>;
}

/** Declares a job; the identity function gives the definition its precise type. */
export function defineJob<const N extends string, S extends JobSummary>(def: JobDefinition<N, S>): JobDefinition<N, S> {
  return def;
}
