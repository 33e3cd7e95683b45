// Reliability gauntlet, shared database: two `rdtm serve` processes on one real sqld with accelerated
// schedules, a fake RD full of dead (but cached) torrents that keep arriving, and sqld killed and
// restarted under them. Fast mode is two cycles (~60 s); RDTM_SOAK=1 runs several (several minutes).
// Each cycle starts fresh servers, because spawnProc's watchdog caps a process at 180 s. Even cycles
// run both clocks in step (the processes race for every tick: the lease decides); odd cycles put one
// process 250 ms ahead, as on another host (it takes each tick and is often done before the other
// fires: only the per-tick record keeps that one from running it again).

import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDb } from "../../shared/db.ts";
import { createFakeRealDebrid, type FakeTorrent, makeAccount, makeTorrent } from "../fakes/real-debrid.ts";
import { eventually, type Proc, startRdtm, tempDir } from "../helpers/processes.ts";
import { type Sqld, startSqld } from "../helpers/sqld.ts";

const SOAK = process.env.RDTM_SOAK === "1";
const CYCLES = SOAK ? Number(process.env.RDTM_SOAK_CYCLES ?? 6) : 2;
const WORK_MS = SOAK ? 50_000 : 11_000;
const OUTAGE_MS = SOAK ? 10_000 : 5_000;
const FEED_EVERY_MS = SOAK ? 4_000 : 2_500;
const SCHEDULED = ["rd-quick-scan", "rd-full-scan-page", "retry-drain", "symlink-sweep"] as const;

type Server = Proc & { url: string };
interface Health {
  code: number;
  status: string;
  database?: string;
}

const fake = createFakeRealDebrid({ rateLimitPerMinute: 0 });
const dead: FakeTorrent[] = [];
/** Every torrent the fake created through addMagnet, by hash (fake.add is what its handler calls). */
const addedByMagnet = new Map<string, string[]>();
let rdServer: { url: string; close(): Promise<void> };
let sqld: Sqld;
let dir: string;
let startedAt: number;
const servers: Server[] = [];
const outages: {
  down: Health[][];
  recoveredAfterMs: number;
  resumed: Record<string, number>;
  inFlight: string;
}[] = [];

beforeAll(async () => {
  fake.add(...makeAccount(450));
  const realAdd = fake.add.bind(fake);
  fake.add = (...list) => {
    for (const t of list) {
      if (t.status === "waiting_files_selection")
        addedByMagnet.set(t.hash, [...(addedByMagnet.get(t.hash) ?? []), t.id]);
    }
    realAdd(...list);
  };
  // RD answers writes slowly, so a repair is often between its journal entry and RD's answer.
  fake.inject({ fault: { kind: "delay", ms: 500 }, method: "POST", path: /addMagnet/, count: Infinity });
  fake.inject({ fault: { kind: "delay", ms: 500 }, method: "DELETE", path: /delete/, count: Infinity });
  rdServer = await fake.listen();
  sqld = await startSqld();
  dir = tempDir("rdtm-rel-shared-");
  // A small healthy library, so the sweep walks a real tree (then idles until SWEEP_INTERVAL_HOURS).
  mkdirSync(join(dir, "mnt", "__all__", "Healthy"), { recursive: true });
  writeFileSync(join(dir, "mnt", "__all__", "Healthy", "a.mkv"), "x");
  mkdirSync(join(dir, "lib", "tv"), { recursive: true });
  symlinkSync(join(dir, "mnt", "__all__", "Healthy", "a.mkv"), join(dir, "lib", "tv", "a.mkv"));
});

afterAll(async () => {
  for (const s of servers) s.kill("SIGKILL");
  await Promise.all(servers.map((s) => s.exited));
  await sqld?.stop();
  await rdServer?.close();
});

function env(): Record<string, string> {
  return {
    LIBSQL_URL: sqld.url,
    RD_API_TOKEN: "fake-rd-token",
    RD_API_URL: rdServer.url,
    RD_RATE_LIMIT_PER_MINUTE: "250",
    RD_TIMEOUT_SECONDS: "5",
    DRY_RUN: "false",
    LIBRARY_ROOTS: join(dir, "lib"),
    RD_MOUNT_PATH: join(dir, "mnt"),
    SWEEP_INTERVAL_HOURS: "1",
    FULL_SCAN_PAGE_SIZE: "100",
    SCHEDULE_RD_QUICK_SCAN: "*/2 * * * * *",
    SCHEDULE_RETRY_DRAIN: "1-59/2 * * * * *",
    SCHEDULE_RD_FULL_SCAN_PAGE: "*/2 * * * * *",
    SCHEDULE_SYMLINK_SWEEP: "1-59/2 * * * * *",
    SCHEDULE_QBIT_CHECK: "off",
    SCHEDULE_MAINTENANCE: "off",
    // Short leases: a run cut off by the outage frees its job a few seconds after sqld is back.
    LEASE_TTL_SECONDS: "4",
    SHUTDOWN_GRACE_SECONDS: "5",
    LOG_LEVEL: "info",
  };
}

