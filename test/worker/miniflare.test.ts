import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULES } from "../../functions/index.ts";
import { type Db, openDb } from "../../shared/db.ts";
import { type Sqld, startSqld } from "../helpers/sqld.ts";

// The Worker bundle (dist/worker.mjs, built by the global setup) runs in workerd through miniflare,
// with its database on a real sqld reached over loopback HTTP.
const DIST = new URL("../../dist/", import.meta.url).pathname;
const TOKEN = "worker-token-0123456789abc";
let sqld: Sqld;
let db: Db;
let mf: Miniflare;

beforeAll(async () => {
  sqld = await startSqld();
  db = await openDb(sqld.url);
  mf = new Miniflare({
    modules: true,
    scriptPath: `${DIST}worker.mjs`,
    modulesRoot: DIST,
    compatibilityDate: "2025-01-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { LIBSQL_URL: sqld.url, API_TOKEN: TOKEN, LOG_LEVEL: "warn" },
    // no request.cf lookup: tests never reach the internet
    cf: false,
  });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  db?.close();
  await sqld?.stop();
});

describe("the Worker entry in workerd", () => {
  it("serves /health from the same Hono app, with the database on sqld", async () => {
    const res = await mf.dispatchFetch("http://rdtm.local/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "healthy",
      services: { database: { status: "up", kind: "sqld" } },
    });
  });

  it("runs maintenance on its cron through the runner and writes its job_runs row to sqld", async () => {
    // miniflare's own typings lack scheduled() on the fetcher; the runtime has it.
    const worker = (await mf.getWorker()) as unknown as {
      scheduled(opts: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
    };
    const scheduledTime = Date.parse("2026-11-22T04:30:00Z");
    const result = await worker.scheduled({
      cron: DEFAULT_SCHEDULES.maintenance,
      scheduledTime: new Date(scheduledTime),
    });
    expect(result.outcome).toBe("ok");
    const rs = await db.execute("SELECT * FROM job_runs WHERE trigger = 'worker'");
    expect(rs.rows).toHaveLength(1);
    expect(rs.rows[0]).toMatchObject({ job: "maintenance", status: "succeeded", tick_at: scheduledTime, dry_run: 1 });
    expect(JSON.parse(String(rs.rows[0]?.summary))).toMatchObject({
      integrity: "ok",
      backup: { skipped: "no filesystem in this runtime" },
    });

    // the same tick delivered twice (a retried event) does not run twice; another cron runs nothing
    await worker.scheduled({ cron: DEFAULT_SCHEDULES.maintenance, scheduledTime: new Date(scheduledTime) });
    await worker.scheduled({ cron: "*/7 * * * *", scheduledTime: new Date(scheduledTime + 60_000) });
    expect((await db.execute("SELECT count(*) AS n FROM job_runs WHERE trigger = 'worker'")).rows[0]?.n).toBe(1);
  });

  it("invokes a job over HTTP with the bearer token, 401 without", async () => {
    expect((await mf.dispatchFetch("http://rdtm.local/jobs/maintenance/run", { method: "POST" })).status).toBe(401);
    const res = await mf.dispatchFetch("http://rdtm.local/jobs/maintenance/run", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ dryRun: true }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ job: "maintenance", trigger: "http", status: "succeeded" });
  });
});
