import { LibsqlError } from "@libsql/client";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import * as v from "valibot";
import { mountApi } from "./api.ts";
import { requireToken } from "./auth.ts";
import type { Config } from "./config.ts";
import { mountDashboard } from "./dashboard/index.ts";
import { type Db, isDatabaseUnavailable } from "./db.ts";
import { errorMessage } from "./errors.ts";
import { checkHealth, type HealthProbe } from "./health.ts";
import { listJobs } from "./jobs-view.ts";
import { mountLibraryApi } from "./library/api.ts";
import type { Logger } from "./log.ts";
import { mountOpenApi } from "./openapi.ts";
import { mountQbitApi } from "./qbit/api.ts";
import { mountRepairApi } from "./repair/api.ts";
import { type Runner, type RunResult, UnknownJobError } from "./runner.ts";

/** What the HTTP app is built from; the Node server and the Worker each assemble one. */
export interface AppDeps {
  config: Config;
  db: Db;
  runner: Runner;
  log: Logger;
  probes: Record<string, HealthProbe>;
  /** The dashboard's clock (tests move it to expire sessions). */
  now?: () => number;
}

/** Body of POST /jobs/:name/run; unknown keys are refused so a typo is not silently ignored. */
export const RunBody = v.strictObject({
  dryRun: v.optional(v.boolean()),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
});

const MAX_BODY_BYTES = 16 * 1024;

/** The run as the API shows it: ISO times, no internals. */
export function serializeRun(r: RunResult) {
  return {
    ...r,
    startedAt: new Date(r.startedAt).toISOString(),
    endedAt: new Date(r.endedAt).toISOString(),
  };
}

const RUN_STATUS_HTTP = { succeeded: 200, skipped: 409, failed: 500, aborted: 503 } as const;

/** Builds the Hono app: health, job listing and invocation; later features mount /api and the dashboard. */
export function createApp(deps: AppDeps) {
  const { config, runner, log } = deps;
  const app = new Hono();
  const auth = requireToken(config.API_TOKEN);

  app.use(secureHeaders());

  app.get("/health", async (c) => {
    const report = await checkHealth(deps.probes);
    return c.json(report, report.status === "unhealthy" ? 503 : 200);
  });

  app.get("/jobs", async (c) => c.json({ jobs: await listJobs(deps) }));

  app.get("/jobs/:name", async (c) => {
    const name = c.req.param("name");
    const job = (await listJobs(deps)).find((j) => j.name === name);
    if (!job) throw new UnknownJobError(name);
    return c.json(job);
  });

  app.post(
    "/jobs/:name/run",
    auth,
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: `request body larger than ${MAX_BODY_BYTES} bytes` }, 413),
    }),
    async (c) => {
      const name = c.req.param("name");
      if (!runner.jobs.some((j) => j.name === name)) throw new UnknownJobError(name);
      const body = await readJsonBody(c.req.raw);
      if (Array.isArray(body))
        return c.json({ error: "invalid body", issues: { body: ["expected a JSON object"] } }, 400);
      const parsed = v.safeParse(RunBody, body);
      if (!parsed.success) {
        return c.json(
          { error: "invalid body", issues: v.flatten(parsed.issues).nested ?? v.flatten(parsed.issues) },
          400,
        );
      }
      const result = await runner.run(name, { trigger: "http", ...parsed.output });
      return c.json(serializeRun(result), RUN_STATUS_HTTP[result.status]);
    },
  );

  mountApi(app, deps.db, auth);
  mountLibraryApi(app, deps.db, auth);
  mountRepairApi(app, deps.db, auth);
  mountQbitApi(app, deps.db);
  mountOpenApi(app);
  const dashboard = mountDashboard(app, deps);

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (err instanceof UnknownJobError) {
      return c.json({ error: err.message, jobs: runner.jobs.map((j) => j.name) }, 404);
    }
    if (isDatabaseUnavailable(err) || err instanceof LibsqlError) {
      log.error("database error while serving a request", { path: c.req.path, error: errorMessage(err) });
      return c.json({ error: "database unavailable" }, 503);
    }
    log.error("request failed", { path: c.req.path, error: errorMessage(err) }, err);
    return c.json({ error: "internal error" }, 500);
  });

  // The dashboard handle ends its live streams (tests; Node shutdown ends them anyway).
  return Object.assign(app, { dashboard });
}

/** Reads an optional JSON body: empty means {}, anything else must be JSON. */
async function readJsonBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") return {};
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new HTTPException(415, { message: "send the body as application/json" });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HTTPException(400, { message: `body is not valid JSON: ${errorMessage(err)}` });
  }
}
