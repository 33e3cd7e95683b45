import { describe, expect, it, onTestFinished } from "vitest";
import { createRealDebridClient, magnetFor, RdError } from "../../shared/clients/real-debrid.ts";
import { createRdLimiter } from "../../shared/rd/limiter.ts";
import { maxInAnyWindow } from "../../shared/rd/rate-limit.ts";
import { createFakeRealDebrid, makeAccount, makeTorrent, RD_STATUSES } from "../fakes/real-debrid.ts";

const TOKEN = "fake-rd-token";

function setup(
  opts: {
    limiter?: ReturnType<typeof createRdLimiter> | null;
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
  } = {},
) {
  const fake = createFakeRealDebrid({ token: TOKEN, ...(opts.now ? { now: opts.now } : {}) });
  const rd = createRealDebridClient({
    baseUrl: fake.baseUrl,
    token: TOKEN,
    limiter: opts.limiter ?? null,
    fetch: fake.fetch as typeof fetch,
    sleep: opts.sleep ?? (async () => {}),
  });
  return { fake, rd };
}

async function failure(p: Promise<unknown>): Promise<RdError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RdError) return err;
    throw err;
  }
  throw new Error("expected an RdError");
}

describe("Real-Debrid client against the fake", () => {
  it("lists newest first with the total, and reads every status", async () => {
    const { fake, rd } = setup();
    fake.add(...RD_STATUSES.map((status) => makeTorrent({ status })));
    const page = await rd.listTorrents({ offset: 0, limit: 100 });
    expect(page.total).toBe(11);
    expect(new Set(page.items.map((t) => t.status))).toEqual(new Set(RD_STATUSES));
    expect(page.items.every((t) => /^[0-9a-f]{40}$/.test(t.hash))).toBe(true);
    expect(page.items.map((t) => t.addedAt)).toEqual([...page.items.map((t) => t.addedAt)].sort((a, b) => b - a));
  });

  it("reads an empty page (204) as no items", async () => {
    const { rd } = setup();
    expect(await rd.listTorrents({ offset: 0, limit: 100 })).toEqual({ items: [], total: 0 });
  });

  it("adds, selects, reads, deletes and counts", async () => {
    const { fake, rd } = setup();
    const old = makeTorrent({ status: "dead" });
    fake.add(old);
    fake.cached.add(old.hash);
    const { id } = await rd.addMagnet(magnetFor(old.hash, old.filename));
    let info = await rd.getTorrent(id);
    expect(info.status).toBe("waiting_files_selection");
    expect(
      await rd.selectFiles(
        id,
        info.files.map((f) => f.id),
      ),
    ).toBe("selected");
    expect(await rd.selectFiles(id, "all")).toBe("already");
    info = await rd.getTorrent(id);
    expect(info).toMatchObject({ status: "downloaded", hash: old.hash });
    expect(info.files.every((f) => f.selected)).toBe(true);
    expect(await rd.activeCount()).toEqual({ active: 0, limit: 25 });
    await rd.deleteTorrent(id);
    expect((await failure(rd.getTorrent(id))).info.class).toBe("not_found");
    expect(await rd.getUser()).toMatchObject({ type: "premium" });
  });

  it("refuses to build a magnet from a bad hash", () => {
    expect(() => magnetFor("xyz", "n")).toThrow(/40-hex/);
    expect(magnetFor("A".repeat(40), "a b&c")).toBe(`magnet:?xt=urn:btih:${"a".repeat(40)}&dn=a%20b%26c`);
  });

  it.each([
    [401, undefined, "auth"],
    [403, 14, "account"],
    [403, 37, "disabled_endpoint"],
    [404, 7, "not_found"],
    [451, 35, "infringing"],
    [509, 21, "slots_full"],
    [503, 36, "fair_usage"],
    [400, 2, "bad_request"],
  ])("turns HTTP %s / error_code %s into one typed error (%s)", async (status, code, cls) => {
    const { fake, rd } = setup();
    fake.inject({ fault: { kind: "status", status, body: { error: "x", error_code: code } }, path: /addMagnet/ });
    const err = await failure(rd.addMagnet(magnetFor("b".repeat(40), "x")));
    expect(err).toMatchObject({ status, code, service: "real-debrid", endpoint: "/torrents/addMagnet" });
    expect(err.info.class).toBe(cls);
  });

  it("retries reads after 503 and resets, but never repeats a write that may have happened", async () => {
    const { fake, rd } = setup();
    fake.inject({ fault: { kind: "status", status: 503 }, count: 2, path: /^\/user/ });
    await expect(rd.getUser()).resolves.toMatchObject({ type: "premium" });
    fake.inject({ fault: { kind: "reset" }, path: /^\/torrents$/ });
    await expect(rd.listTorrents({ offset: 0, limit: 10 })).resolves.toMatchObject({ total: 0 });
    fake.inject({ fault: { kind: "status", status: 503 }, path: /addMagnet/ });
    const err = await failure(rd.addMagnet(magnetFor("c".repeat(40), "x")));
    expect(err.info).toMatchObject({ class: "unavailable", retryable: true });
    expect(fake.requests.filter((r) => r.path.includes("addMagnet"))).toHaveLength(1);
    expect(fake.torrents).toHaveLength(0);
  });

  it("repeats a refused (429) write: RD did nothing", async () => {
    const { fake, rd } = setup();
    fake.inject({ fault: { kind: "status", status: 429 }, path: /addMagnet/ });
    await expect(rd.addMagnet(magnetFor("d".repeat(40), "x"))).resolves.toHaveProperty("id");
    expect(fake.torrents).toHaveLength(1);
  });

  it("gives up after the attempts and says why", async () => {
    const { fake, rd } = setup();
    fake.inject({
      fault: { kind: "status", status: 429, body: { error: "too_many_requests", error_code: 34 } },
      count: 10,
    });
    const err = await failure(rd.listTorrents({ offset: 0, limit: 10 }));
    expect(err.info).toEqual({ class: "rate_limited", retryable: true, throttle: true });
    expect(err.message).toMatch(/HTTP 429 too_many_requests/);
  });

  it("rejects a malformed page naming the field", async () => {
    const { fake, rd } = setup();
    fake.add(...makeAccount(3));
    fake.inject({ fault: { kind: "malformed" }, path: /^\/torrents$/ });
    const err = await failure(rd.listTorrents({ offset: 0, limit: 10 }));
    expect(err.info.class).toBe("malformed");
    expect(err.message).toMatch(/response\[0\]\.(hash|bytes|progress): expected/);
  });

  it("reads a 200 with no body as an empty page, and refuses an unfollowed 3xx as malformed", async () => {
    const { fake, rd } = setup();
    fake.add(...makeAccount(3));
    fake.inject({ fault: { kind: "status", status: 200, body: "" }, path: /^\/torrents$/, count: 1 });
    expect((await rd.listTorrents({ offset: 0, limit: 10 })).items).toEqual([]);
    fake.inject({ fault: { kind: "status", status: 300, body: "[]" }, path: /^\/torrents$/, count: 1 });
    const err = await failure(rd.listTorrents({ offset: 0, limit: 10 }));
    expect(err.info.class).toBe("malformed");
    expect(err.message).toMatch(/unexpected HTTP 300/);
    expect((await rd.listTorrents({ offset: 0, limit: 10 })).items).toHaveLength(3);
  });

  it("rejects a truncated body", async () => {
    const { fake, rd } = setup();
    fake.add(...makeAccount(3));
    fake.inject({ fault: { kind: "truncated" }, path: /^\/torrents$/ });
    const err = await failure(rd.listTorrents({ offset: 0, limit: 10 }));
    expect(["malformed", "unavailable"]).toContain(err.info.class);
  });

  it("times out a slow answer", async () => {
    const fake = createFakeRealDebrid({ token: TOKEN });
    const rd = createRealDebridClient({
      baseUrl: fake.baseUrl,
      token: TOKEN,
      limiter: null,
      fetch: fake.fetch as typeof fetch,
      timeoutMs: 50,
      maxAttempts: 1,
    });
    fake.inject({ fault: { kind: "delay", ms: 2_000 }, path: /^\/user/ });
    const err = await failure(rd.getUser());
    expect(err.info.class).toBe("unavailable");
  });

  it("never exceeds its budget in any 60 s window under a 429 storm, and honours Retry-After", async () => {
    let t = 10_000_000;
    const now = () => t;
    const sleep = async (ms: number) => {
      t += ms;
    };
    const limiter = createRdLimiter({ limitPerMinute: 60, now, sleep });
    const { fake, rd } = setup({ limiter, now, sleep });
    fake.add(...makeAccount(50));
    fake.inject({ fault: { kind: "status", status: 429, headers: { "retry-after": "30" } }, count: 40 });
    let ok = 0;
    for (let i = 0; i < 200; i++) {
      try {
        await rd.listTorrents({ offset: 0, limit: 10 });
        ok++;
      } catch (err) {
        expect((err as RdError).info.class).toBe("rate_limited");
      }
    }
    const times = fake.requests.map((r) => r.at);
    expect(fake.requests.length).toBeGreaterThanOrEqual(200);
    expect(maxInAnyWindow(times, 60_000)).toBeLessThanOrEqual(60);
    expect(ok).toBeGreaterThan(150);
    // after each 429 with Retry-After: 30 nothing went out for 30 s
    const first429 = fake.requests.findIndex((r) => r.status === 429);
    const next = fake.requests[first429 + 1];
    expect((next?.at ?? 0) - (fake.requests[first429]?.at ?? 0)).toBeGreaterThanOrEqual(30_000);
  });
});

