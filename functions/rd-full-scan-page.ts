import type { DebridProvider, DebridTorrent } from "../shared/clients/debrid.ts";
import { RdError } from "../shared/clients/real-debrid.ts";
import type { Db } from "../shared/db.ts";
import type { JobContext } from "../shared/job.ts";
import { defineJob } from "../shared/job.ts";
import { decideBodyPage, decideHeadPage, fetchOffset } from "../shared/rd/full-scan.ts";
import { readProgress, type ScanProgress, writeProgress } from "../shared/rd/scan-progress.ts";
import { enqueueFailedTorrents, upsertTorrents } from "../shared/rd/store.ts";

const HOUR_MS = 3_600_000;
// Re-read a little above where the last page ended, so a few deletions above do not force a step back.
const OVERLAP = 50;

export default defineJob({
  name: "rd-full-scan-page",
  description: "Reads one page of the whole Real-Debrid account per run, resuming from the stored cursor",
  schedule: "* * * * *",
  async run(ctx) {
    const rd = ctx.clients.rd;
    if (!rd) return { skipped: "RD_API_TOKEN is not set" };
    const now = ctx.now();
    let p = await readProgress(ctx.db, "full");
    const due =
      p.status === "pending" ||
      p.verify ||
      p.status === "idle" ||
      p.status === "failed" ||
      (p.status === "completed" && now - (p.completedAt ?? 0) >= ctx.config.FULL_SCAN_INTERVAL_HOURS * HOUR_MS);
    if (p.status !== "running") {
      if (!due)
        return {
          state: "idle",
          nextScanAt: new Date((p.completedAt ?? now) + ctx.config.FULL_SCAN_INTERVAL_HOURS * HOUR_MS).toISOString(),
        };
      p = newGeneration(p, now);
    }
    const pageSize = Math.min(ctx.limit ?? ctx.config.FULL_SCAN_PAGE_SIZE, 5000);
    const before = { total: ctx.clients.rdCalls.total, throttled: ctx.clients.rdCalls.throttled };
    const result =
      p.phase === "body" ? await bodyPage(ctx, rd, p, pageSize, now) : await headPage(ctx, rd, p, pageSize, now);
    ctx.progress({ generation: result.generation, phase: result.phase, seen: result.seen, total: result.total ?? "?" });
    return {
      ...result.summary,
      generation: result.generation,
      seen: result.seen,
      total: result.total,
      ...ctx.clients.rdCalls.since(before),
    };
  },
});

function newGeneration(p: ScanProgress, now: number): ScanProgress {
  return {
    ...p,
    status: "running",
    generation: p.generation + 1,
    phase: "body",
    offsetHint: 0,
    cursorAdded: null,
    cursorIds: [],
    boundary: null,
    headTop: null,
    seen: 0,
    pages: 0,
    startedAt: now,
    updatedAt: now,
    completedAt: null,
    lastError: null,
    verify: false,
  };
}

interface PageOutcome extends ScanProgress {
  summary: Record<string, unknown>;
}

/**
 * Fetches a page at the walk's offset, never past the last known end. RD refuses an offset beyond
 * X-Total-Count with 400; when deletions shrank the list since, that is a step back, not a failure.
 */
async function fetchPage(ctx: JobContext, rd: DebridProvider, p: ScanProgress, pageSize: number) {
  const wanted = fetchOffset(p, Math.min(OVERLAP, pageSize - 1));
  const offset = p.total !== null ? Math.min(wanted, p.total) : wanted;
  try {
    return { offset, page: await rd.listTorrents({ offset, limit: pageSize }, ctx.signal) };
  } catch (err) {
    if (offset > 0 && err instanceof RdError && err.info.class === "bad_request") {
      return { offset, page: null, backTo: Math.floor(offset / 2) };
    }
    throw err;
  }
}

async function bodyPage(
  ctx: JobContext,
  rd: DebridProvider,
  p: ScanProgress,
  pageSize: number,
  now: number,
): Promise<PageOutcome> {
  const fetched = await fetchPage(ctx, rd, p, pageSize);
  const { offset, page } = fetched;
  if (!page) return pastTheEnd(ctx, p, fetched.backTo ?? 0, offset, now);
  const d = decideBodyPage(p, page.items, offset, pageSize, page.total);
  const next: ScanProgress = { ...p, ...d.next, total: page.total, pages: p.pages + 1, updatedAt: now };
  if (d.kind === "step-back") return stepBack(ctx, next, offset, d.reason);
  next.seen = p.seen + d.fresh.length;
  // The newest torrent when the walk began bounds the head pass that follows it.
  if (p.cursorAdded === null) next.boundary = page.items[0]?.addedAt ?? null;
  if (d.bodyDone)
    Object.assign(next, { phase: "head", offsetHint: 0, cursorAdded: null, cursorIds: [], headTop: null });
  const queued = await commitPage(ctx.db, d.fresh, next, now, ctx);
  return { ...next, summary: { offset, listed: page.items.length, fresh: d.fresh.length, queued, phase: next.phase } };
}

