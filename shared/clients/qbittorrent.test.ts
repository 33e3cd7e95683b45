import { describe, expect, it } from "vitest";
import { createFakeQbit, type FakeQbitOptions, makeQbitTorrent } from "../../test/fakes/qbittorrent.ts";
import { UpstreamError } from "../errors.ts";
import { MalformedResponseError } from "../validate.ts";
import { createQbitClient, QbitAuthError, QbitError, type QbitInstance } from "./qbittorrent.ts";

interface Sent {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A fake, a client on it with the fake's credentials unless told otherwise, and every request as sent. */
function setup(fakeOpts: FakeQbitOptions = {}, instance: Partial<QbitInstance> = {}) {
  const fake = createFakeQbit(fakeOpts);
  const sent: Sent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    sent.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.clone().text(),
    });
    return fake.fetch(req);
  };
  const client = createQbitClient(
    { name: "qbit", url: fake.baseUrl, username: fake.username, password: fake.password, ...instance },
    { fetch: fetch as typeof globalThis.fetch },
  );
  const logins = () => sent.filter((s) => s.path === "/api/v2/auth/login").length;
  return { fake, client, sent, logins };
}

describe("qBittorrent login", () => {
  it("logs in lazily, once, with Referer/Origin, and sends the SID cookie on later calls", async () => {
    const { fake, client, sent, logins } = setup();
    expect(sent).toHaveLength(0);
    await client.torrents();
    await client.torrents();
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /api/v2/auth/login",
      "GET /api/v2/torrents/info",
      "GET /api/v2/torrents/info",
    ]);
    const login = sent[0] as Sent;
    expect(Object.fromEntries(new URLSearchParams(login.body))).toEqual({ username: "admin", password: "adminadmin" });
    expect(login.headers.get("referer")).toBe(fake.baseUrl);
    expect(login.headers.get("origin")).toBe(fake.baseUrl);
    expect(sent[2]?.headers.get("cookie")).toMatch(/^SID=.+/);
    expect(logins()).toBe(1);
  });

  it("shares one login between calls made at once", async () => {
    const { client, logins } = setup();
    await Promise.all([client.torrents(), client.serverState(), client.log(null)]);
    expect(logins()).toBe(1);
  });

  it("uses 5.2's QBT_SID_<port> cookie", async () => {
    const { client, sent } = setup({ version: "5.2.0" });
    await client.torrents();
    expect(sent[1]?.headers.get("cookie")).toMatch(/^QBT_SID_8080=.+/);
  });

  it("logs in again once when the session expired (403), and retries the call once", async () => {
    const { fake, client, logins } = setup();
    fake.torrents.push(makeQbitTorrent());
    await client.torrents();
    fake.expireSessions();
    expect(await client.torrents()).toHaveLength(1);
    expect(logins()).toBe(2);
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200, 403, 200, 200]);
  });

  it("gives up with the 403 when the call is refused again after the new login", async () => {
    const { fake, client, logins } = setup();
    await client.torrents();
    fake.inject({ status: 403, body: "Forbidden", path: "/api/v2/torrents/info", count: 5 });
    const err = await client.torrents().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QbitError);
    expect(err).toMatchObject({ status: 403, transient: false, instance: "qbit", endpoint: "/api/v2/torrents/info" });
    expect(logins()).toBe(2);
    expect(fake.requests.filter((r) => r.path === "/api/v2/torrents/info")).toHaveLength(3);
  });

  it.each([
    ["4.5.2 (200 Fails.)", "4.5.2", 200],
    ["5.2.0 (401)", "5.2.0", 401],
  ])("latches a refused login on %s: later calls send nothing", async (_, version, status) => {
    const { fake, client, sent } = setup({ version }, { password: "wrong" });
    const first = await client.torrents().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(QbitAuthError);
    expect(first).toBeInstanceOf(UpstreamError);
    expect(first).toMatchObject({ service: "qbittorrent", status, instance: "qbit" });
    expect((first as Error).message).toMatch(/login as "admin" refused/);
    const before = sent.length;
    await expect(client.deleteTorrents([makeQbitTorrent().hash], true)).rejects.toBe(first);
    await expect(client.version()).rejects.toBe(first);
    expect(sent.length).toBe(before);
    expect(fake.logins).toEqual([{ username: "admin", ok: false }]);
  });

  it("latches a login refused because the IP is banned (403)", async () => {
    const { fake, client } = setup({}, { password: "wrong" });
    for (let i = 0; i < 5; i++) {
      await createQbitClient(
        { name: "other", url: fake.baseUrl, username: "admin", password: "x" },
        { fetch: fake.fetch },
      )
        .torrents()
        .catch(() => {});
    }
    const err = await client.torrents().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QbitAuthError);
    expect((err as QbitAuthError).message).toMatch(/HTTP 403: Your IP address has been banned/);
  });

  it("does not latch a login that failed for other reasons (5xx)", async () => {
    const { fake, client, logins } = setup();
    fake.inject({ status: 502, path: "/api/v2/auth/login" });
    await expect(client.torrents()).rejects.toMatchObject({ name: "QbitError", status: 502, transient: true });
    await expect(client.torrents()).resolves.toEqual([]);
    expect(logins()).toBe(2);
  });

  it("sends a 5.2 API key as Bearer and never logs in", async () => {
    const { client, sent, logins } = setup({ version: "5.2.0", apiKey: "k-123" }, { apiKey: "k-123" });
    await client.torrents();
    await client.serverState();
    expect(logins()).toBe(0);
    expect(sent.every((s) => s.headers.get("authorization") === "Bearer k-123")).toBe(true);
  });

  it("reports a refused API key as QbitAuthError", async () => {
    const { client } = setup({ version: "5.2.0", apiKey: "k-123" }, { apiKey: "nope" });
    await expect(client.torrents()).rejects.toMatchObject({ name: "QbitAuthError", status: 403 });
  });

  it("calls without credentials when qBit bypasses authentication", async () => {
    const { client, logins } = setup({ authRequired: false }, { username: undefined, password: undefined });
    expect(await client.serverState()).toEqual({ connectionStatus: "connected" });
    expect(logins()).toBe(0);
  });

  it("without credentials against a qBit that wants them, says so", async () => {
    const { client } = setup({}, { username: undefined, password: undefined });
    await expect(client.torrents()).rejects.toThrow(/wants a login \(set username and password\) \(HTTP 403\)/);
  });
});

