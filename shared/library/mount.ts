import type { SweepFs } from "./fs.ts";

/** Why the mount cannot be trusted right now, or null when it looks alive. */
export async function mountProblem(
  fs: SweepFs,
  mountPath: string,
  directories: readonly string[],
): Promise<string | null> {
  try {
    const s = await fs.promises.stat(mountPath);
    if (!s.isDirectory()) return `the mount path ${mountPath} is not a folder`;
    const names = await fs.promises.readdir(mountPath);
    if (names.length === 0) return `the mount ${mountPath} is empty (Zurg/rclone not mounted?)`;
    const present = directories.filter((d) => d === "" || names.includes(d));
    if (present.length === 0) {
      return `none of the mount directories (${directories.join(", ")}) exist under ${mountPath}`;
    }
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `the mount path ${mountPath} does not exist`;
    if (code === "EACCES" || code === "EPERM") return `the mount path ${mountPath} is not readable (${code})`;
    return `the mount path ${mountPath} cannot be read: ${code ?? String(err)}`;
  }
}

/**
 * Torrent folders whose listings a run holds. The walk goes in name order, so the links into one torrent
 * folder come close together (a season folder, the seasons of a complete pack): the last 128 folders are
 * ample. Kept small, a listing dies young instead of being promoted to the old generation: with 2,048, a
 * 200k-link sweep peaked at ~118 MB RSS with ~80 ms of GC pauses; with 256, ~102 MB and ~45 ms (measured).
 */
export const MAX_CACHED_FOLDERS = 256;

/** What the listings say about a link's target under the mount; null when a listing failed. */
export type MountAnswer = "present" | "no_torrent" | "no_file" | null;

/**
 * A folder's names. Most torrent folders hold a handful of files: those stay the array readdir gave,
 * searched in place, since building a Set hashes every name (~170 ms over 19k folders of 10 files).
 */
type Names = Set<string> | readonly string[];
type Listing = Names | "unknown";

/** Folders with more names than this are kept as a Set. */
const SCAN_UP_TO = 24;

function hasName(names: Names, name: string): boolean {
  if (!Array.isArray(names)) return (names as Set<string>).has(name);
  // The files of one torrent folder mostly differ only just before the extension ("…E01.mkv", "…E02.mkv"),
  // and comparing two names of one length costs as much as hashing one: a name is compared only when its
  // character there is the same (190k lookups in 19k listings: 65 ms with includes, 42 ms so, measured).
  const n = name.length;
  const at = n > 5 ? n - 5 : 0;
  const c = name.charCodeAt(at);
  for (let i = 0; i < names.length; i++) {
    const other = names[i] as string;
    if (other.length === n && other.charCodeAt(at) === c && other === name) return true;
  }
  return false;
}

/**
 * The mount as one sweep run sees it. On a Zurg/rclone mount every call is a network round trip,
 * so each folder is listed at most once per run and every answer comes from those listings:
 * a sweep of N links costs one listing per torrent folder they use, not one stat per link.
 * Listings are synchronous (rclone answers them from its directory cache), made on the main thread while
 * the library's own folders are read in the walk thread; the sweep yields to the event loop at the walk's
 * checkpoints.
 */
export class MountView {
  readdirCalls = 0;
  /**
   * Torrent folders (and deeper), in two generations: when the newer one holds MAX_CACHED_FOLDERS / 2 it
   * becomes the older one and the oldest is dropped, so memory stays flat. A listing found in the older
   * generation moves to the newer: the last MAX_CACHED_FOLDERS / 2 folders used are always at hand. (An
   * LRU evicting through a Map's iterator walked over every deleted entry at its front, 17k times a sweep.)
   */
  #listings = new Map<string, Listing>();
  #older = new Map<string, Listing>();
  /** The mount's own listing and its top directories' (by name, "" for the mount): read once, kept for the run. */
  readonly #tops = new Map<string, Listing>();
  // Neighbouring links (one season folder) point into the same torrent folder: the last one is
  // remembered, so most links cost no map lookup and no path building at all.
  #lastDirectory = "";
  #lastTorrent = "";
  #lastListing: Listing | null = null;
  /** `<mount>/<directory>/<torrent>/` of the last listing, "" before the first. */
  #lastPrefix = "";
  readonly #root: string;

  constructor(
    readonly mountPath: string,
    private readonly fs: SweepFs,
  ) {
    this.#root = mountPath.endsWith("/") ? mountPath.slice(0, -1) : mountPath;
  }

