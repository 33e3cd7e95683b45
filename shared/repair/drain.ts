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
  let ids = picked.map((r) => r.id);
  let lockoutSent = false;
  while (ids.length > 0) {
    const next: number[] = [];
    for (const id of ids) {
      if (deps.signal.aborted || deps.now() >= opts.deadlineAt) return s;
      const r = await getRepair(deps.db, id);
      if (!r || (!opts.ids && r.nextAttemptAt > deps.now())) continue;
      const res = await stepRepair(deps, r);
      s.steps++;
      opts.onStep?.(res);
      const t = res.transition;
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
      } else if (t.nextAttemptAt <= deps.now()) {
        next.push(id);
      } else {
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
    }
    // `rdtm repair <id>` drives its repair as far as it can go now; a run's pass ends when none is due.
    ids = next;
  }
  return s;
}

function event(kind: NotifyEvent["kind"], title: string, detail: string, deps: StepDeps): NotifyEvent {
  return { kind, title, detail, at: deps.now() };
}
