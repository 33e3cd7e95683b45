import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { noClients } from "../shared/clients/index.ts";
import type { Db } from "../shared/db.ts";
import type { Host } from "../shared/job.ts";
import { createLogger } from "../shared/log.ts";
import { backupDatabase, backupName } from "../shared/maintenance/backup.ts";
import { createRunner } from "../shared/runner.ts";
import { makeConfig, makeDb } from "../test/helpers/factories.ts";
import { tempDir } from "../test/helpers/processes.ts";
import maintenance from "./maintenance.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-01T04:30:00Z");
const open: Db[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

async function seed(db: Db) {
  const old = NOW - 40 * DAY;
  const recent = NOW - 2 * DAY;
  const veryOld = NOW - 100 * DAY;
  await db.batch(
    [
      ...[old, recent].map((t, i) => ({
        sql: "INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at) VALUES (?, 'x', 'cron', 1, 'h', 'succeeded', ?)",
        args: [`r${i}`, t],
      })),
      {
        sql: "INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at) VALUES ('live', 'x', 'cron', 1, 'h', 'running', ?)",
        args: [old],
      },
      ...[old, recent].map((t) => ({ sql: "INSERT INTO attempts (at, endpoint) VALUES (?, '/torrents')", args: [t] })),
      ...[old, recent].map((t) => ({
        sql: "INSERT INTO actions (job, kind, target, state, created_at, updated_at) VALUES ('x', 'delete', 't', 'done', ?, ?)",
        args: [t, t],
      })),
      {
        sql: "INSERT INTO actions (job, kind, target, state, created_at, updated_at) VALUES ('x', 'delete', 't', 'pending', ?, ?)",
        args: [old, old],
      },
      ...[veryOld, old, recent].map((t) => ({
        sql: "INSERT INTO metrics (at, type, name, value) VALUES (?, 'scan', 'duration', 1)",
        args: [t],
      })),
    ],
    "write",
  );
}

function runnerFor(db: Db, dir: string, env: Record<string, string> = {}, host?: Host) {
  const config = makeConfig({ BACKUP_DIR: dir, BACKUP_KEEP: "2", ...env });
  return createRunner({
    jobs: [maintenance],
    config,
    db,
    log: createLogger({ level: "silent", format: "json" }),
    host: host ?? { runtime: "node", backupDatabase: (d, o) => backupDatabase(d, "file:x", o) },
    clients: noClients(),
    now: () => NOW,
  });
}

const count = async (db: Db, table: string) =>
  Number((await db.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

describe("maintenance job", () => {
  it("prunes history past 30 days and metrics past 90, keeping running runs and pending actions", async () => {
    const dir = tempDir();
    const db = await makeDb(`file:${join(dir, "db.db")}`);
    open.push(db);
    await seed(db);
    const r = await runnerFor(db, join(dir, "backups")).run("maintenance", { trigger: "test", dryRun: false });
    expect(r.status).toBe("succeeded");
    expect(r.summary).toMatchObject({ integrity: "ok", pruned: { job_runs: 1, attempts: 1, actions: 1, metrics: 1 } });
    // the run itself added a row to job_runs and a metric
    expect(
      (await db.execute("SELECT id FROM job_runs WHERE id IN ('r0','r1','live') ORDER BY id")).rows.map((x) => x.id),
    ).toEqual(["live", "r1"]);
    expect(await count(db, "attempts")).toBe(1);
    expect((await db.execute("SELECT state FROM actions ORDER BY id")).rows.map((x) => x.state)).toEqual([
      "done",
      "pending",
    ]);
    expect(await count(db, "metrics")).toBe(2 + 1);
  });

  it("in dry-run only counts what it would prune", async () => {
    const dir = tempDir();
    const db = await makeDb(`file:${join(dir, "db.db")}`);
    open.push(db);
    await seed(db);
    const r = await runnerFor(db, join(dir, "backups")).run("maintenance", { trigger: "test", dryRun: true });
    expect(r.summary).toMatchObject({ wouldPrune: { job_runs: 1, attempts: 1, actions: 1, metrics: 1 } });
    expect(await count(db, "attempts")).toBe(2);
  });

  it("honours configured retention days", async () => {
    const dir = tempDir();
    const db = await makeDb(`file:${join(dir, "db.db")}`);
    open.push(db);
    await seed(db);
    const r = await runnerFor(db, join(dir, "b"), { HISTORY_RETENTION_DAYS: "1", METRICS_RETENTION_DAYS: "200" }).run(
      "maintenance",
      {
        trigger: "test",
        dryRun: true,
      },
    );
    expect(r.summary).toMatchObject({ wouldPrune: { job_runs: 2, attempts: 2, actions: 2, metrics: 0 } });
  });

  it("takes a backup that opens with the same data and keeps only the newest N", async () => {
    const dir = tempDir();
    const db = await makeDb(`file:${join(dir, "db.db")}`);
    open.push(db);
    await seed(db);
    const backups = join(dir, "backups");
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await backupDatabase(db, "file:x", { dir: backups, keep: 2, now: NOW + i * 1000 }));
    expect(readdirSync(backups).sort()).toEqual([backupName(NOW + 1000), backupName(NOW + 2000)]);
    expect(results[2]?.removed).toEqual([backupName(NOW)]);
    expect(statSync(results[2]?.file ?? "").size).toBe(results[2]?.bytes);
    const copy = await makeDb(`file:${results[2]?.file}`);
    open.push(copy);
    expect(await count(copy, "metrics")).toBe(3);
    expect(backupName(Date.parse("2026-11-22T04:05:06.789Z"))).toBe("rdtm-20261122-040506-789.db");
  });

  it("reports a failed integrity check, and then neither prunes nor backs up", async () => {
    const dir = tempDir();
    const file = join(dir, "db.db");
    const db = await makeDb(`file:${file}`);
    await db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)");
    await db.execute("CREATE INDEX big_v ON big (v)");
    await db.batch(
      Array.from({ length: 2000 }, (_, i) => ({ sql: "INSERT INTO big (v) VALUES (?)", args: [`value-${i}`] })),
      "write",
    );
    await seed(db);
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    const pageSize = Number((await db.execute("PRAGMA page_size")).rows[0]?.[0]);
    const rootpage = Number(
      (await db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'big_v'")).rows[0]?.rootpage,
    );
    db.close();
    // Overwrite the index's root page with garbage, as a failing disk would.
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (rootpage - 1) * pageSize + 100);
    closeSync(fd);

    const broken = await makeDb(`file:${file}`);
    open.push(broken);
    const backups = join(dir, "backups");
    const r = await runnerFor(broken, backups).run("maintenance", { trigger: "test", dryRun: false });
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(/integrity check failed/);
    expect((r.summary as { integrity: { ok: boolean; problems: string[] } }).integrity.problems.length).toBeGreaterThan(
      0,
    );
    expect(existsSync(backups)).toBe(false);
    expect(await count(broken, "attempts")).toBe(2);
  });

  it("skips the backup where the runtime has no filesystem", async () => {
    const db = await makeDb();
    open.push(db);
    const r = await runnerFor(db, "unused", {}, { runtime: "worker" }).run("maintenance", { trigger: "test" });
    expect(r.summary).toMatchObject({ backup: { skipped: "no filesystem in this runtime" } });
  });
});
