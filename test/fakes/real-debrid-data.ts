/** Every torrent status the Real-Debrid doc lists (torrents schema). */
export type RdStatus =
  | "magnet_error"
  | "magnet_conversion"
  | "waiting_files_selection"
  | "queued"
  | "downloading"
  | "downloaded"
  | "error"
  | "virus"
  | "compressing"
  | "uploading"
  | "dead";

export const RD_STATUSES: readonly RdStatus[] = [
  "magnet_error",
  "magnet_conversion",
  "waiting_files_selection",
  "queued",
  "downloading",
  "downloaded",
  "error",
  "virus",
  "compressing",
  "uploading",
  "dead",
];

/** What `filter=active` and `/torrents/activeCount` count as active (waiting or in progress). */
export const ACTIVE_STATUSES: ReadonlySet<RdStatus> = new Set<RdStatus>([
  "magnet_conversion",
  "waiting_files_selection",
  "queued",
  "downloading",
  "compressing",
  "uploading",
]);

export interface FakeFile {
  id: number;
  path: string;
  bytes: number;
  selected: 0 | 1;
}

export interface FakeTorrent {
  id: string;
  hash: string;
  filename: string;
  original_filename: string;
  bytes: number;
  original_bytes: number;
  host: string;
  split: number;
  progress: number;
  status: RdStatus;
  added: string;
  ended?: string;
  links: string[];
  files: FakeFile[];
  speed?: number;
  seeders?: number;
}

// makeTorrent and the fake's addMagnet draw identities above this index, makeAccount below it, so the two
// never collide (makeAccount's start + n must stay below it).
const FRESH_BASE = 1_500_000_000;
let freshSeq = 0;

// A fixed origin keeps makeAccount deterministic; index i is i minutes older than index 0.
const ACCOUNT_EPOCH = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const DAY_MS = 86_400_000;
const GB = 1_000_000_000;

/**
 * V8 keeps a template literal's result as a tree of pieces; reading one character flattens it into a
 * single string. A 100k account then needs about a fifth less heap, and the collector a fifth less time.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** A bijective 32-bit mix: distinct inputs give distinct outputs, so ids and hashes stay unique. */
