import { describe, expect, it } from "vitest";
import {
  buildMatchIndex,
  FUZZY_THRESHOLD,
  fuzzyCandidates,
  type MatchKind,
  matchAll,
  matchTorrent,
  normalizeName,
  type TorrentRef,
} from "./match.ts";

let nextId = 0;
const makeTorrent = (filename: string, partial: Partial<TorrentRef> = {}): TorrentRef => ({
  id: `T${++nextId}`,
  filename,
  status: "downloaded",
  ...partial,
});

describe("normalizeName", () => {
  it.each([
    ["The.Matrix.1999.1080p.BluRay.x264-GRP", "the matrix 1999 1080p bluray x264 grp"],
    ["The Matrix 1999 1080p BluRay x264 GRP", "the matrix 1999 1080p bluray x264 grp"],
    ["the_matrix_1999_1080p_bluray_x264_grp.mkv", "the matrix 1999 1080p bluray x264 grp"],
    ["[YTS.MX] Movie (2020) [1080p]", "yts mx movie 2020 1080p"],
    ["Movie.2020.MP4", "movie 2020"],
    ["Movie.2020.mkv.mp4", "movie 2020"],
    ["Movie.2020.en.srt", "movie 2020 en"],
    ["Movie 2020 HDTS.ts", "movie 2020 hdts ts"],
    ["Movie.mkv.2020", "movie mkv 2020"],
    [".mkv", "mkv"],
    ["Grey's Anatomy S01E01", "greys anatomy s01e01"],
    ["Grey’s.Anatomy.S01E01", "greys anatomy s01e01"],
    ["Amélie.2001.Ça.Ira", "amelie 2001 ca ira"],
    ["Show.H.264.WEB-DL.Blu-Ray", "show h264 webdl bluray"],
    ["Show.DDP5.1.H.265", "show ddp5 1 h265"],
    ["Shah.264", "shah 264"],
    ["進撃の巨人 S01E01", "進撃の巨人 s01e01"],
    ["ガールズ", "ガールズ"],
    ["  Spaced   Out  ", "spaced out"],
    ["ﬁnal.ﬁle", "final file"],
  ])("%s → %s", (raw, normal) => {
    expect(normalizeName(raw)).toBe(normal);
  });
});

