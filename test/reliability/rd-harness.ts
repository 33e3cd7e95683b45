// In-process harness for the RD fault tests: the real jobs, runner, client and limiter (with the shared
// budget in the database) against the fake RD, everything on one virtual clock, so backoffs, pauses and
// 60 s windows cost no real time and the fake's request log is in the same time as the limiter.

import { expect } from "vitest";
import { JOBS } from "../../functions/index.ts";
import { type Clients, noClients, RdCallStats } from "../../shared/clients/index.ts";
import { createRealDebridClient } from "../../shared/clients/real-debrid.ts";
import type { Db } from "../../shared/db.ts";
import { createRdLimiter } from "../../shared/rd/limiter.ts";
import { maxInAnyWindow } from "../../shared/rd/rate-limit.ts";
import { readProgress } from "../../shared/rd/scan-progress.ts";
import type { RunResult } from "../../shared/runner.ts";
import { createFakeRealDebrid, type FakeRealDebrid, type FakeTorrent, type FaultRule } from "../fakes/real-debrid.ts";
import { makeConfig, makeDb, makeRunner } from "../helpers/factories.ts";
import { virtualClock } from "../repair/harness.ts";

/** The budget the fault tests run under: low, so a run of a few dozen requests spans many windows. */
export const BUDGET = 30;
const WINDOW_MS = 60_000;

type Row = Record<string, unknown>;

/** What the DB should hold for each live torrent: the fields the scans copy from RD. */
export function accountView(torrents: readonly FakeTorrent[]): Map<string, Row> {
  return new Map(
    torrents.map((t) => [
      t.id,
      {
        hash: t.hash,
        filename: t.filename,
        status: t.status,
        bytes: t.bytes,
        progress: t.progress,
        links: t.links.length,
      },
    ]),
  );
}

/** The live (not gone) torrents of the database, in the same shape as accountView. */
export async function liveTorrents(db: Db): Promise<Map<string, Row>> {
  const rs = await db.execute(
    "SELECT id, hash, filename, status, bytes, progress, links FROM torrents WHERE gone_at IS NULL",
  );
  return new Map(
    rs.rows.map((r) => [
      String(r.id),
      {
        hash: String(r.hash),
        filename: String(r.filename),
        status: String(r.status),
        bytes: Number(r.bytes),
        progress: Number(r.progress),
        links: Number(r.links),
      },
    ]),
  );
}

/** Everything a failed scan run must leave untouched. */
export async function scanSnapshot(db: Db) {
  const torrents = await db.execute("SELECT * FROM torrents ORDER BY id");
  const repairs = await db.execute("SELECT * FROM repairs ORDER BY id");
  return {
    full: await readProgress(db, "full"),
    quick: await readProgress(db, "quick"),
    torrents: torrents.rows.map((r) => ({ ...r })),
    repairs: repairs.rows.map((r) => ({ ...r })),
  };
}

/**
 * The fake RD (its own 250/min limit on), a migrated in-memory database, and "processes": each its own
 * runner, RD client and limiter, all sharing the database (and so the budget) and the clock.
 */
