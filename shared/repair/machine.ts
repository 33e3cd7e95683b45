// The repair state machine: pure transitions, no I/O. The executor (steps.ts) does the one call a state
// needs, turns what happened into an Observation, and persists what `advance` decides.
//
//   queued ─inspect─▶ adding ─addMagnet─▶ added ─info─▶ selecting ─selectFiles─▶ waiting ─info─▶ deleting_old ─▶ done
//      │                 │ 451/35 (no throttle in the last 30 s)
//      │                 └──────────▶ unlinking ─▶ rearr ─▶ failed (infringing, processed)
//      └ old is virus ─▶ deleting_old ─▶ failed (virus)
//   a new torrent that fails, is not cached in time, or has other files ─▶ discarding ─▶ queued (retry) | failed
//
// The old torrent is deleted only from `deleting_old`, which is reached only when the new torrent is
// downloaded with the same files, or when RD itself condemned the content (virus).

import type { RdErrorClass } from "../rd/errors.ts";
import { isThrottlingPenalty } from "../rd/errors.ts";

/** Every state a repair row can be in. */
export const REPAIR_STATES = [
  "queued",
  "adding",
  "added",
  "selecting",
  "waiting",
  "deleting_old",
  "discarding",
  "unlinking",
  "rearr",
  "done",
  "failed",
  "cancelled",
] as const;
export type RepairState = (typeof REPAIR_STATES)[number];

/** States a repair never leaves (until the user retries it). */
export const FINAL_STATES: ReadonlySet<RepairState> = new Set(["done", "failed", "cancelled"]);

/** What a repair row holds that the transitions look at. */
export interface RepairView {
  state: RepairState;
  reason: string;
  attempt: number;
  transient: number;
  outcome: string | null;
  newTorrentId: string | null;
  deadlineAt: number | null;
}

/** Tunables of the machine (from config). */
export interface RepairPolicy {
  /** First delay after a failure that may pass (3 h in the seeds); doubles per attempt. */
  retryDelayMs: number;
  /** Failed attempts before a repair fails for good (3 in the seeds). */
  maxAttempts: number;
  /** How long a new torrent may take to become downloaded before it counts as uncached. */
  waitDeadlineMs: number;
  /** Time between polls of a new torrent that is not downloaded yet. */
  pollMs: number;
}

/** A failed call, as the executor saw it. */
export interface StepError {
  class: RdErrorClass | "arr" | "filesystem";
  message: string;
  status?: number | undefined;
  code?: number | undefined;
}

/** What the executor found or did in the current state. */
export type Observation =
  /** queued: the old torrent's status (null: gone from RD) and the paths it had selected. */
  | { type: "inspected"; status: string | null }
  /** adding: the new torrent exists (added now, or found after a crash). */
  | { type: "added"; id: string }
  /** adding, after a crash: no new torrent appeared, the add did not happen. */
  | { type: "not_added" }
  /** added / waiting: the new torrent's status; `filesMatch` false when its selection differs from the old. */
  | { type: "polled"; status: string | null; filesMatch: boolean; selectable: boolean }
  /** selecting / deleting_old / discarding / unlinking / rearr: the step's work is done. */
  | { type: "step_done" }
  /** A call failed; `lastThrottleAt` is the last 429/34/5 any process saw. */
  | { type: "error"; error: StepError; lastThrottleAt: number | null };

/** What to persist after an observation. */
export interface Transition {
  state: RepairState;
  attempt: number;
  transient: number;
  nextAttemptAt: number;
  outcome: string | null;
  errorClass: string | null;
  lastError: string | null;
  /** Clear the new torrent id (it was discarded). */
  clearNew?: boolean;
  deadlineAt?: number;
  /** The hash failed for good: record it so scans stop queueing it. */
  permanent?: { errorType: string; processed: boolean };
  /** The run should stop: nothing else will work either (token, account, lockout). */
  stopRun?: boolean;
}

// A broken link, or the user asking by hand, means the content is wanted even if the torrent is gone.
const REINJECT_WHEN_GONE = new Set(["symlink_broken", "manual"]);
const FAILED_STATUSES = new Set(["magnet_error", "error", "dead"]);
const WAITING_STATUSES = new Set(["magnet_conversion", "queued", "downloading", "compressing", "uploading"]);
const THROTTLE_CLASSES = new Set<string>(["rate_limited", "slots_full", "fair_usage", "traffic_exhausted"]);
const TRANSIENT_CLASSES = new Set<string>(["unavailable", "malformed", "arr"]);
/** Transient failures in a row before they count as one failed attempt. */
export const TRANSIENT_CAP = 12;
const TRANSIENT_BASE_MS = 60_000;
const TRANSIENT_MAX_MS = 3_600_000;

