import { DEFAULT_SCHEDULES } from "../../functions/index.ts";
import { type Clients, noClients } from "../../shared/clients/index.ts";
import { type Config, parseConfig } from "../../shared/config.ts";
import { type Db, migrate, openDb } from "../../shared/db.ts";
import type { JobDefinition, JobSummary } from "../../shared/job.ts";
import { createLogger, type Logger } from "../../shared/log.ts";
import { createRunner } from "../../shared/runner.ts";

/** Config as parsed from a minimal environment plus overrides (env-style strings). */
export function makeConfig(env: Record<string, string> = {}): Config {
  return parseConfig({ LIBSQL_URL: ":memory:", ...env }, DEFAULT_SCHEDULES);
}

/** A migrated database: in memory unless a URL is given. */
export async function makeDb(url = ":memory:"): Promise<Db> {
  const db = await openDb(url);
  await migrate(db);
  return db;
}

/** A logger that keeps its lines for assertions. */
export function makeLog(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
  return Object.assign(log, { lines });
}

/** A job for runner tests; `run` defaults to returning `{ ok: true }`. */
export function makeJob(partial: Partial<JobDefinition<string, JobSummary>> = {}): JobDefinition<string, JobSummary> {
  return {
    name: "test-job",
    description: "a test job",
    schedule: "* * * * *",
    run: async () => ({ ok: true }),
    ...partial,
  };
}

/** A job that runs until its signal aborts, then fails with the abort reason. */
export function makeWaitingJob(
  partial: Partial<JobDefinition<string, JobSummary>> = {},
): JobDefinition<string, JobSummary> {
  return makeJob({
    run: (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })),
    ...partial,
  });
}

/** A runner over the given jobs and database. */
export function makeRunner(opts: {
  db: Db;
  jobs: JobDefinition[];
  config?: Config;
  holder?: string;
  now?: () => number;
  clients?: Clients;
}) {
  return createRunner({
    jobs: opts.jobs,
    config: opts.config ?? makeConfig(),
    db: opts.db,
    log: makeLog(),
    host: { runtime: "node" },
    clients: opts.clients ?? noClients(),
    holder: opts.holder,
    now: opts.now,
  });
}
