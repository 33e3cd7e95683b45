import { afterEach, describe, expect, it } from "vitest";
import type { JobContext } from "../../shared/job.ts";
import { makeJob } from "../helpers/factories.ts";
import { H, harnesses, NOW, seed } from "./harness.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

/** A job that records how it was called, and one that waits until released. */
function jobs() {
  const calls: { dryRun: boolean; trigger: string }[] = [];
  let release: () => void = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    calls,
    release: () => release(),
    list: [
      makeJob({
        name: "quick-job",
        run: async (ctx: JobContext) => {
          calls.push({ dryRun: ctx.dryRun, trigger: ctx.trigger });
          return { checked: 3 };
        },
      }),
      makeJob({ name: "slow-job", run: async () => released.then(() => ({ slept: 1 })) }),
      makeJob({
        name: "broken-job",
        run: async () => {
          throw new Error("the service said no");
        },
      }),
    ],
  };
}

async function setup() {
  const j = jobs();
  const h = await open({ jobs: j.list });
  await seed(h.db);
  const { cookie, csrf } = await h.login();
  const post = (path: string, fields: Record<string, string> = {}) => h.post(path, { _csrf: csrf, ...fields }, cookie);
  /** The flash the next page shows (and that it is shown only once). */
  const flash = async () => {
    const first = await h.get("/failures", cookie);
    const again = await h.get("/failures", cookie);
    expect(again.text).not.toContain('class="flash');
    return /<p class="flash (ok|error)"[^>]*>([\s\S]*?)<\/p>/.exec(first.text)?.slice(1, 3) ?? [];
  };
  const repair = async (id: number) =>
    (await h.db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id] })).rows[0];
  return { h, j, post, flash, repair };
}

describe("dashboard controls", () => {
  it("runs a job now as a dry run or for real, and says how it went", async () => {
    const { j, post, flash } = await setup();
    const dry = await post("/run/quick-job", { mode: "dry", back: "/runs" });
    expect(dry.status).toBe(303);
    expect(dry.headers.get("location")).toBe("/runs");
    expect(await flash()).toEqual([
      "ok",
      expect.stringMatching(/^quick-job succeeded \(dry run\) in .*: checked=3\.$/),
    ]);
    await post("/run/quick-job", { mode: "real" });
    expect(j.calls).toEqual([
      { dryRun: true, trigger: "http" },
      { dryRun: false, trigger: "http" },
    ]);
    await post("/run/broken-job", { mode: "dry" });
    expect(await flash()).toEqual(["error", "broken-job failed (dry run): the service said no"]);
  });

  it("answers a long run at once and lets it finish in the background", async () => {
    const { h, j, post, flash } = await setup();
    const started = Date.now();
    const res = await post("/run/slow-job", { mode: "dry" });
    expect(res.status).toBe(303);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await flash())[1]).toBe("slow-job started (dry run); its result appears when it lands.");
    await post("/run/slow-job", { mode: "dry" });
    expect((await flash())[1]).toBe("slow-job did not start (running-here).");
    j.release();
    await expect
      .poll(async () => (await h.db.execute("SELECT status FROM job_runs WHERE job = 'slow-job'")).rows[0]?.status)
      .toBe("succeeded");
  });

  it("refuses an unknown job (404) and a bad mode (400)", async () => {
    const { post } = await setup();
    expect((await post("/run/nope", { mode: "dry" })).status).toBe(404);
    const bad = await post("/run/quick-job", { mode: "maybe" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("mode: dry or real");
  });

  it("retries a failed repair (resetting its hash) and refuses a done one", async () => {
    const { h, post, flash, repair } = await setup();
    const res = await post("/repairs/2/retry", { back: "/repairs?state=failed" });
    expect(res.headers.get("location")).toBe("/repairs?state=failed");
    expect(await flash()).toEqual(["ok", "Repair 2 is queued and due now."]);
    expect(await repair(2)).toMatchObject({ state: "queued", attempt: 0, finished_at: null });
    const pf = await h.db.execute({ sql: "SELECT reset_at FROM permanent_failures WHERE hash = ?", args: [H.failed] });
    expect(pf.rows[0]?.reset_at).not.toBeNull();
    await post("/repairs/3/retry");
    expect(await flash()).toEqual(["error", "repair 3 is done; nothing to retry"]);
    await post("/repairs/99/retry");
    expect(await flash()).toEqual(["error", "no repair 99"]);
    expect((await post("/repairs/x/retry")).status).toBe(400);
  });

  it("cancels a queued repair but not one with a replacement torrent in flight", async () => {
    const { post, flash, repair } = await setup();
    const res = await post("/repairs/1/cancel", { back: "https://evil.example/" });
    expect(res.headers.get("location")).toBe("/repairs");
    expect(await flash()).toEqual(["ok", "Repair 1 cancelled."]);
    const cancelled = await repair(1);
    expect(cancelled).toMatchObject({ state: "cancelled" });
    expect(Number(cancelled?.finished_at)).toBeGreaterThan(0);
    await post("/repairs/4/cancel");
    expect((await flash())[1]).toMatch(/^repair 4 is waiting and may have a replacement torrent in flight/);
    expect(await repair(4)).toMatchObject({ state: "waiting", finished_at: null });
  });

  it("resets a permanent failure once", async () => {
    const { h, post, flash } = await setup();
    await post(`/failures/${H.failed}/reset`);
    expect((await flash())[0]).toBe("ok");
    const pf = await h.db.execute({ sql: "SELECT reset_at FROM permanent_failures WHERE hash = ?", args: [H.failed] });
    expect(Number(pf.rows[0]?.reset_at)).toBeGreaterThan(NOW);
    await post(`/failures/${H.failed}/reset`);
    expect((await flash())[0]).toBe("error");
    expect((await post("/failures/not-a-hash/reset")).status).toBe(400);
  });

  it("forces a full rescan", async () => {
    const { h, post, flash } = await setup();
    const res = await post("/rescan");
    expect(res.headers.get("location")).toBe("/");
    expect((await flash())[1]).toBe("A new full scan starts at the next rd-full-scan-page run.");
    const scan = await h.db.execute("SELECT status FROM scan_progress WHERE scan = 'full'");
    expect(scan.rows[0]?.status).toBe("pending");
  });
});
