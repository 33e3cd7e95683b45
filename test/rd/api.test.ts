import { afterEach, beforeEach, describe, expect, it } from "vitest";
import rdFullScanPage from "../../functions/rd-full-scan-page.ts";
import rdQuickScan from "../../functions/rd-quick-scan.ts";
import { createApp } from "../../shared/app.ts";
import type { Db } from "../../shared/db.ts";
import { databaseProbe, jobsProbe } from "../../shared/health.ts";
import { checkRealDebrid, realDebridProbe } from "../../shared/rd/health.ts";
import { readProgress } from "../../shared/rd/scan-progress.ts";
import { createFakeRealDebrid, type FakeRealDebrid, makeTorrent, RD_STATUSES } from "../fakes/real-debrid.ts";
import { makeConfig, makeDb, makeLog, makeRunner } from "../helpers/factories.ts";
import { clientsFor } from "../helpers/rd.ts";

const TOKEN = "api-token-0123456789abcdef";
let db: Db;
let fake: FakeRealDebrid;
beforeEach(async () => {
  db = await makeDb();
  fake = createFakeRealDebrid({ rateLimitPerMinute: 0 });
});
afterEach(() => db.close());

function appWith(rdToken = "fake-rd-token") {
  const config = makeConfig({ API_TOKEN: TOKEN, RD_API_TOKEN: "fake-rd-token" });
  const clients = clientsFor(fake, rdToken);
  const runner = makeRunner({ db, config, clients, jobs: [rdQuickScan, rdFullScanPage] });
  const probes = {
    database: databaseProbe(db, ":memory:"),
    jobs: jobsProbe(db),
    realDebrid: realDebridProbe(clients.rd),
  };
  return { app: createApp({ config, db, runner, log: makeLog(), probes }), runner };
}

describe("RD in /health and rdtm check", () => {
  it("shows the account: username, premium days left", async () => {
    const { app } = appWith();
    const body = await (await app.request("/health")).json();
    expect(body.status).toBe("healthy");
    expect(body.services.realDebrid).toMatchObject({ status: "up", premium: true, username: fake.user.username });
    expect(body.services.realDebrid.premiumDaysLeft).toBeGreaterThan(3);
  });

  it("is degraded, not unhealthy, with a rejected token, and says so", async () => {
    const { app } = appWith("wrong-token-123");
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("degraded");
    expect(body.services.realDebrid).toMatchObject({ status: "down", tokenValid: false });
    // The seed's at-a-glance map: each service up or not.
    expect(body.up).toEqual({ database: true, jobs: true, realDebrid: false });
    expect(body.services.realDebrid.error).toMatch(/token rejected/);
  });

  it("serves later checks from its cache (no RD request per health check)", async () => {
    const { app } = appWith();
    for (let i = 0; i < 5; i++) await app.request("/health");
    expect(fake.requests.filter((r) => r.path === "/user")).toHaveLength(1);
  });

  it("flags an account that is not premium", async () => {
    fake.user.type = "free";
    fake.user.premium = 0;
    const health = await checkRealDebrid(clientsFor(fake).rd ?? (null as never));
    expect(health).toMatchObject({ status: "degraded", premium: false });
  });
});

describe("/api/scan, /api/torrents, /api/repairs", () => {
  it("shows scan progress, counts by status and pending repairs", async () => {
    fake.add(...RD_STATUSES.map((status) => makeTorrent({ status })));
    const { app, runner } = appWith();
    await runner.run("rd-quick-scan", { trigger: "test" });
    await runner.run("rd-full-scan-page", { trigger: "test" });
    const body = await (await app.request("/api/scan")).json();
    expect(body.quick).toMatchObject({ status: "completed", seen: 11 });
    expect(body.full).toMatchObject({ status: "running", generation: 1, seen: 11, total: 11, phase: "head" });
    expect(body.torrents).toMatchObject({ dead: 1, downloaded: 1, virus: 1 });
    expect(body.repairs).toEqual({ queued: 4 });
  });

  it("lists torrents filtered by status and text, paged", async () => {
    fake.add(
      ...Array.from({ length: 30 }, (_, i) =>
        makeTorrent({
          status: i % 3 === 0 ? "dead" : "downloaded",
          filename: `Show.S01E${String(i).padStart(2, "0")}.mkv`,
        }),
      ),
    );
    const { app, runner } = appWith();
    await runner.run("rd-quick-scan", { trigger: "test" });
    let body = await (await app.request("/api/torrents?status=dead&limit=4")).json();
    expect(body).toMatchObject({ total: 10, limit: 4, offset: 0 });
    expect(body.items).toHaveLength(4);
    expect(body.items.every((t: { status: string }) => t.status === "dead")).toBe(true);
    body = await (await app.request("/api/torrents?q=S01E07")).json();
    expect(body.items.map((t: { filename: string }) => t.filename)).toEqual(["Show.S01E07.mkv"]);
    body = await (await app.request("/api/torrents?q=%25")).json();
    expect(body.total).toBe(0);
    body = await (await app.request("/api/repairs?state=queued&limit=2")).json();
    expect(body).toMatchObject({ total: 10, limit: 2 });
    expect(body.items[0]).toMatchObject({ state: "queued", reason: "status:dead", priority: 2 });
  });

  it.each([
    ["/api/torrents?limit=0", "limit"],
    ["/api/torrents?limit=501", "limit"],
    ["/api/torrents?offset=-1", "offset"],
    ["/api/torrents?offset=99999999999999999999", "offset"],
    ["/api/torrents?status=DEAD;drop", "status"],
    ["/api/torrents?gone=maybe", "gone"],
    ["/api/repairs?limit=x", "limit"],
  ])("answers 400 naming the parameter for %s", async (url, key) => {
    const res = await appWith().app.request(url);
    expect(res.status).toBe(400);
    expect(Object.keys((await res.json()).issues)).toContain(key);
  });

  it("POST /api/scan/full/reset needs the token, then asks for a new generation", async () => {
    const { app } = appWith();
    expect((await app.request("/api/scan/full/reset", { method: "POST" })).status).toBe(401);
    const res = await app.request("/api/scan/full/reset", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(202);
    expect((await readProgress(db, "full")).status).toBe("pending");
  });
});