/** Decides the next state of a repair from what its current step observed. */
export function advance(r: RepairView, obs: Observation, policy: RepairPolicy, now: number): Transition {
  const base: Transition = {
    state: r.state,
    attempt: r.attempt,
    transient: 0,
    nextAttemptAt: now,
    outcome: r.outcome,
    errorClass: null,
    lastError: null,
  };
  const to = (state: RepairState, extra: Partial<Transition> = {}): Transition => ({ ...base, state, ...extra });

  if (obs.type === "error") return onError(r, obs, policy, now, base);

  switch (r.state) {
    case "queued":
      if (obs.type !== "inspected") break;
      if (obs.status === null) {
        // A torrent the user removed is not ours to bring back; a broken link is exactly why we do.
        return REINJECT_WHEN_GONE.has(r.reason) ? to("adding") : to("cancelled", { lastError: "torrent gone from RD" });
      }
      if (obs.status === "virus") return to("deleting_old", { outcome: "virus" });
      if (obs.status === "downloaded" && r.reason.startsWith("status:")) {
        return to("done", { lastError: "recovered by itself" });
      }
      return to("adding");
    case "adding":
      if (obs.type === "added") return to("added", { deadlineAt: now + policy.waitDeadlineMs });
      if (obs.type === "not_added") return to("adding");
      break;
    case "added":
    case "waiting":
      if (obs.type === "polled") return onPoll(r, obs, policy, now, to);
      break;
    case "selecting":
      if (obs.type === "step_done") return to("waiting");
      break;
    case "deleting_old":
      if (obs.type !== "step_done") break;
      if (r.outcome === null) return to("done");
      return to("failed", { errorClass: r.outcome, permanent: { errorType: r.outcome, processed: true } });
    case "discarding":
      if (obs.type === "step_done") return afterDiscard(r, policy, now, to);
      break;
    case "unlinking":
      if (obs.type === "step_done") return to("rearr");
      break;
    case "rearr":
      if (obs.type === "step_done") {
        return to("failed", { errorClass: "infringing", permanent: { errorType: "infringing", processed: true } });
      }
      break;
    default:
      break;
  }
  throw new Error(`repair in state ${r.state} cannot take observation ${obs.type}`);
}

function onPoll(
  r: RepairView,
  obs: Extract<Observation, { type: "polled" }>,
  policy: RepairPolicy,
  now: number,
  to: (s: RepairState, extra?: Partial<Transition>) => Transition,
): Transition {
  // The new torrent vanished (removed by hand, or by RD): try again later from the start.
  if (obs.status === null) return failAttempt(r, "gone", "new torrent disappeared from RD", policy, now, to, false);
  if (obs.status === "downloaded") {
    if (obs.filesMatch) return to("deleting_old", { outcome: null });
    return to("discarding", { outcome: "files_mismatch", lastError: "new torrent has other files selected" });
  }
  if (obs.status === "waiting_files_selection") {
    if (obs.selectable) return to("selecting");
    return to("discarding", { outcome: "files_mismatch", lastError: "new torrent lacks files the old one had" });
  }
  if (obs.status === "virus") return to("discarding", { outcome: "virus", lastError: "RD flags the content as virus" });
  if (FAILED_STATUSES.has(obs.status)) {
    return to("discarding", { outcome: `status:${obs.status}`, lastError: `new torrent is ${obs.status}` });
  }
  if (r.deadlineAt !== null && now >= r.deadlineAt) {
    return to("discarding", { outcome: "uncached", lastError: `not downloaded before the deadline (${obs.status})` });
  }
  if (WAITING_STATUSES.has(obs.status)) {
    return to(r.state, { nextAttemptAt: now + policy.pollMs });
  }
  return to(r.state, { nextAttemptAt: now + policy.pollMs, lastError: `unexpected status ${obs.status}` });
}

/** After the new torrent is removed: retry, fail for good, or (virus) remove the old one too. */
function afterDiscard(
  r: RepairView,
  policy: RepairPolicy,
  now: number,
  to: (s: RepairState, extra?: Partial<Transition>) => Transition,
): Transition {
  const outcome = r.outcome ?? "discarded";
  if (outcome === "virus") return to("deleting_old", { clearNew: true });
  if (outcome === "uncached") {
    return to("failed", {
      clearNew: true,
      errorClass: "uncached",
      permanent: { errorType: "uncached", processed: true },
    });
  }
  return failAttempt({ ...r, outcome: null }, outcome, `replacement failed: ${outcome}`, policy, now, to, true);
}

