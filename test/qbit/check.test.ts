import { afterEach, beforeEach, describe, expect, it } from "vitest";
import qbitCheck from "../../functions/qbit-check.ts";
import { createApp } from "../../shared/app.ts";
import { type Clients, noClients } from "../../shared/clients/index.ts";
import type { NotifyEvent } from "../../shared/clients/notify.ts";
import { createQbitClient } from "../../shared/clients/qbittorrent.ts";
import { createArrClient } from "../../shared/clients/servarr.ts";
import type { Db } from "../../shared/db.ts";
import { buildRuleSet, parseRulesFile, type RuleSet } from "../../shared/qbit/rules.ts";
import { createFakeQbit, type FakeQbit, makeQbitTorrent } from "../fakes/qbittorrent.ts";
import { createFakeArr, type FakeArr, makeQueueRecord } from "../fakes/servarr.ts";
import { makeConfig, makeDb, makeLog, makeRunner } from "../helpers/factories.ts";

let db: Db;
let qbit: FakeQbit;
let sonarr: FakeArr;
let radarr: FakeArr;
let events: NotifyEvent[];
beforeEach(async () => {
  db = await makeDb();
  qbit = createFakeQbit();
  sonarr = createFakeArr("sonarr");
  radarr = createFakeArr("radarr");
  events = [];
});
afterEach(() => db.close());

function runnerWith(opts: { rules?: RuleSet; env?: Record<string, string> } = {}) {
  const arr = (f: FakeArr) =>
    createArrClient(
      { name: f.kind, kind: f.kind, url: f.baseUrl, apiKey: f.apiKey },
      { fetch: f.fetch as typeof fetch, retryDelayMs: 0 },
    );
  const clients: Clients = {
    ...noClients(),
    arr: [arr(sonarr), arr(radarr)],
    qbit: [
      createQbitClient(
        { name: "qbittorrent", url: qbit.baseUrl, username: qbit.username, password: qbit.password },
        { fetch: qbit.fetch as typeof fetch },
      ),
    ],
    qbitRules: opts.rules ?? buildRuleSet(null),
    notifier: () => ({
      enabled: true,
      add: (e) => events.push(e),
      pending: () => 0,
      flush: async () => ({ sent: 0, failed: 0 }),
    }),
  };
  const config = makeConfig({ DRY_RUN: "false", ...opts.env });
  return makeRunner({ db, config, clients, jobs: [qbitCheck] });
}

async function run(runner: ReturnType<typeof runnerWith>, dryRun = false) {
  const r = await runner.run("qbit-check", { trigger: "test", dryRun });
  expect(r.status, r.error ?? "").toBe("succeeded");
  return r.summary as Record<string, unknown>;
}

/** A torrent in qBittorrent and its Sonarr queue record (one episode). */
function episode(partial: Parameters<typeof makeQbitTorrent>[0], seriesId: number, episodeId: number, queueId: number) {
  const t = makeQbitTorrent({ state: "downloading", progress: 0.4, amountLeft: 900, tracker: "", ...partial });
  qbit.torrents.push(t);
  sonarr.queue.push(
    makeQueueRecord({ id: queueId, seriesId, episodeId, downloadId: t.hash.toUpperCase(), title: t.name }),
  );
  return t;
}
const notWorking = (msg: string) => [{ url: "https://tracker.example/announce", status: 4, msg, tier: 0 }];
const mutations = (f: { requests: { method: string; path: string }[] }) => f.requests.filter((r) => r.method !== "GET");
const deletions = () => sonarr.deleted.map((d) => `${d.kind}:${d.id}?${d.query}`);
const searches = (f: FakeArr) => f.commands.map((c) => c.body);

