/** A torrent row as name matching needs it. */
export interface TorrentRef {
  id: string;
  filename: string;
  originalFilename?: string | null;
  status?: string;
}

/** Which rule matched, strongest first. */
export type MatchKind = "exact" | "original" | "normalized" | "fuzzy";

/** A torrent a name was matched to; `score` is 1 except for fuzzy matches (their tag similarity). */
export interface Match {
  torrent: TorrentRef;
  kind: MatchKind;
  score: number;
}

/** The outcome of one match: a single torrent, or null with why. */
export type MatchResult = { match: Match } | { match: null; reason: "none" | "ambiguous" };

/** Lookup structures built once by `buildMatchIndex` and shared by many matches; read them through this module. */
export interface MatchIndex {
  readonly byFilename: ReadonlyMap<string, Bucket<TorrentRef>>;
  readonly byOriginal: ReadonlyMap<string, Bucket<TorrentRef>>;
  readonly byNormalized: ReadonlyMap<string, Bucket<TorrentRef>>;
  /** Fuzzy candidates keyed by title and season/episode (see `releaseOf`). */
  readonly byRelease: ReadonlyMap<string, Bucket<Candidate>>;
}

// Nearly every key has one entry; keeping it bare saves an array per key (200k at 100k torrents).
export type Bucket<T> = T | T[];

interface Candidate {
  torrent: TorrentRef;
  release: Release;
}

/** The least tag similarity (Dice) a fuzzy match needs: one extra or missing tag next to two shared ones. */
export const FUZZY_THRESHOLD = 0.8;

/** A second torrent scoring within this of the best fuzzy score makes the match ambiguous. */
export const FUZZY_MARGIN = 0.05;

