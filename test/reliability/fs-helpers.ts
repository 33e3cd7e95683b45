// Helpers for the filesystem-safety gauntlet: snapshots of real trees on disk, a record of every
// unlink the process makes, and the infringing world (a torrent RD refuses, with broken library links).

import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, promises, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { vi } from "vitest";
import type { RepairHarness } from "../repair/harness.ts";

/** Every entry under `dir` (links never followed): "dir", "file <sha1> <mode>" or "link -> <target>". */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isSymbolicLink()) out.set(rel, `link -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(rel, "dir");
        walk(p);
      } else out.set(rel, `file ${createHash("sha1").update(readFileSync(p)).digest("hex")} ${st.mode.toString(8)}`);
    }
  };
  walk(dir);
  return out;
}

/** What changed between two snapshots of the same tree. */
export function changes(before: Map<string, string>, after: Map<string, string>) {
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const added = [...after.keys()].filter((k) => !before.has(k));
  const changed = [...before.keys()].filter((k) => after.has(k) && after.get(k) !== before.get(k));
  return { removed, added, changed };
}

/** Records every fs.promises.unlink the process makes (the only call the repair flow deletes with). */
export function recordUnlinks() {
  const spy = vi.spyOn(promises, "unlink");
  return {
    paths: () => spy.mock.calls.map((c) => String(c[0])),
    restore: () => spy.mockRestore(),
  };
}

/** The rel paths (under `lib`) of the infringing show's two episodes. */
export const E1 = "tv/A Show/Season 01/A.Show.S01E01.mkv";
export const E2 = "tv/A Show/Season 01/A.Show.S01E02.mkv";
export const INF_NAME = "A.Show.S01.1080p";

/**
 * A torrent RD will refuse (INF1, downloaded in the account, its folder gone from the mount) with two
 * broken library links, plus `healthy` healthy shows (in the account and on the mount), plus a regular
 * file next to the broken links.
 */
export function infringingWorld(h: RepairHarness, healthy = 20) {
  h.torrent({
    id: "INF1",
    filename: INF_NAME,
    status: "downloaded",
    files: [
      { id: 1, path: "/A.Show.S01E01.mkv", bytes: 1_000, selected: 1 },
      { id: 2, path: "/A.Show.S01E02.mkv", bytes: 1_000, selected: 1 },
    ],
  });
  const e1 = h.link(E1, INF_NAME, "A.Show.S01E01.mkv");
  const e2 = h.link(E2, INF_NAME, "A.Show.S01E02.mkv");
  for (let i = 0; i < healthy; i++) {
    const name = `Gen.${String(i).padStart(3, "0")}.720p`;
    mkdirSync(join(h.mount, "__all__", name), { recursive: true });
    writeFileSync(join(h.mount, "__all__", name, "ep.mkv"), "x");
    h.link(`tv/Gen ${String(i).padStart(3, "0")}/ep.mkv`, name, "ep.mkv");
    h.torrent({ filename: name, status: "downloaded" });
  }
  const notes = join(h.lib, "tv/A Show/Season 01/notes.txt");
  writeFileSync(notes, "mine");
  return { e1, e2, notes };
}

/** RD answers 451 to the re-add: the repair turns infringing and removes the torrent's broken links. */
export async function refuseAndDrain(h: RepairHarness) {
  h.fake.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /addMagnet/, count: 1 });
  await h.run("retry-drain");
  return (await h.rows("SELECT * FROM repairs WHERE torrent_id = 'INF1'"))[0];
}

/** Broken-link rows as [path, state], sorted. */
export async function linkRows(h: RepairHarness) {
  return (await h.rows("SELECT path, state FROM broken_links ORDER BY path")).map((r) => [
    String(r.path),
    String(r.state),
  ]);
}

/** A broken_links row written by hand (as if swept earlier, or under roots since changed). */
export async function insertLinkRow(h: RepairHarness, path: string, root: string, torrentId = "INF1") {
  await h.db.execute({
    sql: `INSERT INTO broken_links (path, root, target, reason, torrent_name, matched_torrent_id, state, generation, first_seen_at, last_seen_at)
          VALUES (?, ?, '/nowhere', 'missing_torrent', ?, ?, 'broken', 1, 0, 0)`,
    args: [path, root, INF_NAME, torrentId],
  });
}
