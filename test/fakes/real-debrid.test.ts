import { afterEach, describe, expect, it } from "vitest";
import {
  ACTIVE_STATUSES,
  createFakeRealDebrid,
  type FakeRealDebrid,
  type FakeTorrent,
  magnetFor,
  makeAccount,
  makeTorrent,
  RD_STATUSES,
} from "./real-debrid.ts";

const AUTH = { authorization: "Bearer fake-rd-token" };
const UNKNOWN_HASH = "0123456789abcdef0123456789abcdef01234567";

function get(fake: FakeRealDebrid, path: string, headers: Record<string, string> = AUTH): Promise<Response> {
  return fake.fetch(`${fake.baseUrl}${path}`, { headers });
}

function post(fake: FakeRealDebrid, path: string, form: Record<string, string>): Promise<Response> {
  return fake.fetch(`${fake.baseUrl}${path}`, { method: "POST", headers: AUTH, body: new URLSearchParams(form) });
}

function del(fake: FakeRealDebrid, path: string): Promise<Response> {
  return fake.fetch(`${fake.baseUrl}${path}`, { method: "DELETE", headers: AUTH });
}

async function ids(res: Response): Promise<string[]> {
  const items = (await res.json()) as { id: string }[];
  return items.map((t) => t.id);
}

function fakeWith(torrents: FakeTorrent[], opts: Parameters<typeof createFakeRealDebrid>[0] = {}): FakeRealDebrid {
  const fake = createFakeRealDebrid(opts);
  fake.add(...torrents);
  return fake;
}

describe("auth", () => {
  it("refuses a missing or wrong token with 401 bad_token", async () => {
    const fake = createFakeRealDebrid();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer nope" },
      { authorization: "fake-rd-token" },
    ];
    for (const headers of attempts) {
      const res = await get(fake, "/user", headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "bad_token", error_code: 8 });
    }
  });

  it("answers 403 account_locked for the locked token", async () => {
    const fake = createFakeRealDebrid({ lockedToken: "locked" });
    const res = await get(fake, "/torrents", { authorization: "Bearer locked" });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "account_locked", error_code: 14 });
  });

  it("serves /user with the configured token, through app.request as well", async () => {
    const fake = createFakeRealDebrid({ token: "secret" });
    const res = await fake.app.request("/rest/1.0/user", { headers: { authorization: "Bearer secret" } });
    expect(res.status).toBe(200);
    const user = await res.json();
    expect(user).toEqual(fake.user);
    expect(user).toMatchObject({ type: "premium", premium: expect.any(Number), expiration: expect.any(String) });
  });
});

