// Shared by the kill -9 tests: the built CLI as the process under test, seeded kill points, and the waits
// a restart needs (the killed run's lease expires after LEASE_TTL_SECONDS).

import { expect } from "vitest";
import type { Db } from "../../shared/db.ts";
import type { FakeRealDebrid } from "../fakes/real-debrid.ts";
import { eventually, type Proc, spawnProc } from "../helpers/processes.ts";

// Built by the test global setup (test/helpers/global-setup.ts).
const CLI = new URL("../../dist/cli.mjs", import.meta.url).pathname;

/** RDTM_SOAK=1: many more kill points per scenario (and a longer time limit). */
export const SOAK = process.env.RDTM_SOAK === "1";
/** Kill points per scenario. */
export const KILLS = SOAK ? Number(process.env.RDTM_SOAK_KILLS ?? 40) : 5;
/** RDTM_SEED replays the kill points of a failed run (the seed is in the test name). */
export const SEED = Number(process.env.RDTM_SEED ?? 20_240_611);
/** Generous per-test limit: the fast mode finishes far below it, the soak mode scales with KILLS. */
export const TEST_TIMEOUT_MS = 60_000 + KILLS * 8_000;
/** RD_RATE_LIMIT_PER_MINUTE of every process: RD's own limit, so the fake never has to refuse. */
export const RATE_LIMIT = 250;

/** A small seeded generator (mulberry32), so a failing sequence of kill points can be replayed. */
export function seeded(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(list: readonly T[]): T => {
      const x = list[Math.floor(next() * list.length)];
      if (x === undefined) throw new Error("pick from an empty list");
      return x;
    },
    /** Round `i`'s choice: every option once per cycle, in a seeded order, so a few rounds cover all. */
    cycle<T>(list: readonly T[]) {
      const order = list.map((x) => ({ x, key: next() })).sort((a, b) => a.key - b.key);
      return (i: number): T => {
        const x = order[i % order.length]?.x;
        if (x === undefined) throw new Error("cycle of an empty list");
        return x;
      };
    },
  };
}

/** The environment of every process: its own data dir, the fake RD over loopback, a short lease. */
export function cliEnv(dir: string, rdUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LIBSQL_URL: `file:${dir}/rdtm.db`,
    RD_API_TOKEN: "fake-rd-token",
    RD_API_URL: rdUrl,
    RD_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
    LEASE_TTL_SECONDS: "2",
    DRY_RUN: "false",
    LOG_FORMAT: "json",
    ...extra,
  };
}

/** Starts `rdtm <args>` from the built bundle (watchdog and pdeathsig from spawnProc). */
export function startCli(args: string[], env: Record<string, string>, cwd: string): Proc {
  return spawnProc(process.execPath, [CLI, ...args], { cwd, env });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits for the kill point (`point` resolves; it is told to stop looking once the process has ended by
 * itself) or the process ending by itself, then kills -9. Returns true when the kill hit a running process.
 */
export async function killWhen(proc: Proc, point: (stop: AbortSignal) => Promise<unknown>): Promise<boolean> {
  const stop = new AbortController();
  const ended = proc.exited.then(() => "ended" as const);
  const reached = point(stop.signal).then(() => "kill" as const);
  try {
    if ((await Promise.race([reached, ended])) === "ended") return false;
  } finally {
    stop.abort();
    reached.catch(() => {});
  }
  proc.kill("SIGKILL");
  const { signal } = await proc.exited;
  return signal === "SIGKILL";
}

/** Resolves after `ms` (or when stopped). */
export function pause(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop?.addEventListener("abort", () => clearTimeout(timer), { once: true });
  });
}

/** Resolves once `check` holds, polled every few ms so the kill lands close to the point. */
export async function when(check: () => boolean | Promise<boolean>, stop: AbortSignal, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (stop.aborted) return;
    if (Date.now() > deadline) throw new Error("kill point never reached");
    await sleep(3);
  }
}

/** Waits until nobody holds `job`'s lease (a killed run's lease expires after LEASE_TTL_SECONDS). */
export async function leaseFree(db: Db, job: string): Promise<void> {
  await eventually(
    async () => {
      const rs = await db.execute({ sql: "SELECT holder, expires_at FROM leases WHERE job = ?", args: [job] });
      const row = rs.rows[0];
      return !row || row.holder === null || Number(row.expires_at) < Date.now() - 20 ? true : undefined;
    },
    10_000,
    `the lease of ${job}`,
  );
}

/** Runs `rdtm <args>` to the end, waiting out a dead run's lease (exit 4) as often as needed. */
export async function runToEnd(args: string[], env: Record<string, string>, cwd: string, db: Db, job: string) {
  for (let i = 0; i < 20; i++) {
    const proc = startCli(args, env, cwd);
    const { code } = await proc.exited;
    if (code === 4) {
      await leaseFree(db, job);
      continue;
    }
    expect(code, proc.output()).toBe(0);
    return proc.output();
  }
  throw new Error(`${args.join(" ")} kept being skipped`);
}

/** Runs marked running right after a kill: the rows a later run of the job must mark interrupted. */
export async function runningRuns(db: Db): Promise<string[]> {
  const rs = await db.execute("SELECT id FROM job_runs WHERE status = 'running'");
  return rs.rows.map((r) => String(r.id));
}

/** Every run ended: succeeded, or interrupted, and interrupted exactly when a kill left it running. */
export async function expectRunsSettled(db: Db, leftRunning: ReadonlySet<string>): Promise<void> {
  const rs = await db.execute("SELECT id, status FROM job_runs");
  const interrupted = rs.rows.filter((r) => r.status === "interrupted").map((r) => String(r.id));
  expect(new Set(interrupted)).toEqual(leftRunning);
  expect(rs.rows.filter((r) => r.status !== "interrupted" && r.status !== "succeeded")).toEqual([]);
}

/** Requests of the fake matching method and path. */
export function requestsTo(fake: FakeRealDebrid, method: string, path: RegExp) {
  return fake.requests.filter((r) => r.method === method && path.test(r.path));
}
