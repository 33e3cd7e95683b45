import { chmodSync, chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import symlinkSweep from "../../functions/symlink-sweep.ts";
import { createApp } from "../../shared/app.ts";
import type { Db } from "../../shared/db.ts";
import { openDb } from "../../shared/db.ts";
import { databaseProbe } from "../../shared/health.ts";
import { mountGuardProbe } from "../../shared/library/api.ts";
import { makeConfig, makeDb, makeLog, makeRunner } from "../helpers/factories.ts";
import { runCli, spawnProc, tempDir } from "../helpers/processes.ts";

const TOKEN = "lib-token-0123456789abcdef";
let db: Db;
let dir: string;
let mount: string;
let lib: string;
beforeEach(async () => {
  db = await makeDb();
  dir = tempDir("rdtm-libapi-");
  mount = join(dir, "mnt");
  lib = join(dir, "library");
  mkdirSync(join(mount, "__all__", "Kept.Torrent"), { recursive: true });
  writeFileSync(join(mount, "__all__", "Kept.Torrent", "kept.mkv"), "x");
  mkdirSync(join(lib, "tv"), { recursive: true });
  symlinkSync(join(mount, "__all__", "Kept.Torrent", "kept.mkv"), join(lib, "tv", "kept.mkv"));
  symlinkSync(join(mount, "__all__", "Gone.Torrent", "gone.mkv"), join(lib, "tv", "gone.mkv"));
});
afterEach(() => db.close());

function setup(env: Record<string, string> = {}) {
  const config = makeConfig({ API_TOKEN: TOKEN, LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount, ...env });
  const runner = makeRunner({ db, config, jobs: [symlinkSweep] });
  const probes = { database: databaseProbe(db, ":memory:"), mountGuard: mountGuardProbe(db, true) };
  return { runner, app: createApp({ config, db, runner, log: makeLog(), probes }) };
}

describe("sweep API, health and CLI", () => {
  it("lists broken links with filters and paging, and shows the sweep", async () => {
    const { app, runner } = setup();
    await runner.run("symlink-sweep", { trigger: "test" });
    const body = await (await app.request("/api/broken-links?state=broken&limit=10")).json();
    expect(body).toMatchObject({ total: 1, limit: 10, offset: 0 });
    expect(body.items[0]).toMatchObject({
      path: join(lib, "tv", "gone.mkv"),
      reason: "missing_torrent",
      torrentName: "Gone.Torrent",
      state: "broken",
    });
    expect((await (await app.request("/api/broken-links?q=kept")).json()).total).toBe(0);
    const sweep = await (await app.request("/api/sweep")).json();
    expect(sweep).toMatchObject({ status: "completed", generation: 1, links: 2, broken: 1, guard: { tripped: false } });
  });

  it.each([["/api/broken-links?limit=0"], ["/api/broken-links?state=weird"], ["/api/broken-links?matched=maybe"]])(
    "answers 400 for %s",
    async (url) => {
      expect((await setup().app.request(url)).status).toBe(400);
    },
  );

  it("reports a tripped mount guard in /health, and POST /api/sweep/start needs the token", async () => {
    const { app, runner } = setup();
    rmSync(mount, { recursive: true });
    const r = await runner.run("symlink-sweep", { trigger: "test" });
    expect(r.summary).toMatchObject({ guard: "tripped" });
    const health = await (await app.request("/health")).json();
    expect(health.status).toBe("degraded");
    expect(health.services.mountGuard).toMatchObject({ status: "down" });
    expect(health.services.mountGuard.reason).toMatch(/does not exist/);
    expect((await app.request("/api/sweep/start", { method: "POST" })).status).toBe(401);
    const res = await app.request("/api/sweep/start", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(202);
  });

  it("rdtm sweep status shows progress and the guard; sweep start asks for a new one", async () => {
    const env = { LIBSQL_URL: `file:${join(dir, "rdtm.db")}`, LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount };
    expect((await runCli(["run", "symlink-sweep"], env, dir)).code).toBe(0);
    const status = await runCli(["sweep", "status"], env, dir);
    expect(status.code).toBe(0);
    expect(status.output).toMatch(/sweep: completed, generation 1/);
    expect(status.output).toMatch(/entries 2, links 2, broken 1, matched 0/);
    expect(status.output).toMatch(/mount guard: ok/);
    expect((await runCli(["sweep", "start", "--json"], env, dir)).output).toMatch(/"status":"pending"/);
    expect((await runCli(["sweep", "nope"], env, dir)).code).toBe(2);
  });

  it("skips an unreadable folder (run as an unprivileged user), reporting it, and sweeps the rest", async () => {
    const secret = join(lib, "private");
    mkdirSync(secret);
    symlinkSync(join(mount, "__all__", "Other.Gone", "x.mkv"), join(secret, "x.mkv"));
    chmodSync(secret, 0o000);
    for (const p of [dir, join(dir, "library"), join(lib, "tv")]) chmodSync(p, 0o755);
    mkdirSync(join(dir, "data"), { recursive: true });
    chownSync(join(dir, "data"), 65534, 65534);
    const env = {
      LIBSQL_URL: `file:${join(dir, "data", "rdtm.db")}`,
      LIBRARY_ROOTS: lib,
      RD_MOUNT_PATH: mount,
      LOG_FORMAT: "json",
    };
    const proc = spawnProc(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        join(process.cwd(), "dist/cli.mjs"),
        "run",
        "symlink-sweep",
        "--json",
      ],
      { cwd: dir, env },
    );
    const { code } = await proc.exited;
    chmodSync(secret, 0o755);
    expect(code, proc.output()).toBe(0);
    const run = JSON.parse(
      proc
        .output()
        .trim()
        .split("\n")
        .filter((l) => l.startsWith('{"id"'))
        .at(-1) ?? "{}",
    );
    expect(run.summary).toMatchObject({ completed: true, skipped: 1, broken: 1, links: 2 });
    expect(proc.output()).toMatch(/unreadable folder: EACCES/);
    const check = await openDb(env.LIBSQL_URL);
    const paths = (await check.execute("SELECT path FROM broken_links")).rows.map((r) => String(r.path));
    check.close();
    expect(paths).toEqual([join(lib, "tv", "gone.mkv")]);
  });
});
