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

const MAX_CACHED_FOLDERS = 2_048;

/**
 * The mount as one sweep run sees it. On a Zurg/rclone mount every call is a network round trip,
 * so each folder is listed at most once per run and every answer comes from those listings:
 * a sweep of N links costs one listing per torrent folder they use, not one stat per link.
 * Listings are synchronous, like the library walk (rclone answers them from its directory cache);
 * the walk yields to the event loop between entries.
 */
export class MountView {
  readdirCalls = 0;
  readonly #listings = new Map<string, Set<string> | "unknown">();
  readonly #pinned = new Map<string, Set<string> | "unknown">();
  readonly #root: string;
  readonly #depth: number;

  constructor(
    readonly mountPath: string,
    private readonly fs: SweepFs,
  ) {
    this.#root = mountPath.endsWith("/") ? mountPath.slice(0, -1) : mountPath;
    this.#depth = this.#root.split("/").length;
  }

  /**
   * Whether `<mount>/<directory>/<torrent>/<file>` exists, by folder listings (file "" = the folder).
   * null when a listing failed for another reason than "not there" (an I/O error on a network mount
   * must never read as "missing": that is how tools end up deleting healthy libraries).
   */
  has(directory: string, torrentName: string, file: string): boolean | null {
    let folder = this.#root;
    const parts = file === "" ? [directory, torrentName] : [directory, torrentName, ...file.split("/")];
    for (const part of parts) {
      if (part === "") continue;
      const names = this.#list(folder);
      if (names === "unknown") return null;
      if (!names.has(part)) return false;
      folder = `${folder}/${part}`;
    }
    return true;
  }

  #list(folder: string): Set<string> | "unknown" {
    const pinned = this.#pinned.get(folder);
    if (pinned !== undefined) return pinned;
    let listing = this.#listings.get(folder);
    if (listing !== undefined) {
      // most recently used last: Map keeps insertion order
      this.#listings.delete(folder);
      this.#listings.set(folder, listing);
      return listing;
    }
    this.readdirCalls++;
    try {
      listing = new Set(this.fs.readdirSync(folder));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      listing = code === "ENOENT" || code === "ENOTDIR" ? new Set<string>() : "unknown";
    }
    // The mount and its top directories are read for every link: kept. Torrent folders are used by
    // neighbouring links (one season folder): a bounded LRU keeps memory flat on any library size.
    if (folder.split("/").length - this.#depth <= 1) this.#pinned.set(folder, listing);
    else {
      this.#listings.set(folder, listing);
      if (this.#listings.size > MAX_CACHED_FOLDERS) {
        const oldest = this.#listings.keys().next().value;
        if (oldest !== undefined) this.#listings.delete(oldest);
      }
    }
    return listing;
  }
}