  /**
   * Whether `<mount>/<directory>/<torrent>/<file>` exists, by folder listings (file "" = the folder).
   * null when a listing failed for another reason than "not there" (an I/O error on a network mount
   * must never read as "missing": that is how tools end up deleting healthy libraries).
   */
  lookup(directory: string, torrentName: string, file: string): MountAnswer {
    let torrent: Listing;
    if (this.#lastListing !== null && torrentName === this.#lastTorrent && directory === this.#lastDirectory) {
      torrent = this.#lastListing;
    } else {
      const top = this.#topListing(directory);
      if (top === "unknown") return null;
      if (!hasName(top, torrentName)) return "no_torrent";
      // a link to the torrent folder itself needs no listing of it
      if (file === "") return "present";
      const folder = `${this.#root}/${directory === "" ? "" : `${directory}/`}${torrentName}`;
      torrent = this.#list(folder);
      this.#lastDirectory = directory;
      this.#lastTorrent = torrentName;
      this.#lastListing = torrent;
      this.#lastPrefix = `${folder}/`;
    }
    if (file === "") return "present";
    if (torrent === "unknown") return null;
    const slash = file.indexOf("/");
    if (slash < 0) return hasName(torrent, file) ? "present" : "no_file";
    return this.#nested(torrent, `${this.#root}/${directory === "" ? "" : `${directory}/`}${torrentName}`, file);
  }

  /**
   * `lookup` for a target (absolute, as stored in the link) that names a file right inside the torrent
   * folder looked up last, as the links of one season folder do: one prefix test instead of parsing the
   * path; the torrent is `lastTorrent`. undefined when the target is not such a path; then it goes through
   * parseMountTarget and lookup.
   */
  quick(target: string): MountAnswer | undefined {
    const prefix = this.#lastPrefix;
    if (prefix === "" || !target.startsWith(prefix)) return undefined;
    const file = target.slice(prefix.length);
    if (file === "" || file === "." || file === ".." || file.includes("/")) return undefined;
    const listing = this.#lastListing;
    return listing === null || listing === "unknown" ? null : hasName(listing, file) ? "present" : "no_file";
  }

  /** Torrent folders (and deeper) whose listings are held now. */
  get cachedFolders(): number {
    return this.#listings.size + this.#older.size;
  }

  /** The torrent folder looked up last (the one `quick` answers for). */
  get lastTorrent(): string {
    return this.#lastTorrent;
  }

  /** The listing of `<mount>/<directory>` (the mount itself for ""), with the directory's own presence checked. */
  #topListing(directory: string): Listing {
    let top = this.#tops.get(directory);
    if (top !== undefined) return top;
    if (directory === "") top = this.#read(this.#root);
    else {
      const root = this.#topListing("");
      top = root === "unknown" ? root : hasName(root, directory) ? this.#read(`${this.#root}/${directory}`) : [];
    }
    this.#tops.set(directory, top);
    return top;
  }

  /** A file in a subfolder of the torrent (season packs): each folder on the way listed once. */
  #nested(torrent: Names, folder: string, file: string): MountAnswer {
    const parts = file.split("/").filter((p) => p !== "");
    let names: Listing = torrent;
    let at = folder;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? "";
      if (names === "unknown") return null;
      if (!hasName(names, part)) return "no_file";
      if (i === parts.length - 1) return "present";
      at = `${at}/${part}`;
      names = this.#list(at);
    }
    return "present";
  }

  /** A torrent folder's (or deeper) listing, from the two generations or read and put in the newer. */
  #list(folder: string): Listing {
    let listing = this.#listings.get(folder);
    if (listing !== undefined) return listing;
    listing = this.#older.get(folder) ?? this.#read(folder);
    if (this.#listings.size >= MAX_CACHED_FOLDERS / 2) {
      this.#older = this.#listings;
      this.#listings = new Map();
    }
    this.#listings.set(folder, listing);
    return listing;
  }

  /** One listing of the mount: [] when the folder is not there, "unknown" when it could not be read. */
  #read(folder: string): Listing {
    this.readdirCalls++;
    try {
      const names = this.fs.readdirSync(folder);
      return names.length > SCAN_UP_TO ? new Set(names) : names;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "ENOENT" || code === "ENOTDIR" ? [] : "unknown";
    }
  }
}