describe("matchTorrent", () => {
  const torrents = [
    makeTorrent("The.Matrix.1999.1080p.BluRay.x264-GRP"),
    makeTorrent("The.Matrix.1999.2160p.UHD.BluRay.x265-GRP"),
    makeTorrent("Inception.2010.1080p.BluRay.x264-SPARKS"),
    makeTorrent("Show.Name.S01E02.1080p.WEB.H264-GRP"),
    makeTorrent("Show.Name.S01E04.1080p.WEB.H264-GRP"),
    makeTorrent("Show.Name.S02.1080p.WEB.H264-GRP"),
    makeTorrent("Dune.2021.1080p.WEB-DL.DDP5.1.Atmos.H.264-FLUX"),
    makeTorrent("Halloween.1978.1080p.BluRay.x264-AMIABLE"),
    makeTorrent("Renamed.By.RD.mkv", { originalFilename: "Original.Release.2019.720p.HDTV.x264-LOL" }),
    makeTorrent("Movie.Single.File.2015.1080p.WEBRip.x264-RARBG.mp4"),
    makeTorrent("Spider-Man.Into.the.Spider-Verse.2018.1080p.BluRay.x264-GRP"),
    makeTorrent("[SubsPlease] Frieren - 05 (1080p) [ABCD1234].mkv"),
    makeTorrent("www.UIndex.org    -    Fast.and.Furious.2009.720p.BluRay.x264-GRP"),
    makeTorrent("Twin.Release.2020.1080p.WEB.H264-ONE"),
    makeTorrent("Twin.Release.2020.1080p.WEB.H264-ONE"),
    makeTorrent("Close.Call.2020.1080p.BluRay.x264.DTS-GRP"),
    makeTorrent("Close.Call.2020.1080p.BluRay.x264.AAC-GRP"),
    makeTorrent("Show.Name.S01E05.720p.HDTV.x264-LOL"),
    makeTorrent("Show.Name.S01E05.REPACK.720p.HDTV.x264-LOL"),
  ];
  const index = buildMatchIndex(torrents);
  const byName = (n: string) => torrents.find((t) => t.filename === n)?.id;

  it.each<[string, string, MatchKind | "none" | "ambiguous", string?]>([
    // [case, link name, expected kind or reason, expected torrent filename]
    ["exact filename", "The.Matrix.1999.1080p.BluRay.x264-GRP", "exact", "The.Matrix.1999.1080p.BluRay.x264-GRP"],
    ["original filename", "Original.Release.2019.720p.HDTV.x264-LOL", "original", "Renamed.By.RD.mkv"],
    ["case", "the.matrix.1999.1080P.bluray.X264-grp", "normalized", "The.Matrix.1999.1080p.BluRay.x264-GRP"],
    ["spaces for dots", "The Matrix 1999 1080p BluRay x264 GRP", "normalized", "The.Matrix.1999.1080p.BluRay.x264-GRP"],
    [
      "extension on the link",
      "Inception.2010.1080p.BluRay.x264-SPARKS.mkv",
      "normalized",
      "Inception.2010.1080p.BluRay.x264-SPARKS",
    ],
    [
      "Zurg dropped the extension",
      "Movie.Single.File.2015.1080p.WEBRip.x264-RARBG",
      "normalized",
      "Movie.Single.File.2015.1080p.WEBRip.x264-RARBG.mp4",
    ],
    [
      "H.264 vs H264, WEB-DL vs WEBDL",
      "Dune 2021 1080p WEBDL DDP5 1 Atmos H264 FLUX",
      "normalized",
      "Dune.2021.1080p.WEB-DL.DDP5.1.Atmos.H.264-FLUX",
    ],
    ["original name, normalised", "original release 2019 720p hdtv x264 lol", "normalized", "Renamed.By.RD.mkv"],
    ['"The" dropped', "Matrix.1999.1080p.BluRay.x264-GRP", "fuzzy", "The.Matrix.1999.1080p.BluRay.x264-GRP"],
    [
      "leading group tag",
      "[RARBG] The Matrix (1999) 1080p BluRay x264-GRP",
      "fuzzy",
      "The.Matrix.1999.1080p.BluRay.x264-GRP",
    ],
    [
      "trailing site tag",
      "Inception.2010.1080p.BluRay.x264-SPARKS[rarbg]",
      "fuzzy",
      "Inception.2010.1080p.BluRay.x264-SPARKS",
    ],
    [
      "extra -GROUP",
      "Inception.2010.1080p.BluRay.x264-SPARKS-RARBG",
      "fuzzy",
      "Inception.2010.1080p.BluRay.x264-SPARKS",
    ],
    [
      "site prefix with spaces",
      "www Torrenting com - Inception 2010 1080p BluRay x264-SPARKS",
      "fuzzy",
      "Inception.2010.1080p.BluRay.x264-SPARKS",
    ],
    [
      "site tag in front, group unmarked",
      "[RARBG] Inception 2010 1080p BluRay x264 SPARKS",
      "fuzzy",
      "Inception.2010.1080p.BluRay.x264-SPARKS",
    ],
    [
      "site prefix gone",
      "Fast and Furious 2009 720p BluRay x264-GRP",
      "fuzzy",
      "www.UIndex.org    -    Fast.and.Furious.2009.720p.BluRay.x264-GRP",
    ],
    [
      "& for and, other separators",
      "Fast_&_Furious_(2009)_720p_BluRay_x264-GRP",
      "fuzzy",
      "www.UIndex.org    -    Fast.and.Furious.2009.720p.BluRay.x264-GRP",
    ],
    [
      "hyphen in the title",
      "Spiderman Into The Spiderverse 2018 1080p BluRay x264-GRP",
      "fuzzy",
      "Spider-Man.Into.the.Spider-Verse.2018.1080p.BluRay.x264-GRP",
    ],
    ["episode as 1x02", "Show Name 1x02 1080p WEB H264-GRP", "fuzzy", "Show.Name.S01E02.1080p.WEB.H264-GRP"],
    [
      "anime group moved",
      "Frieren - 05 [SubsPlease] (1080p) [ABCD1234]",
      "fuzzy",
      "[SubsPlease] Frieren - 05 (1080p) [ABCD1234].mkv",
    ],
    ["other episode", "Show.Name.S01E03.1080p.WEB.H264-GRP", "none"],
    ["episode vs season pack", "Show.Name.S02E01.1080p.WEB.H264-GRP", "none"],
    ["other year (remake)", "Halloween.2018.1080p.BluRay.x264-AMIABLE", "none"],
    ["other resolution", "Inception.2010.720p.BluRay.x264-SPARKS", "none"],
    ["other source", "Inception.2010.1080p.WEB.x264-SPARKS", "none"],
    ["other codec", "Inception.2010.1080p.BluRay.x265-SPARKS", "none"],
    ["other group", "Inception.2010.1080p.BluRay.x264-GECKOS", "none"],
    ["other anime group", "[Erai-raws] Frieren - 05 (1080p) [ABCD1234]", "none"],
    ["other anime episode", "[SubsPlease] Frieren - 06 (1080p) [ABCD1234]", "none"],
    ["a longer title is another show", "Show.Name.Origins.S01E02.1080p.WEB.H264-GRP", "none"],
    ["a shorter title is another show", "Show.S01E02.1080p.WEB.H264-GRP", "none"],
    ["bare title: too little to be sure", "Inception (2010)", "none"],
    ["unknown title with common tags", "Nowhere.2010.1080p.BluRay.x264-SPARKS", "none"],
    ["same name twice", "Twin.Release.2020.1080p.WEB.H264-ONE", "ambiguous"],
    ["same name twice, normalised", "twin release 2020 1080p web h264 one", "ambiguous"],
    ["two equally close releases", "Close.Call.2020.1080p.BluRay.x264-GRP", "ambiguous"],
    [
      "non-repack does not become the repack",
      "Show Name S01E05 720p HDTV x264-LOL[eztv]",
      "fuzzy",
      "Show.Name.S01E05.720p.HDTV.x264-LOL",
    ],
    [
      "repack does not become the non-repack",
      "Show.Name.S01E05.REPACK.720p.HDTV.x264-LOL[eztv]",
      "fuzzy",
      "Show.Name.S01E05.REPACK.720p.HDTV.x264-LOL",
    ],
  ])("%s: %s → %s", (_case, name, expected, filename) => {
    const r = matchTorrent(index, name);
    if (expected === "none" || expected === "ambiguous") {
      expect(r).toEqual({ match: null, reason: expected });
      return;
    }
    expect(r.match?.kind).toBe(expected);
    expect(r.match?.torrent.id).toBe(byName(filename ?? ""));
    if (expected === "fuzzy") expect(r.match?.score).toBeGreaterThanOrEqual(FUZZY_THRESHOLD);
    else expect(r.match?.score).toBe(1);
  });

  it("prefers the exact filename over another torrent's original name", () => {
    const a = makeTorrent("Same.Name.2020.1080p.WEB.H264-GRP");
    const b = makeTorrent("Other.mkv", { originalFilename: "Same.Name.2020.1080p.WEB.H264-GRP" });
    const r = matchTorrent(buildMatchIndex([b, a]), "Same.Name.2020.1080p.WEB.H264-GRP");
    expect(r.match).toMatchObject({ kind: "exact", torrent: { id: a.id } });
  });

  it("counts a torrent listed twice once", () => {
    const a = makeTorrent("Dup.2020.1080p.WEB.H264-GRP");
    expect(matchTorrent(buildMatchIndex([a, { ...a }]), a.filename).match?.torrent.id).toBe(a.id);
  });

  it("counts a torrent whose original name normalises to its filename once", () => {
    const a = makeTorrent("Dup.2020.1080p.WEB.H264-GRP.mkv", { originalFilename: "Dup.2020.1080p.WEB.H264-GRP" });
    expect(matchTorrent(buildMatchIndex([a]), "dup 2020 1080p web h264 grp").match?.torrent.id).toBe(a.id);
    expect(matchTorrent(buildMatchIndex([a]), "[eztv] Dup 2020 1080p WEB H264-GRP").match?.torrent.id).toBe(a.id);
  });

  it("matchAll lists every candidate at its strongest level", () => {
    const all = matchAll(index, "Twin.Release.2020.1080p.WEB.H264-ONE");
    expect(all.map((m) => m.kind)).toEqual(["exact", "exact"]);
    const close = matchAll(index, "Close.Call.2020.1080p.BluRay.x264-GRP");
    expect(close.map((m) => m.torrent.filename).sort()).toEqual([
      "Close.Call.2020.1080p.BluRay.x264.AAC-GRP",
      "Close.Call.2020.1080p.BluRay.x264.DTS-GRP",
    ]);
    expect(matchAll(index, "Nowhere.2010.1080p.BluRay.x264-SPARKS")).toEqual([]);
  });
});

