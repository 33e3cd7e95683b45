import { afterEach, describe, expect, it } from "vitest";
import { makeDb } from "../../test/helpers/factories.ts";
import type { Db } from "../db.ts";
import { lastSharedThrottle } from "./budget.ts";
import { createRdLimiter } from "./limiter.ts";
import { AdaptiveLimiter, maxInAnyWindow, parseRetryAfter } from "./rate-limit.ts";

/** A virtual clock: sleeping advances it instantly. */
function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

const dbs: Db[] = [];
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
});

describe("AdaptiveLimiter", () => {
  it("lets the limit through at once, then waits for the oldest call to leave the window", () => {
    const l = new AdaptiveLimiter({ limitPerMinute: 250 });
    for (let i = 0; i < 250; i++) {
      expect(l.waitTime(1_000 + i)).toBe(0);
      l.record(1_000 + i);
    }
    expect(l.waitTime(2_000)).toBe(1_000 + 60_000 - 2_000);
    expect(l.waitTime(61_000)).toBe(0);
  });

  it("backs off harder on each throttle in a row, honouring a longer Retry-After", () => {
    const l = new AdaptiveLimiter({ limitPerMinute: 200, baseBackoffMs: 2_000 });
    l.onThrottle(0);
    expect(l.waitTime(0)).toBe(2_000);
    expect(l.effectiveLimit).toBe(100);
    l.onThrottle(0);
    expect(l.waitTime(0)).toBe(4_000);
    l.onThrottle(0, 30_000);
    expect(l.waitTime(0)).toBe(30_000);
    expect(l.effectiveLimit).toBe(40); // floor at minFactor 0.2
    expect(l.lastThrottleAt).toBe(0);
  });

  it("recovers gradually on success", () => {
    const l = new AdaptiveLimiter({ limitPerMinute: 200 });
    l.onThrottle(0);
    for (let i = 0; i < 4; i++) l.onSuccess();
    expect(l.effectiveLimit).toBe(140);
    for (let i = 0; i < 20; i++) l.onSuccess();
    expect(l.effectiveLimit).toBe(200);
    expect(l.strikes).toBe(0);
  });

  it("parses Retry-After in seconds or as a date", () => {
    expect(parseRetryAfter("7", 0)).toBe(7_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it("maxInAnyWindow counts the busiest window", () => {
    expect(maxInAnyWindow([0, 10, 59_999, 60_000, 60_001], 60_000)).toBe(4); // 10..60001 spans 59,991 ms
    expect(maxInAnyWindow([0, 60_000], 60_000)).toBe(1);
  });
});

describe("createRdLimiter", () => {
  it("never lets more than the limit out in any 60 s window, alone or under throttling", async () => {
    const c = clock();
    const limiter = createRdLimiter({ limitPerMinute: 120, now: c.now, sleep: c.sleep });
    const sent: number[] = [];
    for (let i = 0; i < 600; i++) {
      await limiter.acquire();
      sent.push(c.now());
      if (i % 50 === 49) await limiter.onThrottle();
      else limiter.onSuccess();
    }
    expect(maxInAnyWindow(sent, 60_000)).toBeLessThanOrEqual(120);
    expect(limiter.waitedMs()).toBeGreaterThan(0);
  });

  it("shares one budget between processes on the same database", async () => {
    const db = await makeDb();
    dbs.push(db);
    const c = clock(1_000_000);
    const a = createRdLimiter({ limitPerMinute: 100, db, now: c.now, sleep: c.sleep });
    const b = createRdLimiter({ limitPerMinute: 100, db, now: c.now, sleep: c.sleep });
    const sent: number[] = [];
    for (let i = 0; i < 300; i++) {
      await (i % 2 === 0 ? a : b).acquire();
      sent.push(c.now());
    }
    // each would allow 100 alone; together they still stay under 100 per window
    expect(maxInAnyWindow(sent, 60_000)).toBeLessThanOrEqual(100);
    expect(c.now() - 1_000_000).toBeGreaterThanOrEqual(2 * 60_000);
  });

  it("a throttle seen by one process pauses the others", async () => {
    const db = await makeDb();
    dbs.push(db);
    const c = clock(5_000_000);
    const a = createRdLimiter({ limitPerMinute: 100, db, now: c.now, sleep: c.sleep });
    const b = createRdLimiter({ limitPerMinute: 100, db, now: c.now, sleep: c.sleep });
    await a.acquire();
    await a.onThrottle(20_000);
    const before = c.now();
    await b.acquire();
    expect(c.now() - before).toBeGreaterThanOrEqual(20_000);
    expect(await lastSharedThrottle(db)).toBe(before);
  });

  it("stops waiting when the run is aborted", async () => {
    const limiter = createRdLimiter({ limitPerMinute: 1 });
    await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error("shutdown"));
    await expect(waiting).rejects.toThrow("shutdown");
  });
});