export async function faultHarness(
  opts: {
    env?: Record<string, string>;
    /** The RD client's own timeout (RD_TIMEOUT_SECONDS). */
    timeoutMs?: number;
    /** A network that drops a connection stalled this long (the client sees a failed fetch). */
    networkTimeoutMs?: number;
  } = {},
) {
  const clock = virtualClock();
  const db = await makeDb();
  const fake: FakeRealDebrid = createFakeRealDebrid({ now: clock.now });
  const config = makeConfig({
    RD_API_TOKEN: "fake-rd-token",
    RD_RATE_LIMIT_PER_MINUTE: String(BUDGET),
    DRY_RUN: "false",
    FULL_SCAN_PAGE_SIZE: "100",
    QUICK_SCAN_PAGE_SIZE: "10",
    ...opts.env,
  });
  // Faults armed for the n-th request from now (counted over every process), so one can land mid-run.
  const armed: { at: number; rule: FaultRule }[] = [];
  let sent = 0;
  const transport = (input: RequestInfo | URL, init: RequestInit = {}) => {
    sent++;
    for (const a of armed.filter((x) => x.at === sent)) fake.inject(a.rule);
    if (opts.networkTimeoutMs === undefined) return fake.fetch(input, init);
    // Not AbortSignal.timeout: inside AbortSignal.any it is held weakly, and after a GC it never fires.
    const drop = new AbortController();
    const timer = setTimeout(
      () => drop.abort(new DOMException("the network dropped a stalled connection", "TimeoutError")),
      opts.networkTimeoutMs,
    );
    const signal = init.signal ? AbortSignal.any([init.signal, drop.signal]) : drop.signal;
    return fake.fetch(input, { ...init, signal }).finally(() => clearTimeout(timer));
  };

  const addProcess = () => {
    const rdCalls = new RdCallStats();
    const rdLimiter = createRdLimiter({ limitPerMinute: BUDGET, db, now: clock.now, sleep: clock.sleep });
    const rd = createRealDebridClient({
      baseUrl: fake.baseUrl,
      token: "fake-rd-token",
      limiter: rdLimiter,
      fetch: transport as typeof fetch,
      sleep: clock.sleep,
      timeoutMs: opts.timeoutMs ?? 250,
      onCall: (c) => rdCalls.record(c),
    });
    const clients: Clients = { ...noClients(), rd, rdLimiter, rdCalls };
    const runner = makeRunner({ db, jobs: [...JOBS], config, clients, now: clock.now });
    return {
      runner,
      /** One run through the runner; failures come back as a failed RunResult, as for every trigger. */
      run: (job: string): Promise<RunResult> => runner.run(job, { trigger: "test", dryRun: false }),
    };
  };
  const main = addProcess();

  return {
    clock,
    db,
    fake,
    config,
    addProcess,
    run: main.run,
    /** Injects `rule` when the k-th request from now goes out (k = 1: the next one). */
    armAfter(k: number, rule: FaultRule) {
      armed.push({ at: sent + k, rule });
    },
    /** Requests sent so far (by every process). */
    sent: () => sent,
    rows: async (sql: string, args: (string | number)[] = []) => (await db.execute({ sql, args })).rows,
    /** Repeats full-scan page runs until a generation completes with nothing to verify. */
    async fullScan(maxRuns = 400) {
      for (let i = 0; i < maxRuns; i++) {
        const r = await main.run("rd-full-scan-page");
        expect(r.status, r.error ?? "").toBe("succeeded");
        const p = await readProgress(db, "full");
        if (p.status === "completed" && !p.verify) return i + 1;
      }
      throw new Error("full scan did not complete");
    },
    /** The live torrents equal the account, field by field. */
    async expectDbEqualsAccount() {
      expect(await liveTorrents(db)).toEqual(accountView(fake.torrents));
    },
    /** RD's budget held in every 60 s window of the fake's log, and the fake never had to refuse on its own. */
    expectBudget(injected429s = 0) {
      expect(
        maxInAnyWindow(
          fake.requests.map((r) => r.at),
          WINDOW_MS,
        ),
      ).toBeLessThanOrEqual(BUDGET);
      expect(fake.requests.filter((r) => r.status === 429)).toHaveLength(injected429s);
    },
    /** Requests RD answered with exactly `status` (201 for an add, 204 for a selection or a delete). */
    effective: (method: string, path: RegExp, status: number) =>
      fake.requests.filter((r) => r.method === method && path.test(r.path) && r.status === status),
    /** How many requests went to this endpoint, whatever the answer. */
    requestsTo: (method: string, path: RegExp) =>
      fake.requests.filter((r) => r.method === method && path.test(r.path)).length,
    close: () => db.close(),
  };
}

export type FaultHarness = Awaited<ReturnType<typeof faultHarness>>;