describe("qBittorrent reads", () => {
  it("maps torrents/info, 4.x without `private` (null), 5.x with it", async () => {
    const t = makeQbitTorrent({ tags: ["keep", "rdtm seen"], isPrivate: true, state: "pausedDL", progress: 0.5 });
    const four = setup({ version: "4.5.2" });
    four.fake.torrents.push({ ...t, hash: t.hash.toUpperCase() });
    const [got] = await four.client.torrents();
    expect(got).toEqual({ ...t, isPrivate: null });
    const five = setup({ version: "5.1.4" });
    five.fake.torrents.push({ ...t, state: "stoppedDL" });
    expect(await five.client.torrents()).toEqual([{ ...t, state: "stoppedDL" }]);
  });

  it("passes the hashes, category and tag filters on", async () => {
    const { fake, client } = setup();
    const [a, b, c] = [
      makeQbitTorrent({ category: "radarr" }),
      makeQbitTorrent({ tags: ["x"] }),
      makeQbitTorrent({ category: "" }),
    ];
    fake.torrents.push(a, b, c);
    const names = (ts: { name: string }[]) => ts.map((t) => t.name);
    expect(names(await client.torrents({ hashes: [a.hash, c.hash.toUpperCase()] }))).toEqual(names([a, c]));
    expect(names(await client.torrents({ category: "radarr" }))).toEqual(names([a]));
    expect(names(await client.torrents({ category: "" }))).toEqual(names([c]));
    expect(names(await client.torrents({ tag: "x" }))).toEqual(names([b]));
    expect(await client.torrents({ hashes: [] })).toEqual([]);
    await expect(client.torrents({ hashes: ["all"] })).rejects.toThrow(/not a torrent hash: "all"/);
  });

  it("leaves out the DHT/PeX/LSD rows of torrents/trackers", async () => {
    const { fake, client } = setup();
    const t = makeQbitTorrent();
    fake.torrents.push(t);
    fake.trackers.set(t.hash, [
      { url: "https://a.invalid/announce", status: 4, msg: "unregistered torrent", tier: 0 },
      { url: "https://b.invalid/announce", status: 2, msg: "", tier: 1 },
    ]);
    expect(await client.trackers(t.hash)).toEqual([
      { url: "https://a.invalid/announce", status: 4, msg: "unregistered torrent", tier: 0 },
      { url: "https://b.invalid/announce", status: 2, msg: "", tier: 1 },
    ]);
    await expect(client.trackers(makeQbitTorrent().hash)).rejects.toMatchObject({ status: 404, transient: false });
  });

  it("reads is_private from properties, null when qBit leaves it out", async () => {
    const { fake, client } = setup();
    const [a, b] = [makeQbitTorrent({ isPrivate: true, savePath: "/dl/a" }), makeQbitTorrent()];
    fake.torrents.push(a, b);
    fake.properties.set(b.hash, { isPrivate: null });
    expect(await client.properties(a.hash)).toEqual({ isPrivate: true, savePath: "/dl/a" });
    expect(await client.properties(b.hash)).toEqual({ isPrivate: null, savePath: b.savePath });
  });

  it("reads the log after an id, timestamps in ms", async () => {
    const { fake, client, sent } = setup();
    const first = fake.addLog("qBittorrent v4.5.2 started");
    const err = fake.addLog(
      'File error alert. Torrent: "x". File: "/d/x". Reason: "x file_open (/d/x) error: No space"',
      4,
    );
    expect(await client.log(first.id)).toEqual([{ ...err, timestamp: err.timestamp * 1000 }]);
    expect(await client.log(null)).toHaveLength(2);
    expect(sent.filter((s) => s.path === "/api/v2/log/main")).toHaveLength(2);
  });

  it("reads versions and the connection status", async () => {
    const { fake, client } = setup({ version: "5.1.4" });
    fake.connectionStatus = "disconnected";
    expect(await client.version()).toEqual({ app: "5.1.4", webapi: "2.11.4" });
    expect(await client.serverState()).toEqual({ connectionStatus: "disconnected" });
  });

  it.each([
    ["a field of the wrong type", '[{"hash":42}]', /torrents\/info: unexpected response: response\[0\]\.hash/],
    ["an HTML page", "<html><body>Bad Gateway</body></html>", /unexpected response: response: expected Array/],
  ])("reports %s as MalformedResponseError", async (_, body, message) => {
    const { fake, client } = setup();
    fake.inject({ status: 200, body, path: "/api/v2/torrents/info" });
    const err = await client.torrents().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect((err as Error).message).toMatch(message);
  });

  it("turns HTTP and network failures into QbitError, transient for 5xx and the network", async () => {
    const { fake, client } = setup();
    fake.inject({ status: 500, body: "boom", path: "/api/v2/transfer/info" });
    await expect(client.serverState()).rejects.toMatchObject({
      name: "QbitError",
      status: 500,
      transient: true,
      message: "qbittorrent: qbit GET /api/v2/transfer/info: HTTP 500 boom",
    });
    const offline = createQbitClient({ name: "far", url: "http://elsewhere.invalid:8080" }, { fetch: fake.fetch });
    await expect(offline.serverState()).rejects.toMatchObject({
      name: "QbitError",
      status: undefined,
      transient: true,
      message: expect.stringMatching(/ENOTFOUND elsewhere\.invalid/),
    });
  });

  it("times out a call that never answers, and passes a caller's abort through as is", async () => {
    let calls = 0;
    const hang = (_: RequestInfo | URL, init?: RequestInit) => {
      calls++;
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      );
    };
    const slow = createQbitClient({ name: "slow", url: "http://qbit.fake:8080" }, { fetch: hang, timeoutMs: 30 });
    await expect(slow.serverState()).rejects.toMatchObject({ transient: true, message: /no answer within 30 ms/ });
    const stop = new AbortController();
    const pending = slow.torrents({}, stop.signal);
    await new Promise((r) => setTimeout(r, 5));
    stop.abort(new Error("shutting down"));
    await expect(pending).rejects.toThrow("shutting down");
    await expect(slow.torrents({}, stop.signal)).rejects.toThrow("shutting down");
    expect(calls).toBe(2);
  });
});

