import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeConfig, makeDb, makeJob, makeLog, makeRunner, makeWaitingJob } from "../test/helpers/factories.ts";
import { noClients } from "./clients/index.ts";
import type { Db } from "./db.ts";
import { JobFailedError } from "./errors.ts";
import { acquireLease } from "./lease.ts";
import { createRunner, UnknownJobError } from "./runner.ts";

let db: Db;
beforeEach(async () => {
  db = await makeDb();
});
afterEach(() => db.close());

async function runRows() {
  return (await db.execute("SELECT * FROM job_runs ORDER BY started_at")).rows;
}

describe("runner", () => {
  it("records a succeeded run with trigger, times, dry-run flag and summary", async () => {
    let seen: { dryRun: boolean; limit: number | undefined } | undefined;
    const runner = makeRunner({
      db,
      jobs: [
        makeJob({
          run: async (ctx) => {
            seen = { dryRun: ctx.dryRun, limit: ctx.limit };
            return { done: 3 };
          },
        }),
      ],
    });
    const r = await runner.run("test-job", { trigger: "http", limit: 5 });
    expect(r).toMatchObject({ status: "succeeded", trigger: "http", dryRun: true, summary: { done: 3 }, error: null });
    expect(seen).toEqual({ dryRun: true, limit: 5 });
    const [row] = await runRows();
    expect(row).toMatchObject({ id: r.id, job: "test-job", trigger: "http", status: "succeeded", dry_run: 1 });
    expect(JSON.parse(String(row?.summary))).toEqual({ done: 3 });
    expect(Number(row?.ended_at)).toBeGreaterThanOrEqual(Number(row?.started_at));
    const metric = await db.execute("SELECT name, tags FROM metrics");
    expect(JSON.parse(String(metric.rows[0]?.tags))).toEqual({ job: "test-job", status: "succeeded", trigger: "http" });
  });

  it("takes dry-run from the run flag over the config default", async () => {
    const runner = makeRunner({ db, config: makeConfig({ DRY_RUN: "false" }), jobs: [makeJob()] });
    expect((await runner.run("test-job", { trigger: "cli" })).dryRun).toBe(false);
    expect((await runner.run("test-job", { trigger: "cli", dryRun: true })).dryRun).toBe(true);
  });

  it("catches a failing job, records the error and frees the lease", async () => {
    const runner = makeRunner({ db, jobs: [makeJob({ run: async () => Promise.reject(new Error("boom")) })] });
    const r = await runner.run("test-job", { trigger: "cron" });
    expect(r).toMatchObject({ status: "failed", error: "boom", summary: null });
    expect((await runRows())[0]).toMatchObject({ status: "failed", error: "boom" });
    expect((await runner.run("test-job", { trigger: "cron" })).status).toBe("failed");
  });

  it("keeps what a job found when it fails with JobFailedError", async () => {
    const runner = makeRunner({
      db,
      jobs: [makeJob({ run: async () => Promise.reject(new JobFailedError("integrity", { problems: ["x"] })) })],
    });
    const r = await runner.run("test-job", { trigger: "cron" });
    expect(r).toMatchObject({ status: "failed", summary: { problems: ["x"] } });
  });

  it("is single-flight in process: a second trigger while running is skipped", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runner = makeRunner({
      db,
      jobs: [
        makeJob({
          run: async () => {
            await gate;
            return { ok: true };
          },
        }),
      ],
    });
    const first = runner.run("test-job", { trigger: "cron" });
    const second = await runner.run("test-job", { trigger: "http" });
    expect(second).toMatchObject({ status: "skipped", skipReason: "running-here", id: null });
    release();
    expect((await first).status).toBe("succeeded");
    expect(await runRows()).toHaveLength(1);
  });

  it("skips while another process holds the lease, and each tick runs once", async () => {
    const a = makeRunner({ db, holder: "a", jobs: [makeJob()] });
    const b = makeRunner({ db, holder: "b", jobs: [makeJob()] });
    await acquireLease(db, { job: "test-job", holder: "other", runId: "x", now: Date.now(), ttlMs: 60_000 });
    expect((await a.run("test-job", { trigger: "cron" })).skipReason).toBe("held");
    await db.execute("UPDATE leases SET holder = NULL, expires_at = 0");
    const tick = 1_000_000;
    const results = await Promise.all([
      a.run("test-job", { trigger: "cron", tick }),
      b.run("test-job", { trigger: "cron", tick }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["skipped", "succeeded"]);
    expect(results.find((r) => r.status === "skipped")?.skipReason).toMatch(/tick-taken|held/);
    expect((await a.run("test-job", { trigger: "cron", tick })).skipReason).toBe("tick-taken");
  });

  it("marks runs of a process that died as interrupted once its lease expired", async () => {
    await db.execute(
      "INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at) VALUES ('dead', 'test-job', 'cron', 1, 'gone', 'running', 1)",
    );
    await acquireLease(db, { job: "test-job", holder: "gone", runId: "dead", now: 1, ttlMs: 10 });
    const r = await makeRunner({ db, jobs: [makeJob()] }).run("test-job", { trigger: "cron" });
    expect(r.status).toBe("succeeded");
    const dead = (await db.execute("SELECT status, error FROM job_runs WHERE id = 'dead'")).rows[0];
    expect(dead).toMatchObject({ status: "interrupted" });
  });

  it("aborts runs that outlive the shutdown grace and records them as aborted", async () => {
    const runner = makeRunner({
      db,
      jobs: [makeWaitingJob()],
    });
    const run = runner.run("test-job", { trigger: "cron" });
    await new Promise((r) => setTimeout(r, 20));
    await runner.shutdown(50);
    const r = await run;
    expect(r.status).toBe("aborted");
    expect(r.error).toMatch(/shutting down/);
    expect((await runner.run("test-job", { trigger: "http" })).skipReason).toBe("shutting-down");
    expect((await runRows())[0]).toMatchObject({ status: "aborted" });
  });

  it("lets a run finish within the grace period", async () => {
    const runner = makeRunner({
      db,
      jobs: [
        makeJob({
          run: async () => {
            await new Promise((r) => setTimeout(r, 30));
            return { ok: true };
          },
        }),
      ],
    });
    const run = runner.run("test-job", { trigger: "cron" });
    await runner.shutdown(5_000);
    expect((await run).status).toBe("succeeded");
  });

  it("aborts a run whose lease was taken over", async () => {
    const runner = makeRunner({
      db,
      config: makeConfig({ LEASE_TTL_SECONDS: "2" }),
      jobs: [makeWaitingJob()],
    });
    const run = runner.run("test-job", { trigger: "cron" });
    await new Promise((r) => setTimeout(r, 50));
    await db.execute("UPDATE leases SET holder = 'thief', run_id = 'other'");
    const r = await run;
    expect(r).toMatchObject({ status: "aborted", error: "lease lost to another process" });
  });

  it("aborts a run whose lease cannot be renewed for a whole TTL, before another process may take it", async () => {
    const failing = new Proxy(db, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "execute" || typeof value !== "function")
          return typeof value === "function" ? value.bind(target) : value;
        return (stmt: { sql?: string }) =>
          typeof stmt === "object" && stmt.sql?.startsWith("UPDATE leases SET expires_at")
            ? Promise.reject(new Error("database unreachable"))
            : value.call(target, stmt);
      },
    });
    const runner = makeRunner({
      db: failing,
      config: makeConfig({ LEASE_TTL_SECONDS: "2" }),
      jobs: [makeWaitingJob()],
    });
    const started = Date.now();
    const r = await runner.run("test-job", { trigger: "cron" });
    expect(r.status).toBe("aborted");
    expect(r.error).toMatch(/lease not renewed for 2000 ms: database unreachable/);
    expect(Date.now() - started).toBeLessThan(3_500);
  });

  it("gives the lease back when the run row cannot be written", async () => {
    const broken = new Proxy(db, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "batch" || typeof value !== "function")
          return typeof value === "function" ? value.bind(target) : value;
        return (stmts: { sql: string }[], mode: "write") =>
          stmts.some((st) => st.sql.startsWith("INSERT INTO job_runs"))
            ? Promise.reject(new Error("disk full"))
            : value.call(target, stmts, mode);
      },
    });
    await expect(makeRunner({ db: broken, jobs: [makeJob()] }).run("test-job", { trigger: "cron" })).rejects.toThrow(
      "disk full",
    );
    expect((await db.execute("SELECT holder FROM leases WHERE job = 'test-job'")).rows[0]?.holder).toBeNull();
  });

  it("refuses unknown jobs", () => {
    expect(() => makeRunner({ db, jobs: [makeJob()] }).run("nope", { trigger: "http" })).toThrow(UnknownJobError);
  });

  it("reports progress while running", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runner = makeRunner({
      db,
      jobs: [
        makeJob({
          run: async (ctx) => {
            ctx.progress({ page: 2, of: 5 });
            await gate;
            return { ok: true };
          },
        }),
      ],
    });
    const run = runner.run("test-job", { trigger: "cron" });
    await new Promise((r) => setTimeout(r, 20));
    expect(runner.running().get("test-job")?.progress).toEqual({ page: 2, of: 5 });
    const row = (await db.execute("SELECT progress FROM job_runs")).rows[0];
    expect(JSON.parse(String(row?.progress))).toEqual({ page: 2, of: 5 });
    release();
    await run;
    expect(runner.running().size).toBe(0);
  });
});

