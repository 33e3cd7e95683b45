import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "../../shared/db.ts";
import { eventually, freePort, type Proc, runCli, spawnProc, tempDir } from "../helpers/processes.ts";

const TOKEN = "e2e-token-0123456789abcdef";
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
});

describe("the README's run command (npm start) on the embedded database", () => {
  it("starts with no other service, answers /health, runs maintenance on schedule and over HTTP, stops cleanly", async () => {
    const dir = tempDir("rdtm-e2e-");
    const dbFile = join(dir, "data", "rdtm.db");
    const port = await freePort();
    const proc = spawnProc("npm", ["start", "--silent"], {
      group: true,
      env: {
        HOST: "127.0.0.1",
        PORT: String(port),
        LIBSQL_URL: `file:${dbFile}`,
        BACKUP_DIR: join(dir, "backups"),
        API_TOKEN: TOKEN,
        LOG_FORMAT: "json",
        SCHEDULE_MAINTENANCE: "* * * * * *",
      },
    });
    procs.push(proc);
    await proc.waitFor(/"msg":"listening"/, 60_000);
    const url = `http://127.0.0.1:${port}`;

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: "healthy",
      services: { database: { status: "up", kind: "file" } },
    });
    expect(existsSync(dbFile)).toBe(true);

    // on its schedule (every second here)
    const db = await openDb(`file:${dbFile}`);
    try {
      await eventually(
        async () => {
          const rs = await db.execute(
            "SELECT count(*) AS n FROM job_runs WHERE job = 'maintenance' AND trigger = 'cron' AND status = 'succeeded'",
          );
          return Number(rs.rows[0]?.n) >= 2 ? true : undefined;
        },
        15_000,
        "two scheduled maintenance runs",
      );

      // over HTTP: 401 without the token, the finished run with it
      const denied = await fetch(`${url}/jobs/maintenance/run`, { method: "POST" });
      expect(denied.status).toBe(401);
      const res = await fetch(`${url}/jobs/maintenance/run`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ dryRun: true }),
      });
      expect([200, 409]).toContain(res.status); // 409 only if a scheduled run holds the job at that instant
      if (res.status === 200)
        expect(await res.json()).toMatchObject({ job: "maintenance", trigger: "http", status: "succeeded" });
      await eventually(
        async () => {
          const rs = await db.execute(
            "SELECT count(*) AS n FROM job_runs WHERE trigger = 'http' AND status = 'succeeded'",
          );
          if (Number(rs.rows[0]?.n) >= 1) return true;
          await fetch(`${url}/jobs/maintenance/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
          return undefined;
        },
        10_000,
        "an HTTP-triggered run",
      );
      expect(readdirSync(join(dir, "backups")).length).toBeGreaterThan(0);

      const jobs = await (await fetch(`${url}/jobs`)).json();
      const maintenance = jobs.jobs.find((j: { name: string }) => j.name === "maintenance");
      expect(maintenance).toMatchObject({ schedule: "* * * * * *", enabled: true });
    } finally {
      db.close();
    }

    proc.kill("SIGTERM");
    const exit = await proc.exited;
    expect(proc.output()).toMatch(/"msg":"shutting down"/);
    expect(exit.signal === "SIGTERM" || exit.code === 0).toBe(true);
  }, 120_000);

  it("refuses to start with a wrong value, naming every bad variable, exit code 3", async () => {
    const dir = tempDir();
    const r = await runCli(
      ["serve"],
      { PORT: "eighty", LOG_LEVEL: "chatty", API_TOKEN: "short-secret", LIBSQL_URL: `file:${join(dir, "x.db")}` },
      dir,
    );
    expect(r.code).toBe(3);
    expect(r.output).toMatch(/PORT: expected a whole number/);
    expect(r.output).toMatch(/LOG_LEVEL: expected one of/);
    expect(r.output).toMatch(/API_TOKEN: must be at least 16 characters/);
    expect(r.output).not.toContain("short-secret");
    expect(existsSync(join(dir, "x.db"))).toBe(false);
  });

  it("several processes migrating one file database at once apply each migration once", async () => {
    const dir = tempDir();
    const env = { LIBSQL_URL: `file:${join(dir, "race.db")}` };
    const results = await Promise.all([1, 2, 3, 4].map(() => runCli(["migrate"], env, dir)));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const db = await openDb(env.LIBSQL_URL);
    const rs = await db.execute("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version");
    db.close();
    expect(rs.rows.map((r) => Number(r.n))).toEqual(rs.rows.map(() => 1));
    expect(results.filter((r) => /applied migrations/.test(r.output))).toHaveLength(1);
  });
});
