import { defineJob, type JobContext } from "../shared/job.ts";
import { loadFs, type SweepFs } from "../shared/library/fs.ts";
import { type InspectStats, inspectLink } from "../shared/library/inspect.ts";
import { MountView, mountProblem } from "../shared/library/mount.ts";
import {
  type BrokenLink,
  brokenPathSet,
  matchLinks,
  recordBrokenLinks,
  resolveFixed,
  settleStale,
} from "../shared/library/record.ts";
import { readSweepState, recordGuard, type SweepState, writeSweepState } from "../shared/library/sweep-state.ts";
import { walkSlice } from "../shared/library/walk.ts";

const HOUR_MS = 3_600_000;

export default defineJob({
  name: "symlink-sweep",
  description:
    "Walks the symlink library in bounded slices, finds broken links, maps them to RD torrents and queues repairs",
  schedule: "*/5 * * * *",
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { config } = ctx;
    const roots = config.LIBRARY_ROOTS;
    if (!roots || roots.length === 0) return { skipped: "LIBRARY_ROOTS is not set" };
    if (ctx.host.runtime === "worker") return { skipped: "no filesystem in this runtime" };
    const fs = await loadFs();
    const now = ctx.now();
    let state = await readSweepState(ctx.db);
    if (state.status !== "running") {
      const due =
        state.status === "pending" ||
        state.generation === 0 ||
        now - (state.completedAt ?? 0) >= config.SWEEP_INTERVAL_HOURS * HOUR_MS;
      if (!due) return { state: "idle", generation: state.generation };
      state = newGeneration(state, now);
    }

    // Mount guard, before: a missing, empty or unreadable mount makes every link look broken.
    const mountPath = config.RD_MOUNT_PATH;
    const directories = config.RD_MOUNT_DIRECTORIES;
    if (mountPath) {
      const problem = await mountProblem(fs, mountPath, directories);
      if (problem) return tripGuard(ctx, problem, now);
    }
    // A library root that is gone or unreadable would look like a library without links, and the end of
    // the sweep would then settle every recorded broken link of it as removed.
    for (const root of roots) {
      const problem = await rootProblem(fs, root);
      if (problem) return tripGuard(ctx, problem, now);
    }
    const view = mountPath ? new MountView(mountPath, fs) : null;
    const stats: InspectStats = { statFallbacks: 0 };
    const broken: BrokenLink[] = [];
    const wasBroken = await brokenPathSet(ctx.db);
    // Looked up only for links in a folder that had a broken one: hashing each of 200k paths cost ~40 ms.
    const brokenDirs = new Set([...wasBroken].map((p) => p.slice(0, p.lastIndexOf("/") + 1)));
    let lastDir = "";
    let dirHadBroken = false;
    const inspectMount = view ? { view, directories } : null;
    const fixed: string[] = [];
    const run = { entries: 0, links: 0, uncertain: 0, skipped: [] as { path: string; reason: string }[] };
    const deadline = now + config.SWEEP_RUN_SECONDS * 1000;
    let next = { ...state };
    let handled = 0;

    while (next.rootIndex < roots.length) {
      const root = roots[next.rootIndex] ?? "";
      const slice = await walkSlice(
        {
          root,
          after: next.cursor,
          maxEntries: (ctx.limit ?? config.SWEEP_RUN_ENTRIES) - run.entries,
          deadline,
          // The deadline is on the job's clock, so the walk must read the same clock.
          now: ctx.now,
          signal: ctx.signal,
        },
        (link) => {
          const v = inspectLink(link, inspectMount, stats, fs);
          if (v.kind === "broken") {
            broken.push({
              path: link.path,
              root,
              target: v.target,
              reason: v.reason,
              torrentName: v.torrentName,
              matchedTorrentId: null,
              matchKind: null,
            });
          } else if (v.kind === "uncertain") run.uncertain++;
          else {
            if (link.dir !== lastDir) {
              lastDir = link.dir;
              dirHadBroken = brokenDirs.has(lastDir);
            }
            if (dirHadBroken && wasBroken.has(link.path)) fixed.push(link.path);
          }
          if (++handled % 5_000 === 0) ctx.progress({ ...progressOf(next, run, broken.length), linksThisRun: handled });
        },
      );
      run.entries += slice.entries;
      run.links += slice.links;
      run.skipped.push(...slice.skipped);
      if (!slice.done) {
        next.cursor = slice.cursor;
        break;
      }
      next = { ...next, rootIndex: next.rootIndex + 1, cursor: null };
    }
    ctx.signal.throwIfAborted();

    // Mount guard, after: the mount may have gone away during the walk, or too much looks broken.
    if (mountPath) {
      const problem = await mountProblem(fs, mountPath, directories);
      if (problem) return tripGuard(ctx, `${problem} (during the sweep)`, now);
    }
    const links = state.links + run.links;
    const brokenTotal = state.broken + broken.length;
    // Judged on this run alone and on the sweep so far: a slice that goes bad after healthy ones (a
    // mount that lost its torrent folders mid-sweep) must trip the guard too.
    const limits = config.MOUNT_GUARD_MAX_BROKEN_PERCENT;
    const tooMany = (bad: number, all: number) =>
      bad > config.MOUNT_GUARD_MIN_BROKEN && all > 0 && (bad / all) * 100 > limits;
    if (tooMany(broken.length, run.links)) {
      const share = ((broken.length / run.links) * 100).toFixed(1);
      return tripGuard(
        ctx,
        `${broken.length} of ${run.links} links in this run (${share}%) look broken at once, over the ${limits}% limit: the mount is more likely down than the library broken`,
        now,
      );
    }
    if (tooMany(brokenTotal, links)) {
      const share = ((brokenTotal / links) * 100).toFixed(1);
      return tripGuard(
        ctx,
        `${brokenTotal} of ${links} links (${share}%) look broken at once, over the ${limits}% limit: the mount is more likely down than the library broken`,
        now,
      );
    }

    const matched = await matchLinks(ctx.db, broken);
    const completed = next.rootIndex >= roots.length;
    const end = ctx.now();
    Object.assign(next, {
      entries: state.entries + run.entries,
      links,
      broken: brokenTotal,
      matched: state.matched + matched,
      skipped: state.skipped + run.skipped.length,
      updatedAt: end,
      guardReason: null,
      ...(completed ? { status: "completed", completedAt: end, rootIndex: 0, cursor: null } : {}),
    });
    const tx = await ctx.db.transaction("write");
    let queued = 0;
    let resolved = 0;
    let removed = 0;
    try {
      queued = await recordBrokenLinks(tx, broken, next.generation, end);
      resolved = await resolveFixed(tx, fixed, end);
      if (completed) removed = await settleStale(tx, fs, next.generation, end);
      await writeSweepState(tx, next);
      await tx.commit();
    } finally {
      tx.close();
    }
    if (run.skipped.length > 0)
      ctx.log.warn("entries skipped", { count: run.skipped.length, first: run.skipped.slice(0, 5) });
    return {
      generation: next.generation,
      completed,
      entries: run.entries,
      links: run.links,
      broken: broken.length,
      matched,
      queued,
      resolved,
      removed,
      uncertain: run.uncertain,
      skipped: run.skipped.length,
      mountReaddirs: view?.readdirCalls ?? 0,
      statFallbacks: stats.statFallbacks,
      totals: { entries: next.entries, links: next.links, broken: next.broken, matched: next.matched },
    };
  },
});