describe("qbit-check against fake qBittorrent, Sonarr and Radarr", () => {
  it("classifies each download and acts per class after its strikes; the healthy one is untouched", async () => {
    const tracker = episode({}, 1, 11, 101);
    qbit.trackers.set(tracker.hash, notWorking("Unregistered torrent"));
    const conn = episode({ state: "stalledDL" }, 2, 21, 201);
    qbit.trackers.set(conn.hash, notWorking("Connection timed out"));
    const disk = episode({ state: "error" }, 3, 31, 301);
    qbit.addLog(
      `File error alert. Torrent: "${disk.name}". File: "/downloads/x.mkv". Reason: "${disk.name} file_write (/downloads/x.mkv) error: No space left on device"`,
      4,
    );
    const healthy = episode({ state: "downloading", tracker: "https://t/announce" }, 4, 41, 401);
    qbit.trackers.set(healthy.hash, [{ url: "https://t/announce", status: 2, msg: "", tier: 0 }]);
    const runner = runnerWith();

    const first = await run(runner);
    expect(first).toMatchObject({ downloads: 4, candidates: 3, struck: 3, acted: 0 });
    expect(first.classified).toEqual({ tracker: 1, connection: 1, file: 1 });
    expect(sonarr.deleted).toEqual([]);

    // Second check: tracker (2 strikes) and file (2 strikes) act; connection needs 3.
    await run(runner);
    expect(deletions()).toEqual([
      "queue:101?removeFromClient=false&blocklist=true&skipRedownload=true",
      "queue:301?removeFromClient=true&blocklist=false&skipRedownload=true",
    ]);
    expect(searches(sonarr)).toEqual([{ name: "EpisodeSearch", episodeIds: [11] }]);
    expect(events.map((e) => e.kind)).toEqual(["download_problem"]);
    expect(events[0]?.title).toMatch(/^file: /);

    // The acted items left the queue (the fake's DELETE removes them); connection reaches 3 strikes.
    await run(runner);
    expect(deletions()).toContain("queue:201?removeFromClient=true&blocklist=true&skipRedownload=true");
    expect(searches(sonarr)).toEqual([
      { name: "EpisodeSearch", episodeIds: [11] },
      { name: "EpisodeSearch", episodeIds: [21] },
    ]);
    expect(sonarr.deleted.map((d) => d.id)).not.toContain(401);
    expect(mutations(qbit)).toEqual([expect.objectContaining({ path: "/api/v2/auth/login" })]);
    const journal = await db.execute("SELECT kind, state FROM actions ORDER BY id");
    expect(journal.rows.map((r) => `${r.kind} ${r.state}`)).toEqual([
      "arr_queue_remove done",
      "arr_search done",
      "arr_queue_remove done",
      "arr_queue_remove done",
      "arr_search done",
    ]);
  });

  it("GET /api/qbit shows the strikes and the actions", async () => {
    const a = episode({}, 1, 11, 101);
    qbit.trackers.set(a.hash, notWorking("Unregistered torrent"));
    const b = episode({ state: "stalledDL" }, 2, 21, 201);
    const runner = runnerWith();
    await run(runner);
    await run(runner);
    const app = createApp({ config: makeConfig(), db, runner, log: makeLog(), probes: {} });
    const body = await (await app.request("/api/qbit")).json();
    expect(body.byClass).toEqual({ stalled: 1, tracker: 1 });
    expect(body.items).toEqual([
      expect.objectContaining({
        downloadId: a.hash,
        class: "tracker",
        strikes: 2,
        needed: 2,
        actedAt: expect.any(String),
      }),
      expect.objectContaining({ downloadId: b.hash, class: "stalled", strikes: 2, needed: 6, actedAt: null }),
    ]);
    expect(body.recentActions.map((x: { kind: string }) => x.kind)).toEqual(["arr_search", "arr_queue_remove"]);
    expect((await app.request("/api/qbit?class=Bad!")).status).toBe(400);
  });

  it("never removes for a tracker that is down, and never deletes a private torrent from the client", async () => {
    const down = episode({}, 1, 11, 101);
    qbit.trackers.set(down.hash, notWorking("Tracker is down"));
    const priv = episode({ isPrivate: true }, 2, 21, 201);
    qbit.trackers.set(priv.hash, notWorking("Connection timed out"));
    const runner = runnerWith();
    for (let i = 0; i < 8; i++) await run(runner);
    expect(deletions()).toEqual(["queue:201?removeFromClient=false&blocklist=true&skipRedownload=true"]);
    // The tracker that is down never collected a strike.
    expect(
      (await db.execute({ sql: "SELECT * FROM qbit_strikes WHERE download_id = ?", args: [down.hash] })).rows,
    ).toEqual([]);
    const detail = await db.execute("SELECT detail FROM actions WHERE kind = 'arr_queue_remove'");
    expect(JSON.parse(String(detail.rows[0]?.detail))).toMatchObject({
      protectedPrivate: true,
      removeFromClient: false,
    });
  });

  it("asks qBittorrent 4.x (no private field) through properties, and keeps unknown ones as private", async () => {
    const t = episode({ isPrivate: null }, 2, 21, 201);
    qbit.trackers.set(t.hash, notWorking("Connection timed out"));
    qbit.properties.set(t.hash, { isPrivate: false });
    const runner = runnerWith({ env: { QBIT_DELETE_PRIVATE: "false" } });
    for (let i = 0; i < 3; i++) await run(runner);
    expect(deletions()).toEqual(["queue:201?removeFromClient=true&blocklist=true&skipRedownload=true"]);
  });

  it("resets strikes when a download recovers, and gives none while qBittorrent is unreachable", async () => {
    const t = episode({ state: "stalledDL" }, 1, 11, 101);
    const runner = runnerWith();
    await run(runner);
    await run(runner);
    expect((await db.execute("SELECT strikes FROM qbit_strikes")).rows[0]?.strikes).toBe(2);
    t.state = "downloading";
    await run(runner);
    expect((await db.execute("SELECT * FROM qbit_strikes")).rows).toHaveLength(0);

    t.state = "stalledDL";
    qbit.connectionStatus = "disconnected";
    for (let i = 0; i < 8; i++) {
      const s = await run(runner);
      expect(s.outages).toEqual(["qbittorrent"]);
    }
    expect((await db.execute("SELECT * FROM qbit_strikes")).rows).toHaveLength(0);
    expect(sonarr.deleted).toEqual([]);
  });

  it("removes a season pack once and searches all of its episodes; Radarr searches the movie", async () => {
    const pack = makeQbitTorrent({ state: "downloading", tracker: "" });
    qbit.torrents.push(pack);
    qbit.trackers.set(pack.hash, notWorking("unregistered torrent"));
    for (const [id, ep] of [
      [501, 51],
      [502, 52],
    ]) {
      sonarr.queue.push(makeQueueRecord({ id, seriesId: 5, episodeId: ep, downloadId: pack.hash.toUpperCase() }));
    }
    const movie = makeQbitTorrent({ state: "downloading", category: "radarr", tracker: "" });
    qbit.torrents.push(movie);
    qbit.trackers.set(movie.hash, notWorking("Unregistered torrent"));
    radarr.queue.push(makeQueueRecord({ id: 601, movieId: 60, downloadId: movie.hash.toUpperCase() }));
    const runner = runnerWith();
    await run(runner);
    await run(runner);
    expect(sonarr.deleted.map((d) => d.id)).toEqual([501]);
    expect(searches(sonarr)).toEqual([{ name: "EpisodeSearch", episodeIds: [51, 52] }]);
    expect(radarr.deleted.map((d) => d.id)).toEqual([601]);
    expect(searches(radarr)).toEqual([{ name: "MoviesSearch", movieIds: [60] }]);
  });

  it("dry run: classifies and journals what it would do, and sends nothing that changes anything", async () => {
    const a = episode({}, 1, 11, 101);
    qbit.trackers.set(a.hash, notWorking("Unregistered torrent"));
    const b = episode({ state: "error" }, 2, 21, 201);
    qbit.addLog(`File error alert. Torrent: "${b.name}". File: "x". Reason: "Permission denied"`, 4);
    const runner = runnerWith();
    for (let i = 0; i < 4; i++) await run(runner, true);
    expect(mutations(sonarr)).toEqual([]);
    expect(mutations(radarr)).toEqual([]);
    expect(mutations(qbit).filter((r) => r.path !== "/api/v2/auth/login")).toEqual([]);
    const planned = await db.execute("SELECT kind, state FROM actions");
    expect(new Set(planned.rows.map((r) => r.state))).toEqual(new Set(["planned"]));
    expect(planned.rows.map((r) => r.kind).sort()).toEqual(["arr_queue_remove", "arr_queue_remove", "arr_search"]);
  });

  it("leaves ignored tags and categories alone, and takes per-category rules from the rules file", async () => {
    const keep = episode({ tags: ["keep"] }, 1, 11, 101);
    qbit.trackers.set(keep.hash, notWorking("unregistered"));
    const anime = episode({ category: "anime" }, 2, 21, 201);
    qbit.trackers.set(anime.hash, notWorking("unregistered"));
    const rules = parseRulesFile(
      JSON.stringify({
        ignoreTags: ["keep"],
        categories: { anime: { classes: { tracker: { action: "alert", strikes: 1 } } } },
      }),
      "rules.json",
    );
    const runner = runnerWith({ rules });
    const s = await run(runner);
    expect(s).toMatchObject({ exempt: 1 });
    expect(sonarr.deleted).toEqual([]);
    expect(events.map((e) => e.title)).toEqual([expect.stringMatching(/^tracker: /)]);
    await run(runner);
    expect(events).toHaveLength(1); // alerted once, not on every run
  });
});