describe("fuzzy candidates", () => {
  // 5,000 releases sharing every tag token; only the title tells them apart.
  const common = Array.from({ length: 5000 }, (_, i) =>
    makeTorrent(`Title${i}.S01E01.1080p.WEB.H264-GRP`, { id: `C${i}` }),
  );
  const shows = Array.from({ length: 300 }, (_, i) =>
    makeTorrent(`Long.Running.Show.S01E${String(i + 1).padStart(3, "0")}.1080p.WEB.H264-GRP`, { id: `L${i}` }),
  );
  const index = buildMatchIndex([...common, ...shows]);

  it.each([
    // [name, candidates scored]
    ["Title42 S01E01 1080p WEB H264 GRP RARBG", 1],
    ["1080p WEB H264-GRP", 0],
    ["Unknown.Show.S01E01.1080p.WEB.H264-GRP", 0],
    ["Long Running Show S01E150 1080p WEB H264-GRP [eztv]", 1],
    ["Long Running Show S01E999 1080p WEB H264-GRP", 0],
  ])("%s scores %i candidates", (name, count) => {
    expect(fuzzyCandidates(index, name)).toHaveLength(count);
  });

  it("still finds the one release among them", () => {
    expect(matchTorrent(index, "Title42 S01E01 1080p WEB H264 GRP RARBG").match?.torrent.id).toBe("C42");
    expect(matchTorrent(index, "[eztv] Long Running Show S01E150 1080p WEB H264-GRP").match?.torrent.id).toBe("L149");
  });
});
