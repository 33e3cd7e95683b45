import type { Dirent } from "node:fs";

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
  /** The most batches that were waiting to be visited at once (the walk thread's lead). */
  mostQueued: number;
}

export interface SliceOptions {
  root: string;
  /** Resume after this entry (relative path, "/"-separated) as a previous slice returned it. */
  after: string | null;
  maxEntries: number;
  deadline: number;
  signal?: AbortSignal | undefined;
  now?: () => number;
  /**
   * For tests: batch size, how far the walk thread may run ahead (defaults below), and the module it reads
   * folders and links with (node:fs).
   */
  tuning?: { batchLinks?: number; batchMs?: number; ahead?: number; fsModule?: string };
}

/**
 * A stretch of the walk, in walk order, as the walk thread sends it, with checkpoints: places between two
 * entries where a slice may end, at most 32 entries apart. The last checkpoint is the batch's end.
 */
export interface WalkBatch {
  /** The folders of the batch's links (each with a trailing "/"), and how many links each has. */
  dirs: string[];
  counts: number[];
  /** Each link's name and target. */
  names: string[];
  targets: string[];
  skipped: { path: string; reason: string }[];
  /**
   * Four numbers per checkpoint: the batch's links and skipped entries before it, and the entries and
   * links the slice has completed there.
   */
  marks: number[];
  /** Per checkpoint: the last entry completed there (relative to the root), which resumes the walk. */
  cursors: (string | null)[];
  /** On the last batch: whether the walk reached the end of the tree (false: it used up maxEntries). */
  done?: boolean;
}

export interface WalkParams {
  root: string;
  after: string | null;
  maxEntries: number;
  /** A batch is sent when it holds this many links, or when this long has passed since the last one. */
  batchLinks: number;
  batchMs: number;
}

/** The file calls the walk makes. */
export interface WalkFs {
  readdirSync(path: string, options: { withFileTypes: true }): Dirent[];
  readlinkSync(path: string): string;
}

/**
 * Walks a library tree depth-first in sorted order of names, so the walk is the same on every run and a
 * cursor alone resumes it. Symlinked folders are never entered (no loops); names that are not valid UTF-8
 * and unreadable folders are skipped and reported, never guessed at. It stops after `maxEntries` entries
 * (files and links; folders are walked into) and hands out what it found in batches.
 *
 * It runs in the walk thread, where its source is evaluated on its own: it must use nothing from outside
 * its body but its arguments (walkFromSource in walk.test.ts runs it the same way).
 */
