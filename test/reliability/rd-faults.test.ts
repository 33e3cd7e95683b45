// RD faults, one test each: the real jobs, client and limiter (shared budget in the database) against the
// fake RD on a virtual clock. Every test checks how the failure was classified, that failed runs left
// nothing half-written, that the budget held in every 60 s window of the fake's log, and that the
// database ends equal to the account (or every repair done exactly once) once the faults clear.

import { afterEach, describe, expect, it } from "vitest";
import { readProgress, requestFullRescan } from "../../shared/rd/scan-progress.ts";
import { type FakeTorrent, makeAccount, makeTorrent } from "../fakes/real-debrid.ts";
import { accountView, BUDGET, type FaultHarness, faultHarness, liveTorrents, scanSnapshot } from "./rd-harness.ts";

let h: FaultHarness;
afterEach(() => h?.close());

const HOUR = 3_600_000;
const MINUTE = 60_000;
const OPEN_STATES = "('queued','adding','added','selecting','waiting','deleting_old','discarding','unlinking','rearr')";

/** Full-scan page runs until the scan completes; every run that failed must have changed nothing. */
async function scanThroughFaults(error: RegExp, maxRuns = 400) {
  let failed = 0;
  for (let i = 0; i < maxRuns; i++) {
    const before = await scanSnapshot(h.db);
    const r = await h.run("rd-full-scan-page");
    if (r.status === "failed") {
      failed++;
      expect(r.error).toMatch(error);
      expect(await scanSnapshot(h.db)).toEqual(before);
      continue;
    }
    expect(r.status, r.error ?? "").toBe("succeeded");
    const p = await readProgress(h.db, "full");
    if (p.status === "completed" && !p.verify) return { runs: i + 1, failed };
  }
  throw new Error("full scan did not complete");
}

/**
 * A failed read was repeated only after the client's backoff (500 ms doubling) or, after a 429, the
 * limiter's pause (which also holds the next run back). The 4th failure in a row ends the run.
 */
function expectBackoffAfterFailures(minGapMs: number) {
  const log = h.fake.requests;
  let streak = 0;
  for (const [i, r] of log.entries()) {
    const failed = r.status === 0 || r.status >= 500 || r.status === 429;
    streak = failed ? streak + 1 : 0;
    const next = log[i + 1];
    if (next && failed && (r.status === 429 || streak % 4 !== 0)) {
      expect(next.at - r.at, `${r.method} ${r.path} -> ${r.status}`).toBeGreaterThanOrEqual(minGapMs);
    }
  }
}

/** Dead torrents RD has cached: each repair replaces one at once. */
function deadCached(n: number): FakeTorrent[] {
  const list = Array.from({ length: n }, (_, i) =>
    makeTorrent({
      filename: `Show.${i}.S01`,
      status: "dead",
      added: new Date(h.clock.t - 86_400_000).toJSON(),
      files: [
        { id: 1, path: "/E01.mkv", bytes: 1_000, selected: 1 },
        { id: 2, path: "/E02.mkv", bytes: 1_000, selected: 1 },
        { id: 3, path: "/info.nfo", bytes: 10, selected: 0 },
      ],
    }),
  );
  h.fake.add(...list);
  for (const t of list) h.fake.cached.add(t.hash);
  return list;
}

/** Drains (moving the clock past every backoff) until no repair is open. */
async function drainAll(maxRuns = 30) {
  for (let i = 0; i < maxRuns; i++) {
    const open = await h.rows(`SELECT count(*) AS n FROM repairs WHERE state IN ${OPEN_STATES}`);
    if (Number(open[0]?.n) === 0) return;
    const r = await h.run("retry-drain");
    expect(r.status, r.error ?? "").toBe("succeeded");
    h.clock.advance(HOUR);
  }
  throw new Error("repairs did not finish");
}

