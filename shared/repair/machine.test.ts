import { describe, expect, it } from "vitest";
import { advance, type Observation, type RepairPolicy, type RepairView, retryDelay, TRANSIENT_CAP } from "./machine.ts";

const HOUR = 3_600_000;
const NOW = 1_700_000_000_000;
const policy: RepairPolicy = { retryDelayMs: 3 * HOUR, maxAttempts: 3, waitDeadlineMs: HOUR, pollMs: 60_000 };

function view(partial: Partial<RepairView> = {}): RepairView {
  return {
    state: "queued",
    reason: "status:dead",
    attempt: 0,
    transient: 0,
    outcome: null,
    newTorrentId: null,
    deadlineAt: null,
    ...partial,
  };
}
const err = (
  cls: string,
  extra: Partial<{ status: number; code: number }> = {},
  lastThrottleAt: number | null = null,
) => ({ type: "error", error: { class: cls, message: cls, ...extra }, lastThrottleAt }) as Observation;
const polled = (status: string | null, filesMatch = true, selectable = true): Observation => ({
  type: "polled",
  status,
  filesMatch,
  selectable,
});

describe("the happy path", () => {
  it("walks queued → adding → added → selecting → waiting → deleting_old → done", () => {
    const steps: [RepairView, Observation, string][] = [
      [view(), { type: "inspected", status: "dead" }, "adding"],
      [view({ state: "adding" }), { type: "added", id: "NEW" }, "added"],
      [view({ state: "added", newTorrentId: "NEW" }), polled("waiting_files_selection"), "selecting"],
      [view({ state: "selecting", newTorrentId: "NEW" }), { type: "step_done" }, "waiting"],
      [view({ state: "waiting", newTorrentId: "NEW", deadlineAt: NOW + 1 }), polled("downloaded"), "deleting_old"],
      [view({ state: "deleting_old", newTorrentId: "NEW" }), { type: "step_done" }, "done"],
    ];
    for (const [r, obs, state] of steps) expect(advance(r, obs, policy, NOW).state).toBe(state);
  });

  it("sets the download deadline when the new torrent is added", () => {
    expect(advance(view({ state: "adding" }), { type: "added", id: "N" }, policy, NOW).deadlineAt).toBe(NOW + HOUR);
  });

  it("a magnet still converting is polled again later, not selected", () => {
    const t = advance(
      view({ state: "added", newTorrentId: "N", deadlineAt: NOW + 10 }),
      polled("magnet_conversion"),
      policy,
      NOW,
    );
    expect(t).toMatchObject({ state: "added", nextAttemptAt: NOW + 60_000 });
  });
});

describe("the old torrent is never deleted before its replacement is proven", () => {
  const waiting = view({ state: "waiting", newTorrentId: "N", deadlineAt: NOW + HOUR });
  it.each([
    ["queued", "waiting"],
    ["downloading", "waiting"],
    ["compressing", "waiting"],
  ])("status %s keeps waiting", (status, state) => {
    expect(advance(waiting, polled(status), policy, NOW).state).toBe(state);
  });
  it("downloaded with other files selected → the new one is discarded, not the old", () => {
    expect(advance(waiting, polled("downloaded", false), policy, NOW)).toMatchObject({
      state: "discarding",
      outcome: "files_mismatch",
    });
  });
  it("not downloaded at the deadline → uncached: new discarded, then failed for good", () => {
    const t = advance({ ...waiting, deadlineAt: NOW }, polled("downloading"), policy, NOW);
    expect(t).toMatchObject({ state: "discarding", outcome: "uncached" });
    const after = advance({ ...waiting, state: "discarding", outcome: "uncached" }, { type: "step_done" }, policy, NOW);
    expect(after).toMatchObject({ state: "failed", errorClass: "uncached", clearNew: true });
    expect(after.permanent).toEqual({ errorType: "uncached", processed: true });
  });
});

