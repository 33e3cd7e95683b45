import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../shared/app.ts";
import { databaseProbe } from "../../shared/health.ts";
import { makeConfig, makeLog } from "../helpers/factories.ts";
import { type RepairHarness, repairHarness } from "./harness.ts";

const TOKEN = "api-token-0123456789abcdef";
let h: RepairHarness;
let app: ReturnType<typeof createApp>;
beforeEach(async () => {
  h = await repairHarness();
  const config = makeConfig({ API_TOKEN: TOKEN });
  app = createApp({
    config,
    db: h.db,
    runner: h.runner,
    log: makeLog(),
    probes: { database: databaseProbe(h.db, ":memory:") },
  });
});
afterEach(() => h.close());

const auth = { authorization: `Bearer ${TOKEN}` };
const get = async (url: string) => {
  const res = await app.request(url);
  return { status: res.status, body: await res.json() };
};
const post = async (url: string, headers: Record<string, string> = auth) => {
  const res = await app.request(url, { method: "POST", headers });
  return { status: res.status, body: await res.json() };
};

/** One uncached repair run to its end: failed, permanent, with a journal. */
async function failedRepair() {
  const t = h.torrent({ id: "OLD1", filename: "Show.S01", status: "dead" });
  await h.run("rd-quick-scan");
  await h.run("retry-drain");
  h.clock.advance(61 * 60_000);
  await h.run("retry-drain");
  return t;
}

describe("repairs, actions and permanent failures over HTTP", () => {
  it("lists repairs by state and shows one with its journal and RD calls", async () => {
    const t = await failedRepair();
    const list = await get("/api/repairs?state=failed");
    expect(list.body).toMatchObject({ total: 1, items: [{ hash: t.hash, state: "failed", errorClass: "uncached" }] });
    expect((await get(`/api/repairs?hash=${t.hash.toUpperCase()}`)).body.total).toBe(1);
    const one = await get(`/api/repairs/${list.body.items[0].id}`);
    expect(one.body.actions.map((a: { kind: string; state: string }) => `${a.kind} ${a.state}`)).toEqual([
      "add_magnet done",
      "select_files done",
      "delete_new_torrent done",
    ]);
    expect(one.body.attempts.length).toBeGreaterThanOrEqual(5);
    expect(one.body.attempts[0]).toMatchObject({ endpoint: "/torrents/info", status: 200 });
    const actions = await get("/api/actions?kind=add_magnet&state=done");
    expect(actions.body).toMatchObject({
      total: 1,
      items: [{ kind: "add_magnet", job: "retry-drain", target: t.hash }],
    });
    expect(actions.body.items[0].detail.magnet).toMatch(/^magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=Show\.S01$/);
    const pf = await get("/api/permanent-failures");
    expect(pf.body.items).toEqual([expect.objectContaining({ hash: t.hash, errorType: "uncached", processed: true })]);
  });

  it("POST /api/repairs/:id/retry needs the token, reopens a failed repair and resets its hash", async () => {
    const t = await failedRepair();
    const id = (await get("/api/repairs?state=failed")).body.items[0].id;
    expect((await post(`/api/repairs/${id}/retry`, {})).status).toBe(401);
    expect((await post(`/api/repairs/${id}/retry`, { authorization: "Bearer wrong-token-0123456789" })).status).toBe(
      401,
    );
    const res = await post(`/api/repairs/${id}/retry`);
    expect(res).toMatchObject({ status: 200, body: { id, state: "queued", attempt: 0, errorClass: null } });
    expect((await get("/api/permanent-failures")).body.total).toBe(0);
    // It runs again: this time RD has it cached.
    h.fake.cached.add(t.hash);
    h.clock.advance(1_000);
    await h.run("retry-drain");
    expect((await get(`/api/repairs/${id}`)).body.state).toBe("done");
    expect((await post(`/api/repairs/${id}/retry`)).status).toBe(409);
  });

  it("answers bad input with 400 naming the field, unknown ids with 404", async () => {
    expect((await get("/api/repairs?state=bogus")).status).toBe(400);
    expect(Object.keys((await get("/api/repairs?hash=xyz")).body.issues)).toContain("hash");
    expect((await get("/api/repairs/abc")).status).toBe(400);
    expect((await get("/api/repairs/999")).status).toBe(404);
    expect((await post("/api/repairs/999/retry")).status).toBe(404);
    expect(Object.keys((await get("/api/actions?state=nope")).body.issues)).toContain("state");
    expect((await post(`/api/permanent-failures/${"a".repeat(40)}/reset`)).status).toBe(404);
    expect((await post("/api/permanent-failures/zz/reset")).status).toBe(400);
  });
});
