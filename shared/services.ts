import { DEFAULT_SCHEDULES, JOBS } from "../functions/index.ts";
import { createApp } from "./app.ts";
import { resolveArrInstances } from "./clients/arr-config.ts";
import { type Clients, createClients } from "./clients/index.ts";
import type { ArrClient, ArrInstance } from "./clients/servarr.ts";
import { type Config, parseConfig } from "./config.ts";
import { type Db, migrate, openDb } from "./db.ts";
import { errorMessage } from "./errors.ts";
import { cachedProbe, databaseProbe, type HealthProbe, jobsProbe } from "./health.ts";
import type { Host, JobDefinition } from "./job.ts";
import { mountGuardProbe } from "./library/api.ts";
import { createLogger, type Logger } from "./log.ts";
import { realDebridProbe } from "./rd/health.ts";
import { createRunner, type Runner } from "./runner.ts";

/** Everything one process (Node server, CLI, or Worker isolate) runs on. */
export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  runner: Runner;
  clients: Clients;
  app: ReturnType<typeof createApp>;
}

export interface ServicesOptions {
  env: Record<string, string | undefined>;
  host: Host;
  /** true when output goes to a terminal (readable log lines instead of JSON). */
  tty?: boolean;
  jobs?: readonly JobDefinition[];
  /** Applies pending migrations before anything runs (default true). */
  migrate?: boolean;
  /** Replaces the network for service clients (tests, demo). */
  fetch?: typeof fetch;
}

/** /health's view of one Sonarr/Radarr instance: its system status, cached like RD's. */
function arrProbe(client: ArrClient, background: boolean): HealthProbe {
  return cachedProbe(
    async () => {
      try {
        const s = await client.systemStatus(AbortSignal.timeout(10_000));
        return { status: "up", app: s.appName, version: s.version, url: client.instance.url };
      } catch (err) {
        return { status: "down", url: client.instance.url, error: errorMessage(err) };
      }
    },
    { background },
  );
}

/** Parses config (throws ConfigError), opens and migrates the database, and wires runner and app. */
export async function createServices(opts: ServicesOptions): Promise<Services> {
  const config = parseConfig(opts.env, DEFAULT_SCHEDULES);
  const log = createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT === "auto" ? (opts.tty ? "pretty" : "json") : config.LOG_FORMAT,
    secrets: [config.API_TOKEN, config.LIBSQL_AUTH_TOKEN, config.RD_API_TOKEN, ...config.arr.map((a) => a.apiKey)],
  });
  const db = await openDb(config.LIBSQL_URL, config.LIBSQL_AUTH_TOKEN);
  try {
    if (opts.migrate !== false) {
      const applied = await migrate(db);
      if (applied.length > 0) log.info("database migrated", { applied });
    }
  } catch (err) {
    db.close();
    throw err;
  }
  let arr: ArrInstance[];
  try {
    arr = await resolveArrInstances(config.arr);
  } catch (err) {
    db.close();
    throw err;
  }
  const clients = createClients(config, db, { arr, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const runner = createRunner({ jobs: opts.jobs ?? JOBS, config, db, log, host: opts.host, clients });
  const probes = {
    database: databaseProbe(db, config.LIBSQL_URL),
    jobs: jobsProbe(db),
    realDebrid: realDebridProbe(clients.rd, { background: opts.host.runtime === "node" }),
    mountGuard: mountGuardProbe(db, (config.LIBRARY_ROOTS?.length ?? 0) > 0),
    ...Object.fromEntries(clients.arr.map((c) => [c.instance.name, arrProbe(c, opts.host.runtime === "node")])),
  };
  const app = createApp({ config, db, runner, log, probes });
  return { config, db, log, runner, clients, app };
}