describe("GET /torrents", () => {
  it("lists newest first by added, equal dates newest insertion first, without files and original_*", async () => {
    const older = makeTorrent({ added: "2024-01-01T00:00:00.000Z" });
    const newest = makeTorrent({ added: "2024-03-01T00:00:00.000Z" });
    const tieA = makeTorrent({ added: "2024-02-01T00:00:00.000Z" });
    const tieB = makeTorrent({ added: "2024-02-01T00:00:00.000Z" });
    const fake = fakeWith([tieA, older, newest]);
    fake.add(tieB);
    const res = await get(fake, "/torrents");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-total-count")).toBe("4");
    const items = (await res.json()) as Record<string, unknown>[];
    expect(items.map((t) => t.id)).toEqual([newest.id, tieB.id, tieA.id, older.id]);
    expect(Object.keys(items[0] ?? {})).toEqual(
      expect.arrayContaining([
        "id",
        "filename",
        "hash",
        "bytes",
        "host",
        "split",
        "progress",
        "status",
        "added",
        "links",
      ]),
    );
    for (const key of ["files", "original_filename", "original_bytes"]) expect(items[0]).not.toHaveProperty(key);
  });

  it("pages by limit (default 100) and offset, with X-Total-Count", async () => {
    const account = makeAccount(150);
    const fake = fakeWith(account);
    const first = await get(fake, "/torrents");
    expect(await ids(first)).toEqual(account.slice(0, 100).map((t) => t.id));
    const tail = await get(fake, "/torrents?offset=140&limit=20");
    expect(tail.headers.get("x-total-count")).toBe("150");
    expect(await ids(tail)).toEqual(account.slice(140).map((t) => t.id));
  });

  it("gives page priority over offset", async () => {
    const account = makeAccount(50);
    const fake = fakeWith(account);
    const res = await get(fake, "/torrents?page=2&limit=10&offset=40");
    expect(await ids(res)).toEqual(account.slice(10, 20).map((t) => t.id));
  });

  it("answers an empty page with 204, no body, and still X-Total-Count", async () => {
    const fake = fakeWith(makeAccount(10));
    for (const query of ["offset=10", "page=3&limit=5", "limit=0"]) {
      const res = await get(fake, `/torrents?${query}`);
      expect(res.status).toBe(204);
      expect(res.headers.get("x-total-count")).toBe("10");
      expect(await res.text()).toBe("");
    }
    const empty = await get(createFakeRealDebrid(), "/torrents");
    expect(empty.status).toBe(204);
    expect(empty.headers.get("x-total-count")).toBe("0");
  });

  it("refuses limit outside 0..5000, offset outside 0..X-Total-Count and page 0 with 400 code 2", async () => {
    const fake = fakeWith(makeAccount(10));
    expect((await get(fake, "/torrents?limit=5000")).status).toBe(200);
    for (const query of ["limit=5001", "limit=-1", "limit=abc", "offset=11", "offset=-1", "page=0"]) {
      const res = await get(fake, `/torrents?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toEqual({ error: "wrong_parameter", error_code: 2 });
    }
  });

  it("lists only active torrents with filter=active, counting them in X-Total-Count", async () => {
    const account = makeAccount(44, { statusOf: (i) => RD_STATUSES[i % RD_STATUSES.length] ?? "downloaded" });
    const fake = fakeWith(account);
    const active = account.filter((t) => ACTIVE_STATUSES.has(t.status));
    expect(active).toHaveLength(24);
    const res = await get(fake, "/torrents?filter=active&limit=20&page=1");
    expect(res.headers.get("x-total-count")).toBe("24");
    expect(await ids(res)).toEqual(active.slice(0, 20).map((t) => t.id));
    const rest = await get(fake, "/torrents?filter=active&limit=20&offset=20");
    expect(await ids(rest)).toEqual(active.slice(20).map((t) => t.id));
  });
});

describe("torrent info, activeCount, delete, instantAvailability, unknown routes", () => {
  it("shows one torrent with its files, or 404 unknown_ressource", async () => {
    const t = makeTorrent();
    const fake = fakeWith([t]);
    const res = await get(fake, `/torrents/info/${t.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(t)));
    const missing = await get(fake, "/torrents/info/NOPE");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "unknown_ressource", error_code: 7 });
  });

  it("counts active torrents against activeLimit", async () => {
    const fake = fakeWith([makeTorrent({ status: "downloading" }), makeTorrent({ status: "queued" }), makeTorrent()]);
    expect(await (await get(fake, "/torrents/activeCount")).json()).toEqual({ nb: 2, limit: 25 });
    fake.activeLimit = 5;
    expect(await (await get(fake, "/torrents/activeCount")).json()).toEqual({ nb: 2, limit: 5 });
  });

  it("deletes with 204, then 404 unknown_ressource", async () => {
    const t = makeTorrent();
    const fake = fakeWith([t, makeTorrent()]);
    const res = await del(fake, `/torrents/delete/${t.id}`);
    expect(res.status).toBe(204);
    expect(fake.torrents.map((x) => x.id)).not.toContain(t.id);
    expect((await get(fake, `/torrents/info/${t.id}`)).status).toBe(404);
    const again = await del(fake, `/torrents/delete/${t.id}`);
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: "unknown_ressource", error_code: 7 });
    expect(fake.remove("NOPE")).toBe(false);
  });

  it("answers instantAvailability with 403 disabled_endpoint", async () => {
    const res = await get(createFakeRealDebrid(), `/torrents/instantAvailability/${UNKNOWN_HASH}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "disabled_endpoint", error_code: 37 });
  });

  it("answers unknown routes with 404 unknown_method", async () => {
    const fake = createFakeRealDebrid();
    for (const res of [await get(fake, "/torrents/nope"), await del(fake, "/user")]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "unknown_method", error_code: 3 });
    }
  });
});

describe("POST /torrents/addMagnet", () => {
  it("creates a torrent waiting for file selection as the newest, and answers 201 with id and uri", async () => {
    const fake = fakeWith(makeAccount(3));
    fake.catalog.set(UNKNOWN_HASH, [
      { id: 1, path: "/a.mkv", bytes: 100, selected: 1 },
      { id: 2, path: "/b.mkv", bytes: 50, selected: 1 },
    ]);
    const res = await post(fake, "/torrents/addMagnet", { magnet: magnetFor(UNKNOWN_HASH, "Some Name") });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; uri: string };
    expect(body.uri).toBe(`${fake.baseUrl}/torrents/info/${body.id}`);
    expect(body.id).toMatch(/^[A-Z0-9]{13}$/);
    expect(fake.torrents[0]?.id).toBe(body.id);
    const info = await (await get(fake, `/torrents/info/${body.id}`)).json();
    expect(info).toMatchObject({
      hash: UNKNOWN_HASH,
      filename: "Some Name",
      status: "waiting_files_selection",
      progress: 0,
      bytes: 0,
      original_bytes: 150,
      links: [],
      files: [
        { id: 1, path: "/a.mkv", bytes: 100, selected: 0 },
        { id: 2, path: "/b.mkv", bytes: 50, selected: 0 },
      ],
    });
  });

  it("reads base32 hashes, names by hash without dn, and reuses the files of a torrent already held", async () => {
    const fake = createFakeRealDebrid();
    const res = await post(fake, "/torrents/addMagnet", {
      magnet: "magnet:?xt=urn:btih:AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH",
    });
    expect(res.status).toBe(201);
    expect(fake.torrents[0]).toMatchObject({ hash: UNKNOWN_HASH, filename: UNKNOWN_HASH });
    expect(fake.torrents[0]?.files).toHaveLength(2);

    const held = makeTorrent();
    fake.add(held);
    const again = (await (await post(fake, "/torrents/addMagnet", { magnet: magnetFor(held.hash) })).json()) as {
      id: string;
    };
    const added = fake.torrents.find((t) => t.id === again.id);
    expect(added?.files.map((f) => f.path)).toEqual(held.files.map((f) => f.path));
    expect(added?.id).not.toBe(held.id);
  });

  it("refuses a missing magnet with 400 code 1 and an invalid one with 400 code 2", async () => {
    const fake = createFakeRealDebrid();
    const missing = await post(fake, "/torrents/addMagnet", {});
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: "parameter_missing", error_code: 1 });
    for (const magnet of ["magnet:?xt=urn:btih:xyz", `http://x/${UNKNOWN_HASH}`, "magnet:?dn=foo"]) {
      const res = await post(fake, "/torrents/addMagnet", { magnet });
      expect(res.status, magnet).toBe(400);
      expect(await res.json()).toEqual({ error: "wrong_parameter", error_code: 2 });
    }
    expect(fake.torrents).toHaveLength(0);
  });

  it("answers 509 too_many_active_downloads when the active slots are full", async () => {
    const fake = fakeWith([makeTorrent({ status: "downloading" }), makeTorrent({ status: "queued" })]);
    fake.activeLimit = 2;
    const res = await post(fake, "/torrents/addMagnet", { magnet: magnetFor(UNKNOWN_HASH) });
    expect(res.status).toBe(509);
    expect(await res.json()).toEqual({ error: "too_many_active_downloads", error_code: 21 });
    expect(fake.torrents).toHaveLength(2);
  });
});

