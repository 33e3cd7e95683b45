import type { Dirent } from "node:fs";
import type { SweepFs } from "./fs.ts";

/** One symlink the walk hands out (folders are walked into, regular files only counted). */
export interface LinkEntry {
  /** Absolute path of the symlink. */
  path: string;
  /** Its folder, with a trailing "/": the same string for every link of one folder. */
  dir: string;
  /** The link's target as stored (relative or absolute). */
  target: string;
}

/** Where a slice of the walk ended. */
export interface SliceResult {
  done: boolean;
  /** Last entry completed (relative to the root), to resume after; null when nothing was done. */
  cursor: string | null;
  entries: number;
  links: number;
  /** Entries passed over, with why (unreadable folder, name that is not UTF-8, too deep). */
  skipped: { path: string; reason: string }[];
}

export interface SliceOptions {
  root: string;
  /** Resume after this entry (relative path, "/"-separated) as a previous slice returned it. */
  after: string | null;
  maxEntries: number;
  deadline: number;
  signal?: AbortSignal | undefined;
  now?: () => number;
  fs: SweepFs;
}

const MAX_DEPTH = 64;
const YIELD_EVERY_MS = 15;
/** Entries between looks at the clock (reading it for each of 200k entries cost ~40 ms). */
const CLOCK_EVERY = 32;

/** A folder being walked: its entries in order and how far the walk is through them. */
interface Frame {
  /** Absolute path with a trailing "/". */
  prefix: string;
  /** Relative to the root ("" for the root). */
  rel: string;
  /** The folder's name in its parent (the parent's entry completed when this frame is). */
  name: string;
  dirents: Dirent[];
  next: number;
  /** The cursor's remaining parts inside this folder, until the walk has passed them. */
  after: string[] | null;
  depth: number;
}

/**
 * Walks one bounded slice of a library tree, depth-first in sorted order of names, so the walk is the
 * same on every run and `cursor` alone resumes it. Local folders are read with synchronous calls
 * (through the thread pool a readlink costs ~10x more); the walk yields to the event loop every 15 ms
 * so the server stays responsive. Symlinked folders are never entered (no loops); names that are not
 * valid UTF-8 and unreadable folders are skipped and reported, never guessed at. The folders being
 * walked are a stack, not recursive async calls: an await per folder cost ~40 ms over 20k folders.
 */
export async function walkSlice(
  opts: SliceOptions,
  visit: (e: LinkEntry) => void | Promise<void>,
): Promise<SliceResult> {
  const now = opts.now ?? Date.now;
  const { readdirSync, readlinkSync } = opts.fs;
  const result: SliceResult = { done: false, cursor: null, entries: 0, links: 0, skipped: [] };
  let lastYield = now();
  let clock = lastYield;
  // The deadline and the signal are read when the clock is: at most CLOCK_EVERY entries late.
  let stopped = false;
  const readClock = () => {
    clock = now();
    stopped = clock >= opts.deadline || opts.signal?.aborted === true;
  };
  readClock();
  // the cursor as a relative path, built when the slice ends (not for each of 200k entries)
  let lastRel: string | null = null;
  let lastName = "";
  let sinceClock = 0;

  /** A folder's frame, or null when it is skipped (too deep, unreadable), which completes it. */
  function open(abs: string, rel: string, name: string, after: string[] | null, depth: number): Frame | null {
    if (depth > MAX_DEPTH) {
      result.skipped.push({ path: abs, reason: "deeper than 64 folders" });
      return null;
    }
    let dirents: Dirent[];
    try {
      dirents = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      result.skipped.push({
        path: abs,
        reason: `unreadable folder: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
      return null;
    }
    // readdir lists in byte order, which is this order for nearly every name: only checked then
    if (!inOrder(dirents)) dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { prefix: abs.endsWith("/") ? abs : `${abs}/`, rel, name, dirents, next: 0, after, depth };
  }

  const stack: Frame[] = [];
  const root = open(opts.root, "", "", opts.after ? opts.after.split("/") : null, 0);
  if (root) stack.push(root);
  result.done = true;
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    let name: string;
    if (f.next >= f.dirents.length) {
      // a folder done: its entry in the parent is complete
      stack.pop();
      const parent = stack[stack.length - 1];
      if (!parent) break;
      lastRel = parent.rel;
      lastName = f.name;
    } else {
      const d = f.dirents[f.next++] as Dirent;
      name = d.name;
      let resume: string[] | null = null;
      if (f.after) {
        const first = f.after[0] as string;
        if (name < first) continue;
        if (name === first) {
          if (f.after.length === 1) {
            f.after = null;
            continue; // completed in an earlier slice
          }
          resume = f.after.slice(1);
        }
        f.after = null;
      }
      // Node decodes names as UTF-8; an invalid sequence becomes U+FFFD and the name can no longer be
      // used to reach the file, so it is reported, never guessed at.
      if (name.includes("\uFFFD")) {
        result.skipped.push({ path: f.prefix + name, reason: "name is not valid UTF-8" });
        continue;
      }
      const childAbs = f.prefix + name;
      if (d.isDirectory()) {
        const child = open(childAbs, f.rel === "" ? name : `${f.rel}/${name}`, name, resume, f.depth + 1);
        if (child) {
          stack.push(child);
          continue;
        }
      } else {
        if (result.entries >= opts.maxEntries || stopped) {
          result.done = false;
          break;
        }
        result.entries++;
        if (d.isSymbolicLink()) {
          let target: string | null = null;
          try {
            target = readlinkSync(childAbs);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? String(err);
            result.skipped.push({ path: childAbs, reason: `unreadable link: ${code}` });
          }
          if (target !== null) {
            result.links++;
            const pending = visit({ path: childAbs, dir: f.prefix, target });
            if (pending) await pending;
          }
        }
      }
      lastRel = f.rel;
      lastName = name;
    }
    // an await for each of 200k entries cost ~100 ms: only when the clock says so
    if (++sinceClock >= CLOCK_EVERY) {
      sinceClock = 0;
      readClock();
      if (clock - lastYield >= YIELD_EVERY_MS) {
        await new Promise((r) => setImmediate(r));
        readClock();
        lastYield = clock;
      }
    }
  }
  result.cursor = lastRel === null ? opts.after : lastRel === "" ? lastName : `${lastRel}/${lastName}`;
  return result;
}

function inOrder(dirents: readonly Dirent[]): boolean {
  for (let i = 1; i < dirents.length; i++)
    if ((dirents[i - 1] as Dirent).name > (dirents[i] as Dirent).name) return false;
  return true;
}