const EXTENSIONS = new Set(
  "mkv mp4 m4v avi mov wmv mpg mpeg m2ts webm flv iso srt ass ssa sub idx nfo rar zip 7z".split(" "),
);
// The same tag written with or without a separator, so "H.264" and "H264" compare equal.
const MERGES: readonly [string, RegExp, string][] = [
  ["h 26", /(?<=^| )h (26[45])(?= |$)/g, "h$1"],
  ["web dl", /(?<=^| )web dl(?= |$)/g, "webdl"],
  ["blu ray", /(?<=^| )blu ray(?= |$)/g, "bluray"],
];
const NOT_PRINTABLE_ASCII = /[^ -~]/;
const APOSTROPHES = /['’‘`´]/g;
const SEPARATORS = /[^\p{L}\p{N}]+/gu;
// The same for printable ASCII once lower-cased, where letters and digits are a-z and 0-9: the Unicode
// classes cost twice as much, and nearly every release name is ASCII.
const ASCII_APOSTROPHES = /['`]/g;
const ASCII_SEPARATORS = /[^a-z0-9]+/g;

/**
 * Normalises a release name for comparison. In order: trailing media/subtitle/archive extensions are
 * dropped, repeatedly (".mkv", ".mp4", ".srt", ".rar" …; not ".ts", which is also the telesync tag);
 * accents on Latin letters are removed and compatibility forms folded (NFKD), other scripts kept as
 * they are; case is folded; apostrophes are deleted ("Grey's" = "Greys", as release names write it);
 * every run of other non-letter, non-digit characters (dots, underscores, dashes, spaces, brackets)
 * becomes one space, trimmed; "h 264"/"h 265", "web dl" and "blu ray" are joined. Quality, codec, group
 * and episode tokens are kept, since they are what tells two releases of one title apart.
 */
export function normalizeName(name: string): string {
  let s = stripExtensions(name);
  if (NOT_PRINTABLE_ASCII.test(s)) {
    s = s
      .normalize("NFKD")
      .replace(/(\p{Script=Latin})\p{M}+/gu, "$1")
      .normalize("NFC");
    s = s.toLowerCase().replace(APOSTROPHES, "").replace(SEPARATORS, " ").trim();
  } else s = s.toLowerCase().replace(ASCII_APOSTROPHES, "").replace(ASCII_SEPARATORS, " ").trim();
  // The substring test first: this runs for every torrent, and most names have none of these.
  for (const [probe, re, to] of MERGES) if (s.includes(probe)) s = s.replace(re, to);
  return s;
}

function stripExtensions(name: string): string {
  let s = name.trim();
  // Extensions are at most 4 characters: most names fail that test and skip the slice.
  for (let dot = s.lastIndexOf("."); dot > 0 && s.length - dot <= 5; dot = s.lastIndexOf(".")) {
    if (!EXTENSIONS.has(s.slice(dot + 1).toLowerCase())) break;
    s = s.slice(0, dot);
  }
  return s;
}

/**
 * Version of the key rules (normalizeName, releaseOf). Stored keys of another version are computed
 * again: bump it whenever a change to those rules changes a key.
 */
export const KEY_VERSION = 1;

/**
 * What the lookups key a torrent by: its normalized name, its fuzzy bucket (title + season/episode),
 * and as `detail` what the fuzzy level compares inside a bucket (stored, so never read again).
 */
export function nameKeys(filename: string): { normalized: string; release: string; detail: string } {
  const normalized = normalizeName(filename);
  const r = releaseOf(filename, normalized);
  const detail = JSON.stringify([r.years, r.resolution, r.source, r.codec, r.revision, r.groups, r.leading, r.tags]);
  return { normalized, release: r.key, detail };
}

/** Where nameKeys' detail holds the fuzzy level's scalar gates (read in SQL by the lookups of record.ts). */
export const DETAIL_FIELDS = { resolution: 1, source: 2, codec: 3, revision: 4 } as const;

/** nameKeys' detail, parsed. */
export type ReleaseDetail = [
  string[],
  string | null,
  string | null,
  string | null,
  string,
  string[],
  string[],
  string[],
];

/** A Release from its stored key and detail (nameKeys). */
function storedRelease(key: string, detail: ReleaseDetail): Release {
  const [years, resolution, source, codec, revision, groups, leading, tags] = detail;
  return { key, years, resolution, source, codec, revision, groups, leading, tags };
}

/** Builds the lookup maps once for many matches; a torrent listed twice (same id) counts once. */
export function buildMatchIndex(torrents: readonly TorrentRef[]): MatchIndex {
  const byFilename = new Map<string, Bucket<TorrentRef>>();
  const byOriginal = new Map<string, Bucket<TorrentRef>>();
  const byNormalized = new Map<string, Bucket<TorrentRef>>();
  const byRelease = new Map<string, Bucket<Candidate>>();
  const seen = new Set<string>();
  const addName = (t: TorrentRef, raw: string, normalized: string) => {
    addToBucket(byNormalized, normalized, t);
    const release = releaseOf(raw, normalized);
    addToBucket(byRelease, release.key, { torrent: t, release });
  };
  for (const t of torrents) {
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    addToBucket(byFilename, t.filename, t);
    const normalized = normalizeName(t.filename);
    addName(t, t.filename, normalized);
    const original = t.originalFilename;
    if (!original || original === t.filename) continue;
    addToBucket(byOriginal, original, t);
    const other = normalizeName(original);
    if (other !== normalized) addName(t, original, other);
  }
  return { byFilename, byOriginal, byNormalized, byRelease };
}

/** A torrent's stored fuzzy keys (torrent_keys): its bucket and nameKeys' detail, parsed. */
export interface KeyedTorrent {
  torrent: TorrentRef;
  release: string;
  detail: ReleaseDetail;
}

/**
 * The index from lookups of stored keys, for the names of one run: the torrents whose filename is one of
 * the names and those whose normalized name is one of theirs, each keyed by that name (built with
 * addToBucket), and the fuzzy buckets those names need. Nothing is normalised again. A torrent appears at
 * most once per key, as torrent_keys holds one row per torrent.
 */
export function indexFromKeys(
  byFilename: ReadonlyMap<string, Bucket<TorrentRef>>,
  byNormalized: ReadonlyMap<string, Bucket<TorrentRef>>,
  fuzzy: Iterable<KeyedTorrent>,
): MatchIndex {
  const byRelease = new Map<string, Bucket<Candidate>>();
  for (const k of fuzzy)
    addToBucket(byRelease, k.release, { torrent: k.torrent, release: storedRelease(k.release, k.detail) });
  return { byFilename, byOriginal: new Map(), byNormalized, byRelease };
}

/** Adds `v` to the bucket of `k`. */
export function addToBucket<T extends object>(m: Map<string, Bucket<T>>, k: string, v: T): void {
  const b = m.get(k);
  if (b === undefined) m.set(k, v);
  else if (Array.isArray(b)) b.push(v);
  else m.set(k, [b, v]);
}

const list = <T extends object>(b: Bucket<T> | undefined): readonly T[] =>
  b === undefined ? [] : Array.isArray(b) ? b : [b];

/**
 * Matches a torrent name parsed from a symlink target. Levels, strongest first: exact filename, exact
 * original filename, equal `normalizeName`, fuzzy (`fuzzyScore`). The first level with a candidate
 * decides; two different torrents at that level give "ambiguous", since a false positive here can later
 * repair or delete the wrong torrent. A fuzzy runner-up within FUZZY_MARGIN of the best is a tie too.
 * `normalized` and `release`: normalizeName(name) and releaseOf(name), when the caller has them.
 */
export function matchTorrent(index: MatchIndex, name: string, normalized?: string, release?: Release): MatchResult {
  const exact = index.byFilename.get(name) ?? index.byOriginal.get(name);
  const kind: MatchKind = exact === undefined ? "normalized" : index.byFilename.has(name) ? "exact" : "original";
  const strict = exact ?? index.byNormalized.get(normalized ?? normalizeName(name));
  if (Array.isArray(strict)) return { match: null, reason: "ambiguous" };
  if (strict) return { match: { torrent: strict, kind, score: 1 } };
  const [best, second] = fuzzyMatches(index, name, normalized, release);
  if (!best) return { match: null, reason: "none" };
  if (second && second.score >= best.score - FUZZY_MARGIN) return { match: null, reason: "ambiguous" };
  return { match: best };
}

/** Every torrent the name matches at any level, each once at its strongest level, best first (diagnostics). */
export function matchAll(index: MatchIndex, name: string): Match[] {
  const out = new Map<string, Match>();
  const level = (b: Bucket<TorrentRef> | undefined, kind: MatchKind) => {
    for (const torrent of list(b)) if (!out.has(torrent.id)) out.set(torrent.id, { torrent, kind, score: 1 });
  };
  level(index.byFilename.get(name), "exact");
  level(index.byOriginal.get(name), "original");
  level(index.byNormalized.get(normalizeName(name)), "normalized");
  for (const m of fuzzyMatches(index, name)) if (!out.has(m.torrent.id)) out.set(m.torrent.id, m);
  return [...out.values()];
}

/** The torrents the fuzzy level scores for `name`: same title and season/episode key, nothing else. */
export function fuzzyCandidates(index: MatchIndex, name: string): TorrentRef[] {
  const candidates = list(index.byRelease.get(releaseOf(name).key));
  return [...new Map(candidates.map((c) => [c.torrent.id, c.torrent])).values()];
}

/** Fuzzy matches at or above FUZZY_THRESHOLD, one per torrent, best first. */
function fuzzyMatches(index: MatchIndex, name: string, normalized?: string, release?: Release): Match[] {
  const query = release ?? releaseOf(name, normalized);
  const tags = new Set(query.tags);
  const best = new Map<string, Match>();
  for (const c of list(index.byRelease.get(query.key))) {
    const score = fuzzyScore(query, tags, c.release);
    if (score < FUZZY_THRESHOLD) continue;
    const prev = best.get(c.torrent.id);
    if (!prev || prev.score < score) best.set(c.torrent.id, { torrent: c.torrent, kind: "fuzzy", score });
  }
  return [...best.values()].sort((a, b) => b.score - a.score);
}

/**
 * Similarity of two releases that share title and season/episode (the bucket key). Attributes that make
 * a different release must agree when both names state them: year (one set of years contains the
 * other, so a dropped year is fine and 2019 vs 2020 is not), resolution, source family, codec family,
 * PROPER/REPACK marks, "-GROUP" suffixes (must share one) and "[Group]" prefixes (likewise). Then the
 * score is the Dice coefficient of the remaining tag tokens: renames add or drop a tag (a site or group
 * tag), they do not swap a title word, and the title already had to be equal. 0 when a gate fails.
 */
function fuzzyScore(a: Release, aTags: ReadonlySet<string>, b: Release): number {
  if (!yearsAgree(a.years, b.years)) return 0;
  if (!agree(a.resolution, b.resolution) || !agree(a.source, b.source) || !agree(a.codec, b.codec)) return 0;
  if (a.revision !== b.revision) return 0;
  if (!shareOne(a.groups, b.groups) || !shareOne(a.leading, b.leading)) return 0;
  if (aTags.size === 0 && b.tags.length === 0) return 1;
  let shared = 0;
  for (const t of b.tags) if (aTags.has(t)) shared++;
  return (2 * shared) / (aTags.size + b.tags.length);
}

const agree = (a: string | null, b: string | null) => a === null || b === null || a === b;
const shareOne = (a: readonly string[], b: readonly string[]) =>
  a.length === 0 || b.length === 0 || a.some((g) => b.includes(g));

function yearsAgree(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.every((y) => b.includes(y)) || b.every((y) => a.includes(y));
}

/** What fuzzy matching compares of a release name. */
export interface Release {
  /** Title (stop words dropped, spaces removed, so "Spider-Man" = "Spiderman") + "|" + season/episode. */
  key: string;
  years: readonly string[];
  resolution: string | null;
  source: string | null;
  codec: string | null;
  revision: string;
  /** "-GROUP" suffixes (scene style). */
  groups: readonly string[];
  /** "[Group]" prefixes: the group in anime names, a site tag ("[RARBG]") in scene names, so kept apart. */
  leading: readonly string[];
  tags: readonly string[];
}

const NONE: readonly string[] = [];
const STOP_WORDS = new Set(["the", "a", "an", "and"]);
const YEAR = /^(?:19|20)\d{2}$/;
const RESOLUTION = /^(\d{3,4})[pi]$/;
const EPISODE = /^s(\d{1,3})((?:e\d{1,4})+)$/;
const CROSS_EPISODE = /^(\d{1,2})x(\d{1,3})$/;
const SEASON = /^s(\d{1,3})$/;
const SOURCES: Record<string, string> = Object.fromEntries([
  ...["bluray", "bdrip", "brrip", "bdremux", "bd"].map((t) => [t, "bluray"]),
  ...["web", "webdl", "webrip"].map((t) => [t, "web"]),
  ...["hdtv", "pdtv", "sdtv"].map((t) => [t, "tv"]),
  ...["dvdrip", "dvd", "dvdr", "dvd5", "dvd9", "dvdscr"].map((t) => [t, "dvd"]),
  ...["cam", "hdcam", "telesync", "hdts", "telecine"].map((t) => [t, "cam"]),
]);
const CODECS: Record<string, string> = Object.fromEntries([
  ...["x264", "h264", "avc"].map((t) => [t, "avc"]),
  ...["x265", "h265", "hevc"].map((t) => [t, "hevc"]),
  ...["xvid", "divx"].map((t) => [t, "xvid"]),
  ["av1", "av1"],
]);
const REVISIONS = new Set(["proper", "repack", "rerip"]);
// Tokens that end a title. "web", "max", "complete" and the like are left out: they are title words too.
const TITLE_END = new Set(["bluray", "bdrip", "brrip", "bdremux", "remux", "webdl", "webrip", "hdtv", "dvdrip"]);
for (const t of ["x264", "x265", "h264", "h265", "hevc", "xvid", "10bit", "hdr", "hdr10", "season", "4k", "uhd"])
  TITLE_END.add(t);
// Tags a "-SUFFIX" can be without being a release group ("WEB-DL", "BD-Rip").
const NOT_GROUPS = new Set(["dl", "rip", "ray", "remux", "hd", "sd", "uhd", "raw", "raws", "sub", "subs", "dub"]);
const LEADING =
  /^\s*(?:[[【]([^\]】]*)[\]】]|(?:www[ ._])?[\p{L}\p{N}-]+[ ._](?:com|org|net|to|se|me|cc|io|xyz|tv|mx|lol)\s*[-–])[\s._-]*/iu;
const TRAILING_WINDOW = 300;
const TRAILING = /(?:[\s._-]*(?:\[[^\]]*\]|\([^)]*\)|【[^】]*】))+\s*$/;
const GROUP_SUFFIX = /-([\p{L}\p{N}]+)\s*$/u;

