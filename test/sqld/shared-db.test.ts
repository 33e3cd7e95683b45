import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDb } from "../../shared/db.ts";
import { eventually, type Proc, runCli, startRdtm, tempDir } from "../helpers/processes.ts";
import { type Sqld, startSqld } from "../helpers/sqld.ts";

const TOKEN = "sqld-token-0123456789abcdef";
let sqld: Sqld;
let db: Db;
const procs: Proc[] = [];

beforeAll(async () => {
  sqld = await startSqld();
  db = await openDb(sqld.url);
});
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  db?.close();
  await sqld?.stop();
});

describe("two processes on one real sqld", () => {
  it("migrate concurrently: each migration applied once", async () => {
    const dir = tempDir();
    const results = await Promise.all([1, 2, 3].map(() => runCli(["migrate"], { LIBSQL_URL: sqld.url }, dir)));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    const rs = await db.execute("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version");
    expect(rs.rows.length).toBeGreaterThan(0);
    for (const r of rs.rows) expect(Number(r.n)).toBe(1);
  });

  it("run the job exactly once per schedule tick (lease), counted in job_runs, even with skewed clocks", async () => {
    const dir = tempDir();
    const env = {
      LIBSQL_URL: sqld.url,
      API_TOKEN: TOKEN,
      SCHEDULE_MAINTENANCE: "* * * * * *",
      BACKUP_DIR: join(dir, "backups"),
      BACKUP_KEEP: "3",
    };
    const started = Date.now();
    // b's clock runs 400 ms ahead, as on another host: it takes each tick first and has finished
    // before a fires, so only the per-tick record (not the lease alone) keeps a from running it again.
    const [a, b] = await Promise.all([startRdtm(env, dir), startRdtm(env, dir, { clockSkewMs: 400 })]);
    procs.push(a, b);
    await new Promise((r) => setTimeout(r, 6_000));
    a.kill("SIGTERM");
    b.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);

    const rs = await db.execute({
      // maintenance only: on a minute boundary the other jobs' default schedules fire at the same tick
      sql: "SELECT tick_at, count(*) AS n, group_concat(status) AS statuses FROM job_runs WHERE job = 'maintenance' AND trigger = 'cron' AND started_at >= ? GROUP BY tick_at ORDER BY tick_at",
      args: [started],
    });
    expect(rs.rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rs.rows) {
      expect(Number(row.n), `tick ${row.tick_at}`).toBe(1);
      expect(row.statuses).toBe("succeeded");
    }
    // ticks are consecutive seconds: nothing was skipped because the other process held the lease
    const ticks = rs.rows.map((r) => Number(r.tick_at));
    expect(ticks.every((t, i) => i === 0 || t - (ticks[i - 1] ?? 0) === 1000)).toBe(true);
    // the sqld backups (table-by-table copies into local files) were rotated down to BACKUP_KEEP
    expect(readdirSync(join(dir, "backups")).length).toBe(3);
  }, 60_000);

  it("a process killed during a run leaves no stuck lease: the next run proceeds after it expires", async () => {
    const dir = tempDir();
    const env = {
      LIBSQL_URL: sqld.url,
      API_TOKEN: TOKEN,
      SCHEDULE_MAINTENANCE: "off",
      LEASE_TTL_SECONDS: "2",
      BACKUP_DIR: join(dir, "b"),
    };
    // Enough rows that the backup copy over HTTP takes a few seconds: a run long enough to be killed.
    for (let chunk = 0; chunk < 60; chunk++) {
      const values = Array.from(
        { length: 1000 },
        (_, i) => `(${Date.now()}, 'load', 'row', ${chunk * 1000 + i}, NULL)`,
      ).join(",");
      await db.execute(`INSERT INTO metrics (at, type, name, value, tags) VALUES ${values}`);
    }
    const a = await startRdtm(env, dir);
    procs.push(a);
    void fetch(`${a.url}/jobs/maintenance/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    }).catch(() => {});
    const runId = await eventually(
      async () => {
        const rs = await db.execute("SELECT id FROM job_runs WHERE trigger = 'http' AND status = 'running'");
        return rs.rows[0]?.id === undefined ? undefined : String(rs.rows[0].id);
      },
      10_000,
      "a running maintenance run",
    );
    a.kill("SIGKILL");
    await a.exited;

    // Right after the crash the lease is still held: a new run is refused, not doubled.
    const blocked = await runCli(["run", "maintenance", "--json"], env, dir);
    expect(blocked.code).toBe(4);
    expect(blocked.output).toMatch(/"skipReason":"held"/);

    await new Promise((r) => setTimeout(r, 2_100));
    const next = await runCli(["run", "maintenance", "--json", "--dry-run"], env, dir);
    expect(next.code, next.output).toBe(0);
    const dead = await db.execute({ sql: "SELECT status, error FROM job_runs WHERE id = ?", args: [runId] });
    expect(dead.rows[0]).toMatchObject({ status: "interrupted" });
    const lease = await db.execute("SELECT holder FROM leases WHERE job = 'maintenance'");
    expect(lease.rows[0]?.holder).toBeNull();
    await db.execute("DELETE FROM metrics WHERE type = 'load'");
  }, 90_000);
});