/** A dead torrent RD has cached: repairing it is addMagnet, selectFiles, delete the old one. */
function feedDead(): void {
  const t = makeTorrent({ status: "dead" });
  fake.cached.add(t.hash);
  fake.add(t);
  dead.push(t);
}

async function health(s: Server): Promise<Health> {
  try {
    const res = await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; services: { database?: { status: string } } };
    return { code: res.status, status: body.status, database: body.services.database?.status };
  } catch (err) {
    return { code: 0, status: `no answer: ${String(err)}` };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function query(sql: string, args: (string | number)[] = []) {
  const db: Db = await openDb(sqld.url);
  try {
    return (await db.execute({ sql, args })).rows;
  } finally {
    db.close();
  }
}

/** All dead torrents fed so far have a done repair. */
async function allRepaired(): Promise<true | undefined> {
  const rows = await query("SELECT hash FROM repairs WHERE state = 'done'");
  const done = new Set(rows.map((r) => String(r.hash)));
  return dead.every((t) => done.has(t.hash)) ? true : undefined;
}

async function cycle(n: number): Promise<void> {
  const ahead = n % 2 === 0 ? -1 : (n >> 1) % 2;
  const [a, b] = await Promise.all([0, 1].map((i) => startRdtm(env(), dir, i === ahead ? { clockSkewMs: 250 } : {})));
  if (!a || !b) throw new Error("servers did not start");
  servers.push(a, b);
  const feeder = setInterval(feedDead, FEED_EVERY_MS);
  try {
    feedDead();
    await sleep(WORK_MS);
    expect((await Promise.all([a, b].map(health))).map((h) => h.status)).toEqual(["healthy", "healthy"]);

    // sqld dies under them (SIGKILL) while a repair waits for RD's answer to a journaled write, so the
    // step's outcome can only be learnt from RD afterwards; new dead torrents keep arriving meanwhile.
    const kind = n % 2 === 0 ? "add_magnet" : "delete_old_torrent";
    feedDead();
    const inFlight = await eventually(
      async () => (await query("SELECT id FROM actions WHERE state = 'pending' AND kind = ?", [kind]))[0],
      20_000,
      `a pending ${kind}`,
    );
    sqld.proc.kill("SIGKILL");
    await sqld.proc.exited;
    const down: Health[][] = [];
    const outageEnd = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnd) {
      down.push(await Promise.all([a, b].map(health)));
      await sleep(500);
    }
    sqld = await startSqld({ port: sqld.port, dataDir: sqld.dataDir });
    const restartAt = Date.now();

    // Without anyone touching the servers: healthy again, and every scheduled job runs again.
    await eventually(
      async () => ((await Promise.all([a, b].map(health))).every((h) => h.status === "healthy") ? true : undefined),
      40_000,
      "both servers healthy after sqld came back",
    );
    const recoveredAfterMs = Date.now() - restartAt;
    const resumed = await eventually(
      async () => {
        const rows = await query(
          // started_at is on the runner's clock: the skewed process may be up to 250 ms ahead.
          "SELECT job, count(*) AS n FROM job_runs WHERE trigger = 'cron' AND status = 'succeeded' AND started_at > ? GROUP BY job",
          [restartAt],
        );
        const byJob = Object.fromEntries(rows.map((r) => [String(r.job), Number(r.n)]));
        return SCHEDULED.every((j) => (byJob[j] ?? 0) >= 2) ? byJob : undefined;
      },
      30_000,
      "every scheduled job running again after the restart",
    );
    // The write that was in flight is settled from RD's side (adopted / seen gone), not repeated.
    const settled = await eventually(
      async () => {
        const rows = await query("SELECT state FROM actions WHERE id = ?", [Number(inFlight.id)]);
        return rows[0]?.state === "pending" ? undefined : String(rows[0]?.state);
      },
      30_000,
      `the ${kind} in flight at the crash settled`,
    );
    outages.push({ down, recoveredAfterMs, resumed, inFlight: `${kind} ${settled}` });
  } finally {
    clearInterval(feeder);
  }
  // Whatever arrived before, during and after the outage is repaired.
  await eventually(allRepaired, 30_000, "every dead torrent repaired");
  a.kill("SIGTERM");
  b.kill("SIGTERM");
  const exits = await Promise.all([a.exited, b.exited]);
  expect(exits, `${a.output().slice(-2000)}\n${b.output().slice(-2000)}`).toEqual([
    { code: 0, signal: null },
    { code: 0, signal: null },
  ]);
}