describe("POST /torrents/selectFiles", () => {
  async function addMagnet(fake: FakeRealDebrid, hash = UNKNOWN_HASH): Promise<string> {
    const res = await post(fake, "/torrents/addMagnet", { magnet: magnetFor(hash) });
    return ((await res.json()) as { id: string }).id;
  }

  it("makes a cached hash downloaded at once, with one link per selected file", async () => {
    const fake = createFakeRealDebrid();
    fake.cached.add(UNKNOWN_HASH);
    const id = await addMagnet(fake);
    const res = await post(fake, `/torrents/selectFiles/${id}`, { files: "all" });
    expect(res.status).toBe(204);
    const info = (await (await get(fake, `/torrents/info/${id}`)).json()) as FakeTorrent;
    expect(info).toMatchObject({ status: "downloaded", progress: 100, ended: expect.any(String) });
    expect(info.files.every((f) => f.selected === 1)).toBe(true);
    expect(info.links).toHaveLength(info.files.length);
    expect(info.bytes).toBe(info.original_bytes);
  });

  it("queues an uncached hash with only the chosen files selected", async () => {
    const fake = createFakeRealDebrid();
    const id = await addMagnet(fake);
    expect((await post(fake, `/torrents/selectFiles/${id}`, { files: "1" })).status).toBe(204);
    const info = (await (await get(fake, `/torrents/info/${id}`)).json()) as FakeTorrent;
    expect(info).toMatchObject({ status: "queued", progress: 0, links: [] });
    expect(info.files.map((f) => f.selected)).toEqual([1, 0]);
    expect(info.bytes).toBe(info.files[0]?.bytes);
  });

  it("answers 202 with no body once the files are already selected", async () => {
    const fake = createFakeRealDebrid();
    const id = await addMagnet(fake);
    await post(fake, `/torrents/selectFiles/${id}`, { files: "1,2" });
    const res = await post(fake, `/torrents/selectFiles/${id}`, { files: "1" });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
    expect(fake.torrents[0]?.files.map((f) => f.selected)).toEqual([1, 1]);
  });

  it("refuses missing files (400 code 1), an unknown torrent (404 code 7) and bad file ids (400 code 2)", async () => {
    const fake = createFakeRealDebrid();
    const id = await addMagnet(fake);
    const missing = await post(fake, `/torrents/selectFiles/${id}`, {});
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: "parameter_missing", error_code: 1 });
    const unknown = await post(fake, "/torrents/selectFiles/NOPE", { files: "1" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: "unknown_ressource", error_code: 7 });
    for (const files of ["99", "1,99", "abc", ","]) {
      const res = await post(fake, `/torrents/selectFiles/${id}`, { files });
      expect(res.status, files).toBe(400);
      expect(await res.json()).toEqual({ error: "wrong_parameter", error_code: 2 });
    }
    expect(fake.torrents[0]?.status).toBe("waiting_files_selection");
  });
});

