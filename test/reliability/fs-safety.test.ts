// Reliability gauntlet, filesystem: the infringing flow (RD answers 451, the torrent's broken library
// links are removed) against a library that changed under it since the sweep. Each case builds real
// files in a temp dir, records every unlink the process makes, and compares snapshots of the whole
// tree (library, mount and the folders around them) before and after. In every case the flow really
// runs: the links it may remove (the torrent's two broken episodes) are removed, nothing else.

import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JOBS } from "../../functions/index.ts";
import { makeConfig, makeRunner } from "../helpers/factories.ts";
import { type RepairHarness, repairHarness } from "../repair/harness.ts";
import {
  changes,
  E1,
  E2,
  INF_NAME,
  infringingWorld,
  insertLinkRow,
  linkRows,
  recordUnlinks,
  refuseAndDrain,
  snapshot,
} from "./fs-helpers.ts";

let h: RepairHarness;
let top: string;
let e1: string;
let e2: string;
let unlinks: ReturnType<typeof recordUnlinks>;

beforeEach(async () => {
  h = await repairHarness();
  top = dirname(h.lib);
  ({ e1, e2 } = infringingWorld(h, 5));
  await h.run("rd-quick-scan");
  unlinks = recordUnlinks();
});
afterEach(() => {
  unlinks.restore();
  h.close();
});

/** Sweeps the whole library now (a new generation). */
async function sweep(runner = h.runner) {
  await h.db.execute("UPDATE sweep_state SET status = 'pending'");
  const r = await runner.run("symlink-sweep", { trigger: "test", dryRun: false });
  expect(r.summary).toMatchObject({ completed: true });
}

/** A broken link to the infringing torrent's folder on the mount, at an absolute path. */
function deadLink(path: string, file = "A.Show.S01E01.mkv") {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(join(h.mount, "__all__", INF_NAME, file), path);
  return path;
}

const none = { removed: [], added: [], changed: [] };

