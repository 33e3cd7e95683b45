import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeDb } from "../test/helpers/factories.ts";
import type { Db } from "./db.ts";
import { acquireLease, heldLeases, releaseLeaseStatement, renewLease } from "./lease.ts";

let db: Db;
beforeEach(async () => {
  db = await makeDb();
});
afterEach(() => db.close());

const req = (holder: string, now: number, extra: { tick?: number; runId?: string } = {}) => ({
  job: "j",
  holder,
  runId: extra.runId ?? `${holder}-run`,
  now,
  ttlMs: 1_000,
  tick: extra.tick,
});

describe("leases", () => {
  it("gives the lease to one holder until it expires", async () => {
    expect(await acquireLease(db, req("a", 0))).toBeNull();
    expect(await acquireLease(db, req("b", 500))).toBe("held");
    expect((await heldLeases(db, 500)).get("j")?.holder).toBe("a");
    expect(await acquireLease(db, req("b", 1_000))).toBeNull();
    expect(await renewLease(db, req("a", 1_001))).toBe(false);
  });

  it("is free again once released", async () => {
    await acquireLease(db, req("a", 0));
    await db.execute(releaseLeaseStatement("j", "a", "a-run"));
    expect(await acquireLease(db, req("b", 1))).toBeNull();
  });

  it("release by a holder that lost the lease does not free it", async () => {
    await acquireLease(db, req("a", 0));
    await acquireLease(db, req("b", 2_000));
    await db.execute(releaseLeaseStatement("j", "a", "a-run"));
    expect(await acquireLease(db, req("c", 2_100))).toBe("held");
  });

  it("renewal keeps it alive past the first ttl", async () => {
    await acquireLease(db, req("a", 0));
    expect(await renewLease(db, req("a", 900))).toBe(true);
    expect(await acquireLease(db, req("b", 1_500))).toBe("held");
  });

  it("lets each schedule tick be taken once, even after release", async () => {
    expect(await acquireLease(db, req("a", 0, { tick: 60_000 }))).toBeNull();
    await db.execute(releaseLeaseStatement("j", "a", "a-run"));
    expect(await acquireLease(db, req("b", 10, { tick: 60_000 }))).toBe("tick-taken");
    expect(await acquireLease(db, req("b", 20, { tick: 120_000 }))).toBeNull();
    // a manual trigger is not tied to ticks and does not consume one
    await db.execute(releaseLeaseStatement("j", "b", "b-run"));
    expect(await acquireLease(db, req("c", 30))).toBeNull();
    await db.execute(releaseLeaseStatement("j", "c", "c-run"));
    expect(await acquireLease(db, req("d", 40, { tick: 120_000 }))).toBe("tick-taken");
  });
});
