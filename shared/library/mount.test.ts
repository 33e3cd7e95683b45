import * as fs from "node:fs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/processes.ts";
import { MAX_CACHED_FOLDERS, MountView } from "./mount.ts";

function mount() {
  const root = tempDir();
  for (const [torrent, files] of [
    ["Show.S01E01", ["a.mkv"]],
    ["Show.S01E02", ["b.mkv", "Extras/c.mkv"]],
  ] as const) {
    for (const f of files) {
      mkdirSync(join(root, "__all__", torrent, f, ".."), { recursive: true });
      writeFileSync(join(root, "__all__", torrent, f), "x");
    }
  }
  return new MountView(root, fs);
}

describe("MountView", () => {
  it("answers from listings, each folder listed once, and a folder link lists nothing below the mount's top", () => {
    const view = mount();
    expect(view.lookup("__all__", "Show.S01E01", "")).toBe("present");
    expect(view.readdirCalls).toBe(2); // the mount and __all__
    expect(view.lookup("__all__", "Gone.S01E03", "x.mkv")).toBe("no_torrent");
    expect(view.readdirCalls).toBe(2);
    expect(view.lookup("__all__", "Show.S01E01", "a.mkv")).toBe("present");
    expect(view.lookup("__all__", "Show.S01E01", "missing.mkv")).toBe("no_file");
    expect(view.readdirCalls).toBe(3);
    expect(view.lookup("__all__", "Show.S01E02", "Extras/c.mkv")).toBe("present");
    expect(view.lookup("__all__", "Show.S01E02", "Extras/d.mkv")).toBe("no_file");
    expect(view.lookup("__all__", "Show.S01E02", "Nope/d.mkv")).toBe("no_file");
    // back to the first folder: cached, not listed again
    expect(view.lookup("__all__", "Show.S01E01", "a.mkv")).toBe("present");
    expect(view.readdirCalls).toBe(5);
    expect(view.lookup("other", "Show.S01E01", "a.mkv")).toBe("no_torrent");
  });

  it("answers a target in the torrent folder looked up last by its prefix, and declines anything else", () => {
    const view = mount();
    const root = view.mountPath;
    expect(view.quick(`${root}/__all__/Show.S01E01/a.mkv`)).toBeUndefined(); // nothing looked up yet
    expect(view.lookup("__all__", "Show.S01E02", "b.mkv")).toBe("present");
    const calls = view.readdirCalls;
    const folder = `${root}/__all__/Show.S01E02`;
    expect(view.quick(`${folder}/b.mkv`)).toBe("present");
    expect(view.quick(`${folder}/gone.mkv`)).toBe("no_file");
    expect(view.lastTorrent).toBe("Show.S01E02");
    // deeper, dot segments, the folder itself, a longer folder name, another folder: the full path instead
    for (const t of [
      `${folder}/Extras/c.mkv`,
      `${folder}/..`,
      `${folder}/.`,
      `${folder}/`,
      `${folder}X/b.mkv`,
      `${root}/__all__/Show.S01E01/a.mkv`,
    ])
      expect(view.quick(t)).toBeUndefined();
    expect(view.readdirCalls).toBe(calls);
  });

  it("tells names apart wherever they differ, short names and long folders alike", () => {
    const root = tempDir();
    const small = ["a", "ab", "abcd", "E01.mkv", "E02.mkv", "X01.mkv", "E01.mp4", "e01.mkv"];
    // more names than are kept as a plain list: then a Set answers
    const large = Array.from({ length: 30 }, (_, i) => `Show.S01E${String(i).padStart(2, "0")}.mkv`);
    for (const [torrent, files] of [
      ["Small", small],
      ["Large", large],
    ] as const) {
      mkdirSync(join(root, "__all__", torrent), { recursive: true });
      for (const f of files) writeFileSync(join(root, "__all__", torrent, f), "");
    }
    const view = new MountView(root, fs);
    for (const f of small) expect(view.lookup("__all__", "Small", f)).toBe("present");
    for (const f of ["b", "abc", "abce", "E03.mkv", "Y01.mkv", "E01.mkw", "E01.mkvx", "e02.mkv"])
      expect([f, view.lookup("__all__", "Small", f)]).toEqual([f, "no_file"]);
    for (const f of large) expect(view.lookup("__all__", "Large", f)).toBe("present");
    expect(view.lookup("__all__", "Large", "Show.S01E30.mkv")).toBe("no_file");
  });

  it("keeps the last MAX_CACHED_FOLDERS / 2 torrent folders used, and never more than MAX_CACHED_FOLDERS", () => {
    const half = MAX_CACHED_FOLDERS / 2;
    const names = Array.from({ length: MAX_CACHED_FOLDERS * 3 }, (_, i) => `T${i}`);
    const fake = {
      ...fs,
      readdirSync: (path: string) => (path === "/m" ? ["__all__"] : path === "/m/__all__" ? names : ["a.mkv"]),
    } as unknown as typeof fs;
    const view = new MountView("/m", fake);
    const listings = (from: number, to: number, order = 1) => {
      const before = view.readdirCalls;
      for (let k = 0; k < to - from; k++) {
        const i = order > 0 ? from + k : to - 1 - k;
        expect(view.lookup("__all__", `T${i}`, "a.mkv")).toBe("present");
      }
      return view.readdirCalls - before;
    };
    expect(listings(0, half)).toBe(half + 2); // and the mount and __all__
    expect(listings(half, half + 1)).toBe(1); // T0… now the older generation
    expect(listings(0, 1)).toBe(0); // T0 used again: cached, and kept with the newer ones
    expect(listings(half + 1, MAX_CACHED_FOLDERS + 1)).toBe(half);
    // the last half used, in any order: cached
    expect(listings(half + 1, MAX_CACHED_FOLDERS + 1, -1)).toBe(0);
    expect(listings(0, 1)).toBe(0); // T0 still
    expect(listings(1, 2)).toBe(1); // T1 was not used again: gone
    expect(listings(MAX_CACHED_FOLDERS + 1, MAX_CACHED_FOLDERS * 3)).toBe(MAX_CACHED_FOLDERS * 2 - 1);
    expect(view.cachedFolders).toBeLessThanOrEqual(MAX_CACHED_FOLDERS);
  });

  it("says unknown, never missing, when a listing fails for another reason", () => {
    const throwing = {
      ...fs,
      readdirSync: () => {
        throw Object.assign(new Error("i/o error"), { code: "EIO" });
      },
    } as unknown as typeof fs;
    const view = new MountView(tempDir(), throwing);
    expect(view.lookup("__all__", "Show.S01E01", "a.mkv")).toBeNull();
    expect(view.lookup("__all__", "Show.S01E01", "")).toBeNull();
  });
});
