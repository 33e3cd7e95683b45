import { describe, expect, it } from "vitest";
import { DEFAULT_MOUNT_DIRECTORIES, type MountTarget, parseMountTarget } from "./zurg-path.ts";

const at = (directory: string, torrentName: string, file: string): MountTarget => ({ directory, torrentName, file });

describe("parseMountTarget", () => {
  it.each([
    // [target, mountPath, expected]
    [
      "/mnt/zurg/__all__/Movie.2020.1080p/Movie.2020.1080p.mkv",
      "/mnt/zurg",
      at("__all__", "Movie.2020.1080p", "Movie.2020.1080p.mkv"),
    ],
    ["/mnt/zurg/torrents/Show.S01.1080p/S01E02.mkv", "/mnt/zurg", at("torrents", "Show.S01.1080p", "S01E02.mkv")],
    [
      "/mnt/zurg/shows/Show.S01/Season 1/Show.S01E02.mkv",
      "/mnt/zurg",
      at("shows", "Show.S01", "Season 1/Show.S01E02.mkv"),
    ],
    ["/mnt/zurg/movies/Movie (2020)/movie.mkv", "/mnt/zurg", at("movies", "Movie (2020)", "movie.mkv")],
    [
      "/mnt/zurg/anime/[SubsPlease] Show - 01 (1080p)/a.mkv",
      "/mnt/zurg",
      at("anime", "[SubsPlease] Show - 01 (1080p)", "a.mkv"),
    ],
    ["/mnt/zurg/__unplayable__/Broken.Torrent/x.mkv", "/mnt/zurg", at("__unplayable__", "Broken.Torrent", "x.mkv")],
    ["/mnt/rd/__bad__/Broken.Torrent/x.mkv", "/mnt/rd", at("__bad__", "Broken.Torrent", "x.mkv")],
    // mount path spelled differently from the target
    ["/mnt/zurg/__all__/T/f.mkv", "/mnt/zurg/", at("__all__", "T", "f.mkv")],
    ["/mnt/zurg/__all__/T/f.mkv", "/mnt//zurg///", at("__all__", "T", "f.mkv")],
    ["//mnt/zurg//__all__//T//sub//f.mkv", "/mnt/zurg", at("__all__", "T", "sub/f.mkv")],
    ["/mnt/zurg/./__all__/./T/./f.mkv", "/mnt/./zurg", at("__all__", "T", "f.mkv")],
    ["../../mnt/zurg/__all__/T/f.mkv", "/mnt/zurg", null],
    ["mnt/zurg/__all__/T/f.mkv", "mnt/zurg", at("__all__", "T", "f.mkv")],
    ["mnt/zurg/__all__/T/f.mkv", "/mnt/zurg", null],
    // names that are hard on naive parsers
    [
      "/mnt/zurg/__all__/[YTS.MX] Movie (2020) [1080p]/Movie.2020.mkv",
      "/mnt/zurg",
      at("__all__", "[YTS.MX] Movie (2020) [1080p]", "Movie.2020.mkv"),
    ],
    ["/mnt/zurg/__all__/Amélie.2001.1080p/Amélie.mkv", "/mnt/zurg", at("__all__", "Amélie.2001.1080p", "Amélie.mkv")],
    ["/mnt/zurg/__all__/進撃の巨人 S01/01.mkv", "/mnt/zurg", at("__all__", "進撃の巨人 S01", "01.mkv")],
    ["/mnt/zurg/__all__/...And Justice for All/a.mkv", "/mnt/zurg", at("__all__", "...And Justice for All", "a.mkv")],
    // a link to the torrent folder itself
    ["/mnt/zurg/__all__/Show.S01.1080p", "/mnt/zurg", at("__all__", "Show.S01.1080p", "")],
    ["/mnt/zurg/__all__/Show.S01.1080p/", "/mnt/zurg", at("__all__", "Show.S01.1080p", "")],
    // not resolvable to a torrent
    ["/mnt/zurg/__all__/../etc/passwd", "/mnt/zurg", null],
    ["/mnt/zurg/__all__/T/../../x/f.mkv", "/mnt/zurg", null],
    ["/mnt/zurg/__all__/T/f.mkv", "/mnt/zurg/../zurg", null],
    ["/mnt/other/__all__/T/f.mkv", "/mnt/zurg", null],
    ["/mnt/zurg2/__all__/T/f.mkv", "/mnt/zurg", null],
    ["/mnt/zurg", "/mnt/zurg", null],
    ["/mnt/zurg/__all__", "/mnt/zurg", null],
    ["/mnt/zurg/__all__/", "/mnt/zurg", null],
    ["/mnt/zurg/version.txt", "/mnt/zurg", null],
    ["/mnt/zurg/Custom/T/f.mkv", "/mnt/zurg", null],
    ["/mnt/zurg/ALL/T/f.mkv", "/mnt/zurg", null],
    ["/mnt/zurg/__all__/T/f.mkv", "", null],
  ] as const)("%s under %s", (target, mount, expected) => {
    expect(parseMountTarget(target, mount)).toEqual(expected);
  });

  it.each([
    // [target, directories, expected]
    ["/mnt/zurg/Custom/T/f.mkv", ["Custom"], at("Custom", "T", "f.mkv")],
    ["/mnt/zurg/__all__/T/f.mkv", ["Custom"], null],
    ["/mnt/zurg/T/f.mkv", [""], at("", "T", "f.mkv")],
    ["/mnt/zurg/T", [""], at("", "T", "")],
    ["/mnt/zurg/T/a/b.mkv", ["", "__all__"], at("", "T", "a/b.mkv")],
    // a configured directory wins over the flat reading
    ["/mnt/zurg/__all__/T/f.mkv", ["", "__all__"], at("__all__", "T", "f.mkv")],
    ["/mnt/zurg/__all__", ["", "__all__"], null],
    ["/mnt/zurg/T/f.mkv", [], null],
  ] as const)("%s with directories %j", (target, directories, expected) => {
    expect(parseMountTarget(target, "/mnt/zurg", directories)).toEqual(expected);
  });

  it("reads a mount path that already ends in the directory as a flat mount", () => {
    expect(parseMountTarget("/mnt/rd/torrents/T/f.mkv", "/mnt/rd/torrents", [""])).toEqual(at("", "T", "f.mkv"));
  });

  it("has no empty directory by default, so a flat reading is opt-in", () => {
    expect(DEFAULT_MOUNT_DIRECTORIES).not.toContain("");
    expect(DEFAULT_MOUNT_DIRECTORIES).toEqual(expect.arrayContaining(["__all__", "torrents", "shows", "movies"]));
  });
});
