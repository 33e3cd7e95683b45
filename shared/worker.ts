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

// One set of services per isolate, built on first use: the database over HTTP to sqld.
let services: Promise<Services> | undefined;

function servicesFor(env: Env): Promise<Services> {
  services ??= createServices({ env: { LOG_FORMAT: "json", ...env }, host: { runtime: "worker" } }).catch(
    (err: unknown) => {
      services = undefined;
      throw err;
    },
  );
  return services;
}

export default {
  async fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    try {
      const s = await servicesFor(env);
      return await s.app.fetch(req, env, ctx);
    } catch (err) {
      return Response.json({ error: "service unavailable", detail: errorMessage(err) }, { status: 503 });
    }
  },

  /** Cron trigger: every job whose schedule is this cron runs through the same runner. */
  async scheduled(event: ScheduledEvent, env: Env, ctx: ExecutionContext): Promise<void> {
    const s = await servicesFor(env);
    const due = s.runner.jobs.filter((j) => cronMatches(s.config.schedules[j.name] ?? null, event.cron));
    ctx.waitUntil(
      Promise.all(due.map((j) => s.runner.run(j.name, { trigger: "worker", tick: event.scheduledTime }))).catch(
        (err: unknown) => s.log.error("scheduled run could not start", { cron: event.cron, error: errorMessage(err) }),
      ),
    );
  },
};
