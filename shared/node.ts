import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Cron } from "croner";
import { isDatabaseUnavailable } from "./db.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import type { Host } from "./job.ts";
import { backupDatabase } from "./maintenance/backup.ts";
import { tickOf } from "./schedule.ts";
import { createServices, type Services } from "./services.ts";

/** Node capabilities: a filesystem for backups. */
export function nodeHost(dbUrl: string): Host {
  return {
    runtime: "node",
    backupDatabase: (db, opts) => backupDatabase(db, dbUrl, opts),
  };
}

const DB_WAIT_MS = 60_000;

/**
 * sqld may start after RDTM (docker compose) or be restarting: keep trying to reach it for a minute
 * before giving up. Configuration errors are not retried.
 */
async function waitForDatabase(start: () => Promise<Services>): Promise<Services> {
  const deadline = Date.now() + DB_WAIT_MS;
  for (let pause = 500; ; pause = Math.min(pause * 2, 5_000)) {
    try {
      return await start();
    } catch (err) {
      if (err instanceof ConfigError || !isDatabaseUnavailable(err) || Date.now() + pause > deadline) throw err;
      process.stderr.write(`database not reachable yet (${errorMessage(err)}); retrying in ${pause} ms\n`);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** A running server: its port and a graceful stop. */
export interface RunningServer {
  services: Services;
  port: number;
  stop: () => Promise<void>;
}

/**
 * Node entry: config, migrate, serve the app, one croner per scheduled job (protect + catch), and a
 * stop that ends crons, lets runs finish (then aborts them), closes the server and the database.
 */
export async function startServer(env: Record<string, string | undefined>, tty: boolean): Promise<RunningServer> {
  const services = await waitForDatabase(() =>
    createServices({ env, host: nodeHost(env.LIBSQL_URL ?? "file:data/rdtm.db"), tty }),
  );
  const { config, runner, log, app, db } = services;

  const crons = runner.jobs.flatMap((job) => {
    const pattern = config.schedules[job.name];
    if (!pattern) return [];
    const cron = new Cron(
      pattern,
      {
        name: job.name,
        protect: () => log.withTag(job.name).debug("previous run still busy; tick skipped"),
        catch: (err) => log.withTag(job.name).error("scheduled run could not start", { error: errorMessage(err) }, err),
      },
      async () => {
        const result = await runner.run(job.name, { trigger: "cron", tick: tickOf(pattern, Date.now()) });
        if (result.status === "skipped") log.withTag(job.name).debug("tick skipped", { reason: result.skipReason });
      },
    );
    return [cron];
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  log.info("listening", { host: config.HOST, port, dryRun: config.DRY_RUN, jobs: crons.map((c) => c.name) });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info("shutting down");
      for (const c of crons) c.stop();
      await runner.shutdown(config.SHUTDOWN_GRACE_SECONDS * 1000);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
    })();
    return stopping;
  };
  return { services, port, stop };
}