describe("rate limit", () => {
  it("refuses the 251st request in a minute with 429, and logs it", async () => {
    let now = 0;
    const fake = createFakeRealDebrid({ now: () => now });
    for (let i = 0; i < 250; i++) expect((await get(fake, "/user")).status).toBe(200);
    const res = await get(fake, "/user");
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: "too_many_requests", error_code: 34 });
    expect(fake.requests.at(-1)).toMatchObject({ method: "GET", path: "/user", status: 429 });
    now = 60_000;
    expect((await get(fake, "/user")).status).toBe(200);
  });

  it("counts refused requests in the window", async () => {
    let now = 0;
    const fake = createFakeRealDebrid({ now: () => now });
    for (let i = 0; i < 200; i++) await get(fake, "/user");
    now = 30_000;
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await get(fake, "/user")).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(50);
    // The first 200 have left the window; the 100 from t=30s (50 of them refused) have not.
    now = 61_000;
    const later: number[] = [];
    for (let i = 0; i < 151; i++) later.push((await get(fake, "/user")).status);
    expect(later.slice(0, 150).every((s) => s === 200)).toBe(true);
    expect(later[150]).toBe(429);
  });

  it("is off with rateLimitPerMinute 0", async () => {
    const fake = createFakeRealDebrid({ rateLimitPerMinute: 0, now: () => 0 });
    for (let i = 0; i < 300; i++) await get(fake, "/user");
    expect(fake.requests.every((r) => r.status === 200)).toBe(true);
  });
});