async function headPage(
  ctx: JobContext,
  rd: DebridProvider,
  p: ScanProgress,
  pageSize: number,
  now: number,
): Promise<PageOutcome> {
  const fetched = await fetchPage(ctx, rd, p, pageSize);
  const { offset, page } = fetched;
  if (!page) return pastTheEnd(ctx, p, fetched.backTo ?? 0, offset, now);
  const d = decideHeadPage(p, page.items, offset, pageSize, page.total);
  const next: ScanProgress = { ...p, ...d.next, total: page.total, pages: p.pages + 1, updatedAt: now };
  if (d.kind === "step-back") return stepBack(ctx, next, offset, d.reason);
  next.seen = p.seen + d.fresh.length;
  if (!d.complete) {
    const queued = await commitPage(ctx.db, d.fresh, next, now, ctx);
    return { ...next, summary: { offset, added: d.fresh.length, queued, phase: "head" } };
  }
  // The walk is complete: everything listed now was seen in this generation.
  const tx = await ctx.db.transaction("write");
  try {
    await upsertTorrents(tx, d.fresh, now, p.generation, { count: false });
    const listed = Number(
      (await tx.execute({ sql: "SELECT count(*) AS n FROM torrents WHERE seen_generation = ?", args: [p.generation] }))
        .rows[0]?.n,
    );
    // More seen than listed now: some vanished after we saw them; only the next walk can say which.
    const verify = page.total !== null && listed !== page.total;
    const gone = await tx.execute({
      sql: "UPDATE torrents SET gone_at = ? WHERE gone_at IS NULL AND seen_generation < ? AND last_seen_at < ?",
      args: [now, p.generation, p.startedAt ?? now],
    });
    const queued = await enqueueFailedTorrents(tx, now, now - ctx.config.STUCK_AFTER_MINUTES * 60_000);
    const done: ScanProgress = { ...next, status: "completed", completedAt: now, verify, seen: listed };
    await writeProgress(tx, done);
    await tx.execute({
      sql: "INSERT INTO metrics (at, type, name, value, tags) VALUES (?, 'scan', 'full_duration_ms', ?, ?)",
      args: [
        now,
        now - (p.startedAt ?? now),
        JSON.stringify({ generation: p.generation, torrents: listed, pages: next.pages }),
      ],
    });
    await tx.commit();
    ctx.log.info("full scan completed", {
      generation: p.generation,
      listed,
      total: page.total,
      gone: gone.rowsAffected,
      verify,
    });
    return {
      ...done,
      summary: { completed: true, added: d.fresh.length, gone: gone.rowsAffected, queued, verifyNext: verify },
    };
  } finally {
    tx.close();
  }
}

/** The page did not join the walk: store where to look next, touch nothing else. */
async function stepBack(ctx: JobContext, next: ScanProgress, offset: number, reason: string): Promise<PageOutcome> {
  ctx.log.info("page does not join the walk; stepping back", { offset, reason, phase: next.phase });
  await writeProgress(ctx.db, next);
  return { ...next, summary: { offset, steppedBack: reason, phase: next.phase } };
}

/** RD refused the offset (the list shrank below it): look again from `backTo`. */
function pastTheEnd(
  ctx: JobContext,
  p: ScanProgress,
  backTo: number,
  offset: number,
  now: number,
): Promise<PageOutcome> {
  const next: ScanProgress = { ...p, offsetHint: backTo, total: null, pages: p.pages + 1, updatedAt: now };
  return stepBack(ctx, next, offset, "offset past the end of the list");
}

/** Upserts a page's new torrents, queues repairs and moves the cursor, all in one transaction. */
async function commitPage(
  db: Db,
  fresh: readonly DebridTorrent[],
  next: ScanProgress,
  now: number,
  ctx: JobContext,
): Promise<number> {
  const tx = await db.transaction("write");
  try {
    await upsertTorrents(tx, fresh, now, next.generation, { count: false });
    const queued = await enqueueFailedTorrents(tx, now, now - ctx.config.STUCK_AFTER_MINUTES * 60_000);
    await writeProgress(tx, next);
    await tx.commit();
    return queued;
  } finally {
    tx.close();
  }
}