/** One failed attempt: back to the queue after the backoff, or failed for good at the cap. */
function failAttempt(
  r: RepairView,
  errorClass: string,
  message: string,
  policy: RepairPolicy,
  now: number,
  to: (s: RepairState, extra?: Partial<Transition>) => Transition,
  clearNew: boolean,
): Transition {
  const attempt = r.attempt + 1;
  const common = { attempt, errorClass, lastError: message, outcome: null, clearNew };
  if (attempt >= policy.maxAttempts) {
    return to("failed", { ...common, permanent: { errorType: errorClass, processed: false } });
  }
  return to("queued", { ...common, nextAttemptAt: now + retryDelay(policy, attempt) });
}

/** Delay before attempt n+1: the configured delay, doubled per failed attempt. */
export function retryDelay(policy: RepairPolicy, attempt: number): number {
  return policy.retryDelayMs * 2 ** Math.max(0, attempt - 1);
}

function onError(
  r: RepairView,
  obs: Extract<Observation, { type: "error" }>,
  policy: RepairPolicy,
  now: number,
  base: Transition,
): Transition {
  const e = obs.error;
  const message = e.message;
  const stay = (extra: Partial<Transition>): Transition => ({
    ...base,
    errorClass: e.class,
    lastError: message,
    ...extra,
  });
  let cls: string = e.class;
  // RD escalates throttling with 35: within 30 s of a 429/34 it is not a verdict on the content.
  if (cls === "infringing" && isThrottlingPenalty(obs.lastThrottleAt, now)) cls = "rate_limited";

  if (cls === "infringing") {
    if (r.newTorrentId !== null && r.state !== "adding") {
      return stay({ state: "discarding", outcome: "infringing" });
    }
    return stay({ state: "unlinking", outcome: "infringing", errorClass: "infringing" });
  }
  if (cls === "auth" || cls === "account") {
    // Nothing works until the user acts: keep the step, try again later, stop this run.
    return stay({ nextAttemptAt: now + 15 * 60_000, transient: r.transient, stopRun: true });
  }
  if (cls === "not_found") {
    if (r.state === "deleting_old" || r.state === "discarding") return advanceDone(r, policy, now);
    if (r.state === "queued") return advance(r, { type: "inspected", status: null }, policy, now);
    if (r.state === "added" || r.state === "waiting" || r.state === "selecting") {
      return advance(r, { type: "polled", status: null, filesMatch: false, selectable: false }, policy, now);
    }
  }
  if (THROTTLE_CLASSES.has(cls)) {
    const attempt = r.attempt + 1;
    if (attempt < policy.maxAttempts) {
      return stay({ attempt, errorClass: cls, nextAttemptAt: now + retryDelay(policy, attempt), stopRun: true });
    }
    // Out of attempts: a replacement that is not proven good goes; the old torrent stays.
    if (r.newTorrentId !== null && r.state !== "deleting_old") {
      return stay({ state: "discarding", attempt, errorClass: cls, outcome: `retries_exhausted:${cls}` });
    }
    return stay({ state: "failed", attempt, errorClass: cls, permanent: { errorType: cls, processed: false } });
  }
  if (TRANSIENT_CLASSES.has(cls) || cls === "already_done" || cls === "filesystem") {
    const transient = r.transient + 1;
    if (transient < TRANSIENT_CAP) {
      const wait = Math.min(TRANSIENT_MAX_MS, TRANSIENT_BASE_MS * 2 ** (transient - 1));
      return stay({ transient, nextAttemptAt: now + wait });
    }
    return failFrom(r, cls, `${message} (${transient} times in a row)`, policy, now, base);
  }
  // bad_request, disabled_endpoint and anything else: retrying the same request cannot help.
  return failFrom(r, cls, message, policy, now, base, true);
}

/** A failure that ends the attempt: discard a replacement first when there is one. */
function failFrom(
  r: RepairView,
  cls: string,
  message: string,
  policy: RepairPolicy,
  now: number,
  base: Transition,
  permanent = false,
): Transition {
  const replacement = r.newTorrentId !== null && r.state !== "deleting_old" && r.state !== "discarding";
  if (replacement) return { ...base, state: "discarding", outcome: cls, errorClass: cls, lastError: message };
  if (permanent || r.state === "deleting_old" || r.state === "discarding") {
    return {
      ...base,
      state: "failed",
      errorClass: cls,
      lastError: message,
      permanent: { errorType: cls, processed: false },
    };
  }
  return failAttempt(r, cls, message, policy, now, (state, extra) => ({ ...base, state, ...extra }), false);
}

function advanceDone(r: RepairView, policy: RepairPolicy, now: number): Transition {
  return advance(r, { type: "step_done" }, policy, now);
}
