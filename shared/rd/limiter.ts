import type { Db } from "../db.ts";
import { recordSharedThrottle, reserveShared } from "./budget.ts";
import { AdaptiveLimiter } from "./rate-limit.ts";

/** The one limiter every RD call of a process goes through. */
export interface RdLimiter {
  /** Resolves when a call may go out; counts it. */
  acquire(signal?: AbortSignal): Promise<void>;
  onThrottle(retryAfterMs?: number): Promise<void>;
  onSuccess(): void;
  /** Last throttle seen by this process (ms) or null. */
  lastThrottleAt(): number | null;
  /** Total time callers spent waiting, for metrics. */
  waitedMs(): number;
}

export interface LimiterOptions {
  limitPerMinute: number;
  /** Shared budget across processes; without it the limit holds per process only. */
  db?: Db;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Sleeps, ending early (rejecting) when the signal aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Creates the process limiter: local adaptive window plus, with a database, the shared budget. */
export function createRdLimiter(opts: LimiterOptions): RdLimiter {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  const local = new AdaptiveLimiter({ limitPerMinute: opts.limitPerMinute });
  let queue: Promise<void> = Promise.resolve();
  let waited = 0;

  async function take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const localWait = local.waitTime(now());
      if (localWait > 0) {
        waited += localWait;
        await sleep(localWait, signal);
        continue;
      }
      if (opts.db) {
        const sharedWait = await reserveShared(opts.db, now(), local.effectiveLimit);
        if (sharedWait > 0) {
          waited += sharedWait;
          await sleep(sharedWait, signal);
          continue;
        }
      }
      local.record(now());
      return;
    }
  }

  return {
    acquire(signal) {
      // FIFO: one caller at a time decides, so concurrent callers cannot overshoot the window.
      const turn = queue.then(() => take(signal));
      queue = turn.catch(() => {});
      return turn;
    },
    async onThrottle(retryAfterMs) {
      const t = now();
      local.onThrottle(t, retryAfterMs);
      if (opts.db) await recordSharedThrottle(opts.db, t, local.pauseUntil);
    },
    onSuccess: () => local.onSuccess(),
    lastThrottleAt: () => local.lastThrottleAt,
    waitedMs: () => waited,
  };
}
