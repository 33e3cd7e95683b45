import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { drainBatch } from "../../shared/repair/drain.ts";
import { type RepairHarness, repairHarness } from "./harness.ts";

describe("drainBatch", () => {
  it("takes the configured batch, a quarter of it for 10 minutes after a throttle", () => {
    const now = 1_000_000_000;
    expect(drainBatch(25, null, now)).toBe(25);
    expect(drainBatch(25, now - 60_000, now)).toBe(7);
    expect(drainBatch(25, now - 10 * 60_000, now)).toBe(25);
    expect(drainBatch(1, now, now)).toBe(1);
  });
});

describe("retry-drain order and batch", () => {
  let h: RepairHarness;
  beforeEach(async () => {
    h = await repairHarness({ REPAIR_BATCH_SIZE: "1" });
  });
  afterEach(() => h.close());

  it("takes repairs by priority (dead, then error, then virus), one repair per run with a batch of 1", async () => {
    const order = ["error", "virus", "dead"] as const;
    for (const status of order) {
      const t = h.torrent({ id: `T_${status}`, filename: `Show.${status}`, status });
      h.fake.cached.add(t.hash);
    }
    await h.run("rd-quick-scan");
    const finished: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await h.run("retry-drain");
      expect(s.batch).toBe(1);
      const rows = await h.rows(
        "SELECT torrent_id FROM repairs WHERE state IN ('done', 'failed') ORDER BY finished_at, id",
      );
      finished.splice(0, finished.length, ...rows.map((r) => String(r.torrent_id)));
    }
    expect(finished).toEqual(["T_dead", "T_error", "T_virus"]);
  });

  it("after RD throttled, a run takes a quarter of its batch", async () => {
    h.close();
    h = await repairHarness({ REPAIR_BATCH_SIZE: "8" });
    for (let i = 0; i < 8; i++) {
      const t = h.torrent({ id: `T${i}`, filename: `Show.${i}`, status: "dead" });
      h.fake.cached.add(t.hash);
    }
    await h.run("rd-quick-scan");
    await h.db.execute({ sql: "UPDATE rd_limiter SET last_throttle_at = ?", args: [h.clock.t - 60_000] });
    expect(await h.run("retry-drain")).toMatchObject({ batch: 2, done: 2 });
    h.clock.advance(10 * 60_000);
    expect(await h.run("retry-drain")).toMatchObject({ batch: 8, done: 6 });
  });
});
