import { dirname, resolve } from "node:path";
import type { SweepFs } from "./fs.ts";
import type { MountAnswer, MountView } from "./mount.ts";
import type { LinkEntry } from "./walk.ts";
import { type MountTarget, parseMountTarget } from "./zurg-path.ts";

/** Why a link is broken. */
export type BrokenReason = "missing_torrent" | "missing_file" | "missing_target" | "loop" | "unreadable";

/** What the sweep learned about one link. */
export type LinkVerdict =
  | { kind: "ok" }
  /** Could not tell (an I/O error that is not "missing"): neither broken nor fine, never acted on. */
  | { kind: "uncertain"; why: string }
  | { kind: "broken"; reason: BrokenReason; target: string; torrentName: string | null };

const OK: LinkVerdict = { kind: "ok" };

/** An absolute path with no ".", ".." or empty segments: nothing to resolve. */
const PLAIN_ABSOLUTE = /^\/(?!.*(?:\/\/|\/\.\.?(?:\/|$)))/;

/**
 * parseMountTarget for the common case, a plain absolute target under the mount with a named
 * directory, by slicing instead of splitting (this runs for every link); anything else goes to the
 * full parser.
 */
function parseUnderMount(
  target: string,
  plain: boolean,
  mountPath: string,
  directories: readonly string[],
): MountTarget | null {
  if (!plain) return parseMountTarget(target, mountPath, directories);
  const rest = target.slice(mountPath.length + 1);
  const slash = rest.indexOf("/");
  const directory = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0 || directory === "" || !directories.includes(directory))
    return parseMountTarget(target, mountPath, directories);
  const inner = rest.slice(slash + 1);
  const next = inner.indexOf("/");
  const torrentName = next < 0 ? inner : inner.slice(0, next);
  if (torrentName === "") return null;
  const file = next < 0 ? "" : inner.slice(next + 1);
  return { directory, torrentName, file: file.endsWith("/") ? file.replace(/\/+$/, "") : file };
}

/** Counts of what deciding cost outside the mount listings. */
export interface InspectStats {
  statFallbacks: number;
}

/**
 * Decides whether a link resolves. A target under the mount is judged from the mount's folder
 * listings (torrent folder present? file present?), never by following it; anything else is
 * `stat`ed. Only "does not exist" answers count as broken.
 */
export function inspectLink(
  link: LinkEntry,
  mount: { view: MountView; directories: readonly string[] } | null,
  stats: InspectStats,
  fs: SweepFs,
): LinkVerdict {
  // Most links point into the torrent folder the link before pointed into: no parsing at all.
  const quick = mount?.view.quick(link.target);
  if (quick !== undefined && mount) return fromListings(quick, link.target, mount.view.lastTorrent);
  // Most other targets are plain absolute paths: nothing to resolve.
  const plain = PLAIN_ABSOLUTE.test(link.target);
  const target = plain ? link.target : resolve(dirname(link.path), link.target);
  const underMount =
    mount !== null && target.startsWith(mount.view.mountPath) && target[mount.view.mountPath.length] === "/";
  const parsed = mount && underMount ? parseUnderMount(target, plain, mount.view.mountPath, mount.directories) : null;
  if (mount && parsed) {
    const answer = mount.view.lookup(parsed.directory, parsed.torrentName, parsed.file);
    return fromListings(answer, target, parsed.torrentName);
  }
  stats.statFallbacks++;
  try {
    fs.statSync(target);
    return { kind: "ok" };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const torrentName = null;
    if (code === "ENOENT" || code === "ENOTDIR")
      return { kind: "broken", reason: "missing_target", target, torrentName };
    if (code === "ELOOP") return { kind: "broken", reason: "loop", target, torrentName };
    if (code === "EACCES" || code === "EPERM") return { kind: "broken", reason: "unreadable", target, torrentName };
    return { kind: "uncertain", why: `stat failed: ${code ?? String(err)}` };
  }
}

/** The verdict on a link from what the mount's listings say of its target. */
function fromListings(answer: MountAnswer, target: string, torrentName: string): LinkVerdict {
  if (answer === null) return { kind: "uncertain", why: "mount listing failed" };
  if (answer === "present") return OK;
  const reason = answer === "no_torrent" ? "missing_torrent" : "missing_file";
  return { kind: "broken", reason, target, torrentName };
}