describe("qBittorrent mutations", () => {
  it("deletes with the form body qBit wants, and sends nothing for an empty list", async () => {
    const { fake, client, sent } = setup();
    const [a, b, c] = [makeQbitTorrent(), makeQbitTorrent(), makeQbitTorrent()];
    fake.torrents.push(a, b, c);
    await client.deleteTorrents([a.hash, b.hash.toUpperCase()], true);
    const del = sent.find((s) => s.path === "/api/v2/torrents/delete");
    expect(del?.method).toBe("POST");
    expect(del?.headers.get("content-type")).toMatch(/^application\/x-www-form-urlencoded/);
    expect(del?.body).toBe(`hashes=${a.hash}%7C${b.hash}&deleteFiles=true`);
    expect(fake.deleted).toEqual([
      { hash: a.hash, deleteFiles: true },
      { hash: b.hash, deleteFiles: true },
    ]);
    expect(fake.torrents).toEqual([c]);
    await client.deleteTorrents([c.hash], false);
    expect(fake.deleted.at(-1)).toEqual({ hash: c.hash, deleteFiles: false });
    const posts = fake.requests.filter((r) => r.method === "POST").length;
    await client.deleteTorrents([], true);
    await expect(client.deleteTorrents(["all"], true)).rejects.toThrow(/not a torrent hash/);
    expect(fake.requests.filter((r) => r.method === "POST").length).toBe(posts);
  });

  it("adds tags with hashes=a|b&tags=x,y and refuses a tag with a comma", async () => {
    const { fake, client, sent } = setup();
    const [a, b] = [makeQbitTorrent(), makeQbitTorrent({ tags: ["keep"] })];
    fake.torrents.push(a, b);
    await client.addTags([a.hash, b.hash], ["rdtm-error", "keep"]);
    const post = sent.find((s) => s.path === "/api/v2/torrents/addTags");
    expect(new URLSearchParams(post?.body)).toEqual(
      new URLSearchParams({ hashes: `${a.hash}|${b.hash}`, tags: "rdtm-error,keep" }),
    );
    expect(fake.tags).toEqual([
      { hash: a.hash, tag: "rdtm-error" },
      { hash: a.hash, tag: "keep" },
      { hash: b.hash, tag: "rdtm-error" },
    ]);
    await expect(client.addTags([a.hash], ["a,b"])).rejects.toThrow(/invalid tag "a,b"/);
  });

  it("does not retry a failed write", async () => {
    const { fake, client } = setup();
    const t = makeQbitTorrent();
    fake.torrents.push(t);
    fake.inject({ status: 503, path: "/api/v2/torrents/delete" });
    await expect(client.deleteTorrents([t.hash], false)).rejects.toMatchObject({ status: 503, transient: true });
    expect(fake.requests.filter((r) => r.path === "/api/v2/torrents/delete")).toHaveLength(1);
    expect(fake.torrents).toEqual([t]);
  });
});

describe("fake qBittorrent", () => {
  it("answers 5,000 torrents quickly", async () => {
    const { fake, client } = setup();
    for (let i = 0; i < 5000; i++) fake.torrents.push(makeQbitTorrent());
    const started = performance.now();
    const all = await client.torrents();
    const some = await client.torrents({ hashes: all.slice(0, 100).map((t) => t.hash) });
    await client.deleteTorrents(
      some.map((t) => t.hash),
      false,
    );
    expect(all).toHaveLength(5000);
    expect(some).toHaveLength(100);
    expect(fake.torrents).toHaveLength(4900);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