describe("METRICS_FILE", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rdtm-metrics-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function runnerWith(file: string, runtime: "node" | "worker" = "node") {
    const log = makeLog();
    const jobs = [
      makeJob({ run: async () => ({ done: 2 }) }),
      makeJob({ name: "bad", run: () => Promise.reject(new Error("boom")) }),
    ];
    const config = makeConfig({ METRICS_FILE: file });
    return { log, runner: createRunner({ jobs, config, db, log, host: { runtime }, clients: noClients() }) };
  }

  it("appends one JSON line per finished run, creating the directory", async () => {
    const file = join(dir, "logs", "metrics.jsonl");
    const { runner } = runnerWith(file);
    const ok = await runner.run("test-job", { trigger: "cli", dryRun: false });
    await runner.run("bad", { trigger: "cron" });
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        at: new Date(ok.endedAt).toISOString(),
        job: "test-job",
        status: "succeeded",
        durationMs: ok.durationMs,
        dryRun: false,
        summary: { done: 2 },
      },
      expect.objectContaining({ job: "bad", status: "failed", dryRun: true, summary: null }),
    ]);
  });

  it("logs a file it cannot write and still records the run", async () => {
    const file = join(dir, "taken");
    mkdirSync(file);
    const { runner, log } = runnerWith(file);
    expect((await runner.run("test-job", { trigger: "cron" })).status).toBe("succeeded");
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "could not append to METRICS_FILE" }),
    );
    expect((await runRows())[0]).toMatchObject({ status: "succeeded" });
  });

  it("writes nothing in the Worker runtime (no filesystem)", async () => {
    const file = join(dir, "metrics.jsonl");
    const { runner } = runnerWith(file, "worker");
    expect((await runner.run("test-job", { trigger: "worker" })).status).toBe("succeeded");
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
  });
});