describe("failure classes", () => {
  it.each([
    ["rate_limited", { status: 429 }],
    ["rate_limited", { code: 34 }],
    ["rate_limited", { code: 5 }],
    ["slots_full", { status: 509 }],
    ["slots_full", { code: 21 }],
  ])("%s %o → retry after the delay (3 h, doubling), the state kept", (cls, extra) => {
    const r = view({ state: "adding" });
    const t1 = advance(r, err(cls, extra), policy, NOW);
    expect(t1).toMatchObject({ state: "adding", attempt: 1, nextAttemptAt: NOW + 3 * HOUR, stopRun: true });
    const t2 = advance({ ...r, attempt: 1 }, err(cls, extra), policy, NOW);
    expect(t2.nextAttemptAt).toBe(NOW + 6 * HOUR);
    const t3 = advance({ ...r, attempt: 2 }, err(cls, extra), policy, NOW);
    expect(t3).toMatchObject({ state: "failed", attempt: 3, permanent: { errorType: cls } });
  });

  it("a throttle at the cap with an unproven replacement discards it and keeps the old", () => {
    const t = advance(view({ state: "waiting", newTorrentId: "N", attempt: 2 }), err("rate_limited"), policy, NOW);
    expect(t).toMatchObject({ state: "discarding", outcome: "retries_exhausted:rate_limited" });
  });

  it.each(["magnet_error", "error", "dead"])("new torrent %s → discarded, retried, then permanent", (status) => {
    const waiting = view({ state: "waiting", newTorrentId: "N", deadlineAt: NOW + HOUR });
    expect(advance(waiting, polled(status), policy, NOW)).toMatchObject({ state: "discarding" });
    const discarding = { ...waiting, state: "discarding" as const, outcome: `status:${status}` };
    const retry = advance(discarding, { type: "step_done" }, policy, NOW);
    expect(retry).toMatchObject({ state: "queued", attempt: 1, clearNew: true, nextAttemptAt: NOW + 3 * HOUR });
    const last = advance({ ...discarding, attempt: 2 }, { type: "step_done" }, policy, NOW);
    expect(last).toMatchObject({ state: "failed", attempt: 3, permanent: { errorType: `status:${status}` } });
  });

  it("old torrent virus → deleted, permanent, no re-add", () => {
    const t = advance(view({ reason: "status:virus" }), { type: "inspected", status: "virus" }, policy, NOW);
    expect(t).toMatchObject({ state: "deleting_old", outcome: "virus" });
    const end = advance(view({ state: "deleting_old", outcome: "virus" }), { type: "step_done" }, policy, NOW);
    expect(end).toMatchObject({ state: "failed", errorClass: "virus", permanent: { errorType: "virus" } });
  });

  it("new torrent virus → new discarded, then old deleted, permanent", () => {
    const w = view({ state: "waiting", newTorrentId: "N", deadlineAt: NOW + HOUR });
    expect(advance(w, polled("virus"), policy, NOW)).toMatchObject({ state: "discarding", outcome: "virus" });
    const d = advance({ ...w, state: "discarding", outcome: "virus" }, { type: "step_done" }, policy, NOW);
    expect(d).toMatchObject({ state: "deleting_old", clearNew: true });
  });

  it.each([
    [{ status: 451 }, null, "unlinking"],
    [{ code: 35 }, NOW - 31_000, "unlinking"],
    [{ code: 35 }, NOW - 30_000, "adding"],
    [{ status: 451 }, NOW - 1_000, "adding"],
  ])("infringing %o with last throttle %s → %s", (extra, lastThrottleAt, state) => {
    const t = advance(view({ state: "adding" }), err("infringing", extra, lastThrottleAt), policy, NOW);
    expect(t.state).toBe(state);
    if (state === "adding") expect(t).toMatchObject({ errorClass: "rate_limited", attempt: 1 });
    else expect(t.outcome).toBe("infringing");
  });

  it("the infringing flow ends failed, permanent and processed", () => {
    expect(advance(view({ state: "unlinking" }), { type: "step_done" }, policy, NOW).state).toBe("rearr");
    const t = advance(view({ state: "rearr" }), { type: "step_done" }, policy, NOW);
    expect(t).toMatchObject({ state: "failed", errorClass: "infringing" });
    expect(t.permanent).toEqual({ errorType: "infringing", processed: true });
  });

  it("auth and account errors keep the step and stop the run", () => {
    for (const cls of ["auth", "account"]) {
      const t = advance(view({ state: "selecting", newTorrentId: "N" }), err(cls), policy, NOW);
      expect(t).toMatchObject({ state: "selecting", attempt: 0, stopRun: true });
    }
  });

  it("transient errors back off exponentially and count as one attempt past the cap", () => {
    const r = view({ state: "waiting", newTorrentId: "N" });
    expect(advance(r, err("unavailable"), policy, NOW)).toMatchObject({ transient: 1, nextAttemptAt: NOW + 60_000 });
    expect(advance({ ...r, transient: 3 }, err("unavailable"), policy, NOW).nextAttemptAt).toBe(NOW + 8 * 60_000);
    expect(advance({ ...r, transient: 10 }, err("unavailable"), policy, NOW).nextAttemptAt).toBe(NOW + HOUR);
    const capped = advance({ ...r, transient: TRANSIENT_CAP - 1 }, err("unavailable"), policy, NOW);
    expect(capped).toMatchObject({ state: "discarding", errorClass: "unavailable" });
  });

  it("a bad request fails the repair for good (after discarding a replacement)", () => {
    expect(advance(view({ state: "adding" }), err("bad_request"), policy, NOW)).toMatchObject({
      state: "failed",
      permanent: { errorType: "bad_request" },
    });
    expect(advance(view({ state: "selecting", newTorrentId: "N" }), err("bad_request"), policy, NOW).state).toBe(
      "discarding",
    );
  });

  it("404 on a deletion means it is already gone: the step is done", () => {
    expect(advance(view({ state: "deleting_old" }), err("not_found"), policy, NOW).state).toBe("done");
    expect(
      advance(view({ state: "discarding", outcome: "uncached", newTorrentId: "N" }), err("not_found"), policy, NOW)
        .state,
    ).toBe("failed");
  });

  it("a status repair whose torrent is gone is cancelled; a broken-link repair re-adds it", () => {
    expect(advance(view(), { type: "inspected", status: null }, policy, NOW).state).toBe("cancelled");
    const link = view({ reason: "symlink_broken" });
    expect(advance(link, { type: "inspected", status: null }, policy, NOW).state).toBe("adding");
    expect(advance(link, { type: "inspected", status: "downloaded" }, policy, NOW).state).toBe("adding");
    expect(advance(view(), { type: "inspected", status: "downloaded" }, policy, NOW).state).toBe("done");
  });

  it("an observation that does not fit the state is a bug, not a silent transition", () => {
    expect(() => advance(view(), { type: "step_done" }, policy, NOW)).toThrow(/queued cannot take/);
  });

  it("retryDelay doubles per attempt", () => {
    expect([1, 2, 3].map((a) => retryDelay(policy, a) / HOUR)).toEqual([3, 6, 12]);
  });
});
