import { existsSync, lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPlexClient } from "../../shared/clients/plex.ts";
import { createFakePlex, makeSection } from "../fakes/plex.ts";
import type { FakeFile } from "../fakes/real-debrid.ts";
import { makeEpisodeFile, makeMovie, makeSeries } from "../fakes/servarr.ts";
import { type RepairHarness, repairHarness } from "./harness.ts";

const HOUR = 3_600_000;
const FILES: FakeFile[] = [
  { id: 1, path: "/Show.S01E01.mkv", bytes: 1_000, selected: 1 },
  { id: 2, path: "/Show.S01E02.mkv", bytes: 1_000, selected: 1 },
  { id: 3, path: "/Show.S01.nfo", bytes: 10, selected: 0 },
];
// What a fresh magnet of the same hash resolves to: the same paths under other ids, in another order.
const RESOLVED: FakeFile[] = [
  { id: 7, path: "/Show.S01.nfo", bytes: 10, selected: 0 },
  { id: 8, path: "/Show.S01E02.mkv", bytes: 1_000, selected: 0 },
  { id: 9, path: "/Show.S01E01.mkv", bytes: 1_000, selected: 0 },
];

let h: RepairHarness;
beforeEach(async () => {
  h = await repairHarness();
});
afterEach(() => h.close());

const repair = async () => (await h.rows("SELECT * FROM repairs ORDER BY id"))[0];
const journal = async () =>
  (await h.rows("SELECT kind, target, state FROM actions ORDER BY id")).map((r) => `${r.kind} ${r.state}`);
const byHash = (hash: string) => h.fake.torrents.filter((t) => t.hash === hash);
const selected = (files: readonly FakeFile[]) =>
  files
    .filter((f) => f.selected)
    .map((f) => f.path)
    .sort();

function deadShow(status: "dead" | "error" | "magnet_error" | "virus" = "dead") {
  const old = h.torrent({ id: "OLD1", filename: "Show.S01.1080p", status, files: FILES.map((f) => ({ ...f })) });
  h.fake.catalog.set(old.hash, RESOLVED);
  return old;
}