describe("the infringing flow never deletes outside the library it was given", () => {
  it("removes exactly the torrent's two broken links when nothing changed (the baseline)", async () => {
    await sweep();
    const before = snapshot(top);
    const r = await refuseAndDrain(h);
    expect(r).toMatchObject({ state: "failed", error_class: "infringing" });
    expect(unlinks.paths().sort()).toEqual([e1, e2]);
    expect(changes(before, snapshot(top))).toEqual({
      removed: [join("library", E1), join("library", E2)],
      added: [],
      changed: [],
    });
  });

  it("a library root replaced by a symlink to another folder: nothing is deleted there", async () => {
    await sweep();
    expect((await linkRows(h)).map(([p]) => p)).toEqual([e1, e2]);
    // The same names, broken the same way, in a decoy tree; the root now points at it.
    renameSync(h.lib, `${h.lib}.orig`);
    deadLink(join(top, "decoy", E1));
    deadLink(join(top, "decoy", E2), "A.Show.S01E02.mkv");
    writeFileSync(join(top, "decoy", "tv/A Show/Season 01/notes.txt"), "theirs");
    symlinkSync(join(top, "decoy"), h.lib);
    const before = snapshot(top);

    const r = await refuseAndDrain(h);
    expect(r).toMatchObject({ state: "failed", error_class: "infringing" });
    expect(unlinks.paths()).toEqual([]);
    expect(changes(before, snapshot(top))).toEqual(none);
    expect(await linkRows(h)).toEqual([
      [e1, "broken"],
      [e2, "broken"],
    ]);
  });

  it("broken_links rows outside LIBRARY_ROOTS (by hand, a sibling folder, a path escaping with ..): left alone", async () => {
    await sweep();
    const outside = [
      deadLink(join(top, "outside", "x.mkv")),
      // "library2" starts with the root's name: a prefix test without the slash would take it.
      deadLink(`${h.lib}2/tv/y.mkv`),
      deadLink(join(top, "outside", "z.mkv")),
    ];
    writeFileSync(join(top, "outside", "keep.txt"), "keep");
    await insertLinkRow(h, outside[0] ?? "", join(top, "outside"));
    await insertLinkRow(h, outside[1] ?? "", `${h.lib}2`);
    await insertLinkRow(h, `${h.lib}/../outside/z.mkv`, h.lib);
    await insertLinkRow(h, `${h.lib}/tv/./../../outside/x.mkv`, h.lib);
    await insertLinkRow(h, "outside/x.mkv", h.lib);
    const before = snapshot(top);

    await refuseAndDrain(h);
    expect(unlinks.paths().sort()).toEqual([e1, e2]);
    expect(changes(before, snapshot(top))).toEqual({
      removed: [join("library", E1), join("library", E2)],
      added: [],
      changed: [],
    });
  });

  it("roots changed since the sweep: links found under a root no longer configured are left alone", async () => {
    const lib2 = join(top, "library-old");
    const old = [deadLink(join(lib2, "tv/A Show/x.mkv")), deadLink(join(lib2, "tv/A Show/y.mkv"), "A.Show.S01E02.mkv")];
    const env = {
      RD_API_TOKEN: "fake-rd-token",
      RD_MOUNT_PATH: h.mount,
      DRY_RUN: "false",
      MOUNT_GUARD_MIN_BROKEN: "1000",
    };
    const both = makeRunner({
      db: h.db,
      jobs: [...JOBS],
      config: makeConfig({ ...env, LIBRARY_ROOTS: `${h.lib},${lib2}` }),
      clients: h.clients,
      now: h.clock.now,
    });
    await sweep(both);
    expect((await linkRows(h)).map(([p]) => p)).toEqual([e1, e2, ...old].sort());
    const before = snapshot(top);

    await refuseAndDrain(h); // h.runner: LIBRARY_ROOTS is the first root only
    expect(unlinks.paths().sort()).toEqual([e1, e2]);
    expect(changes(before, snapshot(top)).removed).toEqual([join("library", E1), join("library", E2)]);
    expect((await linkRows(h)).filter(([p]) => p?.startsWith(lib2))).toEqual(old.map((p) => [p, "broken"]));
  });

  it("broken links whose targets lie outside the library and the mount: only the links go, never what they point at", async () => {
    mkdirSync(join(top, "outside", "gone"), { recursive: true });
    writeFileSync(join(top, "outside", "gone", "keep.mkv"), "keep");
    writeFileSync(join(top, "outside", "healthy.mkv"), "fine");
    const season = join(h.lib, "tv/A Show/Season 01");
    symlinkSync(join(top, "outside", "gone", "extra.mkv"), join(season, "extra.mkv"));
    symlinkSync("../../../../outside/gone/rel.mkv", join(season, "rel.mkv"));
    symlinkSync(join(top, "outside", "gone", "folder"), join(season, "folder-link"));
    symlinkSync(join(top, "outside", "healthy.mkv"), join(season, "healthy.mkv"));
    await sweep();
    // The sweep cannot tie them to a torrent; say they are the torrent's, as a fuzzy match might.
    await h.db.execute("UPDATE broken_links SET matched_torrent_id = 'INF1' WHERE reason = 'missing_target'");
    expect((await linkRows(h)).map(([p]) => p)).toEqual(
      [e1, e2, join(season, "extra.mkv"), join(season, "folder-link"), join(season, "rel.mkv")].sort(),
    );
    const outsideBefore = snapshot(join(top, "outside"));
    const before = snapshot(top);

    await refuseAndDrain(h);
    expect(unlinks.paths().every((p) => p.startsWith(`${h.lib}/`))).toBe(true);
    expect(snapshot(join(top, "outside"))).toEqual(outsideBefore);
    const { removed, added, changed } = changes(before, snapshot(top));
    expect({ added, changed }).toEqual({ added: [], changed: [] });
    expect(removed.sort()).toEqual(
      [E1, E2, "tv/A Show/Season 01/extra.mkv", "tv/A Show/Season 01/folder-link", "tv/A Show/Season 01/rel.mkv"]
        .map((p) => join("library", p))
        .sort(),
    );
  });
});