const isDigit = (c: number) => c >= 48 && c <= 57;
/**
 * Whether a token can be a season/episode, year or resolution: each of those patterns starts with a digit,
 * or with "s"/"e" and a digit. Most tokens are words, and this test spares them half a dozen regexes each
 * (a sweep run reads every name it could not match exactly; keying reads every torrent).
 */
const mayBeNumbered = (t: string) => {
  const c = t.charCodeAt(0);
  return isDigit(c) || ((c === 115 /* s */ || c === 101) /* e */ && isDigit(t.charCodeAt(1)));
};
const isEpisodeish = (t: string) => EPISODE.test(t) || CROSS_EPISODE.test(t) || SEASON.test(t);
const endsTitle = (t: string, i: number) =>
  TITLE_END.has(t) || (mayBeNumbered(t) && (isEpisodeish(t) || RESOLUTION.test(t) || (i > 0 && YEAR.test(t))));
/** TRAILING can only match a name whose last non-space character closes a bracket. */
const mayHaveTrailing = (s: string) => {
  const last = s.trimEnd().at(-1);
  return last === "]" || last === ")" || last === "】";
};

/**
 * Reads a release name: leading "[Group]" and "site.tld -" prefixes are set aside (a bracketed group
 * counts as a tag and for the group gate; a site is noise), trailing "[...]"/"(...)" chunks count as tags,
 * the title runs up to the first token that cannot be a title word (season/episode, a year not in first
 * place, a resolution, a source or codec tag), and "-GROUP" suffixes after that are the release group.
 * `normalized` is normalizeName(name) when the caller has it, saving the work when nothing is peeled off.
 */
