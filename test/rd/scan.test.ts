import { afterEach, beforeEach, describe, expect, it } from "vitest";
import rdFullScanPage from "../../functions/rd-full-scan-page.ts";
import rdQuickScan from "../../functions/rd-quick-scan.ts";
import type { Db } from "../../shared/db.ts";
import { readProgress, requestFullRescan } from "../../shared/rd/scan-progress.ts";
import {
  createFakeRealDebrid,
  type FakeRealDebrid,
  makeAccount,
  makeTorrent,
  RD_STATUSES,
} from "../fakes/real-debrid.ts";
import { makeConfig, makeDb, makeRunner } from "../helpers/factories.ts";
import { clientsFor } from "../helpers/rd.ts";

let db: Db;
let fake: FakeRealDebrid;
beforeEach(async () => {
  db = await makeDb();
  fake = createFakeRealDebrid({ rateLimitPerMinute: 0 });
});
afterEach(() => db.close());

const HOUR = 3_600_000;
const config = (env: Record<string, string> = {}) => makeConfig({ RD_API_TOKEN: "fake-rd-token", ...env });
const runnerFor = (env: Record<string, string> = {}) =>
  makeRunner({ db, config: config(env), clients: clientsFor(fake), jobs: [rdQuickScan, rdFullScanPage] });

const rows = async (sql: string, args: (string | number)[] = []) => (await db.execute({ sql, args })).rows;
const liveIds = async () =>
  new Set((await rows("SELECT id FROM torrents WHERE gone_at IS NULL")).map((r) => String(r.id)));

/** Runs full-scan pages until a generation completes with nothing left to verify. */
async function fullScan(runner: ReturnType<typeof runnerFor>, between?: (page: number) => void, maxRuns = 500) {
  for (let i = 0; i < maxRuns; i++) {
    const r = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(r.status, r.error ?? "").toBe("succeeded");
    const p = await readProgress(db, "full");
    if (p.status === "completed" && !p.verify) return { runs: i + 1, progress: p };
    between?.(i);
  }
  throw new Error("full scan did not complete");
}

describe("rd-quick-scan", () => {
  it("stores every status and queues repairs for failed and stuck torrents only", async () => {
    const old = Date.now() - 3 * HOUR;
    fake.add(...RD_STATUSES.map((status) => makeTorrent({ status })));
    fake.add(makeTorrent({ status: "waiting_files_selection", added: new Date(old).toISOString() }));
    fake.add(makeTorrent({ status: "magnet_conversion", added: new Date(old).toISOString() }));
    const r = await runnerFor().run("rd-quick-scan", { trigger: "test" });
    expect(r.summary).toMatchObject({ pages: 1, listed: 13, new: 13, queued: 6, rdRequests: 1 });
    const repairs = await rows("SELECT reason, priority, state FROM repairs ORDER BY priority, reason");
    expect(repairs.map((x) => x.reason)).toEqual([
      "status:dead",
      "status:error",
      "status:magnet_error",
      "stuck:magnet_conversion",
      "stuck:waiting_files_selection",
      "status:virus",
    ]);
    expect(repairs.every((x) => x.state === "queued")).toBe(true);
  });

  it("never queues a second open repair for a hash, nor one that failed for good", async () => {
    const dead = makeTorrent({ status: "dead" });
    const virus = makeTorrent({ status: "virus" });
    fake.add(dead, virus);
    await db.execute({
      sql: "INSERT INTO permanent_failures (hash, error_type, failed_at) VALUES (?, 'virus', 1)",
      args: [virus.hash],
    });
    const runner = runnerFor();
    await runner.run("rd-quick-scan", { trigger: "test" });
    await runner.run("rd-quick-scan", { trigger: "test" });
    expect((await rows("SELECT hash FROM repairs")).map((x) => x.hash)).toEqual([dead.hash]);
  });

  it("reads the newest pages only until it reaches known torrents", async () => {
    fake.add(...makeAccount(1_000));
    const runner = runnerFor({ QUICK_SCAN_PAGE_SIZE: "100", QUICK_SCAN_MAX_PAGES: "3" });
    let r = await runner.run("rd-quick-scan", { trigger: "test" });
    expect(r.summary).toMatchObject({ pages: 3, listed: 300, reachedKnown: false });
    fake.add(...Array.from({ length: 5 }, () => makeTorrent()));
    r = await runner.run("rd-quick-scan", { trigger: "test" });
    expect(r.summary).toMatchObject({ pages: 1, new: 5, reachedKnown: true });
  });

  it("records a status change", async () => {
    const t = makeTorrent({ status: "downloading" });
    fake.add(t);
    const runner = runnerFor();
    await runner.run("rd-quick-scan", { trigger: "test" });
    t.status = "dead";
    const r = await runner.run("rd-quick-scan", { trigger: "test" });
    expect(r.summary).toMatchObject({ statusChanged: 1, queued: 1 });
  });

  it("does nothing without a token", async () => {
    const runner = makeRunner({ db, config: makeConfig(), jobs: [rdQuickScan] });
    expect((await runner.run("rd-quick-scan", { trigger: "test" })).summary).toEqual({
      skipped: "RD_API_TOKEN is not set",
    });
  });
});

