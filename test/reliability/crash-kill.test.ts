// kill -9 of the real process (the built CLI) at seeded random points of a full scan, a library sweep and
// the repair drain, restarting each time. After the last restart: the database equals the fake account
// (full scan), the broken links equal a one-shot sweep of the same tree (sweep), and every journaled action
// happened exactly once on RD (repair). RDTM_SOAK=1 runs many more kill points; RDTM_SEED replays a run.

import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Db, migrate, openDb } from "../../shared/db.ts";
import { readSweepState } from "../../shared/library/sweep-state.ts";
import { maxInAnyWindow } from "../../shared/rd/rate-limit.ts";
import { readProgress } from "../../shared/rd/scan-progress.ts";
import {
  createFakeRealDebrid,
  type FakeFile,
  type FakeRealDebrid,
  type FakeTorrent,
  makeAccount,
  makeTorrent,
} from "../fakes/real-debrid.ts";
import { tempDir } from "../helpers/processes.ts";
import {
  cliEnv,
  expectRunsSettled,
  KILLS,
  killWhen,
  leaseFree,
  pause,
  RATE_LIMIT,
  requestsTo,
  runningRuns,
  runToEnd,
  SEED,
  seeded,
  startCli,
  TEST_TIMEOUT_MS,
  when,
} from "./crash-helpers.ts";
import { accountView, liveTorrents } from "./rd-harness.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A temporary directory, removed after the test. */
function removedAfter(dir: string): string {
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fake RD served on loopback, and a data dir whose database the test also opens, to read. */
async function setup(fake: FakeRealDebrid, extraEnv: Record<string, string> = {}) {
  const server = await fake.listen();
  const dir = removedAfter(tempDir("rdtm-kill-"));
  const env = cliEnv(dir, server.url, extraEnv);
  const db = await openDb(env.LIBSQL_URL ?? "");
  // migrated up front, so the test can read the tables whenever a kill lands (even during start-up)
  await migrate(db);
  cleanup.push(
    () => server.close(),
    () => db.close(),
  );
  return { dir, env, db };
}

/** RD's budget held across every process, killed or not, in every 60 s window; RD never had to refuse. */
function expectBudget(fake: FakeRealDebrid) {
  const times = fake.requests.map((r) => r.at);
  expect(maxInAnyWindow(times, 60_000)).toBeLessThanOrEqual(RATE_LIMIT);
  expect(fake.requests.filter((r) => r.status === 429)).toEqual([]);
}

/** Kill points tried so far, for the failure message (replay with RDTM_SEED). */
function trail() {
  const lines: string[] = [];
  return {
    add: (line: string) => lines.push(line),
    toString: () => `kill points (seed ${SEED}):\n${lines.join("\n")}`,
  };
}

describe("kill -9 at random points, restarting each time", () => {
  it(
    `full scan (${KILLS} kills, seed ${SEED}): the database ends equal to the account`,
    async () => {
      const rand = seeded(SEED);
      const fake = createFakeRealDebrid();
      fake.add(...makeAccount(1_500, { statusOf: (i) => (i % 23 === 5 ? "dead" : "downloaded") }));
      const { dir, env, db } = await setup(fake, { FULL_SCAN_PAGE_SIZE: "100" });
      const pages = () => requestsTo(fake, "GET", /^\/torrents$/).length;
      const hung = () => fake.requests.filter((r) => r.hung).length;
      const modes = rand.cycle(["pages", "in-flight", "timer"] as const);
      const log = trail();
      const leftRunning = new Set<string>();
      let landed = 0;
      for (let round = 0; round < KILLS; round++) {
        // the account changes between restarts: some torrents deleted anywhere, some added on top
        if (round > 0) {
          for (let i = rand.int(0, 15); i > 0; i--) {
            const t = fake.torrents[rand.int(0, fake.torrents.length - 1)];
            if (t && t.status === "downloaded") fake.remove(t.id);
          }
          for (let i = rand.int(0, 15); i > 0; i--) fake.add(makeTorrent());
        }
        const [base, hungBefore] = [pages(), hung()];
        const mode = modes(round);
        const k = rand.int(1, 8);
        // a timer from the start, or a jitter after the k-th page: anywhere in a page's fetch-parse-commit
        const ms = mode === "timer" ? rand.int(150, 900) : rand.int(0, 20);
        const victim = startCli(["scan", "full"], env, dir);
        const hit = await killWhen(victim, async (stop) => {
          if (mode === "timer") return pause(ms, stop);
          await when(() => pages() >= base + k, stop);
          if (mode === "pages") return pause(ms, stop);
          if (stop.aborted) return;
          // the next page request is held: the process dies waiting for RD's answer
          fake.inject({ fault: { kind: "hang" }, method: "GET", path: /^\/torrents$/ });
          await when(() => hung() > hungBefore, stop);
        });
        fake.clearFaults();
        log.add(
          `${round}: ${mode === "timer" ? `${ms} ms` : `${mode} after ${k} pages + ${ms} ms`} -> ${hit ? "killed" : "ended"}`,
        );
        if (hit) landed++;
        for (const id of await runningRuns(db)) leftRunning.add(id);
        await expectNothingBeyondTheCursor(db, String(log));
        await leaseFree(db, "rd-full-scan-page");
      }
      expect(landed, String(log)).toBeGreaterThanOrEqual(Math.ceil(KILLS / 2));

      // the scan finishes; a generation that saw torrents vanish verifies with another walk
      for (let i = 0; i < 6; i++) {
        await runToEnd(["scan", "full"], env, dir, db, "rd-full-scan-page");
        const p = await readProgress(db, "full");
        if (p.status === "completed" && !p.verify) break;
      }
      expect(await liveTorrents(db), String(log)).toEqual(accountView(fake.torrents));
      // one repair per dead torrent, never two for a hash, however often a page was repeated
      const dead = fake.torrents.filter((t) => t.status === "dead").map((t) => t.hash);
      const repairs = await db.execute("SELECT hash, count(*) AS n FROM repairs GROUP BY hash");
      expect(repairs.rows.filter((r) => Number(r.n) > 1)).toEqual([]);
      expect(new Set(repairs.rows.map((r) => String(r.hash)))).toEqual(new Set(dead));
      await expectRunsSettled(db, leftRunning);
      expectBudget(fake);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `library sweep (${KILLS} kills, seed ${SEED}): the broken links equal a one-shot sweep of the same tree`,
    async () => {
      const rand = seeded(SEED + 1);
      const fake = createFakeRealDebrid();
      const account = makeAccount(1_500);
      fake.add(...account);
      const { lib, mount } = buildLibrary(removedAfter(tempDir("rdtm-tree-")), account);
      const sweepEnv = { LIBRARY_ROOTS: lib, RD_MOUNT_PATH: mount, FULL_SCAN_PAGE_SIZE: "5000" };
      // the one-shot reference: same account, same tree, the whole sweep in one run
      const ref = await setup(fake, { ...sweepEnv, SWEEP_RUN_ENTRIES: "10000000" });
      await runToEnd(["scan", "full"], ref.env, ref.dir, ref.db, "rd-full-scan-page");
      await runToEnd(["sweep", "run"], ref.env, ref.dir, ref.db, "symlink-sweep");
      const oneShot = await sweepOutcome(ref.db);
      expect(oneShot.state).toMatchObject({ status: "completed", broken: oneShot.links.length });
      expect(oneShot.links.length).toBeGreaterThan(150);
      expect(oneShot.repairs.length).toBeGreaterThan(50);

      // the same sweep in slices of 100 links, killed -9 again and again
      const { dir, env, db } = await setup(fake, { ...sweepEnv, SWEEP_RUN_ENTRIES: "100" });
      await runToEnd(["scan", "full"], env, dir, db, "rd-full-scan-page");
      const slices = async () => {
        const rs = await db.execute(
          "SELECT count(*) AS n FROM job_runs WHERE job = 'symlink-sweep' AND status = 'succeeded'",
        );
        return Number(rs.rows[0]?.n);
      };
      const modes = rand.cycle(["slices", "timer"] as const);
      const log = trail();
      const leftRunning = new Set<string>();
      let landed = 0;
      for (let round = 0; round < KILLS; round++) {
        const base = await slices();
        const mode = modes(round);
        const k = rand.int(1, 12);
        const ms = mode === "timer" ? rand.int(150, 1_200) : rand.int(0, 15);
        const victim = startCli(["sweep", "run"], env, dir);
        const hit = await killWhen(victim, async (stop) => {
          if (mode === "slices") await when(async () => (await slices()) >= base + k, stop);
          await pause(ms, stop);
        });
        const state = await readSweepState(db);
        log.add(
          `${round}: ${mode} ${mode === "slices" ? `${k} + ${ms} ms` : `${ms} ms`} -> ${hit ? "killed" : "ended"} (${state.status}, ${state.links} links)`,
        );
        if (hit) landed++;
        for (const id of await runningRuns(db)) leftRunning.add(id);
        await expectSweepConsistent(db, String(log));
        await leaseFree(db, "symlink-sweep");
      }
      expect(landed, String(log)).toBeGreaterThanOrEqual(Math.ceil(KILLS / 2));
      await runToEnd(["sweep", "run"], env, dir, db, "symlink-sweep");
      const resumed = await sweepOutcome(db);
      expect(resumed.links, String(log)).toEqual(oneShot.links);
      expect(resumed.repairs).toEqual(oneShot.repairs);
      expect({ ...resumed.state, generation: 0 }).toEqual({ ...oneShot.state, generation: 0 });
      await expectRunsSettled(db, leftRunning);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `repair drain (${KILLS} kills, seed ${SEED}): every journaled action happened exactly once on RD`,
    async () => {
      const rand = seeded(SEED + 2);
      const fake = createFakeRealDebrid();
      const olds: FakeTorrent[] = [];
      const addDead = (n: number) => {
        for (let i = 0; i < n; i++) {
          const files = FILES.map((f) => ({ ...f }));
          const added = new Date(Date.now() - 86_400_000).toJSON();
          const t = makeTorrent({ filename: `Show.${olds.length}.S01`, status: "dead", added, files });
          fake.add(t);
          fake.cached.add(t.hash);
          olds.push(t);
        }
      };
      addDead(8);
      const { dir, env, db } = await setup(fake);
      const queue = () => runToEnd(["run", "rd-quick-scan"], env, dir, db, "rd-quick-scan");
      const open = async () => {
        const rs = await db.execute(
          "SELECT count(*) AS n FROM repairs WHERE state NOT IN ('done', 'failed', 'cancelled')",
        );
        return Number(rs.rows[0]?.n);
      };
      await queue();
      const hung = () => fake.requests.filter((r) => r.hung).length;
      const modes = rand.cycle(["hang-before", "hang-after", "requests", "timer"] as const);
      const log = trail();
      const leftRunning = new Set<string>();
      let landed = 0;
      for (let round = 0; round < KILLS; round++) {
        if ((await open()) < 3) {
          addDead(4);
          await queue();
        }
        const mode = modes(round);
        const step = rand.pick(MUTATIONS);
        const k = rand.int(1, 20);
        const ms = rand.int(150, 900);
        const [base, hungBefore] = [fake.requests.length, hung()];
        if (mode === "hang-before" || mode === "hang-after") {
          fake.inject({ fault: { kind: "hang", after: mode === "hang-after" }, method: step.method, path: step.path });
        } else if (mode === "requests") {
          // every answer a little late, so the kill lands at the k-th request rather than a few later
          fake.inject({ fault: { kind: "delay", ms: 10 }, count: Number.POSITIVE_INFINITY });
        }
        const victim = startCli(["run", "retry-drain"], env, dir);
        const hit = await killWhen(victim, async (stop) => {
          if (mode === "timer") return pause(ms, stop);
          if (mode === "requests") return when(() => fake.requests.length >= base + k, stop);
          return when(() => hung() > hungBefore, stop);
        });
        fake.clearFaults();
        const what = mode === "timer" ? `${ms} ms` : mode === "requests" ? `${k} requests` : step.name;
        log.add(`${round}: ${mode} ${what} -> ${hit ? "killed" : "ended"}`);
        if (hit) landed++;
        for (const id of await runningRuns(db)) leftRunning.add(id);
        await expectJournalConsistent(db, String(log));
        await leaseFree(db, "retry-drain");
      }
      expect(landed, String(log)).toBeGreaterThanOrEqual(Math.ceil(KILLS / 2));
      for (let i = 0; i < 10 && (await open()) > 0; i++)
        await runToEnd(["run", "retry-drain"], env, dir, db, "retry-drain");
      await expectEachRepairOnce(db, fake, olds, String(log));
      await expectRunsSettled(db, leftRunning);
      expectBudget(fake);
    },
    TEST_TIMEOUT_MS,
  );
});

const FILES: FakeFile[] = [
  { id: 1, path: "/E01.mkv", bytes: 1_000, selected: 1 },
  { id: 2, path: "/E02.mkv", bytes: 1_000, selected: 1 },
  { id: 3, path: "/info.nfo", bytes: 10, selected: 0 },
];

/** The requests that change RD, where a kill hurts most. */
const MUTATIONS = [
  { name: "addMagnet", method: "POST", path: /^\/torrents\/addMagnet$/ },
  { name: "selectFiles", method: "POST", path: /^\/torrents\/selectFiles\// },
  { name: "delete", method: "DELETE", path: /^\/torrents\/delete\// },
] as const;

/** A page is written with its cursor or not at all: nothing of this generation lies past the cursor. */
async function expectNothingBeyondTheCursor(db: Db, why: string) {
  const p = await readProgress(db, "full");
  if (p.status !== "running" || p.phase !== "body" || p.cursorAdded === null) return;
  const rs = await db.execute({
    sql: `SELECT id FROM torrents WHERE seen_generation = ? AND (added_at < ?
            OR (added_at = ? AND id NOT IN (SELECT value FROM json_each(?))))`,
    args: [p.generation, p.cursorAdded, p.cursorAdded, JSON.stringify(p.cursorIds)],
  });
  expect(rs.rows, why).toEqual([]);
}

/**
 * A mount with most of the account's torrents, and a library of links into it. Every 17th torrent is
 * missing from the mount (its links: missing_torrent), every 29th lacks its first file (missing_file),
 * and every 50th also has a link to a file outside the mount that is gone (missing_target).
 */
function buildLibrary(dir: string, account: readonly FakeTorrent[]) {
  const mount = join(dir, "mnt");
  const lib = join(dir, "library");
  mkdirSync(join(mount, "__all__"), { recursive: true });
  for (const [i, t] of account.entries()) {
    const files = t.files.filter((f) => f.selected === 1).map((f) => f.path.replace(/^\//, ""));
    const folder = join(mount, "__all__", t.filename);
    if (i % 17 !== 3) {
      mkdirSync(folder, { recursive: true });
      for (const [j, f] of files.entries()) if (!(i % 29 === 7 && j === 0)) writeFileSync(join(folder, f), "x");
    }
    const show = join(lib, i % 2 === 0 ? "tv" : "movies", `Title ${i}`, "Season 01");
    mkdirSync(show, { recursive: true });
    for (const f of files) symlinkSync(join(folder, f), join(show, f));
    if (i % 50 === 11) symlinkSync(join(dir, "gone", `${i}.mkv`), join(show, `extra-${i}.mkv`));
  }
  return { lib, mount };
}

/** What a sweep left: its broken links and repairs (without times and generations) and its totals. */
async function sweepOutcome(db: Db) {
  const links = await db.execute(
    "SELECT path, root, target, reason, torrent_name, matched_torrent_id, match_kind, state FROM broken_links ORDER BY path",
  );
  const repairs = await db.execute("SELECT torrent_id, hash, reason, state FROM repairs ORDER BY torrent_id");
  const s = await readSweepState(db);
  return {
    links: links.rows.map((r) => ({ ...r })),
    repairs: repairs.rows.map((r) => ({ ...r })),
    state: {
      generation: s.generation,
      status: s.status,
      entries: s.entries,
      links: s.links,
      broken: s.broken,
      matched: s.matched,
      skipped: s.skipped,
    },
  };
}

/** A slice is written with its cursor or not at all: the sweep's count of broken links matches its rows. */
async function expectSweepConsistent(db: Db, why: string) {
  const s = await readSweepState(db);
  if (s.status !== "running" && s.status !== "completed") return;
  const rs = await db.execute({
    sql: "SELECT count(*) AS n FROM broken_links WHERE generation = ? AND state = 'broken'",
    args: [s.generation],
  });
  expect(Number(rs.rows[0]?.n), why).toBe(s.broken);
}

const STEP_OF: Record<string, string> = {
  add_magnet: "adding",
  select_files: "selecting",
  delete_old_torrent: "deleting_old",
};

/** After a kill: a journal entry left pending belongs to a repair still at that step, marked as started. */
async function expectJournalConsistent(db: Db, why: string) {
  const rs = await db.execute(
    `SELECT a.repair_id, a.kind, r.state, r.step_started_at FROM actions a JOIN repairs r ON r.id = a.repair_id
     WHERE a.state = 'pending'`,
  );
  const ids = rs.rows.map((r) => Number(r.repair_id));
  expect(new Set(ids).size, why).toBe(ids.length);
  for (const row of rs.rows) {
    expect({ state: row.state, started: row.step_started_at !== null }, why).toEqual({
      state: STEP_OF[String(row.kind)],
      started: true,
    });
  }
}

/** Every repair done; on RD one 201 add per replacement and one 204 delete per old torrent; the journal agrees. */
async function expectEachRepairOnce(db: Db, fake: FakeRealDebrid, olds: readonly FakeTorrent[], why: string) {
  const rs = await db.execute("SELECT id, torrent_id, hash, state, new_torrent_id FROM repairs ORDER BY id");
  expect(
    rs.rows.map((r) => r.state),
    why,
  ).toEqual(olds.map(() => "done"));
  const effective = (method: string, path: RegExp, status: number) =>
    requestsTo(fake, method, path).filter((r) => r.status === status);
  for (const old of olds) {
    const same = fake.torrents.filter((t) => t.hash === old.hash);
    expect(
      same.map((t) => t.status),
      `${old.id}\n${why}`,
    ).toEqual(["downloaded"]);
    expect(same[0]?.id).not.toBe(old.id);
    expect(rs.rows.find((r) => r.torrent_id === old.id)?.new_torrent_id).toBe(same[0]?.id);
    expect(effective("DELETE", new RegExp(`^/torrents/delete/${old.id}$`), 204), why).toHaveLength(1);
  }
  expect(effective("POST", /^\/torrents\/addMagnet$/, 201), why).toHaveLength(olds.length);
  expect(effective("POST", /^\/torrents\/selectFiles\//, 204), why).toHaveLength(olds.length);
  expect(effective("POST", /^\/torrents\/selectFiles\//, 202), why).toEqual([]);
  // never a second try of something RD did: every answered mutation took effect (a kill only ever left
  // unanswered ones, status 0), and nothing but the old torrents was deleted
  const oldIds = new Set(olds.map((t) => t.id));
  const ok: Record<string, number> = { POST: 201, DELETE: 204 };
  const answered = fake.requests.filter((r) => r.method !== "GET" && r.status !== 0);
  const wrong = answered.filter((r) => r.status !== (r.path.includes("selectFiles") ? 204 : ok[r.method]));
  expect(wrong, why).toEqual([]);
  expect(requestsTo(fake, "DELETE", /./).filter((r) => !oldIds.has(r.path.split("/").pop() ?? ""))).toEqual([]);

  // the journal: per repair exactly one done add, selection and delete, with the targets RD saw; none pending
  const journal = await db.execute("SELECT repair_id, kind, target, state FROM actions ORDER BY id");
  expect(journal.rows.filter((a) => a.state === "pending")).toEqual([]);
  for (const r of rs.rows) {
    const done = journal.rows.filter((a) => a.repair_id === r.id && a.state === "done");
    expect(done.map((a) => [a.kind, a.target]).sort(), `repair ${r.id}\n${why}`).toEqual(
      [
        ["add_magnet", r.hash],
        ["delete_old_torrent", r.torrent_id],
        ["select_files", r.new_torrent_id],
      ].sort(),
    );
  }
}
