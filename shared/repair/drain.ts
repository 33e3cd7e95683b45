// One drain run: pick the due repairs by priority, advance each one step per pass, and keep passing over
// them while some are due again at once and the run's time allows (a cached repair finishes in one run).

import type { NotifyEvent } from "../clients/notify.ts";
import { planRepair } from "./plan.ts";
import { type StepDeps, type StepResult, stepRepair } from "./steps.ts";
import { dueRepairs, getRepair } from "./store.ts";

/** How a drain run went. */
export interface DrainSummary {
  batch: number;
  steps: number;
  done: number;
  failed: number;
  cancelled: number;
  deferred: number;
  planned: number;
  /** Repairs left for a later run because RD's active slots are taken. */
  waitingForSlot: number;
  stoppedBy: string | null;
}

/** Options of one drain run. */
export interface DrainOptions {
  batch: number;
  deadlineAt: number;
  dryRun: boolean;
  /** Only these repairs (rdtm repair), due or not. */
  ids?: readonly number[];
  onStep?: (s: StepResult) => void;
  onEvent?: (e: NotifyEvent) => void;
}

// After a throttle anywhere on the account, a run takes a quarter of its batch for this long.
const CALM_AFTER_THROTTLE_MS = 10 * 60_000;

/** Repairs per run: the configured batch, cut to a quarter while RD has throttled us recently. */
export function drainBatch(configured: number, lastThrottleAt: number | null, now: number): number {
  if (lastThrottleAt !== null && now - lastThrottleAt < CALM_AFTER_THROTTLE_MS)
    return Math.max(1, Math.ceil(configured / 4));
  return configured;
}

/** Advances due repairs within the run's batch and deadline. */
export async function drainRepairs(deps: StepDeps, opts: DrainOptions): Promise<DrainSummary> {
  const s: DrainSummary = {
    batch: opts.batch,
    steps: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
    deferred: 0,
    planned: 0,
    waitingForSlot: 0,
    stoppedBy: null,
  };
  const now = deps.now();
  const farFuture = opts.ids ? Number.MAX_SAFE_INTEGER : now;
  const picked = opts.dryRun
    ? await dueRepairs(deps.db, farFuture, opts.batch, { dryRun: !opts.ids, ...(opts.ids ? { ids: opts.ids } : {}) })
    : await dueRepairs(deps.db, farFuture, opts.batch, opts.ids ? { ids: opts.ids } : {});
  if (opts.dryRun) {
    for (const r of picked) {
      if (deps.signal.aborted || deps.now() >= opts.deadlineAt) break;
      s.planned += await planRepair(deps, r, deps.runId, deps.job);
    }
    return s;
  }
  // RD refuses new torrents (509) past the account's active slots: read them once, keep count in the run.
  let slots = Number.POSITIVE_INFINITY;
  if (picked.some((r) => r.state === "queued" || r.state === "adding")) {
    try {
      const c = await deps.rd.activeCount(deps.signal);
      slots = Math.max(0, c.limit - c.active);
    } catch (err) {
      if (deps.signal.aborted) throw err;
      // Unknown: RD's own 509 will say so, and that is handled as slots_full.
    }
  }
  let lockoutSent = false;
  // Depth first: each repair goes as far as it can now before the next starts, so a run never holds
  // more new torrents half-way (added, not yet selected) than the one in hand.
  for (const { id } of picked) {
    for (;;) {
      if (deps.signal.aborted || deps.now() >= opts.deadlineAt) return s;
      const r = await getRepair(deps.db, id);
      if (!r || (!opts.ids && r.nextAttemptAt > deps.now())) break;
      if (r.state === "adding" && r.stepStartedAt === null && slots <= 0) {
        s.waitingForSlot++;
        break;
      }
      const res = await stepRepair(deps, r);
      s.steps++;
      opts.onStep?.(res);
      const t = res.transition;
      if (res.from === "adding" && res.to === "added") slots--;
      if (["added", "selecting", "waiting"].includes(res.from) && ["deleting_old", "discarding"].includes(res.to))
        slots++;
      if (t.state === "done") {
        s.done++;
        opts.onEvent?.(
          event("repair_done", r.filename ?? r.hash, `Replaced by a downloaded copy (${r.reason}).`, deps),
        );
      } else if (t.state === "failed") {
        s.failed++;
        opts.onEvent?.(
          event("repair_failed", r.filename ?? r.hash, `${t.errorClass ?? "failed"}: ${t.lastError ?? ""}`, deps),
        );
      } else if (t.state === "cancelled") {
        s.cancelled++;
      } else if (t.nextAttemptAt > deps.now()) {
        s.deferred++;
      }
      if (t.stopRun) {
        s.stoppedBy = t.errorClass ?? "stop";
        if (!lockoutSent && t.errorClass !== "auth" && t.errorClass !== "account") {
          lockoutSent = true;
          opts.onEvent?.(event("rate_limit_lockout", "Real-Debrid throttles repairs", t.lastError ?? "", deps));
        }
        return s;
      }
      if (t.state === "done" || t.state === "failed" || t.state === "cancelled" || t.nextAttemptAt > deps.now()) break;
    }
  }
  return s;
}

function event(kind: NotifyEvent["kind"], title: string, detail: string, deps: StepDeps): NotifyEvent {
  return { kind, title, detail, at: deps.now() };
}