export function releaseOf(name: string, normalized?: string): Release {
  const whole = stripExtensions(name);
  let core = whole;
  const groups: string[] = [];
  const leading: string[] = [];
  const extra: string[] = [];
  for (let m = LEADING.exec(core); m && m[0].length < core.length; m = LEADING.exec(core)) {
    const group = m[1] ? normalizeName(m[1]) : "";
    if (group) leading.push(group.replaceAll(" ", ""));
    if (group) extra.push(...group.split(" "));
    core = core.slice(m[0].length);
  }
  // Only the tail is searched: the pattern is quadratic on a long run of brackets, and tags trail the name.
  const skip = Math.max(0, core.length - TRAILING_WINDOW);
  const trailing = mayHaveTrailing(core) ? TRAILING.exec(skip > 0 ? core.slice(skip) : core) : null;
  if (trailing && trailing.index + skip > 0) {
    extra.push(...normalizeName(trailing[0]).split(" "));
    core = core.slice(0, trailing.index + skip);
  }
  const tokens = (core === whole && normalized !== undefined ? normalized : normalizeName(core)).split(" ");
  let end = tokens.findIndex(endsTitle);
  if (end < 0) end = tokens.length;
  for (let m = end < tokens.length ? GROUP_SUFFIX.exec(core) : null; m; m = GROUP_SUFFIX.exec(core)) {
    const g = (m[1] ?? "").toLowerCase();
    if (NOT_GROUPS.has(g) || g in SOURCES || g in CODECS || endsTitle(g, 1)) break;
    groups.push(normalizeName(g));
    core = core.slice(0, m.index);
  }
  let title = "";
  for (let i = 0; i < end; i++) if (!STOP_WORDS.has(tokens[i] ?? "")) title += tokens[i];
  const release = readTags(extra.length > 0 ? [...tokens.slice(end), ...extra] : tokens.slice(end));
  release.key = `${title}|${release.key}`;
  release.groups = groups.length > 0 ? groups : NONE;
  release.leading = leading.length > 0 ? leading : NONE;
  return release;
}

