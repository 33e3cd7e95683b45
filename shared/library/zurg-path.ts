/** Where a symlink target lies inside the RD mount. */
export interface MountTarget {
  /** The torrent's folder name as the mount shows it; Zurg and decypharr name it after the torrent. */
  torrentName: string;
  /** Path inside the torrent folder, "/"-separated; "" when the link points at the folder itself. */
  file: string;
  /** The top-level directory it was found under, e.g. "__all__", "shows"; "" on a flat mount. */
  directory: string;
}

/**
 * Top-level directories the usual RD mounts serve torrent folders under:
 * - "__all__": every torrent, in Zurg and in decypharr; the folder most libraries link into.
 * - "torrents": decypharr's second full listing, and the folder older Zurg/rclone setups and the scripts
 *   we follow (westsurname `REALDEBRID_MOUNT_TORRENTS_PATH`, kesurof/RDTM "the segment after torrents") use.
 * - "shows", "movies", "anime": the directories of Zurg's sample config.yml, which sorts torrents by filters.
 * - "__unplayable__": where Zurg puts torrents with no playable file; a link made earlier can point there.
 * - "__bad__": decypharr's folder for torrents it judged broken, which is what a repair tool looks for.
 */
export const DEFAULT_MOUNT_DIRECTORIES: readonly string[] = Object.freeze([
  "__all__",
  "torrents",
  "shows",
  "movies",
  "anime",
  "__unplayable__",
  "__bad__",
]);

/**
 * Parses `target` (an absolute or relative symlink target, already resolved against the link's folder by
 * the caller) against `mountPath`. Layouts: <mount>/<directory>/<torrent name>/<file...> for each
 * configured directory, and <mount>/<torrent name>/<file...> when `directories` contains "" (a flat mount,
 * or a `mountPath` that already ends in the directory). A known directory name wins over the flat reading.
 * Returns null when the target is not under the mount, names no torrent folder, contains "..", or sits
 * under a directory that is not configured. A target equal to a torrent folder gives `file: ""`.
 */
export function parseMountTarget(
  target: string,
  mountPath: string,
  directories: readonly string[] = DEFAULT_MOUNT_DIRECTORIES,
): MountTarget | null {
  const mount = splitPath(mountPath);
  const path = splitPath(target);
  // An empty mount path would make every relative target "inside" it.
  if (!mount || !path || mountPath.trim() === "" || mount.absolute !== path.absolute) return null;
  if (path.parts.length <= mount.parts.length) return null;
  for (let i = 0; i < mount.parts.length; i++) if (path.parts[i] !== mount.parts[i]) return null;
  const [first = "", ...rest] = path.parts.slice(mount.parts.length);
  if (first !== "" && directories.includes(first)) {
    const [torrentName, ...file] = rest;
    return torrentName === undefined ? null : { torrentName, file: file.join("/"), directory: first };
  }
  return directories.includes("") ? { torrentName: first, file: rest.join("/"), directory: "" } : null;
}

/**
 * Splits a path lexically: empty and "." segments dropped. ".." gives null rather than being resolved,
 * because without the file system a ".." after a symlinked folder cannot be resolved correctly, and a
 * wrong guess would tie the link to the wrong torrent.
 */
function splitPath(p: string): { absolute: boolean; parts: string[] } | null {
  const parts: string[] = [];
  for (const s of p.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") return null;
    parts.push(s);
  }
  return { absolute: p.startsWith("/"), parts };
}