export function walkTree(p: WalkParams, fs: WalkFs, now: () => number, send: (b: WalkBatch) => void): void {
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
  const MAX_DEPTH = 64;
  // Entries between checkpoints and looks at the clock (reading it for each of 200k entries cost ~40 ms).
  const CLOCK_EVERY = 32;
  const empty = (): WalkBatch => ({
    dirs: [],
    counts: [],
    names: [],
    targets: [],
    skipped: [],
    marks: [],
    cursors: [],
  });
  let batch = empty();
  let entries = 0;
  let links = 0;
  // the cursor as a relative path, built at each checkpoint (not for each of 200k entries)
  let lastRel: string | null = null;
  let lastName = "";
  let sinceMark = 0;
  let lastSent = now();
  const mark = () => {
    batch.marks.push(batch.names.length, batch.skipped.length, entries, links);
    batch.cursors.push(lastRel === null ? p.after : lastRel === "" ? lastName : `${lastRel}/${lastName}`);
    sinceMark = 0;
  };
  const flush = (done?: boolean) => {
    mark();
    if (done !== undefined) batch.done = done;
    send(batch);
    batch = empty();
    lastSent = now();
  };

  /** A folder's frame, or null when it is skipped (too deep, unreadable), which completes it. */
  const open = (abs: string, rel: string, name: string, after: string[] | null, depth: number): Frame | null => {
    if (depth > MAX_DEPTH) {
      batch.skipped.push({ path: abs, reason: "deeper than 64 folders" });
      return null;
    }
    let dirents: Dirent[];
    try {
      dirents = fs.readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      batch.skipped.push({ path: abs, reason: `unreadable folder: ${code}` });
      return null;
    }
    // readdir lists in byte order, which is this order for nearly every name: only checked then
    for (let i = 1; i < dirents.length; i++) {
      if ((dirents[i - 1] as Dirent).name > (dirents[i] as Dirent).name) {
        dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        break;
      }
    }
    return { prefix: abs.endsWith("/") ? abs : `${abs}/`, rel, name, dirents, next: 0, after, depth };
  };

  const stack: Frame[] = [];
  const root = open(p.root, "", "", p.after ? p.after.split("/") : null, 0);
  if (root) stack.push(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    if (f.next >= f.dirents.length) {
      // a folder done: its entry in the parent is complete
      stack.pop();
      const parent = stack[stack.length - 1];
      if (!parent) break;
      lastRel = parent.rel;
      lastName = f.name;
    } else {
      const d = f.dirents[f.next++] as Dirent;
      const name = d.name;
      let resume: string[] | null = null;
      if (f.after) {
        const first = f.after[0] as string;
        if (name < first) continue;
        // completed in an earlier slice, with any twin (names that are not UTF-8 can decode alike)
        if (name === first && f.after.length === 1) continue;
        if (name === first) resume = f.after.slice(1);
        f.after = null;
      }
      const childAbs = f.prefix + name;
      // Node decodes names as UTF-8; an invalid sequence becomes U+FFFD and the name can no longer be
      // used to reach the file, so it is reported, never guessed at.
      if (name.includes("\uFFFD")) batch.skipped.push({ path: childAbs, reason: "name is not valid UTF-8" });
      else if (d.isDirectory()) {
        const child = open(childAbs, f.rel === "" ? name : `${f.rel}/${name}`, name, resume, f.depth + 1);
        if (child) {
          stack.push(child);
          continue;
        }
      } else {
        if (entries >= p.maxEntries) {
          flush(false);
          return;
        }
        entries++;
        if (d.isSymbolicLink()) {
          let target: string | null = null;
          try {
            target = fs.readlinkSync(childAbs);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? String(err);
            batch.skipped.push({ path: childAbs, reason: `unreadable link: ${code}` });
          }
          if (target !== null) {
            links++;
            const last = batch.dirs.length - 1;
            if (last >= 0 && batch.dirs[last] === f.prefix) batch.counts[last] = (batch.counts[last] as number) + 1;
            else {
              batch.dirs.push(f.prefix);
              batch.counts.push(1);
            }
            batch.names.push(name);
            batch.targets.push(target);
          }
        }
      }
      lastRel = f.rel;
      lastName = name;
      // never a checkpoint between twins: a cursor could not tell them apart
      if ((f.dirents[f.next] as Dirent | undefined)?.name === name) continue;
    }
    // a checkpoint every CLOCK_EVERY entries, where the clock is read too
    if (batch.names.length + batch.skipped.length >= p.batchLinks) flush();
    else if (++sinceMark >= CLOCK_EVERY) {
      if (now() - lastSent >= p.batchMs) flush();
      else mark();
    }
  }
  flush(true);
}

