/** Tuning of the adaptive limiter; defaults follow what RD clients found to work (see reference §1.9). */
export interface AdaptiveLimiterOptions {
  limitPerMinute: number;
  windowMs?: number;
  /** Lowest share of the limit used while RD keeps throttling. */
  minFactor?: number;
  /** Share of the limit won back per successful call. */
  recoverStep?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Sliding-window limit with adaptive backoff, no I/O: never more than the (effective) limit of calls
 * in any window; a throttle answer (429, 34, 5) halves the effective limit and pauses for an
 * exponentially growing time (or Retry-After, whichever is longer); each success wins a little back.
 */
export class AdaptiveLimiter {
  readonly limit: number;
  readonly windowMs: number;
  factor = 1;
  pauseUntil = 0;
  strikes = 0;
  lastThrottleAt: number | null = null;
  readonly #hits: number[] = [];
  readonly #opts: Required<Omit<AdaptiveLimiterOptions, "limitPerMinute" | "windowMs">>;

  constructor(opts: AdaptiveLimiterOptions) {
    this.limit = opts.limitPerMinute;
    this.windowMs = opts.windowMs ?? 60_000;
    this.#opts = {
      minFactor: opts.minFactor ?? 0.2,
      recoverStep: opts.recoverStep ?? 0.05,
      baseBackoffMs: opts.baseBackoffMs ?? 2_000,
      maxBackoffMs: opts.maxBackoffMs ?? 120_000,
    };
  }

  /** Calls allowed per window right now. */
  get effectiveLimit(): number {
    return Math.max(1, Math.floor(this.limit * this.factor));
  }

  /** Milliseconds to wait before the next call may go out (0: now). */
  waitTime(now: number): number {
    this.#forget(now);
    const pause = Math.max(0, this.pauseUntil - now);
    const excess = this.#hits.length - this.effectiveLimit;
    const window = excess >= 0 ? (this.#hits[excess] ?? now) + this.windowMs - now : 0;
    return Math.max(pause, window, 0);
  }

  /** Counts a call that went out (refused calls count too: RD counts them). */
  record(now: number): void {
    this.#hits.push(now);
  }

  /** RD said slow down: back off harder each time in a row. */
  onThrottle(now: number, retryAfterMs?: number): void {
    this.strikes++;
    this.lastThrottleAt = now;
    this.factor = Math.max(this.#opts.minFactor, this.factor / 2);
    const backoff = Math.min(this.#opts.maxBackoffMs, this.#opts.baseBackoffMs * 2 ** (this.strikes - 1));
    this.pauseUntil = Math.max(this.pauseUntil, now + Math.max(backoff, retryAfterMs ?? 0));
  }

  /** A call succeeded: the streak ends and the rate recovers gradually. */
  onSuccess(): void {
    this.strikes = 0;
    this.factor = Math.min(1, this.factor + this.#opts.recoverStep);
  }

  /** Calls counted in the window ending at `now`. */
  inWindow(now: number): number {
    this.#forget(now);
    return this.#hits.length;
  }

  #forget(now: number): void {
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < this.#hits.length && (this.#hits[drop] ?? 0) <= cutoff) drop++;
    if (drop > 0) this.#hits.splice(0, drop);
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds, if present and sane. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(3_600_000, Math.round(Number(trimmed) * 1000));
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.min(3_600_000, Math.max(0, at - now));
}

/** Largest number of timestamps inside any window of `windowMs` (for tests and benchmarks). */
export function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
