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
}

/** What to do with a fetched page. */
export type PageDecision =
  | { kind: "process"; fresh: DebridTorrent[]; next: ScanCursor; bodyDone: boolean }
  | { kind: "step-back"; next: ScanCursor; reason: string };

/** Offset to fetch: a little before the hint, so a few deletions above us do not open a gap. */
export function fetchOffset(c: ScanCursor, overlap: number): number {
  return c.phase === "head" ? c.offsetHint : Math.max(0, c.offsetHint - overlap);
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

/**
 * Decides on a head page (the catch-up pass for torrents added during the walk, all at the top).
 * `seen` holds the ids of this page already listed in this generation; reaching one ends the pass.
 */
export function decideHeadPage(
  c: ScanCursor,
  items: readonly DebridTorrent[],
  pageSize: number,
  seen: ReadonlySet<string>,
): { fresh: DebridTorrent[]; next: ScanCursor; headDone: boolean } {
  const fresh = items.filter((t) => !seen.has(t.id));
  const headDone = fresh.length < items.length || items.length < pageSize;
  return { fresh, headDone, next: { ...c, offsetHint: c.offsetHint + items.length } };
}
