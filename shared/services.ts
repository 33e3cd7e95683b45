import { DEFAULT_SCHEDULES, JOBS } from "../functions/index.ts";
import { createApp } from "./app.ts";
import { type Clients, createClients } from "./clients/index.ts";
import type { QbitClient } from "./clients/qbittorrent.ts";
import type { ArrClient } from "./clients/servarr.ts";
import { type Config, parseConfig, secretValues } from "./config.ts";
import { type Db, migrate, openDb } from "./db.ts";
import { resolveInstances } from "./discovery.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { cachedProbe, databaseProbe, type HealthProbe, jobsProbe } from "./health.ts";
import type { Host, JobDefinition } from "./job.ts";
import { mountGuardProbe } from "./library/api.ts";
import { createLogger, type Logger } from "./log.ts";
import { mountMetrics } from "./metrics.ts";
import { parseRulesFile, type RuleSet } from "./qbit/rules.ts";
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

/** /health's view of one qBittorrent instance: reachable, logged in, and connected to the internet. */
function qbitProbe(client: QbitClient, background: boolean): HealthProbe {
  return cachedProbe(
    async () => {
      try {
        const signal = AbortSignal.timeout(10_000);
        const [v, state] = await Promise.all([client.version(signal), client.serverState(signal)]);
        const connected = state.connectionStatus !== "disconnected";
        return {
          status: connected ? "up" : "degraded",
          version: v.app,
          webapi: v.webapi,
          connection: state.connectionStatus,
          url: client.instance.url,
        };
      } catch (err) {
        return { status: "down", url: client.instance.url, error: errorMessage(err) };
      }
    },
    { background },
  );
}

/** Reads QBIT_RULES_FILE; a missing or invalid file is a configuration error, named. */
async function loadRules(config: Config): Promise<RuleSet> {
  const path = config.QBIT_RULES_FILE ?? "";
  try {
    const { readFile } = await import("node:fs/promises");
    const set = parseRulesFile(await readFile(path, "utf8"), path);
    return {
      ...set,
      ignoreTags: new Set([...set.ignoreTags, ...config.QBIT_IGNORE_TAGS]),
      byCategory: new Map([...set.byCategory, ...config.QBIT_IGNORE_CATEGORIES.map((c) => [c, null] as const)]),
    };
  } catch (err) {
    throw new ConfigError([`QBIT_RULES_FILE: ${errorMessage(err)}`]);
  }
}

/** Parses config (throws ConfigError), opens and migrates the database, and wires runner and app. */
export async function createServices(opts: ServicesOptions): Promise<Services> {
  const config = parseConfig(opts.env, DEFAULT_SCHEDULES);
  const logSecrets: string[] = secretValues(config);
  const log = createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT === "auto" ? (opts.tty ? "pretty" : "json") : config.LOG_FORMAT,
    file: opts.host.runtime === "node" ? config.LOG_FILE : undefined,
    // A live list: keys read later (config.xml, Docker discovery) are added to it below.
    secrets: logSecrets,
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
  let instances: Awaited<ReturnType<typeof resolveInstances>>;
  let qbitRules: RuleSet | undefined;
  try {
    instances = await resolveInstances(config, log);
    qbitRules = config.QBIT_RULES_FILE ? await loadRules(config) : undefined;
  } catch (err) {
    db.close();
    throw err;
  }
  for (const a of instances.arr) logSecrets.push(a.apiKey);
  for (const q of instances.qbit) for (const x of [q.password, q.apiKey]) if (x) logSecrets.push(x);
  const clients = createClients(config, db, {
    ...instances,
    ...(qbitRules ? { qbitRules } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  const runner = createRunner({ jobs: opts.jobs ?? JOBS, config, db, log, host: opts.host, clients });
  const probes = {
    database: databaseProbe(db, config.LIBSQL_URL),
    jobs: jobsProbe(db),
    realDebrid: realDebridProbe(clients.rd, { background: opts.host.runtime === "node" }),
    mountGuard: mountGuardProbe(db, (config.LIBRARY_ROOTS?.length ?? 0) > 0),
    ...Object.fromEntries(clients.arr.map((c) => [c.instance.name, arrProbe(c, opts.host.runtime === "node")])),
    ...Object.fromEntries(clients.qbit.map((c) => [c.instance.name, qbitProbe(c, opts.host.runtime === "node")])),
  };
  const app = createApp({ config, db, runner, log, probes });
  mountMetrics(app, { db, clients, config });
  return { config, db, log, runner, clients, app };
}
