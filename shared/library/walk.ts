import type { Dirent } from "node:fs";
import type { SweepFs } from "./fs.ts";

/** One symlink the walk hands out (folders are walked into, regular files only counted). */
export interface LinkEntry {
  /** Absolute path of the symlink. */
  path: string;
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

/**
 * Walks one bounded slice of a library tree, depth-first in sorted order of names, so the walk is the
 * same on every run and `cursor` alone resumes it. Local folders are read with synchronous calls
 * (through the thread pool a readlink costs ~10x more); the walk yields to the event loop every 15 ms
 * so the server stays responsive. Symlinked folders are never entered (no loops); names that are not
 * valid UTF-8 and unreadable folders are skipped and reported, never guessed at.
 */
export async function walkSlice(
  opts: SliceOptions,
  visit: (e: LinkEntry) => void | Promise<void>,
): Promise<SliceResult> {
  const now = opts.now ?? Date.now;
  const result: SliceResult = { done: false, cursor: null, entries: 0, links: 0, skipped: [] };
  let lastYield = now();
  let sinceClock = 0;
  let clock = lastYield;

  /** Reads the clock; true when the walk has held the thread for YIELD_EVERY_MS. */
  function timeToYield(): boolean {
    sinceClock = 0;
    clock = now();
    return clock - lastYield >= YIELD_EVERY_MS;
  }

  async function yieldNow(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    lastYield = clock = now();
  }

  // The deadline is read from the clock maybeYield last looked at: at most CLOCK_EVERY entries late.
  const budgetLeft = () => result.entries < opts.maxEntries && clock < opts.deadline && !opts.signal?.aborted;

  /** Walks one folder; `after` holds the cursor's remaining parts inside it. False: the budget ran out. */
  async function walkDir(abs: string, rel: string, after: string[] | null, depth: number): Promise<boolean> {
    if (depth > MAX_DEPTH) {
      result.skipped.push({ path: abs, reason: "deeper than 64 folders" });
      return true;
    }
    let dirents: Dirent[];
    try {
      dirents = opts.fs.readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      result.skipped.push({
        path: abs,
        reason: `unreadable folder: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
      return true;
    }
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const first = after?.[0];
    const prefix = abs.endsWith("/") ? abs : `${abs}/`;
    for (const d of dirents) {
      const name = d.name;
      let resume: string[] | null = null;
      if (first !== undefined && after) {
        if (name < first) continue;
        if (name === first) {
          if (after.length === 1) continue; // completed in an earlier slice
          resume = after.slice(1);
        }
      }
      // Node decodes names as UTF-8; an invalid sequence becomes U+FFFD and the name can no longer be
      // used to reach the file, so it is reported, never guessed at.
      if (name.includes("\uFFFD")) {
        result.skipped.push({ path: prefix + name, reason: "name is not valid UTF-8" });
        continue;
      }
      const childAbs = prefix + name;
      if (d.isDirectory()) {
        if (!(await walkDir(childAbs, rel === "" ? name : `${rel}/${name}`, resume, depth + 1))) return false;
      } else {
        if (!budgetLeft()) return false;
        result.entries++;
        if (d.isSymbolicLink()) {
          let target: string | null = null;
          try {
            target = opts.fs.readlinkSync(childAbs);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? String(err);
            result.skipped.push({ path: childAbs, reason: `unreadable link: ${code}` });
          }
          if (target !== null) {
            result.links++;
            const pending = visit({ path: childAbs, target });
            if (pending) await pending;
          }
        }
      }
      // the cursor as a relative path, built when the slice ends (not for each of 200k entries)
      lastRel = rel;
      lastName = name;
      // an await for each of 200k entries cost ~100 ms: only when the clock says so
      if (++sinceClock >= CLOCK_EVERY && timeToYield()) await yieldNow();
    }
    return true;
  }

  let lastRel: string | null = null;
  let lastName = "";
  const after = opts.after ? opts.after.split("/") : null;
  result.done = await walkDir(opts.root, "", after, 0);
  result.cursor = lastRel === null ? opts.after : lastRel === "" ? lastName : `${lastRel}/${lastName}`;
  return result;
}