function mix32(x: number, salt: number): number {
  let h = (x ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** 13 uppercase alphanumerics like RD's ids; the last 6 encode the index, which makes them unique. */
export function idFor(n: number): string {
  return (mix32(n, 0x9e3779b9).toString(36).padStart(7, "0") + n.toString(36).padStart(6, "0")).toUpperCase();
}

// One reused buffer: a hex string from it is a single flat string, which keeps a 100k account light.
const HASH_WORDS = Buffer.alloc(20);

/** 40 lowercase hex digits; each 8-digit word is a bijection of the index, so hashes are unique. */
export function hashFor(n: number): string {
  HASH_WORDS.writeUInt32BE(mix32(n, 0x1b873593), 0);
  HASH_WORDS.writeUInt32BE(mix32(n, 0xcc9e2d51), 4);
  HASH_WORDS.writeUInt32BE(mix32(n, 0x85ebca6b), 8);
  HASH_WORDS.writeUInt32BE(mix32(n, 0xc2b2ae35), 12);
  HASH_WORDS.writeUInt32BE(mix32(n, 0x27d4eb2f), 16);
  return HASH_WORDS.toString("hex");
}

// Date#toJSON costs about a microsecond; makeAccount needs two per torrent, all on whole minutes, so
// those strings are assembled from a per-day prefix and a table of the day's minutes instead.
const HH_MM = Array.from(
  { length: 1440 },
  (_, m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`,
);
const dayPrefixes = new Map<number, string>();

/** `new Date(ms).toJSON()` for a whole-minute `ms`. */
function isoMinute(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toJSON().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  return flat(`${prefix}${HH_MM[(ms - day * DAY_MS) / MINUTE]}:00.000Z`);
}

/** A fresh identity for makeTorrent and addMagnet, never equal to one from makeAccount. */
export function freshIndex(): number {
  return FRESH_BASE + freshSeq++;
}

/** One download link per selected file, as RD lists them for a finished torrent. */
export function linksFor(id: string, files: readonly FakeFile[]): string[] {
  return files.filter((f) => f.selected === 1).map((f) => flat(`https://real-debrid.com/d/${id}${f.id}`));
}

export function selectedBytes(files: readonly FakeFile[]): number {
  let sum = 0;
  for (const f of files) if (f.selected === 1) sum += f.bytes;
  return sum;
}

function totalBytes(files: readonly FakeFile[]): number {
  let sum = 0;
  for (const f of files) sum += f.bytes;
  return sum;
}

function sizeOf(n: number, k: number): number {
  return GB / 2 + (mix32(n, k) % (4 * GB));
}

/**
 * A movie (one file) or a season pack (2-3 episodes plus an unselected .nfo), chosen by the index. File
 * paths are relative to the torrent's own folder, as RD lists them.
 */
function contentFor(n: number): { name: string; files: FakeFile[] } {
  const ns = String(n);
  if (n % 3 === 0) {
    const name = flat(`Fake.Movie.${ns}.2021.1080p.BluRay.x264-FAKE.mkv`);
    return { name, files: [{ id: 1, path: flat(`/${name}`), bytes: sizeOf(n, 1), selected: 1 }] };
  }
  const name = flat(`Fake.Show.${ns}.S01.1080p.WEB-DL.x264-FAKE`);
  const episode = (e: number): FakeFile => ({
    id: e,
    path: flat(`/Fake.Show.${ns}.S01E0${e}.1080p.WEB-DL.x264-FAKE.mkv`),
    bytes: sizeOf(n, e),
    selected: 1,
  });
  const nfo = (id: number): FakeFile => ({
    id,
    path: flat(`/Fake.Show.${ns}.S01.nfo`),
    bytes: 2_048,
    selected: 0,
  });
  const files = n % 3 === 1 ? [episode(1), episode(2), nfo(3)] : [episode(1), episode(2), episode(3), nfo(4)];
  return { name, files };
}

/** Two files of unknown content: what a magnet resolves to when the catalog knows nothing better. */
export function genericFiles(): FakeFile[] {
  return [
    { id: 1, path: "/video.mkv", bytes: 2 * GB, selected: 0 },
    { id: 2, path: "/sample.mkv", bytes: 50_000_000, selected: 0 },
  ];
}

/** Sets the fields RD shows differently per status (links only when downloaded, speed while moving...). */
function shapeForStatus(t: FakeTorrent, status: RdStatus, n: number): void {
  t.status = status;
  if (status === "downloaded") return;
  t.links = [];
  t.ended = undefined;
  switch (status) {
    case "magnet_conversion":
      t.files = [];
      t.bytes = 0;
      t.original_bytes = 0;
      t.progress = 0;
      t.seeders = 0;
      break;
    case "waiting_files_selection":
      t.files = t.files.map((f) => ({ ...f, selected: 0 }));
      t.bytes = 0;
      t.progress = 0;
      break;
    case "downloading":
      t.progress = 1 + (n % 98);
      t.speed = 5_000_000;
      t.seeders = 12;
      break;
    case "compressing":
    case "uploading":
      t.progress = 100;
      t.speed = 20_000_000;
      break;
    case "error":
    case "dead":
      t.progress = n % 100;
      break;
    default:
      t.progress = 0;
  }
}

function buildTorrent(n: number, added: string, ended: string, status: RdStatus): FakeTorrent {
  const id = idFor(n);
  const { name, files } = contentFor(n);
  const t: FakeTorrent = {
    id,
    hash: hashFor(n),
    filename: name,
    original_filename: name,
    bytes: selectedBytes(files),
    original_bytes: totalBytes(files),
    host: "real-debrid.com",
    split: 2000,
    progress: 100,
    status: "downloaded",
    added,
    ended,
    links: linksFor(id, files),
    files,
  };
  shapeForStatus(t, status, n);
  return t;
}

/**
 * One torrent, "downloaded" and added now unless `partial` says otherwise. Given files without links or
 * bytes, those are derived from the files; a non-downloaded status drops links and sets progress.
 */
export function makeTorrent(partial: Partial<FakeTorrent> = {}): FakeTorrent {
  const n = freshIndex();
  const added = Date.now();
  const t = buildTorrent(n, new Date(added).toJSON(), new Date(added + 10 * MINUTE).toJSON(), "downloaded");
  if (partial.id) t.links = linksFor(partial.id, t.files);
  if (partial.files) {
    t.files = partial.files;
    t.bytes = selectedBytes(partial.files);
    t.original_bytes = totalBytes(partial.files);
    t.links = linksFor(partial.id ?? t.id, partial.files);
  }
  if (partial.status) shapeForStatus(t, partial.status, n);
  return { ...t, ...partial };
}

/**
 * An account of `n` torrents, newest first, one minute apart. Ids and hashes depend only on the index
 * (`start + i`), so `makeAccount(10, { start: 10 })` continues `makeAccount(10)` with older torrents.
 */
export function makeAccount(
  n: number,
  opts: { statusOf?: (i: number) => RdStatus; start?: number } = {},
): FakeTorrent[] {
  const start = opts.start ?? 0;
  if (start + n > FRESH_BASE) throw new RangeError(`makeAccount: start + n must stay below ${FRESH_BASE}`);
  const out = new Array<FakeTorrent>(n);
  for (let i = 0; i < n; i++) {
    const index = start + i;
    const added = ACCOUNT_EPOCH - index * MINUTE;
    out[i] = buildTorrent(index, isoMinute(added), isoMinute(added + 10 * MINUTE), opts.statusOf?.(i) ?? "downloaded");
  }
  return out;
}

/** A torrent as `GET /torrents` lists it: the info fields without files and the original_* pair. */
export function listItem(t: FakeTorrent) {
  return {
    id: t.id,
    filename: t.filename,
    hash: t.hash,
    bytes: t.bytes,
    host: t.host,
    split: t.split,
    progress: t.progress,
    status: t.status,
    added: t.added,
    links: t.links,
    ended: t.ended,
    speed: t.speed,
    seeders: t.seeders,
  };
}

/** A torrent as `GET /torrents/info/{id}` shows it (the doc's field order). */
export function infoItem(t: FakeTorrent) {
  return {
    id: t.id,
    filename: t.filename,
    original_filename: t.original_filename,
    hash: t.hash,
    bytes: t.bytes,
    original_bytes: t.original_bytes,
    host: t.host,
    split: t.split,
    progress: t.progress,
    status: t.status,
    added: t.added,
    files: t.files,
    links: t.links,
    ended: t.ended,
    speed: t.speed,
    seeders: t.seeders,
  };
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The info hash of a magnet URI as lowercase hex, or undefined when it is not a valid BTIH magnet. */
export function parseMagnet(magnet: string): { hash: string; name: string | undefined } | undefined {
  if (!magnet.startsWith("magnet:?")) return undefined;
  const params = new URLSearchParams(magnet.slice("magnet:?".length));
  const name = params.get("dn") || undefined;
  for (const xt of params.getAll("xt")) {
    const m = /^urn:btih:([0-9a-f]{40}|[a-z2-7]{32})$/i.exec(xt);
    if (!m?.[1]) continue;
    const hash = m[1].length === 40 ? m[1].toLowerCase() : base32ToHex(m[1].toUpperCase());
    return { hash, name };
  }
  return undefined;
}

function base32ToHex(s: string): string {
  let bits = "";
  for (const ch of s) bits += BASE32.indexOf(ch).toString(2).padStart(5, "0");
  let hex = "";
  for (let i = 0; i < 160; i += 4) hex += Number.parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}