function newGeneration(s: SweepState, now: number): SweepState {
  return {
    ...s,
    generation: s.generation + 1,
    status: "running",
    rootIndex: 0,
    cursor: null,
    entries: 0,
    links: 0,
    broken: 0,
    matched: 0,
    skipped: 0,
    startedAt: now,
    updatedAt: now,
    completedAt: null,
  };
}

function progressOf(s: SweepState, run: { entries: number; links: number }, broken: number) {
  return {
    generation: s.generation,
    entries: s.entries + run.entries,
    links: s.links + run.links,
    broken: s.broken + broken,
  };
}

/** Why a library root cannot be swept right now, or null. */
async function rootProblem(fs: SweepFs, root: string): Promise<string | null> {
  try {
    if (!(await fs.promises.stat(root)).isDirectory()) return `the library root ${root} is not a folder`;
    await fs.promises.readdir(root);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? `the library root ${root} does not exist (unmounted?)`
      : `the library root ${root} cannot be read (${code ?? String(err)})`;
  }
}

/** Stops the sweep without changing anything but the guard's own record, and says why. */
async function tripGuard(ctx: JobContext, reason: string, now: number) {
  const wasHeld = (await readSweepState(ctx.db)).guardReason !== null;
  await recordGuard(ctx.db, reason, now);
  ctx.log.warn("mount guard: sweep stopped, nothing changed", { reason });
  // Told once when it trips, not on every run while the mount stays down.
  if (!wasHeld) {
    const notifier = ctx.clients.notifier(ctx.log);
    notifier.add({ kind: "mount_guard", title: "Mount guard tripped: library sweep stopped", detail: reason, at: now });
    await notifier.flush(ctx.signal);
  }
  return { guard: "tripped", reason, changed: 0 };
}