describe("a dead torrent is repaired end to end", () => {
  it("re-adds by hash, selects the same files by path, deletes the old one only once the new is downloaded", async () => {
    const old = deadShow();
    h.fake.cached.add(old.hash);
    expect((await h.run("rd-quick-scan")).queued).toBe(1);
    const summary = await h.run("retry-drain");
    expect(summary).toMatchObject({ done: 1, failed: 0 });

    const now = byHash(old.hash);
    expect(now).toHaveLength(1);
    expect(now[0]?.id).not.toBe("OLD1");
    expect(now[0]?.status).toBe("downloaded");
    expect(selected(now[0]?.files ?? [])).toEqual(["/Show.S01E01.mkv", "/Show.S01E02.mkv"]);
    // The selection went out by the new ids of those paths.
    const select = h.fake.requests.find((r) => r.path.startsWith("/torrents/selectFiles/"));
    expect(select).toBeDefined();

    // Order on the wire: the old torrent is deleted after the new one was seen downloaded.
    const paths = h.fake.requests.map((r) => `${r.method} ${r.path}`);
    const newId = now[0]?.id ?? "";
    const lastPoll = paths.lastIndexOf(`GET /torrents/info/${newId}`);
    const deletion = paths.indexOf("DELETE /torrents/delete/OLD1");
    expect(lastPoll).toBeGreaterThan(paths.indexOf("POST /torrents/addMagnet"));
    expect(deletion).toBeGreaterThan(lastPoll);
    expect(h.mutations().map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /torrents/addMagnet",
      `POST /torrents/selectFiles/${newId}`,
      "DELETE /torrents/delete/OLD1",
    ]);

    const r = await repair();
    expect(r).toMatchObject({ state: "done", new_torrent_id: newId, step_started_at: null });
    expect(await journal()).toEqual(["add_magnet done", "select_files done", "delete_old_torrent done"]);
    const attempts = await h.rows("SELECT endpoint FROM attempts WHERE repair_id = ?", [Number(r?.id)]);
    expect(attempts.length).toBe(paths.length - 2); // every call but the quick scan's listing and the run's activeCount
    // The deleted torrent is gone in the table, so the next scan does not queue it again.
    expect((await h.rows("SELECT gone_at FROM torrents WHERE id = 'OLD1'"))[0]?.gone_at).not.toBeNull();
    expect((await h.run("rd-quick-scan")).queued).toBe(0);
    expect(h.events.map((e) => e.kind)).toEqual(["repair_done"]);
  });

  it("polls an uncached torrent across runs and finishes when RD has downloaded it", async () => {
    const old = deadShow("error");
    await h.run("rd-quick-scan");
    expect(await h.run("retry-drain")).toMatchObject({ done: 0, deferred: 1 });
    expect((await repair())?.state).toBe("waiting");
    const fresh = byHash(old.hash).find((t) => t.id !== "OLD1");
    expect(fresh?.status).toBe("queued");
    expect(h.fake.requests.some((r) => r.method === "DELETE")).toBe(false);

    // RD finishes the download 20 minutes later.
    h.clock.advance(20 * 60_000);
    Object.assign(fresh ?? {}, { status: "downloaded", progress: 100 });
    await h.run("retry-drain");
    expect((await repair())?.state).toBe("done");
    expect(byHash(old.hash).map((t) => t.id)).toEqual([fresh?.id]);
  });

  it("uncached after the deadline: the new torrent is removed, the old one kept, the hash failed for good", async () => {
    const old = deadShow();
    await h.run("rd-quick-scan");
    await h.run("retry-drain");
    h.clock.advance(61 * 60_000);
    await h.run("retry-drain");
    const r = await repair();
    expect(r).toMatchObject({ state: "failed", error_class: "uncached", new_torrent_id: null });
    expect(byHash(old.hash).map((t) => t.id)).toEqual(["OLD1"]);
    expect(await journal()).toEqual(["add_magnet done", "select_files done", "delete_new_torrent done"]);
    const pf = await h.rows("SELECT error_type, processed FROM permanent_failures WHERE hash = ?", [old.hash]);
    expect(pf).toEqual([expect.objectContaining({ error_type: "uncached", processed: 1 })]);
    // Not queued again by the next scan.
    expect((await h.run("rd-quick-scan")).queued).toBe(0);
    expect(h.events.map((e) => e.kind)).toEqual(["repair_failed"]);
  });
});

describe("failure classes", () => {
  it.each([
    ["429", { status: 429 }, "rate_limited"],
    ["error_code 34", { status: 429, body: { error: "too_many_requests", error_code: 34 } }, "rate_limited"],
    ["error_code 5", { status: 503, body: { error: "slow_down", error_code: 5 } }, "rate_limited"],
    ["509", { status: 509 }, "slots_full"],
    ["error_code 21", { status: 509, body: { error: "too_many_active_downloads", error_code: 21 } }, "slots_full"],
  ])("%s on addMagnet → retried after 3 h, 6 h, then failed for good", async (_, fault, cls) => {
    const old = deadShow();
    h.fake.cached.add(old.hash);
    h.fake.inject({ fault: { kind: "status", ...fault }, method: "POST", path: /addMagnet/, count: Infinity });
    await h.run("rd-quick-scan");
    const started = h.clock.t;
    await h.run("retry-drain");
    let r = await repair();
    expect(r).toMatchObject({ state: "adding", attempt: 1, error_class: cls });
    expect(Number(r?.next_attempt_at) - h.clock.t).toBeGreaterThan(3 * HOUR - 60_000);
    // Not due before the delay: a run now does nothing.
    expect(await h.run("retry-drain")).toMatchObject({ steps: 0 });
    h.clock.t = Number(r?.next_attempt_at);
    await h.run("retry-drain");
    r = await repair();
    expect(r).toMatchObject({ state: "adding", attempt: 2 });
    expect(Number(r?.next_attempt_at) - started).toBeGreaterThan(9 * HOUR - 120_000);
    h.clock.t = Number(r?.next_attempt_at);
    await h.run("retry-drain");
    expect(await repair()).toMatchObject({ state: "failed", attempt: 3, error_class: cls });
    expect(byHash(old.hash).map((t) => t.id)).toEqual(["OLD1"]);
    expect((await h.run("rd-quick-scan")).queued).toBe(0);
    if (cls === "rate_limited") expect(h.events.map((e) => e.kind)).toContain("rate_limit_lockout");
  });

  it.each(["magnet_error", "error"] as const)("new torrent %s → removed, retried, then permanent", async (status) => {
    const old = deadShow(status);
    await h.run("rd-quick-scan");
    for (let attempt = 1; attempt <= 3; attempt++) {
      await h.run("retry-drain");
      const fresh = byHash(old.hash).find((t) => t.id !== "OLD1");
      expect(fresh, `attempt ${attempt}`).toBeDefined();
      Object.assign(fresh ?? {}, { status });
      h.clock.advance(2 * 60_000);
      await h.run("retry-drain");
      expect(byHash(old.hash).map((t) => t.id)).toEqual(["OLD1"]);
      const r = await repair();
      if (attempt < 3) {
        expect(r).toMatchObject({ state: "queued", attempt });
        h.clock.t = Number(r?.next_attempt_at);
      } else {
        expect(r).toMatchObject({ state: "failed", attempt: 3, error_class: `status:${status}` });
      }
    }
    const adds = h.fake.requests.filter((r) => r.path === "/torrents/addMagnet");
    expect(adds).toHaveLength(3);
  });

  it("virus → the old torrent is deleted, no re-add, failed for good", async () => {
    const old = deadShow("virus");
    await h.run("rd-quick-scan");
    await h.run("retry-drain");
    expect(await repair()).toMatchObject({ state: "failed", error_class: "virus" });
    expect(h.mutations().map((r) => `${r.method} ${r.path}`)).toEqual(["DELETE /torrents/delete/OLD1"]);
    expect(byHash(old.hash)).toHaveLength(0);
  });

  it("a status repair whose torrent the user removed is cancelled, not re-added", async () => {
    deadShow();
    await h.run("rd-quick-scan");
    h.fake.remove("OLD1");
    await h.run("retry-drain");
    expect(await repair()).toMatchObject({ state: "cancelled" });
    expect(h.mutations()).toEqual([]);
    expect((await h.run("rd-quick-scan")).queued).toBe(0);
  });
});