/** Every old torrent replaced exactly once: one 201 per replacement, one 204 per old torrent, journal agrees. */
async function expectEachRepairOnce(olds: readonly FakeTorrent[]) {
  const repairs = await h.rows("SELECT torrent_id, state, new_torrent_id FROM repairs ORDER BY id");
  expect(repairs.map((r) => r.state)).toEqual(olds.map(() => "done"));
  for (const old of olds) {
    const same = h.fake.torrents.filter((t) => t.hash === old.hash);
    expect(
      same.map((t) => t.status),
      old.id,
    ).toEqual(["downloaded"]);
    expect(same[0]?.id).not.toBe(old.id);
    expect(repairs.find((r) => r.torrent_id === old.id)?.new_torrent_id).toBe(same[0]?.id);
    expect(h.effective("DELETE", new RegExp(`^/torrents/delete/${old.id}$`), 204)).toHaveLength(1);
  }
  expect(h.effective("POST", /^\/torrents\/addMagnet$/, 201)).toHaveLength(olds.length);
  expect(h.effective("POST", /^\/torrents\/selectFiles\//, 204)).toHaveLength(olds.length);
  expect(h.effective("POST", /^\/torrents\/selectFiles\//, 202)).toHaveLength(0);
  expect(h.effective("DELETE", /^\/torrents\/delete\//, 204)).toHaveLength(olds.length);
  const journal = await h.rows("SELECT kind, state, count(*) AS n FROM actions GROUP BY kind, state");
  const done = Object.fromEntries(journal.filter((r) => r.state === "done").map((r) => [r.kind, Number(r.n)]));
  expect(done).toEqual({ add_magnet: olds.length, select_files: olds.length, delete_old_torrent: olds.length });
  expect(journal.filter((r) => r.state === "pending")).toEqual([]);
}

describe("RD faults during scans", () => {
  it("a 429 storm: the client pauses, runs that give up change nothing, the budget holds, the scan ends exact", async () => {
    h = await faultHarness();
    h.fake.add(...makeAccount(1_500, { statusOf: (i) => (i % 50 === 7 ? "dead" : "downloaded") }));
    const retryAfter = { kind: "status", status: 429, headers: { "retry-after": "20" } } as const;
    h.armAfter(3, { fault: retryAfter, count: 6 });
    const code34 = { error: "too_many_requests", error_code: 34 };
    h.armAfter(12, { fault: { kind: "status", status: 429, body: code34 }, count: 9 });
    const code5 = { error: "slow_down", error_code: 5 };
    h.armAfter(30, { fault: { kind: "status", status: 429, body: code5 }, count: 5 });

    const { failed } = await scanThroughFaults(/\/torrents: HTTP 429 (too_many_requests|slow_down)/);
    // 4 attempts per read: storms of 6, 9 and 5 refusals in a row make 1 + 2 + 1 runs give up
    expect(failed).toBe(4);
    expectBackoffAfterFailures(2_000);
    const first = h.fake.requests.findIndex((r) => r.status === 429);
    expect((h.fake.requests[first + 1]?.at ?? 0) - (h.fake.requests[first]?.at ?? 0)).toBeGreaterThanOrEqual(20_000);
    await h.expectDbEqualsAccount();
    // one open repair per dead torrent, however many runs were repeated
    const dead = h.fake.torrents.filter((t) => t.status === "dead").map((t) => t.hash);
    const queued = await h.rows("SELECT hash FROM repairs");
    expect(queued.map((r) => String(r.hash)).sort()).toEqual([...dead].sort());
    h.expectBudget(20);
  });

  it("503s, a proxy's HTML 502 page and 500s: reads are retried with backoff, 4 in a row fail the run cleanly", async () => {
    h = await faultHarness();
    h.fake.add(...makeAccount(600));
    h.armAfter(2, { fault: { kind: "status", status: 503 }, count: 2 });
    const page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    h.armAfter(6, { fault: { kind: "status", status: 502, body: page }, count: 4 });
    h.armAfter(14, { fault: { kind: "status", status: 500 }, count: 3 });
    const { failed } = await scanThroughFaults(/\/torrents: HTTP 502/);
    expect(failed).toBe(1);
    expectBackoffAfterFailures(500);
    await h.expectDbEqualsAccount();

    // the quick scan: a 503 storm on its second page fails the run before it writes anything
    h.fake.add(...Array.from({ length: 25 }, () => makeTorrent({ added: new Date(h.clock.t).toJSON() })));
    h.armAfter(2, { fault: { kind: "status", status: 503 }, count: 4 });
    const before = await scanSnapshot(h.db);
    const r = await h.run("rd-quick-scan");
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(/\/torrents: HTTP 503 service_unavailable/);
    expect(await scanSnapshot(h.db)).toEqual(before);
    const again = await h.run("rd-quick-scan");
    expect(again.summary).toMatchObject({ new: 25, reachedKnown: true });
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });

  // Was a bug (found by this test, now fixed): ofetch applies `timeout` only to calls made without a
  // signal, and every job passes its run's signal, so RD_TIMEOUT_SECONDS never bounded a job's RD call.
  it("timeouts: a slow answer is abandoned and retried; a run whose reads all time out fails cleanly", async () => {
    h = await faultHarness({ timeoutMs: 100 });
    h.fake.add(...makeAccount(400));
    h.armAfter(2, { fault: { kind: "delay", ms: 600 }, count: 1 });
    h.armAfter(5, { fault: { kind: "delay", ms: 600 }, count: 4 });
    const { failed } = await scanThroughFaults(/\/torrents: .*(timeout|aborted)/i);
    expect(failed).toBe(1);
    // the abandoned requests got no answer
    expect(h.fake.requests.filter((r) => r.status === 0)).toHaveLength(5);
    expectBackoffAfterFailures(500);
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });

  it("connection resets and truncated bodies on reads: retried or failed cleanly, the scan ends exact", async () => {
    h = await faultHarness();
    h.fake.add(...makeAccount(700));
    h.armAfter(2, { fault: { kind: "reset" }, count: 3 });
    h.armAfter(8, { fault: { kind: "reset" }, count: 4 });
    h.armAfter(16, { fault: { kind: "truncated" }, count: 1 });
    const { failed } = await scanThroughFaults(/\/torrents: (fetch failed|.*unexpected response)/);
    // the 4 resets in a row fail one run; a truncated page is malformed, never retried: one more
    expect(failed).toBe(2);
    expect(h.fake.requests.filter((r) => r.status === 0)).toHaveLength(7);
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });

  it("malformed pages fail the run naming the field and write nothing, in the full and the quick scan", async () => {
    h = await faultHarness({ env: { QUICK_SCAN_MAX_PAGES: "5" } });
    h.fake.add(...makeAccount(500, { statusOf: (i) => (i % 9 === 4 ? "error" : "downloaded") }));
    h.armAfter(3, { fault: { kind: "malformed" } });
    h.armAfter(6, { fault: { kind: "malformed" } });
    const { failed } = await scanThroughFaults(/\/torrents: unexpected response: response\[0\]\.\w+: expected/);
    expect(failed).toBe(2);
    await h.expectDbEqualsAccount();

    h.fake.add(...Array.from({ length: 30 }, () => makeTorrent({ added: new Date(h.clock.t).toJSON() })));
    h.armAfter(3, { fault: { kind: "malformed" } });
    const before = await scanSnapshot(h.db);
    const r = await h.run("rd-quick-scan");
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(/unexpected response: response\[0\]\.\w+: expected/);
    expect(await scanSnapshot(h.db)).toEqual(before);
    expect((await h.run("rd-quick-scan")).summary).toMatchObject({ new: 30 });
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });
});

describe("RD faults during repairs", () => {
  it("resets and lost answers on writes: nothing repeated blindly, one replacement and one delete per repair", async () => {
    // a "hang" holds the answer; the network drops the stalled connection (the client's own timeout does
    // not apply to calls with a signal, see the timeouts test)
    h = await faultHarness({ networkTimeoutMs: 250 });
    const olds = deadCached(4);
    expect((await h.run("rd-quick-scan")).summary).toMatchObject({ queued: 4 });
    // in injection order: the 1st addMagnet never reaches RD, the 2nd is done but its answer is lost;
    // the same for the 1st and 2nd delete of an old torrent, and a selectFiles whose answer is lost
    const post = { method: "POST", path: /^\/torrents\/addMagnet$/ };
    const del = { method: "DELETE", path: /^\/torrents\/delete\// };
    h.fake.inject({ fault: { kind: "reset" }, ...post });
    h.fake.inject({ fault: { kind: "hang", after: true }, ...post });
    h.fake.inject({ fault: { kind: "hang", after: true }, method: "POST", path: /^\/torrents\/selectFiles\// });
    h.fake.inject({ fault: { kind: "reset" }, ...del });
    h.fake.inject({ fault: { kind: "hang", after: true }, ...del });
    await drainAll();
    await expectEachRepairOnce(olds);
    // only the two calls that never reached RD were sent again (journal: failed, "never reached RD")
    const failed = await h.rows("SELECT kind, error FROM actions WHERE state = 'failed' ORDER BY kind");
    expect(failed.map((r) => [r.kind, r.error])).toEqual([
      ["add_magnet", "never reached RD"],
      ["delete_old_torrent", "never reached RD"],
    ]);
    const calls = await h.rows("SELECT count(*) AS n FROM attempts WHERE status IS NULL");
    expect(Number(calls[0]?.n)).toBe(5);
    h.expectBudget();
  });

  it("malformed and truncated answers to reads and writes: transient, reconciled, never repeated blindly", async () => {
    h = await faultHarness();
    const olds = deadCached(3);
    await h.run("rd-quick-scan");
    h.fake.inject({ fault: { kind: "malformed" }, method: "GET", path: /^\/torrents\/info\// });
    h.fake.inject({ fault: { kind: "malformed" }, ...{ method: "POST", path: /^\/torrents\/addMagnet$/ } });
    h.fake.inject({ fault: { kind: "truncated" }, method: "GET", path: /^\/torrents\/info\// });
    h.fake.inject({ fault: { kind: "truncated" }, method: "GET", path: /^\/torrents\/activeCount$/ });
    await drainAll();
    await expectEachRepairOnce(olds);
    const errors = await h.rows("SELECT message FROM attempts WHERE message LIKE '%unexpected response%'");
    expect(errors.length).toBeGreaterThanOrEqual(2);
    h.expectBudget();
  });
});

// Every error code of RD's documentation, with a status RD answers it with. The code decides the class,
// also where the status alone would say otherwise (3 with 404, 31 with 400...).
const CODES: [code: number, error: string, status: number, cls: string][] = [
  [-1, "internal_error", 500, "unavailable"],
  [1, "parameter_missing", 400, "bad_request"],
  [2, "wrong_parameter", 400, "bad_request"],
  [3, "unknown_method", 404, "bad_request"],
  [4, "method_not_allowed", 405, "bad_request"],
  [5, "slow_down", 429, "rate_limited"],
  [6, "ressource_unreachable", 503, "unavailable"],
  [7, "unknown_ressource", 404, "not_found"],
  [8, "bad_token", 401, "auth"],
  [9, "permission_denied", 403, "account"],
  [10, "two_factor_authentication_needed", 403, "auth"],
  [11, "two_factor_authentication_pending", 403, "auth"],
  [12, "invalid_login", 400, "auth"],
  [13, "invalid_password", 400, "auth"],
  [14, "account_locked", 403, "account"],
  [15, "account_not_activated", 403, "account"],
  [16, "unsupported_hoster", 503, "unavailable"],
  [17, "hoster_in_maintenance", 503, "unavailable"],
  [18, "hoster_limit_reached", 503, "unavailable"],
  [19, "hoster_temporarily_unavailable", 503, "unavailable"],
  [20, "hoster_not_free", 403, "account"],
  [21, "too_many_active_downloads", 509, "slots_full"],
  [22, "ip_not_allowed", 403, "account"],
  [23, "traffic_exhausted", 503, "traffic_exhausted"],
  [24, "file_unavailable", 503, "unavailable"],
  [25, "service_unavailable", 503, "unavailable"],
  [26, "upload_too_big", 400, "bad_request"],
  [27, "upload_error", 400, "bad_request"],
  [28, "file_not_allowed", 400, "bad_request"],
  [29, "torrent_too_big", 400, "bad_request"],
  [30, "torrent_file_invalid", 400, "bad_request"],
  [31, "action_already_done", 400, "already_done"],
  [32, "image_resolution_error", 400, "bad_request"],
  [33, "torrent_already_active", 400, "already_done"],
  [34, "too_many_requests", 429, "rate_limited"],
  [35, "infringing_file", 451, "infringing"],
  [36, "fair_usage_limit", 503, "fair_usage"],
  [37, "disabled_endpoint", 403, "disabled_endpoint"],
];

// What the repair does when addMagnet gets each class (README, Repairs: failure classes).
type Expect = { state: string; attempt: number; transient: number; delayMs: number | null; stop: boolean };
const THROTTLED: Expect = { state: "adding", attempt: 1, transient: 0, delayMs: 3 * HOUR, stop: true };
const LOCKED_OUT: Expect = { state: "adding", attempt: 0, transient: 0, delayMs: 15 * MINUTE, stop: true };
const TRANSIENT: Expect = { state: "adding", attempt: 0, transient: 1, delayMs: MINUTE, stop: false };
const FOR_GOOD: Expect = { state: "failed", attempt: 0, transient: 0, delayMs: null, stop: false };
const ON_ADD: Record<string, Expect> = {
  rate_limited: THROTTLED,
  slots_full: THROTTLED,
  fair_usage: THROTTLED,
  traffic_exhausted: THROTTLED,
  auth: LOCKED_OUT,
  account: LOCKED_OUT,
  unavailable: TRANSIENT,
  already_done: TRANSIENT,
  bad_request: FOR_GOOD,
  not_found: FOR_GOOD,
  disabled_endpoint: FOR_GOOD,
  infringing: FOR_GOOD,
};
const READ_RETRIED = new Set(["rate_limited", "slots_full", "unavailable", "fair_usage", "traffic_exhausted"]);

describe("every RD error code", () => {
  it.each(CODES)(
    "error_code %i (%s, HTTP %i) is %s: for a read, a write, and the repair",
    async (code, error, status, cls) => {
      h = await faultHarness({ env: { QUICK_SCAN_MAX_PAGES: "5" } });
      const [old] = deadCached(1);
      if (!old) throw new Error("no torrent");
      await h.run("rd-quick-scan");
      const fault = { kind: "status", status, body: { error, error_code: code } } as const;

      // A read: retried only when it may help, and the failed run writes nothing.
      h.fake.inject({ fault, count: Number.POSITIVE_INFINITY, path: /^\/torrents$/ });
      const before = await scanSnapshot(h.db);
      let sent = h.sent();
      const read = await h.run("rd-quick-scan");
      expect(read.status).toBe("failed");
      expect(read.error).toContain(`/torrents: HTTP ${status} ${error}`);
      expect(h.sent() - sent).toBe(READ_RETRIED.has(cls) ? 4 : 1);
      expect(await scanSnapshot(h.db)).toEqual(before);
      h.fake.clearFaults();

      // A write: repeated only after a 429 (RD refused it, so it did nothing), classified on the repair.
      h.fake.inject({ fault, count: Number.POSITIVE_INFINITY, method: "POST", path: /^\/torrents\/addMagnet$/ });
      sent = h.requestsTo("POST", /addMagnet/);
      const drain = await h.run("retry-drain");
      expect(drain.status, drain.error ?? "").toBe("succeeded");
      expect(h.requestsTo("POST", /addMagnet/) - sent).toBe(cls === "rate_limited" ? 4 : 1);
      const want = ON_ADD[cls];
      if (!want) throw new Error(`no expectation for ${cls}`);
      const [row] = await h.rows("SELECT * FROM repairs");
      const final = want.state;
      expect({
        state: row?.state,
        errorClass: row?.error_class,
        attempt: row?.attempt,
        transient: row?.transient,
      }).toEqual({
        state: final,
        errorClass: cls,
        attempt: want.attempt,
        transient: want.transient,
      });
      if (want.delayMs !== null) expect(Number(row?.next_attempt_at) - Number(row?.updated_at)).toBe(want.delayMs);
      expect((drain.summary as { stoppedBy: string | null }).stoppedBy).toBe(want.stop ? cls : null);
      // the call is on record as RD answered it; RD answered, so the journal entry is closed, not pending
      const attempt = await h.rows("SELECT status, error_code FROM attempts WHERE endpoint = '/torrents/addMagnet'");
      expect(attempt.map((a) => [a.status, a.error_code])).toEqual([[status, code]]);
      const journal = await h.rows("SELECT kind, state FROM actions WHERE kind = 'add_magnet'");
      expect(journal.map((a) => a.state)).toEqual(["failed"]);
      const permanent = await h.rows("SELECT error_type FROM permanent_failures");
      expect(permanent.map((p) => p.error_type)).toEqual(final === "failed" ? [cls] : []);
      // nothing was added, and the old torrent is still there
      expect(h.fake.torrents.map((t) => t.id)).toEqual([old.id]);

      h.expectBudget(status === 429 ? 8 : 0);

      // Once RD is fine again, a repair that may be retried finishes, with one add and one delete.
      h.fake.clearFaults();
      if (final === "failed") return;
      h.clock.advance(4 * HOUR);
      await drainAll();
      await expectEachRepairOnce([old]);
    },
  );

  it("451/35 within 30 s of a 429 is throttling, not a verdict on the content", async () => {
    h = await faultHarness();
    const [old] = deadCached(1);
    if (!old) throw new Error("no torrent");
    await h.run("rd-quick-scan");
    h.fake.inject({ fault: { kind: "status", status: 429 }, path: /^\/torrents\/activeCount$/ });
    h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /^\/torrents\/addMagnet$/ });
    await h.run("retry-drain");
    const [row] = await h.rows("SELECT state, error_class, attempt FROM repairs");
    expect(row).toMatchObject({ state: "adding", error_class: "rate_limited", attempt: 1 });
    expect(await h.rows("SELECT * FROM permanent_failures")).toHaveLength(0);
    h.clock.advance(4 * HOUR);
    await drainAll();
    await expectEachRepairOnce([old]);
    h.expectBudget(1);
  });
});

describe("the token expires in the middle of a run", () => {
  it("full scan: the run stops at the 401 (no retry), keeps its cursor, and resumes once the token works", async () => {
    h = await faultHarness();
    h.fake.add(...makeAccount(800));
    for (let i = 0; i < 3; i++) expect((await h.run("rd-full-scan-page")).status).toBe("succeeded");
    // the page read fails with a 503, and the token has expired by the time the read is retried
    h.fake.inject({ fault: { kind: "status", status: 503 }, path: /^\/torrents$/ });
    h.fake.inject({ fault: { kind: "status", status: 401 }, count: Number.POSITIVE_INFINITY });
    const before = await scanSnapshot(h.db);
    for (let i = 0; i < 3; i++) {
      const sent = h.sent();
      const r = await h.run("rd-full-scan-page");
      expect(r.status).toBe("failed");
      expect(r.error).toMatch(/\/torrents: HTTP 401 bad_token/);
      expect(h.sent() - sent).toBe(i === 0 ? 2 : 1);
      expect(await scanSnapshot(h.db)).toEqual(before);
    }
    h.fake.clearFaults();
    await h.fullScan();
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });

  it("quick scan: a 401 on its third page fails the run with nothing written; the next run stores all", async () => {
    h = await faultHarness({ env: { QUICK_SCAN_MAX_PAGES: "5" } });
    h.fake.add(...makeAccount(120, { statusOf: (i) => (i % 4 === 1 ? "dead" : "downloaded") }));
    h.armAfter(3, { fault: { kind: "status", status: 401 }, count: Number.POSITIVE_INFINITY });
    const r = await h.run("rd-quick-scan");
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(/HTTP 401 bad_token/);
    expect(h.sent()).toBe(3);
    expect(await h.rows("SELECT * FROM torrents")).toHaveLength(0);
    expect(await h.rows("SELECT * FROM repairs")).toHaveLength(0);
    expect((await readProgress(h.db, "quick")).status).toBe("idle");
    h.fake.clearFaults();
    expect((await h.run("rd-quick-scan")).summary).toMatchObject({ pages: 5, new: 50 });
    expect(await liveTorrents(h.db)).toEqual(accountView(h.fake.torrents.slice(0, 50)));
    await h.fullScan();
    await h.expectDbEqualsAccount();
    h.expectBudget();
  });

  it("retry-drain: the repair in hand keeps its step, the run stops, nothing is sent after the 401", async () => {
    h = await faultHarness();
    const olds = deadCached(6);
    await h.run("rd-quick-scan");
    // activeCount, then 6 requests per cached repair: the 16th is the third repair's first poll
    h.armAfter(16, { fault: { kind: "status", status: 401 }, count: Number.POSITIVE_INFINITY });
    const s0 = h.sent();
    const r = await h.run("retry-drain");
    expect(r.summary).toMatchObject({ done: 2, stoppedBy: "auth" });
    expect(h.sent() - s0).toBe(16);
    const rows = await h.rows(
      "SELECT state, error_class, attempt, next_attempt_at, updated_at FROM repairs ORDER BY id",
    );
    expect(rows.map((x) => x.state)).toEqual(["done", "done", "added", "queued", "queued", "queued"]);
    expect(rows[2]).toMatchObject({ error_class: "auth", attempt: 0 });
    expect(Number(rows[2]?.next_attempt_at) - Number(rows[2]?.updated_at)).toBe(15 * MINUTE);
    expect(await h.rows("SELECT * FROM actions WHERE state = 'pending'")).toHaveLength(0);
    // while the token is bad, a run tries the first due repair once and stops again
    h.clock.advance(MINUTE);
    const sent = h.sent();
    expect((await h.run("retry-drain")).summary).toMatchObject({ stoppedBy: "auth", steps: 1 });
    expect(h.fake.requests.slice(sent).filter((x) => x.method !== "GET")).toEqual([]);
    h.fake.clearFaults();
    h.clock.advance(15 * MINUTE);
    await drainAll();
    await expectEachRepairOnce(olds);
    h.expectBudget();
  });
});

describe("the shared budget", () => {
  it("two processes scanning and repairing under a 429 storm never exceed it together in any 60 s window", async () => {
    h = await faultHarness();
    const account = makeAccount(1_200, { statusOf: (i) => (i % 40 === 3 ? "dead" : "downloaded") });
    h.fake.add(...account);
    for (const t of account) if (t.status === "dead") h.fake.cached.add(t.hash);
    // each process's own window allows the whole budget: only the one in the database keeps them under it
    const a = h.addProcess();
    const b = h.addProcess();
    h.armAfter(10, { fault: { kind: "status", status: 429 }, count: 8 });
    h.armAfter(80, { fault: { kind: "status", status: 429, headers: { "retry-after": "30" } }, count: 3 });
    h.armAfter(150, { fault: { kind: "status", status: 429, body: { error: "slow_down", error_code: 5 } }, count: 6 });
    for (let i = 0; i < 300; i++) {
      await a.run("rd-full-scan-page");
      if (i % 5 === 0) await b.run("rd-quick-scan");
      await b.run("retry-drain");
      h.clock.advance(1_000);
      if ((await readProgress(h.db, "full")).status === "completed") break;
    }
    // repairs a storm pushed back (3 h) are finished by a third process
    await drainAll();
    expect(h.fake.requests.length).toBeGreaterThan(6 * BUDGET);
    h.expectBudget(17);
    // the account changed under the scan (old torrents replaced): one more scan and the DB is exact
    await requestFullRescan(h.db, h.clock.t);
    await h.fullScan();
    await h.expectDbEqualsAccount();
    const done = await h.rows("SELECT count(*) AS n FROM repairs WHERE state = 'done'");
    expect(Number(done[0]?.n)).toBe(30);
    expect(h.effective("POST", /addMagnet/, 201)).toHaveLength(30);
    h.expectBudget(17);
  });
});