describe(`two servers on one sqld, ${CYCLES} cycle(s) with sqld killed and restarted`, () => {
  it(
    "reports the outage in /health, then recovers and resumes every job without manual action",
    async () => {
      startedAt = Date.now();
      for (let n = 0; n < CYCLES; n++) await cycle(n);
      expect(outages).toHaveLength(CYCLES);
      for (const o of outages) {
        // Every answer while sqld was down: 503 unhealthy, the database named as down. Never healthy.
        expect(o.down.length).toBeGreaterThanOrEqual(4);
        for (const pair of o.down) {
          for (const h of pair) expect(h).toEqual({ code: 503, status: "unhealthy", database: "down" });
        }
        expect(o.recoveredAfterMs).toBeLessThan(40_000);
      }
      const statuses = await query(
        "SELECT status, count(*) AS n FROM job_runs WHERE started_at >= ? GROUP BY status ORDER BY status",
        [startedAt - 1_000],
      );
      console.info("shared-db:", {
        cycles: CYCLES,
        deadTorrents: dead.length,
        recoveredAfterMs: outages.map((o) => o.recoveredAfterMs),
        resumed: outages.map((o) => o.resumed),
        inFlightAtCrash: outages.map((o) => o.inFlight),
        runs: Object.fromEntries(statuses.map((r) => [String(r.status), Number(r.n)])),
      });
    },
    CYCLES * (WORK_MS + OUTAGE_MS + 100_000),
  );

  it("ran each job at most once per schedule tick, across both processes and the outages", async () => {
    const doubles = await query(
      `SELECT job, tick_at, count(*) AS n, group_concat(holder) AS holders FROM job_runs
       WHERE trigger = 'cron' AND started_at >= ? GROUP BY job, tick_at HAVING count(*) > 1`,
      [startedAt - 1_000],
    );
    expect(doubles).toEqual([]);
    const perJob = await query(
      `SELECT job, count(*) AS n, count(DISTINCT holder) AS holders FROM job_runs
       WHERE trigger = 'cron' AND started_at >= ? GROUP BY job ORDER BY job`,
      [startedAt - 1_000],
    );
    // Not vacuous: each 2 s schedule ran on a good share of its ticks (outages and restarts excluded).
    const seconds = (CYCLES * (WORK_MS + 15_000)) / 1000;
    for (const row of perJob) expect(Number(row.n), String(row.job)).toBeGreaterThan(seconds / 2 / 3);
    expect(perJob.map((r) => String(r.job))).toEqual([...SCHEDULED].sort());
    const holders = await query("SELECT count(DISTINCT holder) AS n FROM job_runs WHERE started_at >= ?", [
      startedAt - 1_000,
    ]);
    // Cycles in step race for every tick: both of their processes won some.
    expect(Number(holders[0]?.n)).toBeGreaterThanOrEqual(CYCLES + Math.ceil(CYCLES / 2));
    const nullTicks = await query("SELECT count(*) AS n FROM job_runs WHERE trigger = 'cron' AND tick_at IS NULL");
    expect(Number(nullTicks[0]?.n)).toBe(0);
  });

  it("executed no repair step twice: one addMagnet per hash, one DELETE per old torrent, no duplicate journal entry", async () => {
    expect(dead.length).toBeGreaterThanOrEqual(CYCLES * 6);
    const hashes = dead.map((t) => t.hash);
    // RD's side: exactly one torrent created per dead hash, and the 201s match them one to one.
    for (const hash of hashes) expect(addedByMagnet.get(hash) ?? [], hash).toHaveLength(1);
    expect([...addedByMagnet.keys()].sort()).toEqual([...hashes].sort());
    const adds = fake.requests.filter((r) => r.method === "POST" && r.path === "/torrents/addMagnet");
    expect(adds.filter((r) => r.status === 201)).toHaveLength(hashes.length);
    const deletes = fake.requests.filter((r) => r.method === "DELETE");
    expect(
      deletes
        .filter((r) => r.status === 204)
        .map((r) => r.path.split("/").at(-1))
        .sort(),
    ).toEqual(dead.map((t) => t.id).sort());
    // Every replacement survived: the account holds exactly one downloaded torrent per hash.
    for (const hash of hashes) {
      const live = fake.torrents.filter((t) => t.hash === hash);
      expect(live.map((t) => [t.id, t.status])).toEqual([[addedByMagnet.get(hash)?.[0], "downloaded"]]);
    }
    // Our side: one repair per hash, done; each journaled step closed done once.
    const repairs = await query("SELECT hash, state, count(*) OVER (PARTITION BY hash) AS n FROM repairs");
    expect(repairs).toHaveLength(hashes.length);
    for (const r of repairs) expect([r.state, Number(r.n)]).toEqual(["done", 1]);
    const dupes = await query(
      `SELECT repair_id, kind, count(*) AS n FROM actions WHERE state = 'done' AND repair_id IS NOT NULL
       GROUP BY repair_id, kind HAVING count(*) > 1`,
    );
    expect(dupes).toEqual([]);
    const kinds = await query(
      "SELECT kind, count(*) AS n FROM actions WHERE state = 'done' GROUP BY kind ORDER BY kind",
    );
    expect(Object.fromEntries(kinds.map((k) => [k.kind, Number(k.n)]))).toEqual({
      add_magnet: hashes.length,
      delete_old_torrent: hashes.length,
      select_files: hashes.length,
    });
    expect(await query("SELECT id, kind, target FROM actions WHERE state = 'pending'")).toEqual([]);
  });
});