describe("infringing content", () => {
  /** A show whose RD files were removed: its library links are broken and Sonarr owns them. */
  async function infringingShow() {
    const old = h.torrent({ id: "INF1", filename: "Show.S01.1080p", status: "downloaded", files: FILES });
    const e1 = h.link("tv/Show/Season 01/Show.S01E01.mkv", "Show.S01.1080p", "Show.S01E01.mkv");
    const e2 = h.link("tv/Show/Season 01/Show.S01E02.mkv", "Show.S01.1080p", "Show.S01E02.mkv");
    const series = makeSeries({ id: 5, title: "Show", path: join(h.lib, "tv/Show") });
    h.sonarr.series.push(series);
    h.sonarr.episodeFiles.push(
      makeEpisodeFile(series, { id: 51, path: e1, episodeIds: [501] }),
      makeEpisodeFile(series, { id: 52, path: e2, episodeIds: [502] }),
    );
    // Not the torrent's: a healthy link, a broken link of another torrent, a regular file.
    const healthy = h.link("tv/Other/ok.mkv", "Healthy.Torrent", "a.mkv");
    h.torrent({ id: "OTH1", filename: "Other.Movie.2020", status: "downloaded" });
    const otherBroken = h.link("movies/Other/Other.Movie.2020.mkv", "Other.Movie.2020", "Other.Movie.2020.mkv");
    const regular = join(h.lib, "tv/Show/Season 01/notes.txt");
    writeFileSync(regular, "mine");
    const movie = makeMovie({ id: 9, title: "Other Movie", path: join(h.lib, "movies/Other") });
    h.radarr.movies.push(movie);
    await h.run("rd-quick-scan");
    for (let i = 0; i < 5 && !(await h.run("symlink-sweep")).completed; i++);
    // The other torrent's repair is not part of these stories: park it.
    await h.db.execute("UPDATE repairs SET next_attempt_at = 9e15 WHERE torrent_id = 'OTH1'");
    return { old, e1, e2, healthy, otherBroken, regular };
  }

  it("451 → the torrent's dead links are removed and Sonarr rescans and searches exactly those episodes", async () => {
    const s = await infringingShow();
    const plex = createFakePlex({ sections: [makeSection({ key: "2", locations: [join(h.lib, "tv")] })] });
    h.clients.plex = createPlexClient({ url: plex.baseUrl, token: plex.token, fetch: plex.fetch as typeof fetch });
    h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /addMagnet/, count: 1 });
    await h.run("retry-drain", {});
    const infRepair = (await h.rows("SELECT * FROM repairs WHERE torrent_id = 'INF1'"))[0];
    expect(infRepair).toMatchObject({ state: "failed", error_class: "infringing" });

    expect(existsSync(s.e1) || isLink(s.e1)).toBe(false);
    expect(isLink(s.e2)).toBe(false);
    expect(isLink(s.healthy)).toBe(true);
    expect(isLink(s.otherBroken)).toBe(true);
    expect(existsSync(s.regular)).toBe(true);
    expect(h.sonarr.commands.map((c) => c.body)).toEqual([
      { name: "RescanSeries", seriesId: 5 },
      { name: "EpisodeSearch", episodeIds: [501, 502] },
    ]);
    expect(h.radarr.commands).toEqual([]);
    expect(plex.refreshes).toEqual([{ sectionId: "2", path: join(h.lib, "tv/Show/Season 01") }]);
    const pf = await h.rows("SELECT error_type, processed FROM permanent_failures WHERE hash = ?", [s.old.hash]);
    expect(pf).toEqual([expect.objectContaining({ error_type: "infringing", processed: 1 })]);
    const removed = await h.rows("SELECT path FROM broken_links WHERE state = 'removed' ORDER BY path");
    expect(removed.map((r) => r.path)).toEqual([s.e1, s.e2]);
    // The old torrent is left alone (nothing replaced it) and nothing was added.
    expect(byHash(s.old.hash).map((t) => t.id)).toEqual(["INF1"]);
  });

  it("34 then 35 within 30 s is throttling, not infringing: nothing is removed", async () => {
    const s = await infringingShow();
    const r34 = { status: 429, body: { error: "too_many_requests", error_code: 34 } };
    h.fake.inject({ fault: { kind: "status", ...r34 }, method: "POST", path: /addMagnet/, count: 1 });
    h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /addMagnet/, count: 1 });
    await h.run("retry-drain");
    const r = (await h.rows("SELECT * FROM repairs WHERE torrent_id = 'INF1'"))[0];
    expect(r).toMatchObject({ state: "adding", error_class: "rate_limited", attempt: 1 });
    expect(isLink(s.e1) && isLink(s.e2)).toBe(true);
    expect(h.sonarr.commands).toEqual([]);
    expect(await h.rows("SELECT * FROM permanent_failures")).toEqual([]);

    // A 35 with no throttle before it is a verdict.
    h.clock.t = Number(r?.next_attempt_at);
    h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /addMagnet/, count: 1 });
    await h.run("retry-drain");
    expect((await h.rows("SELECT state FROM repairs WHERE torrent_id = 'INF1'"))[0]?.state).toBe("failed");
    expect(isLink(s.e1) || isLink(s.e2)).toBe(false);
  });

  it("never removes a link whose target resolves again, nor one outside LIBRARY_ROOTS", async () => {
    const s = await infringingShow();
    // Between the sweep and the repair, e2's file came back on the mount.
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(h.mount, "__all__", "Show.S01.1080p"), { recursive: true });
    writeFileSync(join(h.mount, "__all__", "Show.S01.1080p", "Show.S01E02.mkv"), "x");
    // A row pointing outside the library (as if the roots changed since).
    await h.db.execute({
      sql: `INSERT INTO broken_links (path, root, target, reason, torrent_name, matched_torrent_id, state, generation, first_seen_at, last_seen_at)
            VALUES (?, '/elsewhere', '/x', 'missing_torrent', 'Show.S01.1080p', 'INF1', 'broken', 1, 0, 0)`,
      args: [s.regular],
    });
    h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /addMagnet/, count: 1 });
    await h.run("retry-drain");
    expect(isLink(s.e1)).toBe(false);
    expect(isLink(s.e2)).toBe(true);
    expect(existsSync(s.regular)).toBe(true);
    expect(h.sonarr.commands.map((c) => c.body)).toEqual([
      { name: "RescanSeries", seriesId: 5 },
      { name: "EpisodeSearch", episodeIds: [501] },
    ]);
  });
});

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