describe("rd-full-scan-page", () => {
  it("walks the whole account one page per run and marks what is gone", async () => {
    fake.add(...makeAccount(1_050));
    await db.execute(
      "INSERT INTO torrents (id, hash, filename, status, bytes, progress, links, added_at, first_seen_at, last_seen_at, status_changed_at) VALUES ('OLD', ?, 'old', 'downloaded', 1, 100, 1, 1, 1, 1, 1)",
      ["f".repeat(40)],
    );
    const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "100" });
    const first = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(first.summary).toMatchObject({ generation: 1, listed: 100, fresh: 100, rdRequests: 1 });
    const { runs, progress } = await fullScan(runner);
    expect(progress).toMatchObject({ generation: 1, status: "completed", seen: 1_050, total: 1_050 });
    // 11 body pages (100 each, 50 overlap after the first), the head pass, nothing more
    expect(runs + 1).toBeLessThanOrEqual(25);
    expect(await liveIds()).toEqual(new Set(fake.torrents.map((t) => t.id)));
    expect((await rows("SELECT gone_at FROM torrents WHERE id = 'OLD'"))[0]?.gone_at).not.toBeNull();
    // one page per run: every run made exactly one RD request
    const runRows = await rows("SELECT summary FROM job_runs WHERE job = 'rd-full-scan-page'");
    for (const r of runRows) expect(JSON.parse(String(r.summary)).rdRequests).toBe(1);
  });

  it("stays idle until the interval passes or a rescan is asked for", async () => {
    fake.add(...makeAccount(10));
    const runner = runnerFor();
    await fullScan(runner);
    const idle = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(idle.summary).toMatchObject({ state: "idle" });
    expect(fake.requests.filter((r) => r.path === "/torrents")).toHaveLength(2);
    await requestFullRescan(db, Date.now());
    const r = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(r.summary).toMatchObject({ generation: 2 });
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    "misses nothing while the account changes under it, then ends exact (seed %i)",
    async (seed) => {
      let s = seed * 7919;
      const rand = () => {
        s = (s * 48271) % 2147483647;
        return s / 2147483647;
      };
      fake.add(...makeAccount(2_000));
      const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "150" });
      let added = 0;
      let deleted = 0;
      // Between pages of the first generation: delete some anywhere (above and below the walk) and add
      // new ones on top, as users and other tools do.
      for (let page = 0; ; page++) {
        const r = await runner.run("rd-full-scan-page", { trigger: "test" });
        expect(r.status, r.error ?? "").toBe("succeeded");
        if ((await readProgress(db, "full")).status === "completed") break;
        const dels = Math.floor(rand() * 40);
        for (let i = 0; i < dels && fake.torrents.length > 0; i++) {
          const victim = fake.torrents[Math.floor(rand() * fake.torrents.length)];
          if (victim && fake.remove(victim.id)) deleted++;
        }
        const adds = Math.floor(rand() * (page < 3 ? 200 : 30));
        for (let i = 0; i < adds; i++) fake.add(makeTorrent());
        added += adds;
        expect(page).toBeLessThan(400);
      }
      expect(deleted).toBeGreaterThan(100);
      expect(added).toBeGreaterThan(150);
      // The first generation on its own saw every torrent the account has now: none missed.
      const seen = new Set((await rows("SELECT id FROM torrents WHERE seen_generation = 1")).map((r) => String(r.id)));
      const missed = fake.torrents.filter((t) => !seen.has(t.id)).map((t) => t.id);
      expect(missed).toEqual([]);
      // It saw some that were deleted after it passed them; only a verification walk can tell which.
      expect((await readProgress(db, "full")).verify).toBe(true);
      const { progress } = await fullScan(runner);
      expect(progress.generation).toBe(2);
      expect(await liveIds()).toEqual(new Set(fake.torrents.map((t) => t.id)));
    },
  );

  it("steps back when more than the overlap is deleted just above the walk", async () => {
    fake.add(...makeAccount(3_000));
    const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "200" });
    let steppedBack = 0;
    for (let i = 0; i < 200; i++) {
      const r = await runner.run("rd-full-scan-page", { trigger: "test" });
      expect(r.status, r.error ?? "").toBe("succeeded");
      if ((r.summary as { steppedBack?: string }).steppedBack) steppedBack++;
      const p = await readProgress(db, "full");
      if (p.status === "completed") break;
      // delete 120 torrents the walk already passed, right above its position (overlap is 50)
      const cursor = p.cursorAdded ?? Number.POSITIVE_INFINITY;
      const above = fake.torrents.filter((t) => Date.parse(t.added) > cursor).slice(-120);
      for (const t of above) fake.remove(t.id);
    }
    const seen = new Set((await rows("SELECT id FROM torrents WHERE seen_generation = 1")).map((r) => String(r.id)));
    expect(fake.torrents.filter((t) => !seen.has(t.id)).map((t) => t.id)).toEqual([]);
    expect(steppedBack).toBeGreaterThan(0);
  });

  it("keeps a rescan asked for while a page run was in flight", async () => {
    fake.add(...makeAccount(300));
    const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "100" });
    await runner.run("rd-full-scan-page", { trigger: "test" });
    // the reset lands between the run's read of its cursor and its final write
    fake.inject({ fault: { kind: "delay", ms: 100 }, path: /^\/torrents$/ });
    const inFlight = runner.run("rd-full-scan-page", { trigger: "test" });
    await new Promise((r) => setTimeout(r, 30));
    await requestFullRescan(db, Date.now());
    await inFlight;
    expect((await readProgress(db, "full")).status).toBe("pending");
    const next = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(next.summary).toMatchObject({ generation: 2 });
  });

  it("a malformed page fails the run cleanly: names the field, writes nothing", async () => {
    fake.add(...makeAccount(300));
    const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "100" });
    await runner.run("rd-full-scan-page", { trigger: "test" });
    const before = await readProgress(db, "full");
    const count = (await rows("SELECT count(*) AS n FROM torrents"))[0]?.n;
    fake.inject({ fault: { kind: "malformed" }, path: /^\/torrents$/ });
    const r = await runner.run("rd-full-scan-page", { trigger: "test" });
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(/\/torrents: unexpected response: response\[0\]\.\w+: expected/);
    expect(await readProgress(db, "full")).toEqual(before);
    expect((await rows("SELECT count(*) AS n FROM torrents"))[0]?.n).toBe(count);
    // and the next run simply goes on
    await fullScan(runner);
    expect(await liveIds()).toEqual(new Set(fake.torrents.map((t) => t.id)));
  });

  it("a run that dies between fetching and committing leaves the stored cursor, and the walk resumes", async () => {
    fake.add(...makeAccount(500));
    const runner = runnerFor({ FULL_SCAN_PAGE_SIZE: "100" });
    await runner.run("rd-full-scan-page", { trigger: "test" });
    await runner.run("rd-full-scan-page", { trigger: "test" });
    const stored = await readProgress(db, "full");
    // a "process" whose database dies mid-run: the page is fetched, the transaction never commits
    const broken = runnerFor({ FULL_SCAN_PAGE_SIZE: "100" });
    const realTx = db.transaction.bind(db);
    db.transaction = (async () => {
      throw new Error("killed");
    }) as typeof db.transaction;
    expect((await broken.run("rd-full-scan-page", { trigger: "test" })).status).toBe("failed");
    db.transaction = realTx;
    expect(await readProgress(db, "full")).toEqual(stored);
    await fullScan(runnerFor({ FULL_SCAN_PAGE_SIZE: "100" }));
    expect(await liveIds()).toEqual(new Set(fake.torrents.map((t) => t.id)));
    expect((await rows("SELECT count(*) AS n FROM torrents"))[0]?.n).toBe(500);
  });
});