describe("Real-Debrid client over its default transport (node:http, a real loopback socket)", () => {
  async function overSocket(opts: { timeoutMs?: number } = {}) {
    const fake = createFakeRealDebrid({ token: TOKEN, rateLimitPerMinute: 0 });
    const server = await fake.listen();
    onTestFinished(() => server.close());
    const rd = createRealDebridClient({ baseUrl: server.url, token: TOKEN, limiter: null, maxAttempts: 1, ...opts });
    return { fake, rd };
  }

  it("streams full pages, and adds, selects and deletes with form bodies", async () => {
    const { fake, rd } = await overSocket();
    fake.add(...makeAccount(12_000));
    const ids = new Set<string>();
    for (let offset = 0; offset < 12_000; offset += 5000) {
      const page = await rd.listTorrents({ offset, limit: 5000 });
      expect(page.total).toBe(12_000);
      for (const t of page.items) ids.add(t.id);
    }
    expect(ids.size).toBe(12_000);
    expect((await rd.listTorrents({ offset: 12_000, limit: 5000 })).items).toEqual([]);
    const hash = "0123456789abcdef0123456789abcdef01234567";
    const { id } = await rd.addMagnet(magnetFor(hash, "Some.Show.S01"));
    expect(await rd.selectFiles(id, "all")).toBe("selected");
    await rd.deleteTorrent(id);
    expect(fake.requests.filter((r) => r.method === "POST" || r.method === "DELETE").map((r) => r.status)).toEqual([
      201, 204, 204,
    ]);
  });

  it("classifies an error body, a malformed element and a truncated page", async () => {
    const { fake, rd } = await overSocket();
    fake.add(...makeAccount(50));
    fake.inject({
      fault: { kind: "status", status: 429, body: { error: "too_many_requests", error_code: 34 } },
      path: /^\/torrents$/,
      count: 1,
    });
    const limited = await failure(rd.listTorrents({ offset: 0, limit: 100 }));
    expect([limited.status, limited.code, limited.info.class]).toEqual([429, 34, "rate_limited"]);
    fake.inject({ fault: { kind: "malformed" }, path: /^\/torrents$/, count: 1 });
    const bad = await failure(rd.listTorrents({ offset: 0, limit: 100 }));
    expect(bad.info.class).toBe("malformed");
    expect(bad.message).toMatch(/response\[0\]\.(hash|bytes|progress): expected/);
    fake.inject({ fault: { kind: "truncated" }, path: /^\/torrents$/, count: 1 });
    expect(["malformed", "unavailable"]).toContain(
      (await failure(rd.listTorrents({ offset: 0, limit: 100 }))).info.class,
    );
    expect((await rd.listTorrents({ offset: 0, limit: 100 })).items).toHaveLength(50);
  });

  it("gives up on a slow answer after its timeout", async () => {
    const { fake, rd } = await overSocket({ timeoutMs: 100 });
    fake.inject({ fault: { kind: "delay", ms: 5_000 }, path: /^\/user/ });
    const started = Date.now();
    const err = await failure(rd.getUser());
    expect(err.info.class).toBe("unavailable");
    expect(err.message).toMatch(/timeout: no answer within 100 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
