// Name matching at library scale, in a fresh process: `node match.mjs`.
// 100,000 generated torrents (episodes, season packs, movies, anime; several releases per title so that
// near misses abound), 10,000 broken-link names drawn from them: about 60% exact, 25% differing only in
// what normalizeName removes, 15% renamed, plus 500 whose torrent is gone (only its siblings remain).
// Matched as a sweep run does (record.ts matchLinks, torrents in a database file). Prints {"keyingMs" (keying
// the whole account, once), "matchMs" (one run with the keys in place, the first in the process), "warmMs"
// (the same run again), "matched","wrong","none","rssMb"}
// (an ambiguous link counts as none); BENCH_VERBOSE=1 adds a per-kind breakdown on stderr.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, openDb } from "../shared/db.ts";
import type { MatchKind, MatchResult, TorrentRef } from "../shared/library/match.ts";
import { keyTorrents, matchLinks } from "../shared/library/record.ts";
import { brokenLinksTo, storeNamedTorrents } from "../test/helpers/library.ts";

const TORRENTS = 100_000;
const LINKS = 10_000;
const GONE = 500;

// mulberry32: a small seeded generator, so every run sees the same data.
let seed = 0x5eed;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

const WORDS = (
  "night city lost house dark river blue star king queen iron shadow last first dead wild golden silent " +
  "broken hidden secret empire fire ice stone glass black white red green storm winter summer ocean desert " +
  "mountain island garden road train ship sky moon sun earth heart mind soul blood bone ghost angel devil " +
  "hunter killer doctor lawyer agent spy soldier pilot chef teacher family brothers sisters friends lovers " +
  "strangers neighbors kings crown throne sword arrow wolf bear fox tiger lion eagle raven dragon snake " +
  "code signal echo zero one hundred thousand million edge line point circle square tower bridge gate door " +
  "window mirror clock time day morning evening midnight dawn dusk paradise heaven hell war peace justice"
).split(" ");
const GROUPS = (
  "NTb FLUX CMRG SPARKS GECKOS AMIABLE RARBG LOL KILLERS DIMENSION SVA EDITH GGEZ NOSiViD TEPES PECULATE " +
  "GLHF HONE SMURF NOGRP EVO FGT ION10 MeGusta PSA Tigole QxR SiGMA BLUTONiUM playWEB KOGi TOMMY"
).split(" ");
const ANIME_GROUPS = ["SubsPlease", "Erai-raws", "HorribleSubs", "Judas", "ASW", "EMBER"];
const RES = ["720p", "1080p", "1080p", "2160p"];
const SOURCES = ["WEB", "WEB-DL", "WEBRip", "BluRay", "HDTV"];
const CODECS = ["x264", "x265", "H.264", "H.265", "HEVC"];
const EXTRAS = ["", "", "", "AMZN.", "NF.", "DSNP.", "10bit.", "HDR.", "DDP5.1.", "AAC2.0."];

const title = () => {
  const words = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(WORDS));
  const t = words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join(" ");
  return rand() < 0.2 ? `The ${t}` : t;
};
const dotted = (s: string) => s.replaceAll(" ", ".");
const tail = () =>
  `${pick(RES)}.${pick(EXTRAS)}${pick(SOURCES)}.${pick(CODECS)}-${pick(GROUPS)}${rand() < 0.03 ? ".mkv" : ""}`;
const revision = () => (rand() < 0.05 ? pick(["REPACK.", "PROPER."]) : "");

function* releases(): Generator<string> {
  for (;;) {
    const kind = rand();
    const t = title();
    if (kind < 0.55) {
      const seasons = 1 + Math.floor(rand() * 4);
      for (let s = 1; s <= seasons; s++) {
        if (rand() < 0.3) yield `${dotted(t)}.S${pad(s)}.${tail()}`;
        for (let e = 1; e <= 6 + Math.floor(rand() * 8); e++) {
          for (let r = 0; r < 1 + Math.floor(rand() * 3); r++)
            yield `${dotted(t)}.S${pad(s)}E${pad(e)}.${revision()}${tail()}`;
        }
      }
    } else if (kind < 0.95) {
      const years = rand() < 0.1 ? [1980 + Math.floor(rand() * 20), 2005 + Math.floor(rand() * 20)] : [];
      if (years.length === 0) years.push(1970 + Math.floor(rand() * 56));
      for (const y of years) {
        for (let r = 0; r < 1 + Math.floor(rand() * 4); r++) {
          yield rand() < 0.15
            ? `${t} (${y}) [${pick(RES)}] [${pick(["WEBRip", "BluRay"])}] [YTS.MX]`
            : `${dotted(t)}.${y}.${revision()}${tail()}`;
        }
      }
    } else {
      for (let e = 1; e <= 12; e++) {
        for (const g of ANIME_GROUPS.filter(() => rand() < 0.4)) {
          const crc = Math.floor(rand() * 0xffffffff)
            .toString(16)
            .toUpperCase()
            .padStart(8, "0");
          yield `[${g}] ${t} - ${pad(e)} (${pick(RES)}) [${crc}].mkv`;
        }
      }
    }
  }
}

