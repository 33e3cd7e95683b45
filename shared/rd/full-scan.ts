import type { DebridTorrent } from "../clients/debrid.ts";

/**
 * Where a full scan stands. The listing is newest first; the walk goes down it. `cursorAdded` is the
 * `added` time of the oldest torrent processed and `cursorIds` the processed ids at exactly that time,
 * so the walk is located by content, not by offset; `offsetHint` only says where to look next.
 */
export interface ScanCursor {
  generation: number;
  phase: "body" | "head";
  offsetHint: number;
  cursorAdded: number | null;
  cursorIds: string[];
  /** Everything listed and added at or before this time has been seen in this generation. */
  boundary: number | null;
  /** Newest torrent of the current head walk's first page (the next boundary). */
  headTop: number | null;
}

/** What to do with a fetched page. */
export type PageDecision =
  | { kind: "process"; fresh: DebridTorrent[]; next: ScanCursor; bodyDone: boolean }
  | { kind: "step-back"; next: ScanCursor; reason: string };

/** Offset to fetch: a little before the hint, so a few deletions above us do not open a gap. */
export function fetchOffset(c: ScanCursor, overlap: number): number {
  return Math.max(0, c.offsetHint - overlap);
}

/**
 * Decides on a body page fetched at `offset`. The page can be processed only when it provably starts
 * above the walk's position (its first torrent is newer than the cursor) or at the top of the list:
 * then every torrent the walk has not processed yet and that is newer than the page's end is in it.
 * Otherwise torrents deleted above us shifted the list up by more than the overlap and something
 * could be skipped: step back and look again.
 */
export function decideBodyPage(
  c: ScanCursor,
  items: readonly DebridTorrent[],
  offset: number,
  pageSize: number,
  total: number | null,
): PageDecision {
  const cursor = c.cursorAdded;
  const stepBack = Math.max(1, Math.floor(pageSize / 2));
  if (cursor !== null && offset > 0) {
    const first = items[0];
    if (!first) {
      const from = total !== null ? Math.min(offset, total) : offset;
      return {
        kind: "step-back",
        next: { ...c, offsetHint: Math.max(0, from - stepBack) },
        reason: "empty page past the end",
      };
    }
    if (!(first.addedAt > cursor)) {
      return {
        kind: "step-back",
        next: { ...c, offsetHint: Math.max(0, offset - stepBack) },
        reason: "page starts below the walk",
      };
    }
  }
  const done = new Set(c.cursorIds);
  const fresh = items.filter((t) => cursor === null || t.addedAt < cursor || (t.addedAt === cursor && !done.has(t.id)));
  let cursorAdded = cursor;
  let cursorIds = c.cursorIds;
  const last = fresh.at(-1);
  if (last) {
    cursorAdded = last.addedAt;
    const same = fresh.filter((t) => t.addedAt === last.addedAt).map((t) => t.id);
    cursorIds = last.addedAt === cursor ? [...c.cursorIds, ...same] : same;
  }
  return {
    kind: "process",
    fresh,
    bodyDone: items.length < pageSize,
    next: { ...c, offsetHint: offset + items.length, cursorAdded, cursorIds },
  };
}

/** What a head page decided: process `fresh`, and whether the generation is complete. */
export type HeadDecision =
  | { kind: "process"; fresh: DebridTorrent[]; next: ScanCursor; complete: boolean }
  | { kind: "step-back"; next: ScanCursor; reason: string };

/**
 * Decides on a head page. The head pass catches the torrents added above the walk while it ran: it
 * walks down from the top, like the body walk, until it reaches `boundary` (everything at or below it
 * has been seen). If that walk took more than its first page, more may have been added above it
 * meanwhile, so another walk starts with the first one's top as boundary. The generation completes
 * when a walk reaches the boundary within the one page it read from the top: at that instant,
 * everything listed has been seen.
 */
export function decideHeadPage(
  c: ScanCursor,
  items: readonly DebridTorrent[],
  offset: number,
  pageSize: number,
  total: number | null,
): HeadDecision {
  const boundary = c.boundary ?? Number.NEGATIVE_INFINITY;
  const firstPage = c.cursorAdded === null;
  const d = decideBodyPage(c, items, offset, pageSize, total);
  if (d.kind === "step-back") return d;
  const headTop = firstPage ? (items[0]?.addedAt ?? c.boundary) : c.headTop;
  // Torrents added in the boundary's own second (RD dates have whole seconds) are taken again:
  // re-recording one already seen is harmless, missing one is not.
  const fresh = d.fresh.filter((t) => t.addedAt >= boundary);
  const reached = items.length < pageSize || items.some((t) => t.addedAt < boundary);
  if (!reached) return { kind: "process", fresh, complete: false, next: { ...d.next, headTop } };
  if (firstPage) return { kind: "process", fresh, complete: true, next: { ...d.next, headTop, boundary: headTop } };
  const again: ScanCursor = { ...c, offsetHint: 0, cursorAdded: null, cursorIds: [], boundary: headTop, headTop: null };
  return { kind: "process", fresh, complete: false, next: again };
}
