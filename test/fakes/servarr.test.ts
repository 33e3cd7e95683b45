import { describe, expect, it } from "vitest";
import { ArrError, type ArrKind, createArrClient } from "../../shared/clients/servarr.ts";
import { createFakeArr, type FakeArr, makeEpisodeFile, makeMovie, makeQueueRecord, makeSeries } from "./servarr.ts";

type FetchLike = FakeArr["fetch"];

function clientFor(fake: FakeArr, opts: { apiKey?: string; fetch?: FetchLike; timeoutMs?: number } = {}) {
  return createArrClient(
    { name: `${fake.kind}-main`, kind: fake.kind, url: fake.baseUrl, apiKey: opts.apiKey ?? fake.apiKey },
    { fetch: opts.fetch ?? fake.fetch, retryDelayMs: 0, timeoutMs: opts.timeoutMs },
  );
}

async function caught(p: Promise<unknown>): Promise<ArrError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArrError);
  return err as ArrError;
}

const requestsTo = (fake: FakeArr, path: string) => fake.requests.filter((r) => r.path === path);

describe("systemStatus and auth", () => {
  it.each<ArrKind>(["sonarr", "radarr"])("%s: reads appName and version with the key in X-Api-Key", async (kind) => {
    const fake = createFakeArr(kind);
    const status = await clientFor(fake).systemStatus();
    expect(status).toEqual({ appName: kind === "sonarr" ? "Sonarr" : "Radarr", version: expect.any(String) });
  });

  it("turns a wrong key into an ArrError 401 naming the instance, without retrying", async () => {
    const fake = createFakeArr("sonarr");
    const err = await caught(clientFor(fake, { apiKey: "wrong" }).queueAll());
    expect(err.status).toBe(401);
    expect(err.instance).toBe("sonarr-main");
    expect(err.endpoint).toBe("/api/v3/queue");
    expect(err.message).toMatch(/API key rejected by sonarr-main/);
    expect(fake.requests).toHaveLength(1);
  });

  it("the fake answers a bare 401 without a key or with a wrong one, and takes ?apikey= and Bearer too", async () => {
    const fake = createFakeArr("radarr", { apiKey: "k1" });
    const url = `${fake.baseUrl}/api/v3/system/status`;
    const attempts: Record<string, string>[] = [{}, { "X-Api-Key": "nope" }, { authorization: "Bearer nope" }];
    for (const headers of attempts) {
      const res = await fake.fetch(url, { headers });
      expect(res.status).toBe(401);
      expect(await res.text()).toBe("");
    }
    expect((await fake.fetch(`${url}?apikey=k1`)).status).toBe(200);
    expect((await fake.fetch(url, { headers: { authorization: "Bearer k1" } })).status).toBe(200);
    expect((await fake.fetch(url, { headers: { "x-api-key": "k1" } })).status).toBe(200);
  });
});

