import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeConfig, makeDb, makeJob, makeLog, makeRunner } from "../test/helpers/factories.ts";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import type { Db } from "./db.ts";
import { databaseProbe, jobsProbe } from "./health.ts";
import type { JobDefinition } from "./job.ts";

const TOKEN = "test-token-0123456789";
let db: Db;
beforeEach(async () => {
  db = await makeDb();
});
afterEach(() => db.close());

function appWith(opts: { config?: Config; jobs?: JobDefinition[] } = {}) {
  const config = opts.config ?? makeConfig({ API_TOKEN: TOKEN });
  const runner = makeRunner({ db, config, jobs: opts.jobs ?? [makeJob({ name: "maintenance" })] });
  return createApp({
    config,
    db,
    runner,
    log: makeLog(),
    probes: { database: databaseProbe(db, ":memory:"), jobs: jobsProbe(db) },
  });
}

const post = (body?: string, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: {
    authorization: `Bearer ${TOKEN}`,
    ...(body !== undefined ? { "content-type": "application/json" } : {}),
    ...headers,
  },
  ...(body !== undefined ? { body } : {}),
});

describe("GET /health", () => {
  it("reports healthy with the database", async () => {
    const res = await appWith().request("/health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "healthy", services: { database: { status: "up", kind: "file" } } });
  });

  it("is degraded while a job's last run failed", async () => {
    const app = appWith({ jobs: [makeJob({ name: "maintenance", run: async () => Promise.reject(new Error("x")) })] });
    await app.request("/jobs/maintenance/run", post());
    const body = await (await app.request("/health")).json();
    expect(body.status).toBe("degraded");
    expect(body.services.jobs.failing).toEqual([{ job: "maintenance", status: "failed", error: "x" }]);
  });

  it("is unhealthy (503) when the database is gone", async () => {
    const app = appWith();
    db.close();
    const res = await app.request("/health");
    expect(res.status).toBe(503);
    expect((await res.json()).services.database.status).toBe("down");
  });
});

describe("GET /jobs", () => {
  it("lists name, description, schedule, next run, running and last run", async () => {
    const app = appWith({ config: makeConfig({ API_TOKEN: TOKEN, SCHEDULE_MAINTENANCE: "0 3 * * *" }) });
    let body = await (await app.request("/jobs")).json();
    expect(body.jobs[0]).toMatchObject({
      name: "maintenance",
      description: "a test job",
      schedule: "0 3 * * *",
      running: null,
      lastRun: null,
    });
    expect(body.jobs[0].nextRun).toMatch(/T03:00:00.000Z$/);
    await app.request("/jobs/maintenance/run", post());
    body = await (await app.request("/jobs/maintenance")).json();
    expect(body.lastRun).toMatchObject({ status: "succeeded", trigger: "http", dryRun: true, summary: { ok: true } });
  });

  it("answers 404 for an unknown job", async () => {
    const res = await appWith().request("/jobs/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "unknown job: nope", jobs: ["maintenance"] });
  });
});

describe("POST /jobs/:name/run", () => {
  it("runs the job and returns the finished run", async () => {
    const res = await appWith().request("/jobs/maintenance/run", post('{"dryRun":false,"limit":3}'));
    expect(res.status).toBe(200);
    const run = await res.json();
    expect(run).toMatchObject({
      job: "maintenance",
      trigger: "http",
      status: "succeeded",
      dryRun: false,
      summary: { ok: true },
    });
    expect(run.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("accepts an empty body (defaults)", async () => {
    const res = await appWith().request("/jobs/maintenance/run", post());
    expect(res.status).toBe(200);
    expect((await res.json()).dryRun).toBe(true);
  });

  it.each([
    ["no header", {}],
    ["wrong token", { authorization: "Bearer wrong-token-000000000" }],
    ["not bearer", { authorization: `Basic ${TOKEN}` }],
  ])("answers 401 with %s", async (_, headers) => {
    const res = await appWith().request("/jobs/maintenance/run", { method: "POST", headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await db.execute("SELECT * FROM job_runs").then((r) => r.rows.length)).toBe(0);
  });

  it("is switched off (503) when API_TOKEN is not configured", async () => {
    const res = await appWith({ config: makeConfig() }).request("/jobs/maintenance/run", post());
    expect(res.status).toBe(503);
    expect((await res.json()).error).toMatch(/API_TOKEN is not set/);
  });

  it("answers 404 for an unknown job", async () => {
    expect((await appWith().request("/jobs/nope/run", post())).status).toBe(404);
  });

  it.each([
    ['{"limit":0}', "limit"],
    ['{"limit":"5"}', "limit"],
    ['{"dryRun":"yes"}', "dryRun"],
    ['{"dry_run":true}', "dry_run"],
  ])("answers 400 with the issues for %s", async (body, key) => {
    const res = await appWith().request("/jobs/maintenance/run", post(body));
    expect(res.status).toBe(400);
    const json = await res.json();
    expect(json.error).toBe("invalid body");
    expect(JSON.stringify(json.issues)).toContain(key);
  });

  it("answers 400 for malformed JSON and 415 for another content type", async () => {
    expect((await appWith().request("/jobs/maintenance/run", post("{nope"))).status).toBe(400);
    const res = await appWith().request("/jobs/maintenance/run", post("limit=3", { "content-type": "text/plain" }));
    expect(res.status).toBe(415);
  });

  it("refuses bodies over 16 KiB", async () => {
    const res = await appWith().request(
      "/jobs/maintenance/run",
      post(JSON.stringify({ dryRun: true, pad: "x".repeat(20_000) })),
    );
    expect(res.status).toBe(413);
  });

  it("answers 409 while the job is running, 500 when the run failed", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const app = appWith({
      jobs: [
        makeJob({
          name: "maintenance",
          run: async () => {
            await gate;
            return { ok: true };
          },
        }),
      ],
    });
    const first = app.request("/jobs/maintenance/run", post());
    await new Promise((r) => setTimeout(r, 20));
    const second = await app.request("/jobs/maintenance/run", post());
    expect(second.status).toBe(409);
    expect((await second.json()).skipReason).toBe("running-here");
    release();
    expect((await first).status).toBe(200);
    const failing = appWith({ jobs: [makeJob({ name: "maintenance", run: () => Promise.reject(new Error("nope")) })] });
    const res = await failing.request("/jobs/maintenance/run", post());
    expect(res.status).toBe(500);
    expect((await res.json()).error).toBe("nope");
  });
});

describe("errors", () => {
  it("answers unknown routes with JSON 404", async () => {
    const res = await appWith().request("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no route for GET /nope" });
  });

  it("maps database failures to 503 without leaking internals", async () => {
    const app = appWith();
    db.close();
    const res = await app.request("/jobs");
    expect(res.status).toBe(503);
    expect((await res.json()).error).toBe("database unavailable");
  });

  it("sets security headers", async () => {
    const res = await appWith().request("/health");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });
});