// Torrents, a few of them listed twice (the same release added twice), and the releases whose torrent is gone.
const torrents: TorrentRef[] = [];
const gone: string[] = [];
const names = new Set<string>();
for (const name of releases()) {
  if (names.has(name)) continue;
  names.add(name);
  if (gone.length < GONE && rand() < 0.01) {
    gone.push(name);
    continue;
  }
  const originalFilename = rand() < 0.1 ? `www.UIndex.org    -    ${name}` : name;
  torrents.push({ id: `T${torrents.length}`, filename: name, originalFilename, status: "downloaded" });
  if (rand() < 0.003) torrents.push({ id: `T${torrents.length}`, filename: name, status: "downloaded" });
  if (torrents.length >= TORRENTS && gone.length >= GONE) break;
}
const listedTwice = new Set<string>();
const firstId = new Map<string, string>();
for (const t of torrents) {
  if (firstId.has(t.filename)) listedTwice.add(t.filename);
  else firstId.set(t.filename, t.id);
}

const NORMALIZED: ((s: string) => string)[] = [
  (s) => s.replaceAll(".", " ").replace(/ (mkv|mp4)$/, ".$1"),
  (s) => s.toLowerCase(),
  (s) => s.toUpperCase(),
  (s) => (/\.(mkv|mp4)$/.test(s) ? s.slice(0, -4) : `${s}.mkv`),
  (s) => s.replace(/\.(?!(mkv|mp4)$)/g, "_"),
  (s) => s.replace(/-([^-.\s]+)(\.mkv)?$/, " $1$2").replace("H.264", "H264"),
];
const RENAMED: ((s: string) => string)[] = [
  (s) => `[RARBG] ${s}`,
  (s) => `${s.replace(/\.mkv$/, "")}[eztv]`,
  (s) => `www.Torrenting.com - ${s}`,
  (s) => s.replace(/^The[. ]/, ""),
  (s) => s.replace(/-([^-.\s]+)(\.mkv)?$/, "-$1-RARBG$2"),
];

type Expect = { id: string | null; via: "exact" | "normalized" | "renamed" | "gone" };
const links: { name: string; expect: Expect }[] = [];
for (let i = 0; i < LINKS; i++) {
  if (i < GONE) {
    const name = gone[i] ?? "";
    links.push({ name: rand() < 0.5 ? name : pick(RENAMED)(name), expect: { id: null, via: "gone" } });
    continue;
  }
  const t = pick(torrents);
  const id = listedTwice.has(t.filename) ? null : (firstId.get(t.filename) ?? null);
  const r = rand();
  if (r < 0.6)
    links.push({ name: rand() < 0.9 ? t.filename : (t.originalFilename ?? t.filename), expect: { id, via: "exact" } });
  else if (r < 0.85) links.push({ name: pick(NORMALIZED)(t.filename), expect: { id, via: "normalized" } });
  else {
    let name = pick(RENAMED)(t.filename);
    if (rand() < 0.5) name = pick(NORMALIZED)(name);
    links.push({ name, expect: { id, via: "renamed" } });
  }
}

// The product's path (shared/library/record.ts): torrents in the database, keyed once, then matchLinks
// per sweep run. Timed: keying the whole account (once per account, or after the key rules change), and
// one run's matching of the 10,000 links with the keys in place (every later sweep run).
const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-match-"));
const db = await openDb(`file:${join(dir, "match.db")}`);
await migrate(db);
const NOW = Date.UTC(2026, 0, 1);
await storeNamedTorrents(db, torrents, NOW);
const t0 = performance.now();
const keyed = await keyTorrents(db);
const t1 = performance.now();
// the links as the sweep hands them over (it built them while walking): not part of the matching's time
const broken = brokenLinksTo(links.map((l) => l.name));
const again = brokenLinksTo(links.map((l) => l.name));
const t2 = performance.now();
await matchLinks(db, broken);
const t3 = performance.now();
// The same run again in this process: what a sweep run costs in the long-running service, where the
// code is already compiled (the figure above is a first run in a fresh process, code not yet optimized).
await matchLinks(db, again);
const t4 = performance.now();
db.close();
rmSync(dir, { recursive: true, force: true });
if (keyed !== torrents.length) throw new Error(`keyed ${keyed} of ${torrents.length} torrents`);
const byId = new Map(torrents.map((t) => [t.id, t]));
// matchLinks keeps the match of each link; an unmatched one is counted as "none" (ambiguous or not)
const results: MatchResult[] = broken.map((b) =>
  b.matchedTorrentId === null
    ? { match: null, reason: "none" }
    : { match: { torrent: byId.get(b.matchedTorrentId) as TorrentRef, kind: b.matchKind as MatchKind, score: 1 } },
);

const counts = { matched: 0, wrong: 0, ambiguous: 0, none: 0 };
const byVia: Record<string, Record<string, number>> = {};
links.forEach((l, i) => {
  const r = results[i];
  const outcome = !r ? "none" : r.match ? (r.match.torrent.id === l.expect.id ? "matched" : "wrong") : r.reason;
  counts[outcome]++;
  const v = byVia[l.expect.via] ?? {};
  v[outcome] = (v[outcome] ?? 0) + 1;
  byVia[l.expect.via] = v;
  if (process.env.BENCH_VERBOSE && (outcome === "wrong" || (outcome !== "matched" && l.expect.id !== null)))
    process.stderr.write(`${outcome} (${l.expect.via}): ${l.name}\n`);
});
if (process.env.BENCH_VERBOSE) process.stderr.write(`${JSON.stringify({ torrents: torrents.length, byVia })}\n`);
process.stdout.write(
  `${JSON.stringify({ keyingMs: t1 - t0, matchMs: t3 - t2, warmMs: t4 - t3, ...counts, rssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