describe("queueAll", () => {
  it("pages through 450 records with pageSize 200 and returns each once, unknown items included", async () => {
    const fake = createFakeArr("sonarr");
    for (let i = 0; i < 450; i++) fake.queue.push(makeQueueRecord(i % 50 === 0 ? {} : { seriesId: 1, episodeId: i }));
    const items = await clientFor(fake).queueAll();
    expect(items.map((q) => q.id)).toEqual(fake.queue.map((q) => q.id));
    const pages = requestsTo(fake, "/api/v3/queue").map((r) => Object.fromEntries(new URLSearchParams(r.query)));
    expect(pages).toEqual(
      [1, 2, 3].map((page) => ({ page: String(page), pageSize: "200", includeUnknownSeriesItems: "true" })),
    );
  });

  it("reads a queue of exactly one page in one request, and an empty queue too", async () => {
    const fake = createFakeArr("radarr");
    for (let i = 0; i < 200; i++) fake.queue.push(makeQueueRecord({ movieId: 1 }));
    expect(await clientFor(fake).queueAll()).toHaveLength(200);
    fake.queue.length = 0;
    expect(await clientFor(fake).queueAll()).toEqual([]);
    const queries = requestsTo(fake, "/api/v3/queue").map((r) => new URLSearchParams(r.query));
    expect(queries.map((q) => q.get("page"))).toEqual(["1", "1"]);
    expect(queries.every((q) => q.get("includeUnknownMovieItems") === "true")).toBe(true);
  });

  it("returns a record once when the queue shifts between two page reads", async () => {
    const fake = createFakeArr("sonarr");
    for (let i = 0; i < 300; i++) fake.queue.push(makeQueueRecord({ seriesId: 1 }));
    const shiftingFetch: FetchLike = async (input, init) => {
      const res = await fake.fetch(input, init);
      // A new download lands at the front right after page 1: page 2 starts with page 1's last record.
      if (String(input instanceof Request ? input.url : input).includes("page=1&")) {
        fake.queue.unshift(makeQueueRecord({ seriesId: 1 }));
      }
      return res;
    };
    const ids = (await clientFor(fake, { fetch: shiftingFetch }).queueAll()).map((q) => q.id);
    expect(fake.queue).toHaveLength(301);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(300);
  });

  it("maps every field, omitted optional fields becoming null", async () => {
    const fake = createFakeArr("sonarr");
    const hash = "ABCDEF0123456789ABCDEF0123456789ABCDEF01";
    fake.queue.push(
      makeQueueRecord({
        id: 7,
        seriesId: 3,
        episodeId: 30,
        title: "Show.S01E01.1080p",
        status: "warning",
        trackedDownloadStatus: "warning",
        trackedDownloadState: "importBlocked",
        statusMessages: [{ title: "Show.S01E01.1080p", messages: ["No files found are eligible for import"] }],
        errorMessage: "qBittorrent is reporting an error",
        downloadId: hash,
        size: 100,
        sizeleft: 0,
      }),
      { ...makeQueueRecord({ id: 8 }), downloadId: undefined, downloadClient: undefined, errorMessage: undefined },
    );
    const [first, second] = await clientFor(fake).queueAll();
    expect(first).toEqual({
      id: 7,
      downloadId: hash,
      title: "Show.S01E01.1080p",
      status: "warning",
      trackedDownloadStatus: "warning",
      trackedDownloadState: "importBlocked",
      statusMessages: [{ title: "Show.S01E01.1080p", messages: ["No files found are eligible for import"] }],
      errorMessage: "qBittorrent is reporting an error",
      protocol: "torrent",
      downloadClient: "qBittorrent",
      seriesId: 3,
      episodeId: 30,
      size: 100,
      sizeleft: 0,
    });
    expect(second).toMatchObject({ id: 8, downloadId: null, downloadClient: null, errorMessage: null });
    expect(second).not.toHaveProperty("seriesId");
  });

  it("the fake pages like QueueController: default pageSize 10, unknown items hidden, a page past the end clamped", async () => {
    const fake = createFakeArr("sonarr");
    for (let i = 0; i < 25; i++) fake.queue.push(makeQueueRecord(i < 23 ? { seriesId: 1 } : {}));
    const get = async (query: string) => {
      const res = await fake.fetch(`${fake.baseUrl}/api/v3/queue?${query}`, { headers: { "X-Api-Key": fake.apiKey } });
      return (await res.json()) as { page: number; pageSize: number; totalRecords: number; records: { id: number }[] };
    };
    const first = await get("");
    expect(first).toMatchObject({ page: 1, pageSize: 10, totalRecords: 23 });
    expect(first.records).toHaveLength(10);
    expect((await get("includeUnknownSeriesItems=true")).totalRecords).toBe(25);
    // 23 records, pageSize 10: page 9 is past the end and comes back as page 2 (integer division in the *arr).
    const past = await get("page=9");
    expect(past.page).toBe(2);
    expect(past.records.map((r) => r.id)).toEqual(fake.queue.slice(10, 20).map((r) => r.id));
  });
});