describe("the infringing flow deletes symlinks only", () => {
  it("a regular file or a folder now at a recorded broken-link path is never deleted", async () => {
    await sweep();
    rmSync(e1);
    writeFileSync(e1, "a real file now");
    rmSync(e2);
    mkdirSync(e2);
    writeFileSync(join(e2, "inside.mkv"), "x");
    const before = snapshot(top);

    const r = await refuseAndDrain(h);
    expect(r).toMatchObject({ state: "failed", error_class: "infringing" });
    expect(unlinks.paths()).toEqual([]);
    expect(changes(before, snapshot(top))).toEqual(none);
  });

  it("a link pointed again at a file that exists is kept, and recorded resolved", async () => {
    await sweep();
    rmSync(e1);
    symlinkSync(join(h.mount, "__all__", "Healthy.Torrent", "a.mkv"), e1);
    const before = snapshot(top);
    await refuseAndDrain(h);
    expect(unlinks.paths()).toEqual([e2]);
    expect(changes(before, snapshot(top)).removed).toEqual([join("library", E2)]);
    expect(await linkRows(h)).toEqual([
      [e1, "resolved"],
      [e2, "removed"],
    ]);
  });

  // Was a bug (found by this test, now fixed): the same re-pointed link, but the mount is down when RD refuses (rclone died
  // after the last sweep, so no guard is recorded). linksStep only reads the recorded guard and
  // unsafeToRemove only asks whether the target resolves, which nothing on a dead mount does, and it
  // never compares the link's target with the one recorded: the healthy link is deleted.
  it("a re-pointed link is kept even when the mount is down at removal time", async () => {
    await sweep();
    rmSync(e1);
    symlinkSync(join(h.mount, "__all__", "Healthy.Torrent", "a.mkv"), e1);
    renameSync(h.mount, `${h.mount}.away`);
    mkdirSync(h.mount);
    await refuseAndDrain(h);
    expect(unlinks.paths()).toEqual([e2]);
  });
});

describe("symlinked folders are never followed", () => {
  it("a folder that is a symlink into another tree: not walked by the sweep, not entered by the removal", async () => {
    // Another tree with links of the same torrent, reached through a symlinked folder in the library.
    const theirs = [
      deadLink(join(top, "elsewhere", "Show", "A.Show.S01E01.mkv")),
      deadLink(join(top, "elsewhere", "Show", "A.Show.S01E02.mkv"), "A.Show.S01E02.mkv"),
    ];
    symlinkSync(join(top, "elsewhere", "Show"), join(h.lib, "tv", "Linked"));
    await sweep();
    expect((await linkRows(h)).map(([p]) => p)).toEqual([e1, e2]);
    // Rows for paths through the symlinked folder (an older sweep, or by hand): still refused.
    for (const t of theirs) await insertLinkRow(h, join(h.lib, "tv", "Linked", t.split("/").at(-1) ?? ""), h.lib);
    const before = snapshot(top);

    await refuseAndDrain(h);
    expect(unlinks.paths().sort()).toEqual([e1, e2]);
    expect(changes(before, snapshot(top)).removed).toEqual([join("library", E1), join("library", E2)]);
  });

  it("the links' own folder swapped for a symlink after the sweep: nothing is deleted through it", async () => {
    await sweep();
    const season = join(h.lib, "tv/A Show/Season 01");
    mkdirSync(join(top, "elsewhere"));
    renameSync(season, join(top, "elsewhere", "Season 01"));
    symlinkSync(join(top, "elsewhere", "Season 01"), season);
    const before = snapshot(top);

    await refuseAndDrain(h);
    expect(unlinks.paths()).toEqual([]);
    expect(changes(before, snapshot(top))).toEqual(none);
  });
});
