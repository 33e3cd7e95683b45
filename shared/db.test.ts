import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../schema/index.ts";
import { makeDb } from "../test/helpers/factories.ts";
import { tempDir } from "../test/helpers/processes.ts";
import { type Db, migrate, openDb } from "./db.ts";
import { Mutex } from "./db-gate.ts";

const open: Db[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

describe("the per-process gate", () => {
  it("keeps working after a waiter gave up: its turn passes the lock on", async () => {
    const gate = new Mutex(50);
    const releaseA = await gate.lock("a");
    await expect(gate.lock("b")).rejects.toThrow(/waited over 0.05 s/);
    releaseA();
    const releaseC = await gate.lock("c");
    releaseC();
  });
});

describe("migrations", () => {
  it("lists every schema/*.sql file, numbered from 1 in order", () => {
    const files = readdirSync(new URL("../schema/", import.meta.url))
      .filter((f) => f.endsWith(".sql"))
      .sort();
    expect(MIGRATIONS.map((m) => m.name)).toEqual(files);
    expect(MIGRATIONS.map((m) => m.version)).toEqual(files.map((_, i) => i + 1));
    for (const m of MIGRATIONS) expect(m.name.startsWith(String(m.version).padStart(4, "0"))).toBe(true);
  });

  it("applies each migration once and records it", async () => {
    const db = await openDb(":memory:");
    open.push(db);
    expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(db)).toEqual([]);
    const rs = await db.execute("SELECT version, name FROM schema_migrations ORDER BY version");
    expect(rs.rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it("applies only the pending ones, in order", async () => {
    const db = await openDb(":memory:");
    open.push(db);
    const extra = [
      ...MIGRATIONS,
      { version: 98, name: "0098_a.sql", sql: "CREATE TABLE a (x);" },
      { version: 99, name: "0099_b.sql", sql: "INSERT INTO a VALUES (1);" },
    ];
    await migrate(db);
    expect(await migrate(db, extra)).toEqual([98, 99]);
    expect((await db.execute("SELECT count(*) AS n FROM a")).rows[0]?.n).toBe(1);
  });

  it("rolls a failing migration back whole, leaving it pending", async () => {
    const db = await openDb(":memory:");
    open.push(db);
    await migrate(db);
    const bad = [
      ...MIGRATIONS,
      { version: 50, name: "0050_bad.sql", sql: "CREATE TABLE t (x); INSERT INTO nope VALUES (1);" },
    ];
    await expect(migrate(db, bad)).rejects.toThrow(/nope/);
    expect((await db.execute("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'")).rows[0]?.n).toBe(0);
    expect((await db.execute("SELECT max(version) AS v FROM schema_migrations")).rows[0]?.v).toBe(MIGRATIONS.length);
  });

  it("queues this process's calls behind an open transaction instead of failing or deadlocking", async () => {
    const db = await openDb(`file:${join(tempDir(), "gate.db")}`);
    open.push(db);
    await db.execute("CREATE TABLE t (x INTEGER)");
    const tx = await db.transaction("write");
    await tx.execute("INSERT INTO t VALUES (1)");
    const outside = db.execute("INSERT INTO t VALUES (2)");
    await new Promise((r) => setTimeout(r, 50));
    await tx.execute("INSERT INTO t VALUES (3)");
    await tx.commit();
    await outside;
    const rs = await db.execute("SELECT x FROM t ORDER BY rowid");
    expect(rs.rows.map((r) => r.x)).toEqual([1, 3, 2]);
    // a failed transaction frees the gate too
    const bad = await db.transaction("write");
    await expect(bad.execute("INSERT INTO nope VALUES (1)")).rejects.toThrow();
    bad.close();
    expect((await db.execute("SELECT count(*) AS n FROM t")).rows[0]?.n).toBe(3);
  });

  it("puts the file database in WAL mode and creates its folder", async () => {
    const dir = join(tempDir(), "nested", "dir");
    const db = await openDb(`file:${join(dir, "x.db")}`);
    open.push(db);
    expect((await db.execute("PRAGMA journal_mode")).rows[0]?.[0]).toBe("wal");
  });

  it("makeDb gives a migrated database", async () => {
    const db = await makeDb();
    open.push(db);
    expect((await db.execute("SELECT count(*) AS n FROM job_runs")).rows[0]?.n).toBe(0);
  });
});