describe("faults", () => {
  it("answers a status fault for matching requests only, count times, then normally", async () => {
    const fake = fakeWith(makeAccount(3));
    fake.inject({ fault: { kind: "status", status: 503 }, count: 2, method: "get", path: /^\/torrents$/ });
    expect((await get(fake, "/user")).status).toBe(200);
    const first = await get(fake, "/torrents");
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ error: "service_unavailable", error_code: 25 });
    expect((await get(fake, "/torrents")).status).toBe(503);
    expect((await get(fake, "/torrents")).status).toBe(200);
  });

  it("uses the given body and headers, consumes faults in injection order, and clears them", async () => {
    const fake = createFakeRealDebrid();
    fake.inject({
      fault: {
        kind: "status",
        status: 429,
        body: { error: "too_many_requests", error_code: 34 },
        headers: { "retry-after": "5" },
      },
    });
    fake.inject({ fault: { kind: "status", status: 451 } });
    fake.inject({ fault: { kind: "status", status: 509 }, count: Number.POSITIVE_INFINITY });
    const a = await post(fake, "/torrents/addMagnet", { magnet: magnetFor(UNKNOWN_HASH) });
    expect(a.status).toBe(429);
    expect(a.headers.get("retry-after")).toBe("5");
    expect(await a.json()).toEqual({ error: "too_many_requests", error_code: 34 });
    const b = await post(fake, "/torrents/addMagnet", { magnet: magnetFor(UNKNOWN_HASH) });
    expect(b.status).toBe(451);
    expect(await b.json()).toEqual({ error: "infringing_file", error_code: 35 });
    for (let i = 0; i < 5; i++) expect((await get(fake, "/user")).status).toBe(509);
    fake.clearFaults();
    expect((await get(fake, "/user")).status).toBe(200);
    expect(fake.torrents).toHaveLength(0);
  });

  it("counts a 429 fault in the fake's own rate window", async () => {
    const fake = createFakeRealDebrid({ rateLimitPerMinute: 3, now: () => 0 });
    fake.inject({ fault: { kind: "status", status: 429 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(fake, "/user")).status);
    expect(statuses).toEqual([429, 200, 200, 429]);
    expect(fake.requests.map((r) => r.status)).toEqual(statuses);
  });

  it("delays an answer, and lets the client give up during the delay", async () => {
    const fake = createFakeRealDebrid();
    fake.inject({ fault: { kind: "delay", ms: 60 } });
    const started = performance.now();
    const res = await get(fake, "/user");
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);

    fake.inject({ fault: { kind: "delay", ms: 5_000 } });
    const aborted = fake.fetch(`${fake.baseUrl}/user`, { headers: AUTH, signal: AbortSignal.timeout(20) });
    await expect(aborted).rejects.toMatchObject({ name: "TimeoutError" });
    expect(fake.requests.at(-1)).toMatchObject({ path: "/user", status: 0 });
  });

  it("answers malformed: valid JSON of the wrong shape", async () => {
    const fake = fakeWith(makeAccount(3));
    fake.inject({ fault: { kind: "malformed" }, count: 2 });
    const list = await get(fake, "/torrents");
    expect(list.status).toBe(200);
    const items = (await list.json()) as Record<string, unknown>[];
    expect(items).toHaveLength(3);
    expect(items[0]).not.toHaveProperty("hash");
    expect(typeof items[0]?.bytes).toBe("string");
    const user = (await (await get(fake, "/user")).json()) as Record<string, unknown>;
    expect(typeof user.id).toBe("string");

    const emptyAccount = createFakeRealDebrid();
    emptyAccount.inject({ fault: { kind: "malformed" } });
    const empty = await get(emptyAccount, "/torrents");
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ torrents: [] });
  });

  it("answers truncated: JSON content type, body cut in the middle", async () => {
    const fake = fakeWith(makeAccount(3));
    const whole = await (await get(fake, "/torrents")).text();
    fake.inject({ fault: { kind: "truncated" } });
    const res = await get(fake, "/torrents");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const text = await res.text();
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(whole.length);
    expect(whole.startsWith(text)).toBe(true);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it("fails an in-process fetch like a reset connection, and logs it with status 0", async () => {
    const fake = createFakeRealDebrid();
    fake.inject({ fault: { kind: "reset" }, path: /^\/user$/ });
    const err = await get(fake, "/user").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ message: "fetch failed", cause: { code: "ECONNRESET" } });
    expect(fake.requests.at(-1)).toMatchObject({ method: "GET", path: "/user", status: 0 });
    expect((await get(fake, "/user")).status).toBe(200);
  });

  it("refuses hosts other than the fake's, as an unresolvable name", async () => {
    const fake = createFakeRealDebrid();
    const err = await fake.fetch("https://api.real-debrid.com/rest/1.0/user", { headers: AUTH }).catch((e) => e);
    expect(err).toMatchObject({ message: "fetch failed", cause: { code: "ENOTFOUND" } });
  });

  it("logs every request with its path after /rest/1.0, query and status", async () => {
    let now = 1_000;
    const fake = fakeWith(makeAccount(2), { now: () => now });
    await get(fake, "/torrents?limit=1&page=2");
    now = 2_000;
    await get(fake, "/user", {});
    expect(fake.requests).toEqual([
      { method: "GET", path: "/torrents", query: "limit=1&page=2", status: 200, at: 1_000 },
      { method: "GET", path: "/user", query: "", status: 401, at: 2_000 },
    ]);
  });
});

