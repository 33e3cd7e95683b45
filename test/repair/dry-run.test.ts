import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeEpisodeFile, makeSeries } from "../fakes/servarr.ts";
import { type RepairHarness, repairHarness } from "./harness.ts";

let h: RepairHarness;
beforeEach(async () => {
  h = await repairHarness();
});
afterEach(() => h.close());

/** Every symlink under the library, with where it points. */
function snapshot(dir: string, out = new Map<string, boolean>()): Map<string, boolean> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) snapshot(p, out);
    else out.set(p, lstatSync(p).isSymbolicLink());
  }
  return out;
}

it("dry run over a library with every failure kind: the whole machine is walked and nothing is mutated", async () => {
  for (const status of ["dead", "error", "magnet_error", "virus"] as const) {
    h.torrent({ id: `T_${status}`, filename: `Show.${status}`, status });
  }
  h.torrent({ id: "T_stuck", filename: "Show.stuck", status: "waiting_files_selection" });
  const cached = h.torrent({ id: "T_cached", filename: "Show.cached", status: "dead" });
  h.fake.cached.add(cached.hash);
  // Broken links of a downloaded torrent whose files went away, owned by Sonarr.
  h.torrent({ id: "T_links", filename: "Show.links", status: "downloaded" });
  const e1 = h.link("tv/Show/S01E01.mkv", "Show.links", "S01E01.mkv");
  const series = makeSeries({ id: 3, title: "Show", path: join(h.lib, "tv/Show") });
  h.sonarr.series.push(series);
  h.sonarr.episodeFiles.push(makeEpisodeFile(series, { id: 31, path: e1, episodeIds: [301] }));
  // An infringing repair a real run left half-way (links still to remove), and one waiting on RD.
  h.torrent({ id: "T_inf", filename: "Show.inf", status: "downloaded" });
  const inf = h.link("tv/Show/S01E02.mkv", "Show.inf", "S01E02.mkv");
  h.sonarr.episodeFiles.push(makeEpisodeFile(series, { id: 32, path: inf, episodeIds: [302] }));

  // The whole pipeline in dry run: scans, sweep, drain.
  await h.run("rd-quick-scan", { dryRun: true });
  h.clock.advance(2 * 3_600_000); // the stuck one is now stuck
  await h.run("rd-quick-scan", { dryRun: true });
  for (let i = 0; i < 5 && !(await h.run("symlink-sweep", { dryRun: true })).completed; i++);
  await h.db.execute("UPDATE repairs SET state = 'unlinking', outcome = 'infringing' WHERE torrent_id = 'T_inf'");
  const before = snapshot(h.lib);
  const states = await h.rows("SELECT id, state, attempt, next_attempt_at FROM repairs ORDER BY id");
  expect(states.length).toBeGreaterThanOrEqual(7);

  const summary = await h.run("retry-drain", { dryRun: true });
  expect(summary.planned).toBeGreaterThan(0);

  // Nothing mutating reached any fake, and nothing changed on disk or in the repair rows.
  expect(h.mutations()).toEqual([]);
  expect(h.sonarr.commands).toEqual([]);
  expect(h.sonarr.deleted).toEqual([]);
  expect(h.radarr.commands).toEqual([]);
  expect(h.sonarr.requests.filter((r) => r.method !== "GET")).toEqual([]);
  expect(snapshot(h.lib)).toEqual(before);
  expect(await h.rows("SELECT id, state, attempt, next_attempt_at FROM repairs ORDER BY id")).toEqual(states);

  // Every step it would take is journaled as planned, per kind of failure.
  const plan = await h.rows(
    "SELECT r.torrent_id AS t, a.kind, a.target, a.state FROM actions a JOIN repairs r ON r.id = a.repair_id ORDER BY a.id",
  );
  expect(new Set(plan.map((p) => p.state))).toEqual(new Set(["planned"]));
  const kinds = (t: string) => plan.filter((p) => p.t === t).map((p) => p.kind);
  for (const t of ["T_dead", "T_error", "T_magnet_error", "T_cached", "T_stuck"]) {
    expect(kinds(t), t).toEqual(["add_magnet", "select_files", "delete_old_torrent"]);
  }
  expect(kinds("T_virus")).toEqual(["delete_old_torrent"]);
  expect(kinds("T_links")).toEqual(["add_magnet", "select_files", "delete_old_torrent"]);
  expect(kinds("T_inf")).toEqual(["unlink", "arr_command", "arr_command"]);
  expect(plan.filter((p) => p.t === "T_inf").map((p) => p.target)).toEqual([
    inf,
    "sonarr:rescan:3",
    "sonarr:search:3:302",
  ]);

  // A second dry run soon after does not repeat the same plan.
  expect((await h.run("retry-drain", { dryRun: true })).planned).toBe(0);
  expect(h.mutations()).toEqual([]);
});