/**
 * Reads the tokens after the title: season/episode (as `key`, for releaseOf to complete), years,
 * resolution, source, codec, revision and the remaining tags.
 */
function readTags(rest: readonly string[]): Release {
  const episodes: string[] = [];
  const years: string[] = [];
  const tags: string[] = [];
  const revision: string[] = [];
  let resolution: string | null = null;
  let source: string | null = null;
  let codec: string | null = null;
  let season: number | null = null;
  const addEpisode = (e: string) => episodes.includes(e) || episodes.push(e);
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i] ?? "";
    const numbered = mayBeNumbered(t);
    const ep = numbered ? (EPISODE.exec(t) ?? CROSS_EPISODE.exec(t)) : null;
    if (ep) {
      season = Number(ep[1]);
      const eps = ep[2]?.startsWith("e") ? ep[2].slice(1).split("e") : [ep[2] ?? ""];
      for (const e of eps) addEpisode(`s${season}e${Number(e)}`);
    } else if ((numbered && SEASON.test(t)) || (t === "season" && /^\d{1,3}$/.test(rest[i + 1] ?? ""))) {
      season = Number(t === "season" ? rest[++i] : t.slice(1));
      addEpisode(`s${season}`);
    } else if (numbered && season !== null && /^e\d{1,4}$/.test(t)) addEpisode(`s${season}e${Number(t.slice(1))}`);
    else if (numbered && YEAR.test(t)) years.push(t);
    else if (t === "4k" || t === "uhd") resolution = "2160p";
    else if (numbered && RESOLUTION.test(t)) resolution = `${t.slice(0, -1)}p`;
    else if (t !== "" && !STOP_WORDS.has(t) && !tags.includes(t)) {
      tags.push(t);
      source = SOURCES[t] ?? source;
      codec = CODECS[t] ?? codec;
      if (REVISIONS.has(t)) revision.push(t);
    }
  }
  return {
    key: episodes.sort().join(","),
    years: years.length > 0 ? years : NONE,
    resolution,
    source,
    codec,
    revision: revision.sort().join(","),
    groups: NONE,
    leading: NONE,
    tags,
  };
}