describe("over a real socket", () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it("serves on 127.0.0.1, drops the connection for a reset, and stops on close()", async () => {
    const fake = fakeWith(makeAccount(5));
    const server = await fake.listen();
    closers.push(server.close);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rest\/1\.0$/);

    const list = await fetch(`${server.url}/torrents?limit=2`, { headers: AUTH });
    expect(list.status).toBe(200);
    expect(list.headers.get("x-total-count")).toBe("5");
    expect(await ids(list)).toEqual(fake.torrents.slice(0, 2).map((t) => t.id));

    const added = await fetch(`${server.url}/torrents/addMagnet`, {
      method: "POST",
      headers: AUTH,
      body: new URLSearchParams({ magnet: magnetFor(UNKNOWN_HASH) }),
    });
    expect(((await added.json()) as { uri: string }).uri).toMatch(new RegExp(`^${server.url}/torrents/info/`));

    fake.inject({ fault: { kind: "reset" } });
    await expect(fetch(`${server.url}/user`, { headers: AUTH })).rejects.toThrow(TypeError);
    expect((await fetch(`${server.url}/user`, { headers: AUTH })).status).toBe(200);

    closers.pop();
    await server.close();
    await expect(fetch(`${server.url}/user`, { headers: AUTH })).rejects.toThrow(TypeError);
    await expect(fetch(`${server.url}/user`, { headers: AUTH })).rejects.toMatchObject({
      cause: { code: "ECONNREFUSED" },
    });
  });
});

describe("factories", () => {
  it("makeTorrent gives unique RD-like ids and hashes, downloaded, one link per selected video file", () => {
    const torrents = Array.from({ length: 500 }, () => makeTorrent());
    expect(new Set(torrents.map((t) => t.id)).size).toBe(500);
    expect(new Set(torrents.map((t) => t.hash)).size).toBe(500);
    for (const t of torrents) {
      expect(t.id).toMatch(/^[A-Z0-9]{13}$/);
      expect(t.hash).toMatch(/^[0-9a-f]{40}$/);
      expect(t.status).toBe("downloaded");
      const selected = t.files.filter((f) => f.selected === 1);
      expect(selected.length).toBeGreaterThanOrEqual(1);
      expect(selected.length).toBeLessThanOrEqual(3);
      expect(selected.every((f) => f.path.startsWith("/") && f.path.endsWith(".mkv"))).toBe(true);
      expect(t.links).toHaveLength(selected.length);
      expect(t.bytes).toBe(selected.reduce((s, f) => s + f.bytes, 0));
    }
    expect(Math.abs(Date.parse(torrents[0]?.added ?? "") - Date.now())).toBeLessThan(60_000);
  });

  it("makeTorrent derives links and bytes from given files and drops links for a failed status", () => {
    const t = makeTorrent({
      files: [
        { id: 1, path: "/x.mkv", bytes: 10, selected: 1 },
        { id: 2, path: "/y.nfo", bytes: 1, selected: 0 },
      ],
    });
    expect(t).toMatchObject({ bytes: 10, original_bytes: 11 });
    expect(t.links).toHaveLength(1);
    expect(makeTorrent({ status: "dead" }).links).toEqual([]);
    expect(makeTorrent({ status: "error", links: ["https://real-debrid.com/d/X"] }).links).toHaveLength(1);
  });

  it("makeAccount is deterministic, continues with start, and is newest first", () => {
    const a = makeAccount(5);
    expect(makeAccount(5)).toEqual(a);
    expect(makeAccount(3, { start: 2 }).map((t) => t.hash)).toEqual(a.slice(2).map((t) => t.hash));
    for (let i = 1; i < a.length; i++) expect((a[i - 1]?.added ?? "") > (a[i]?.added ?? "")).toBe(true);
    expect(a[0]?.added).toBe(new Date(Date.parse(a[0]?.added ?? "")).toJSON());
    const statuses = makeAccount(RD_STATUSES.length, { statusOf: (i) => RD_STATUSES[i] ?? "downloaded" });
    expect(statuses.map((t) => t.status)).toEqual(RD_STATUSES);
    expect(statuses.filter((t) => t.links.length > 0).map((t) => t.status)).toEqual(["downloaded"]);
  });

  it("builds 100,000 torrents quickly, and a page walk of 5,000 returns each id exactly once", async () => {
    const started = performance.now();
    const account = makeAccount(100_000);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(new Set(account.map((t) => t.id)).size).toBe(100_000);
    expect(new Set(account.map((t) => t.hash)).size).toBe(100_000);

    const fake = fakeWith(account, { rateLimitPerMinute: 0 });
    const seen: string[] = [];
    let pages = 0;
    for (let page = 1; ; page++) {
      const res = await get(fake, `/torrents?page=${page}&limit=5000`);
      expect(res.headers.get("x-total-count")).toBe("100000");
      if (res.status === 204) break;
      pages++;
      seen.push(...(await ids(res)));
    }
    expect(pages).toBe(20);
    expect(seen).toEqual(account.map((t) => t.id));
  });
});