/** The walk thread: walkTree over node:fs, sending batches, never more than `ahead` unread. */
const THREAD_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const fs = require(workerData.fsModule);
const read = new Int32Array(workerData.read);
let sent = 0;
(${walkTree})(workerData.params, fs, Date.now, (batch) => {
  parentPort.postMessage(batch);
  sent++;
  for (let seen = Atomics.load(read, 0); sent - seen > workerData.ahead; seen = Atomics.load(read, 0))
    Atomics.wait(read, 0, seen, 1000);
});
`;

/** Links per batch, and the longest the walk thread goes without sending one (so the deadline is seen). */
const BATCH_LINKS = 1_000;
const BATCH_MS = 50;
/** Batches the walk thread may be ahead of the sweep: its memory stays bounded whatever the library. */
const AHEAD = 8;
const YIELD_EVERY_MS = 15;
/** How long a slice waits for its walk thread to end before leaving it behind as stuck. */
const TERMINATE_WAIT_MS = 1_000;
/** Largest delay setTimeout takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A walk thread that did not end when told to: stuck in a call to a hung filesystem (an NFS or SMB share
 * that stopped answering), which no one can interrupt. No new walk starts until it has ended, so stuck
 * threads never pile up, one per run.
 */
let stuck: { root: string; ended: boolean } | null = null;

/**
 * Walks one bounded slice of a library tree (walkTree's order, cursor and skips) and hands each symlink
 * to `visit`, in walk order.
 *
 * The folders are read in a worker thread, with synchronous calls, a few batches ahead of `visit`. The
 * two overlap: on a Zurg/rclone mount the sweep waits on the mount's listings while the library's own
 * folders are being read, and on a local disk Node's cost per call (~2 µs over 200k readlinks) is paid
 * on the other core. (A 200k-link sweep: ~1.25 s against ~1.6 s on one thread, measured.)
 *
 * The deadline and the signal are looked at on the batches' checkpoints, at most 32 entries apart, as the
 * walk on one thread did: a slice ends on the checkpoint after them, with its cursor. The event loop gets
 * a turn every 15 ms (checked at the checkpoints), so the server stays responsive.
 */
export async function walkSlice(
  opts: SliceOptions,
  visit: (e: LinkEntry) => void | Promise<void>,
): Promise<SliceResult> {
  const now = opts.now ?? Date.now;
  const result: SliceResult = { done: false, cursor: opts.after, entries: 0, links: 0, skipped: [], mostQueued: 0 };
  const stopped = () => now() >= opts.deadline || opts.signal?.aborted === true;
  if (stopped()) return result;
  if (stuck && !stuck.ended) {
    throw new Error(
      `the library walk of an earlier run is still stuck in a filesystem call under ${stuck.root} (a hung network share?): not starting another`,
    );
  }

  const { Worker } = await import("node:worker_threads");
  const read = new Int32Array(new SharedArrayBuffer(4));
  const params: WalkParams = {
    root: opts.root,
    after: opts.after,
    maxEntries: opts.maxEntries,
    batchLinks: opts.tuning?.batchLinks ?? BATCH_LINKS,
    batchMs: opts.tuning?.batchMs ?? BATCH_MS,
  };
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: {
      params,
      read: read.buffer,
      ahead: opts.tuning?.ahead ?? AHEAD,
      fsModule: opts.tuning?.fsModule ?? "node:fs",
    },
  });
  const queue: WalkBatch[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  thread.on("message", (b: WalkBatch) => {
    queue.push(b);
    if (queue.length > result.mostQueued) result.mostQueued = queue.length;
    notify();
  });
  thread.on("error", (err) => {
    failure ??= new Error(`the library walk of ${opts.root} failed: ${err.message}`);
    notify();
  });
  thread.on("exit", (code) => {
    failure ??= new Error(`the library walk of ${opts.root} stopped (exit code ${code})`);
    notify();
  });
  opts.signal?.addEventListener("abort", notify, { once: true });
  // wakes the wait for a batch at the deadline (a folder can take long to read on a slow share)
  const untilDeadline = opts.deadline - now();
  const timer = untilDeadline < MAX_TIMER_MS ? setTimeout(notify, untilDeadline) : undefined;
  timer?.unref();

  let lastYield = Date.now();
  try {
    for (;;) {
      while (queue.length === 0 && !opts.signal?.aborted) {
        // messages are delivered before an exit, so a failure with batches queued is read after them
        if (failure) throw failure;
        await new Promise<void>((r) => {
          wake = r;
        });
        if (stopped()) return result;
      }
      const b = queue.shift();
      if (!b) return result; // aborted
      let at = 0; // the next link
      let d = -1; // its folder, which holds the links before dirEnd
      let dirEnd = 0;
      let skippedTaken = 0;
      const checkpoints = b.cursors.length;
      for (let c = 0; c < checkpoints; c++) {
        const m = c * 4;
        for (const end = b.marks[m] as number; at < end; at++) {
          while (at >= dirEnd) dirEnd += b.counts[++d] as number;
          const dir = b.dirs[d] as string;
          const pending = visit({ path: dir + (b.names[at] as string), dir, target: b.targets[at] as string });
          if (pending) await pending;
        }
        for (const end = b.marks[m + 1] as number; skippedTaken < end; skippedTaken++)
          result.skipped.push(b.skipped[skippedTaken] as { path: string; reason: string });
        result.entries = b.marks[m + 2] as number;
        result.links = b.marks[m + 3] as number;
        result.cursor = b.cursors[c] as string | null;
        if (c === checkpoints - 1) {
          Atomics.add(read, 0, 1);
          Atomics.notify(read, 0);
          if (b.done !== undefined) {
            result.done = b.done;
            return result;
          }
        }
        if (stopped()) return result;
        if (Date.now() - lastYield >= YIELD_EVERY_MS) {
          await new Promise((r) => setImmediate(r));
          lastYield = Date.now();
          if (stopped()) return result;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", notify);
    thread.removeAllListeners("exit");
    thread.removeAllListeners("message");
    // the "error" listener stays: a late error from the thread must not be an unhandled event
    // A thread stuck in a call to a hung filesystem cannot be interrupted: the slice does not wait for it
    // beyond TERMINATE_WAIT_MS, and no walk starts until it has ended.
    const ended = thread.terminate().then(
      () => true,
      () => true,
    );
    let waited: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      ended,
      new Promise<boolean>((r) => {
        waited = setTimeout(() => r(false), TERMINATE_WAIT_MS);
      }),
    ]);
    clearTimeout(waited);
    if (!inTime) {
      thread.unref();
      const left = { root: opts.root, ended: false };
      stuck = left;
      void ended.then(() => {
        left.ended = true;
      });
    }
  }
}
