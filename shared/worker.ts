import type { ExecutionContext } from "hono";
import { errorMessage } from "./errors.ts";
import { cronMatches } from "./schedule.ts";
import { createServices, type Services } from "./services.ts";

/** The parts of the Workers runtime API this entry uses. */
interface ScheduledEvent {
  cron: string;
  scheduledTime: number;
}
type Env = Record<string, string | undefined>;

// Migrations run once per isolate. Everything else is built per request or event: workerd forbids
// using I/O objects (the database client's streams) created by one request from another, and the
// leases in the database, not isolate memory, are what keep runs single.
let migrated = false;

async function servicesFor(env: Env): Promise<Services> {
  const services = await createServices({
    env: { LOG_FORMAT: "json", ...env },
    host: { runtime: "worker" },
    migrate: !migrated,
  });
  migrated = true;
  return services;
}

export default {
  async fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    let services: Services | undefined;
    try {
      services = await servicesFor(env);
      return await services.app.fetch(req, env, ctx);
    } catch (err) {
      return Response.json({ error: "service unavailable", detail: errorMessage(err) }, { status: 503 });
    } finally {
      services?.db.close();
    }
  },

  /** Cron trigger: every job whose schedule is this cron runs through the same runner. */
  async scheduled(event: ScheduledEvent, env: Env, ctx: ExecutionContext): Promise<void> {
    const s = await servicesFor(env);
    const due = s.runner.jobs.filter((j) => cronMatches(s.config.schedules[j.name] ?? null, event.cron));
    ctx.waitUntil(
      Promise.all(due.map((j) => s.runner.run(j.name, { trigger: "worker", tick: event.scheduledTime })))
        .catch((err: unknown) =>
          s.log.error("scheduled run could not start", { cron: event.cron, error: errorMessage(err) }),
        )
        .finally(() => s.db.close()),
    );
  },
};
