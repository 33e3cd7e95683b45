import fs, { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import symlinkSweep from "../../functions/symlink-sweep.ts";
import { noClients } from "../../shared/clients/index.ts";
import type { Notifier, NotifyEvent } from "../../shared/clients/notify.ts";
import type { Db } from "../../shared/db.ts";
import { settleStale } from "../../shared/library/record.ts";
import { readSweepState } from "../../shared/library/sweep-state.ts";
import { makeConfig, makeDb, makeRunner } from "../helpers/factories.ts";
import { tempDir } from "../helpers/processes.ts";

let db: Db;
let dir: string;
let mount: string;
let lib: string;
beforeEach(async () => {
  db = await makeDb();
  dir = tempDir("rdtm-lib-");
  mount = join(dir, "mnt");
  lib = join(dir, "library");
  mkdirSync(join(mount, "__all__"), { recursive: true });
  mkdirSync(lib, { recursive: true });
});
afterEach(() => db.close());

/** A torrent folder with files on the fake mount. */
function torrent(name: string, files: string[]) {
  mkdirSync(join(mount, "__all__", name), { recursive: true });
  for (const f of files) writeFileSync(join(mount, "__all__", name, f), "x");
}

/** A library symlink (folders created as needed). */
function link(rel: string, target: string) {
  const path = join(lib, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  symlinkSync(target, path);
  return path;
}

const runnerFor = (env: Record<string, string> = {}) =>
  makeRunner({
    db,
    config: makeConfig({ LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount, MOUNT_GUARD_MIN_BROKEN: "3", ...env }),
    jobs: [symlinkSweep],
  });

const rows = async (sql: string) => (await db.execute(sql)).rows;
const brokenPaths = async () =>
  new Set((await rows("SELECT path FROM broken_links WHERE state = 'broken'")).map((r) => String(r.path)));

async function sweepAll(runner: ReturnType<typeof runnerFor>, max = 200) {
  for (let i = 0; i < max; i++) {
    const r = await runner.run("symlink-sweep", { trigger: "test" });
    expect(r.status, r.error ?? "").toBe("succeeded");
    if ((r.summary as { completed?: boolean }).completed) return i + 1;
    if ((r.summary as { guard?: string }).guard) throw new Error(`guard tripped: ${JSON.stringify(r.summary)}`);
  }
  throw new Error("sweep did not complete");
}

/** A library with every kind of link: healthy ones, each kind of broken one, and odd cases. */
function buildLibrary() {
  torrent("Show.S01E01.1080p.WEB-DL", ["Show.S01E01.1080p.WEB-DL.mkv"]);
  torrent("Show.S01E02.1080p.WEB-DL", ["Show.S01E02.1080p.WEB-DL.mkv"]);
  torrent("Movie.2020.2160p", ["Movie.2020.2160p.mkv", "extras"]);
  mkdirSync(join(mount, "__all__", "Movie.2020.2160p", "Sample"), { recursive: true });
  writeFileSync(join(mount, "__all__", "Movie.2020.2160p", "Sample", "sample.mkv"), "x");
  for (let i = 0; i < 30; i++) {
    torrent(`Filler.${i}.720p`, [`Filler.${i}.720p.mkv`]);
    link(`tv/Filler/Season 1/Filler ${i}.mkv`, join(mount, "__all__", `Filler.${i}.720p`, `Filler.${i}.720p.mkv`));
  }
  const expected = new Set<string>();
  link(
    "tv/Show/Season 1/Show S01E01.mkv",
    join(mount, "__all__", "Show.S01E01.1080p.WEB-DL", "Show.S01E01.1080p.WEB-DL.mkv"),
  );
  link("movies/Movie (2020)/sample.mkv", join(mount, "__all__", "Movie.2020.2160p", "Sample", "sample.mkv"));
  link("movies/Movie (2020)/folder-link", join(mount, "__all__", "Movie.2020.2160p"));
  writeFileSync(join(lib, "movies", "Movie (2020)", "poster.jpg"), "jpeg");
  // broken: the torrent folder is gone from the mount
  expected.add(
    link(
      "tv/Show/Season 1/Show S01E03.mkv",
      join(mount, "__all__", "Show.S01E03.1080p.WEB-DL", "Show.S01E03.1080p.WEB-DL.mkv"),
    ),
  );
  // broken: the folder exists, the file does not
  expected.add(
    link("tv/Show/Season 1/Show S01E02.mkv", join(mount, "__all__", "Show.S01E02.1080p.WEB-DL", "gone.mkv")),
  );
  // broken, relative target
  expected.add(
    link("tv/Show/Season 1/Show S01E04.mkv", "../../../../mnt/__all__/Show.S01E04.720p/Show.S01E04.720p.mkv"),
  );
  // outside the mount: one fine, one missing
  writeFileSync(join(dir, "local.mkv"), "x");
  link("other/local.mkv", join(dir, "local.mkv"));
  expected.add(link("other/missing.mkv", join(dir, "nowhere.mkv")));
  // a loop
  link("other/loop-a", join(lib, "other", "loop-b"));
  link("other/loop-b", join(lib, "other", "loop-a"));
  expected.add(join(lib, "other", "loop-a"));
  expected.add(join(lib, "other", "loop-b"));
  // a name that is not UTF-8: reported as skipped, never guessed at
  symlinkSync(
    join(dir, "nowhere-2.mkv"),
    Buffer.concat([Buffer.from(join(lib, "other", "bad-")), Buffer.from([0xff, 0xfe]), Buffer.from(".mkv")]),
  );
  return expected;
}

describe("symlink-sweep", () => {
  it("finds exactly the broken links, and neither crashes nor misleads on odd entries", async () => {
    const expected = buildLibrary();
    const r = await runnerFor().run("symlink-sweep", { trigger: "test" });
    expect(r.status, r.error ?? "").toBe("succeeded");
    expect(await brokenPaths()).toEqual(expected);
    const reasons = Object.fromEntries(
      (await rows("SELECT reason, count(*) AS n FROM broken_links GROUP BY reason")).map((x) => [
        String(x.reason),
        Number(x.n),
      ]),
    );
    expect(reasons).toEqual({ missing_torrent: 2, missing_file: 1, missing_target: 1, loop: 2 });
    expect(r.summary).toMatchObject({ completed: true, broken: 6, skipped: 1, links: 40 }); // 30 filler + 10 named; the non-UTF-8 name is skipped
    // the mount was listed, never stat'ed per link: 1 root + 1 directory + one per torrent folder used
    const s = r.summary as { mountReaddirs: number; statFallbacks: number };
    expect(s.mountReaddirs).toBeLessThanOrEqual(2 + 36);
    expect(s.statFallbacks).toBe(4); // local.mkv, missing.mkv, loop-a, loop-b
  });

  it("swept across many bounded runs equals one sweep of the whole", async () => {
    const expected = buildLibrary();
    expect(await sweepAll(runnerFor())).toBe(1);
    const whole = await brokenPaths();
    db.close();
    db = await makeDb();
    const sliced = runnerFor();
    let runs = 0;
    for (; runs < 100; runs++) {
      // 4 entries per run: the walk stops and resumes inside folders and between them
      const r = await sliced.run("symlink-sweep", { trigger: "test", limit: 4 });
      expect(r.status, r.error ?? "").toBe("succeeded");
      if ((r.summary as { completed?: boolean }).completed) break;
    }
    expect(runs).toBeGreaterThan(5);
    expect(await brokenPaths()).toEqual(whole);
    expect(whole).toEqual(expected);
    expect(await readSweepState(db)).toMatchObject({ status: "completed", links: 40, broken: 6 });
  });

  it("stops a run at its time budget (SWEEP_RUN_SECONDS) and resumes where it stopped", async () => {
    // 2,500 links into 250 torrent folders, 5 of them gone
    const expected = new Set<string>();
    for (let t = 0; t < 250; t++) {
      const name = `Pack.${String(t).padStart(3, "0")}.1080p`;
      if (t % 50 !== 0)
        torrent(
          name,
          Array.from({ length: 10 }, (_, e) => `${name}.E${e}.mkv`),
        );
      for (let e = 0; e < 10; e++) {
        const path = link(`tv/${name}/E${e}.mkv`, join(mount, "__all__", name, `${name}.E${e}.mkv`));
        if (t % 50 === 0) expected.add(path);
      }
    }
    let clock = 1_000_000;
    const runner = makeRunner({
      db,
      config: makeConfig({ LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount, SWEEP_RUN_SECONDS: "60" }),
      jobs: [symlinkSweep],
      now: () => clock,
    });
    // The time is up when the sweep reaches the links into Pack.101, then again at Pack.201.
    const original = fs.readdirSync;
    const late = new Set(["Pack.101.1080p", "Pack.201.1080p"]);
    fs.readdirSync = ((...args: Parameters<typeof original>) => {
      const name = String(args[0]).split("/__all__/")[1];
      if (name && late.delete(name)) clock += 61_000;
      return original(...args);
    }) as typeof original;
    syncBuiltinESMExports();
    const links: unknown[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const r = await runner.run("symlink-sweep", { trigger: "test" });
        expect(r.status, r.error ?? "").toBe("succeeded");
        links.push((r.summary as { links: number }).links);
        if ((r.summary as { completed?: boolean }).completed) break;
      }
    } finally {
      fs.readdirSync = original;
      syncBuiltinESMExports();
    }
    // each run ends within 32 entries of its deadline (the 1,011th and 2,011th links)
    expect(links).toHaveLength(3);
    const [first, second] = links as [number, number, number];
    expect(first).toBeGreaterThanOrEqual(1_011);
    expect(first).toBeLessThanOrEqual(1_042);
    expect(first + second).toBeGreaterThanOrEqual(2_011);
    expect(first + second).toBeLessThanOrEqual(2_042);
    expect(await brokenPaths()).toEqual(expected);
    expect(await readSweepState(db)).toMatchObject({ status: "completed", links: 2_500, broken: 50 });
  });

  it.each([
    ["missing", () => rmSync(mount, { recursive: true }), /does not exist/],
    ["empty", () => rmSync(join(mount, "__all__"), { recursive: true }), /is empty/],
    [
      "without its directories",
      () => rmSync(join(mount, "__all__"), { recursive: true }) ?? mkdirSync(join(mount, "other")),
      /none of the mount directories/,
    ],
  ])("changes nothing when the mount is %s, and says why", async (_, breakMount, reason) => {
    buildLibrary();
    breakMount();
    const r = await runnerFor().run("symlink-sweep", { trigger: "test" });
    expect(r.summary).toMatchObject({ guard: "tripped", changed: 0 });
    expect((r.summary as { reason: string }).reason).toMatch(reason);
    expect(await rows("SELECT * FROM broken_links")).toHaveLength(0);
    expect(await rows("SELECT * FROM repairs")).toHaveLength(0);
    expect((await readSweepState(db)).guardReason).toMatch(reason);
  });

  it("notifies once when the guard trips, not on every run while the mount stays down", async () => {
    buildLibrary();
    rmSync(mount, { recursive: true });
    const events: NotifyEvent[] = [];
    const notifier = (): Notifier => ({
      enabled: true,
      add: (e) => events.push(e),
      pending: () => 0,
      flush: async () => ({ sent: 1, failed: 0 }),
    });
    const runner = makeRunner({
      db,
      config: makeConfig({ LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount }),
      jobs: [symlinkSweep],
      clients: { ...noClients(), notifier },
    });
    for (let i = 0; i < 3; i++) await runner.run("symlink-sweep", { trigger: "test" });
    expect(events).toEqual([
      expect.objectContaining({ kind: "mount_guard", detail: expect.stringMatching(/does not exist/) }),
    ]);
  });

  it("changes nothing when 60% of the links look broken at once", async () => {
    for (let i = 0; i < 10; i++) {
      torrent(`Ok.${i}`, [`Ok.${i}.mkv`]);
      link(`ok/${i}.mkv`, join(mount, "__all__", `Ok.${i}`, `Ok.${i}.mkv`));
    }
    for (let i = 0; i < 15; i++) link(`gone/${i}.mkv`, join(mount, "__all__", `Gone.${i}`, `Gone.${i}.mkv`));
    const r = await runnerFor({ MOUNT_GUARD_MIN_BROKEN: "5" }).run("symlink-sweep", { trigger: "test" });
    expect(r.summary).toMatchObject({ guard: "tripped", changed: 0 });
    expect((r.summary as { reason: string }).reason).toMatch(
      /15 of 25 links in this run \(60\.0%\) look broken at once/,
    );
    expect(await rows("SELECT * FROM broken_links")).toHaveLength(0);
  });

  it("trips on a run that is mostly broken even when earlier runs of the sweep were healthy", async () => {
    for (let i = 0; i < 80; i++) {
      torrent(`Ok.${i}`, [`Ok.${i}.mkv`]);
      link(`a-ok/${String(i).padStart(2, "0")}.mkv`, join(mount, "__all__", `Ok.${i}`, `Ok.${i}.mkv`));
    }
    for (let i = 0; i < 20; i++) {
      torrent(`Later.${i}`, [`Later.${i}.mkv`]);
      link(`b-later/${String(i).padStart(2, "0")}.mkv`, join(mount, "__all__", `Later.${i}`, `Later.${i}.mkv`));
    }
    const runner = runnerFor();
    const first = await runner.run("symlink-sweep", { trigger: "test", limit: 80 });
    expect(first.summary).toMatchObject({ completed: false, broken: 0, links: 80 });
    // the mount still lists its directories, but the torrent folders the next slice needs are gone
    for (let i = 0; i < 20; i++) rmSync(join(mount, "__all__", `Later.${i}`), { recursive: true });
    const second = await runner.run("symlink-sweep", { trigger: "test", limit: 80 });
    expect(second.summary).toMatchObject({ guard: "tripped", changed: 0 });
    expect((second.summary as { reason: string }).reason).toMatch(/20 of 20 links in this run/);
    expect(await rows("SELECT * FROM broken_links")).toHaveLength(0);
  });

  it("maps broken links to torrents and queues one repair each", async () => {
    buildLibrary();
    const now = Date.now();
    await db.batch(
      [
        ["T1", "a".repeat(40), "Show.S01E03.1080p.WEB-DL"],
        ["T2", "b".repeat(40), "show s01e04 720p"],
      ].map(([id, hash, filename]) => ({
        sql: "INSERT INTO torrents (id, hash, filename, status, bytes, progress, links, added_at, first_seen_at, last_seen_at, status_changed_at) VALUES (?, ?, ?, 'downloaded', 1, 100, 1, ?, ?, ?, ?)",
        args: [id ?? "", hash ?? "", filename ?? "", now, now, now, now],
      })),
      "write",
    );
    const r = await runnerFor().run("symlink-sweep", { trigger: "test" });
    expect(r.summary).toMatchObject({ matched: 2, queued: 2 });
    const mapped = await rows(
      "SELECT torrent_name, matched_torrent_id, match_kind FROM broken_links WHERE matched_torrent_id IS NOT NULL ORDER BY matched_torrent_id",
    );
    expect(mapped.map((m) => [m.torrent_name, m.matched_torrent_id, m.match_kind])).toEqual([
      ["Show.S01E03.1080p.WEB-DL", "T1", "exact"],
      ["Show.S01E04.720p", "T2", "normalized"],
    ]);
    const repairs = await rows("SELECT torrent_id, reason, priority FROM repairs ORDER BY torrent_id");
    expect(repairs.map((x) => [x.torrent_id, x.reason, x.priority])).toEqual([
      ["T1", "symlink_broken", 1],
      ["T2", "symlink_broken", 1],
    ]);
  });

  it("resolves links that are no longer broken when the next sweep completes", async () => {
    const expected = buildLibrary();
    const runner = runnerFor({ SWEEP_INTERVAL_HOURS: "1" });
    await runner.run("symlink-sweep", { trigger: "test" });
    rmSync(join(lib, "other", "missing.mkv"));
    torrent("Show.S01E03.1080p.WEB-DL", ["Show.S01E03.1080p.WEB-DL.mkv"]);
    await db.execute("UPDATE sweep_state SET status = 'pending'");
    const r = await runner.run("symlink-sweep", { trigger: "test" });
    // the torrent is back: resolved; the link was deleted: removed
    expect(r.summary).toMatchObject({ completed: true, resolved: 1, removed: 1 });
    const states = await rows("SELECT path, state FROM broken_links WHERE state <> 'broken' ORDER BY state");
    expect(states.map((x) => [String(x.path).slice(lib.length), x.state])).toEqual([
      ["/other/missing.mkv", "removed"],
      ["/tv/Show/Season 1/Show S01E03.mkv", "resolved"],
    ]);
    expect((await brokenPaths()).size).toBe(expected.size - 2);
  });

  it("at the end of a sweep, calls a link removed only when it is gone, never one it could not check", async () => {
    const now = Date.now();
    for (const path of ["/lib/gone.mkv", "/lib/locked/x.mkv"]) {
      await db.execute({
        sql: "INSERT INTO broken_links (path, root, target, reason, state, generation, first_seen_at, last_seen_at) VALUES (?, '/lib', '/t', 'missing_target', 'broken', 1, ?, ?)",
        args: [path, now, now],
      });
    }
    const fs = {
      lstatSync: (path: unknown) => {
        const err = Object.assign(new Error("no"), { code: String(path).includes("locked") ? "EACCES" : "ENOENT" });
        throw err;
      },
    } as unknown as Parameters<typeof settleStale>[1];
    const tx = await db.transaction("write");
    const removed = await settleStale(tx, fs, 2, now);
    await tx.commit();
    expect(removed).toBe(1);
    const states = await rows("SELECT path, state FROM broken_links ORDER BY path");
    expect(states.map((x) => [x.path, x.state])).toEqual([
      ["/lib/gone.mkv", "removed"],
      ["/lib/locked/x.mkv", "broken"],
    ]);
  });

  it("does nothing without LIBRARY_ROOTS", async () => {
    const r = await makeRunner({ db, config: makeConfig(), jobs: [symlinkSweep] }).run("symlink-sweep", {
      trigger: "test",
    });
    expect(r.summary).toEqual({ skipped: "LIBRARY_ROOTS is not set" });
  });
});