describe("findOwner", () => {
  function sonarrLibrary() {
    const fake = createFakeArr("sonarr");
    const show = makeSeries({ title: "Show", path: "/tv/Show" });
    const show2 = makeSeries({ title: "Show 2", path: "/tv/Show 2" });
    const s1 = makeEpisodeFile(show, { path: "/tv/Show/Season 01/Show - S01E01.mkv", episodeIds: [11] });
    const s2 = makeEpisodeFile(show, {
      seasonNumber: 2,
      path: "/tv/Show/Season 02/Show - S02E01-E02.mkv",
      episodeIds: [21, 22],
    });
    const other = makeEpisodeFile(show2, { path: "/tv/Show 2/Season 01/Show 2 - S01E01.mkv", episodeIds: [31] });
    fake.series.push(show, show2);
    fake.episodeFiles.push(s1, s2, other);
    return { fake, show, show2, s1, s2, other };
  }

  it("Sonarr: finds series, file and every episode of a multi-episode file in a nested season folder", async () => {
    const { fake, show, s2 } = sonarrLibrary();
    expect(await clientFor(fake).findOwner(s2.path)).toEqual({
      instance: "sonarr-main",
      kind: "sonarr",
      itemId: show.id,
      fileId: s2.id,
      episodeIds: [21, 22],
      path: s2.path,
    });
    expect(requestsTo(fake, "/api/v3/episodefile")[0]?.query).toBe(`seriesId=${show.id}`);
    expect(requestsTo(fake, "/api/v3/episode")[0]?.query).toBe(`episodeFileId=${s2.id}`);
  });

  it("Sonarr: picks /tv/Show 2 over /tv/Show for a file under /tv/Show 2", async () => {
    const { fake, show2, other } = sonarrLibrary();
    const owner = await clientFor(fake).findOwner(other.path);
    expect(owner).toMatchObject({ itemId: show2.id, fileId: other.id, episodeIds: [31] });
  });

  it("Sonarr: null for a path outside every series and for a file the series does not know", async () => {
    const { fake } = sonarrLibrary();
    const client = clientFor(fake);
    expect(await client.findOwner("/tv/Unknown Show/Season 01/x.mkv")).toBeNull();
    expect(await client.findOwner("/tv/Show/Season 01/Show - S01E01.nfo")).toBeNull();
    expect(await client.findOwner("/tv/Shower/Season 01/x.mkv")).toBeNull();
  });

  it("lists the series once for the client's lifetime, and again after a failed listing", async () => {
    const { fake, s1, s2, other } = sonarrLibrary();
    fake.inject({ status: 503, path: /^\/api\/v3\/series$/, count: 2 });
    const client = clientFor(fake);
    const err = await caught(client.findOwner(s1.path));
    expect(err).toMatchObject({ status: 503, transient: true });
    for (const f of [s1, s2, other, s1]) expect(await client.findOwner(f.path)).not.toBeNull();
    // Two failed attempts (read retried once), then one good listing for all four lookups.
    expect(requestsTo(fake, "/api/v3/series").map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("Radarr: finds movie and file; null for a movie without a file and for an unknown path", async () => {
    const fake = createFakeArr("radarr");
    const film = makeMovie({ title: "Film", path: "/movies/Film (2020)" });
    const film2 = makeMovie({ title: "Film 2", path: "/movies/Film (2020) 2" });
    const empty = makeMovie({ title: "Empty", path: "/movies/Empty (2021)", movieFile: undefined });
    fake.movies.push(film, film2, empty);
    const client = clientFor(fake);
    const path2 = film2.movieFile?.path ?? "";
    expect(await client.findOwner(path2)).toEqual({
      instance: "radarr-main",
      kind: "radarr",
      itemId: film2.id,
      fileId: film2.movieFile?.id,
      episodeIds: [],
      path: path2,
    });
    expect(requestsTo(fake, "/api/v3/moviefile")[0]?.query).toBe(`movieId=${film2.id}`);
    expect(await client.findOwner("/movies/Empty (2021)/Empty.mkv")).toBeNull();
    expect(await client.findOwner("/movies/Nope/Nope.mkv")).toBeNull();
    expect(requestsTo(fake, "/api/v3/movie")).toHaveLength(1);
    expect(requestsTo(fake, "/api/v3/episode")).toHaveLength(0);
  });

  it("refuses a relative path", async () => {
    await expect(clientFor(createFakeArr("sonarr")).findOwner("Show/Season 01/x.mkv")).rejects.toThrow(/absolute/);
  });
});

describe("commands", () => {
  it("Sonarr: RescanSeries {seriesId} and EpisodeSearch {episodeIds}, ids from the 201 answer", async () => {
    const fake = createFakeArr("sonarr");
    const client = clientFor(fake);
    expect(await client.rescan(5)).toEqual({ commandId: 1 });
    expect(await client.search({ itemId: 5, episodeIds: [51, 52] })).toEqual({ commandId: 2 });
    expect(fake.commands.map((c) => [c.name, c.body])).toEqual([
      ["RescanSeries", { name: "RescanSeries", seriesId: 5 }],
      ["EpisodeSearch", { name: "EpisodeSearch", episodeIds: [51, 52] }],
    ]);
    expect(requestsTo(fake, "/api/v3/command").map((r) => [r.method, r.status])).toEqual([
      ["POST", 201],
      ["POST", 201],
    ]);
  });

  it("Radarr: RescanMovie {movieId} and MoviesSearch {movieIds: [id]}", async () => {
    const fake = createFakeArr("radarr");
    const client = clientFor(fake);
    await client.rescan(9);
    await client.search({ itemId: 9, episodeIds: [] });
    expect(fake.commands.map((c) => c.body)).toEqual([
      { name: "RescanMovie", movieId: 9 },
      { name: "MoviesSearch", movieIds: [9] },
    ]);
  });

  it("Sonarr: a search without episode ids is refused before any request", async () => {
    const fake = createFakeArr("sonarr");
    expect(() => clientFor(fake).search({ itemId: 5, episodeIds: [] })).toThrow(/at least one episode/);
    expect(fake.requests).toHaveLength(0);
  });

  it("does not retry a command that failed with 503", async () => {
    const fake = createFakeArr("sonarr");
    fake.inject({ status: 503, path: /command/ });
    const err = await caught(clientFor(fake).rescan(5));
    expect(err).toMatchObject({ status: 503, transient: true });
    expect(fake.requests).toHaveLength(1);
    expect(fake.commands).toHaveLength(0);
  });

  it("the fake answers like CommandController: 201 resource, 400 for no name, 500 for an unknown one", async () => {
    const fake = createFakeArr("sonarr");
    const post = (body: unknown) =>
      fake.fetch(`${fake.baseUrl}/api/v3/command`, {
        method: "POST",
        headers: { "X-Api-Key": fake.apiKey, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await post({ name: "refreshmonitoreddownloads" });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ id: 1, name: "RefreshMonitoredDownloads", status: "queued" });
    const blank = await post({ name: "" });
    expect(blank.status).toBe(400);
    expect(await blank.json()).toEqual([expect.objectContaining({ propertyName: "Name" })]);
    expect((await post({ name: "MoviesSearch", movieIds: [1] })).status).toBe(500);
  });
});

describe("deleteFile and blocklistQueueItem", () => {
  it("Sonarr: DELETE /api/v3/episodefile/{id}; a second time is an ArrError 404 with the *arr's message", async () => {
    const fake = createFakeArr("sonarr");
    const show = makeSeries();
    const file = makeEpisodeFile(show);
    fake.series.push(show);
    fake.episodeFiles.push(file);
    const client = clientFor(fake);
    await client.deleteFile(file.id);
    expect(fake.deleted).toEqual([{ kind: "episodefile", id: file.id, query: "" }]);
    expect(fake.episodeFiles).toEqual([]);
    const err = await caught(client.deleteFile(file.id));
    expect(err.status).toBe(404);
    expect(err.endpoint).toBe(`/api/v3/episodefile/${file.id}`);
    expect(err.message).toBe(
      `sonarr: sonarr-main DELETE /api/v3/episodefile/${file.id}: HTTP 404 EpisodeFile with ID ${file.id} does not exist`,
    );
    expect(requestsTo(fake, `/api/v3/episodefile/${file.id}`).map((r) => r.method)).toEqual(["DELETE", "DELETE"]);
  });

  it("Radarr: DELETE /api/v3/moviefile/{id}, and findOwner sees the file gone", async () => {
    const fake = createFakeArr("radarr");
    const film = makeMovie();
    fake.movies.push(film);
    const client = clientFor(fake);
    const owner = await client.findOwner(film.movieFile?.path ?? "");
    await client.deleteFile(owner?.fileId ?? -1);
    expect(fake.deleted).toEqual([{ kind: "moviefile", id: owner?.fileId, query: "" }]);
    expect(await client.findOwner(owner?.path ?? "")).toBeNull();
  });

  it("blocklists through DELETE /api/v3/queue/{id} with the documented query", async () => {
    const fake = createFakeArr("sonarr");
    const rec = makeQueueRecord({ seriesId: 1 });
    fake.queue.push(rec, makeQueueRecord({ seriesId: 1 }));
    await clientFor(fake).blocklistQueueItem(rec.id, { removeFromClient: false, skipRedownload: true });
    expect(fake.deleted).toEqual([
      { kind: "queue", id: rec.id, query: "removeFromClient=false&blocklist=true&skipRedownload=true" },
    ]);
    expect(fake.queue.map((q) => q.id)).not.toContain(rec.id);
  });

  it("an unknown queue id is an ArrError 404, not retried", async () => {
    const fake = createFakeArr("radarr");
    const err = await caught(
      clientFor(fake).blocklistQueueItem(999, { removeFromClient: true, skipRedownload: false }),
    );
    expect(err).toMatchObject({ status: 404, transient: false, endpoint: "/api/v3/queue/999" });
    expect(err.message).toMatch(/HTTP 404 NotFound$/);
    expect(fake.requests).toHaveLength(1);
  });

  it("does not retry a delete that failed with 500", async () => {
    const fake = createFakeArr("sonarr");
    fake.inject({ status: 500, method: "DELETE", count: 5 });
    await caught(clientFor(fake).deleteFile(1));
    expect(fake.requests).toHaveLength(1);
  });
});

describe("malformed answers and transient failures", () => {
  it("names the offending field of a malformed queue page", async () => {
    const fake = createFakeArr("sonarr");
    const record = { ...makeQueueRecord({ seriesId: 1 }), id: "12" };
    fake.inject({ status: 200, path: /queue/, body: { page: 1, pageSize: 200, totalRecords: 1, records: [record] } });
    const err = await caught(clientFor(fake).queueAll());
    expect(err.message).toMatch(/sonarr-main \/api\/v3\/queue: unexpected response: response\.records\[0\]\.id/);
    expect(err.transient).toBe(false);
    expect(fake.requests).toHaveLength(1);
  });

  it("names the missing field of a command answer", async () => {
    const fake = createFakeArr("radarr");
    fake.inject({ status: 201, path: /command/, body: { name: "RescanMovie", status: "queued" } });
    const err = await caught(clientFor(fake).rescan(1));
    expect(err.message).toMatch(/response\.id: .*missing/);
  });

  it("reports JSON cut in half and an HTML page as unexpected responses", async () => {
    const fake = createFakeArr("sonarr");
    fake.inject({ status: 200, path: /system/, body: '{"appName":"Sonarr","vers' });
    fake.inject({ status: 200, path: /rootfolder/, body: "<html><body>Sonarr</body></html>" });
    const client = clientFor(fake);
    expect((await caught(client.systemStatus())).message).toMatch(/unexpected response: response: expected Object/);
    expect((await caught(client.rootFolders())).message).toMatch(/unexpected response: response: expected Array/);
  });

  it("retries a read once after a 503 and succeeds", async () => {
    const fake = createFakeArr("sonarr");
    fake.rootFolders = ["/tv", "/tv-4k"];
    fake.inject({ status: 503, path: /rootfolder/ });
    expect(await clientFor(fake).rootFolders()).toEqual(["/tv", "/tv-4k"]);
    expect(fake.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it("gives up on a read after the second 5xx, keeping the proxy's text", async () => {
    const fake = createFakeArr("sonarr");
    fake.inject({ status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>", count: 2 });
    const err = await caught(clientFor(fake).systemStatus());
    expect(err).toMatchObject({ status: 502, transient: true });
    expect(err.message).toBe("sonarr: sonarr-main GET /api/v3/system/status: HTTP 502 502 Bad Gateway");
  });

  it("retries a read once after a network failure, with the root cause in the message", async () => {
    const fake = createFakeArr("sonarr");
    let failures = 1;
    const flaky: FetchLike = async (input, init) => {
      if (failures-- > 0) {
        const cause = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:8989"), { code: "ECONNREFUSED" });
        throw new TypeError("fetch failed", { cause });
      }
      return fake.fetch(input, init);
    };
    expect(await clientFor(fake, { fetch: flaky }).rootFolders()).toEqual(["/tv"]);
    failures = 2;
    const err = await caught(clientFor(fake, { fetch: flaky }).rootFolders());
    expect(err.status).toBeUndefined();
    expect(err.message).toBe("sonarr: sonarr-main GET /api/v3/rootfolder: connect ECONNREFUSED 10.0.0.5:8989");
  });

  it("times out a hanging call per attempt", async () => {
    const fake = createFakeArr("sonarr");
    let calls = 0;
    const hanging: FetchLike = (input, init) => {
      calls++;
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      return new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    };
    const err = await caught(clientFor(fake, { fetch: hanging, timeoutMs: 30 }).systemStatus());
    expect(err.message).toMatch(/no answer within 30 ms/);
    expect(err.transient).toBe(true);
    expect(calls).toBe(2);
  });

  it("rejects with the caller's abort reason, not an ArrError, and does not retry", async () => {
    const fake = createFakeArr("sonarr");
    const ctl = new AbortController();
    const reason = new Error("shutting down");
    let calls = 0;
    const aborting: FetchLike = async (input, init) => {
      calls++;
      ctl.abort(reason);
      return fake.fetch(input, init);
    };
    await expect(clientFor(fake, { fetch: aborting }).queueAll(ctl.signal)).rejects.toBe(reason);
    expect(calls).toBe(1);
  });
});

describe("over real HTTP", () => {
  it("talks to the fake on a loopback port with the global fetch", async () => {
    const fake = createFakeArr("radarr");
    fake.queue.push(makeQueueRecord({ movieId: 1 }), makeQueueRecord({ movieId: 2 }));
    const server = await fake.listen();
    try {
      const client = createArrClient({ name: "radarr-http", kind: "radarr", url: server.url, apiKey: fake.apiKey });
      expect((await client.systemStatus()).appName).toBe("Radarr");
      expect((await client.queueAll()).map((q) => q.movieId)).toEqual([1, 2]);
      const bad = createArrClient({ name: "radarr-http", kind: "radarr", url: server.url, apiKey: "nope" });
      expect((await caught(bad.systemStatus())).message).toMatch(/API key rejected by radarr-http/);
    } finally {
      await server.close();
    }
  });
});
