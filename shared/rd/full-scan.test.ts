import { describe, expect, it } from "vitest";
import type { DebridTorrent } from "../clients/debrid.ts";
import { decideBodyPage, decideHeadPage, fetchOffset, type ScanCursor } from "./full-scan.ts";

// Listing positions: torrent n was added at time 1000 - n, so the list is newest first.
const t = (n: number, added = 1000 - n): DebridTorrent => ({
  id: `T${n}`,
  hash: n.toString(16).padStart(40, "0"),
  filename: `f${n}`,
  status: "downloaded",
  bytes: 1,
  progress: 100,
  links: 1,
  addedAt: added,
  endedAt: null,
});
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => t(a + i));
const start: ScanCursor = {
  generation: 1,
  phase: "body",
  offsetHint: 0,
  cursorAdded: null,
  cursorIds: [],
  boundary: null,
  headTop: null,
};

describe("full scan decisions", () => {
  it("processes the first page whole and places the cursor at its oldest torrent", () => {
    const d = decideBodyPage(start, range(0, 10), 0, 10, 25);
    expect(d.kind).toBe("process");
    if (d.kind !== "process") return;
    expect(d.fresh.map((x) => x.id)).toEqual(range(0, 10).map((x) => x.id));
    expect(d.next).toMatchObject({ offsetHint: 10, cursorAdded: 1000 - 9, cursorIds: ["T9"] });
    expect(d.bodyDone).toBe(false);
    expect(fetchOffset(d.next, 3)).toBe(7);
  });

  it("skips the overlap it already processed", () => {
    const c: ScanCursor = { ...start, offsetHint: 10, cursorAdded: 1000 - 9, cursorIds: ["T9"] };
    const d = decideBodyPage(c, range(7, 17), 7, 10, 25);
    expect(d.kind === "process" && d.fresh.map((x) => x.id)).toEqual(range(10, 17).map((x) => x.id));
  });

  it("steps back when deletions above shifted the list by more than the overlap", () => {
    const c: ScanCursor = { ...start, offsetHint: 10, cursorAdded: 1000 - 9, cursorIds: ["T9"] };
    // five torrents above were deleted: offset 7 now starts at T12; T10 and T11 would be skipped
    const d = decideBodyPage(c, range(12, 22), 7, 10, 20);
    expect(d).toMatchObject({ kind: "step-back", next: { offsetHint: 2 } });
  });

  it("moves on when additions pushed the processed part down (nothing fresh, offset advances)", () => {
    const c: ScanCursor = { ...start, offsetHint: 10, cursorAdded: 1000 - 9, cursorIds: ["T9"] };
    const d = decideBodyPage(c, range(0, 10), 7, 10, 40);
    expect(d.kind).toBe("process");
    if (d.kind !== "process") return;
    expect(d.fresh).toEqual([]);
    expect(d.next.offsetHint).toBe(17);
    expect(d.next.cursorAdded).toBe(1000 - 9);
  });

  it("ends the walk on a short page", () => {
    const c: ScanCursor = { ...start, offsetHint: 20, cursorAdded: 1000 - 19, cursorIds: ["T19"] };
    const d = decideBodyPage(c, range(17, 25), 17, 10, 25);
    expect(d).toMatchObject({ kind: "process", bodyDone: true });
  });

  it("steps back from an empty page past a shrunken end", () => {
    const c: ScanCursor = { ...start, offsetHint: 20, cursorAdded: 1000 - 19, cursorIds: ["T19"] };
    expect(decideBodyPage(c, [], 17, 10, 12)).toMatchObject({ kind: "step-back", next: { offsetHint: 7 } });
  });

  it("keeps torrents that share the cursor's added time apart by id", () => {
    const same = [t(1, 500), t(2, 500), t(3, 500)];
    const c: ScanCursor = { ...start, offsetHint: 2, cursorAdded: 500, cursorIds: ["T1"] };
    const d = decideBodyPage(c, [t(0, 600), ...same], 0, 10, 4);
    expect(d.kind === "process" && d.fresh.map((x) => x.id)).toEqual(["T2", "T3"]);
    expect(d.kind === "process" && d.next.cursorIds).toEqual(["T1", "T2", "T3"]);
  });

  it("head pass: one page from the top reaching the boundary completes the generation", () => {
    // T0..T2 were added during the walk; T3 was the newest torrent when the walk began
    const c: ScanCursor = { ...start, phase: "head", boundary: 1000 - 3 };
    const d = decideHeadPage(c, range(0, 10), 0, 10, 50);
    expect(d).toMatchObject({ kind: "process", complete: true });
    expect(d.kind === "process" && d.fresh.map((x) => x.id)).toEqual(["T0", "T1", "T2", "T3"]);
  });

  it("head pass: a torrent added in the boundary's own second is not missed", () => {
    // X was the newest torrent when the walk began; Y was added later in the same second
    const c: ScanCursor = { ...start, phase: "head", boundary: 500 };
    const d = decideHeadPage(c, [t(1, 500), t(2, 500), t(3, 400)], 0, 10, 3);
    expect(d).toMatchObject({ kind: "process", complete: true });
    expect(d.kind === "process" && d.fresh.map((x) => x.id)).toEqual(["T1", "T2"]);
  });

  it("re-reads the overlap on head pages after the first, like the body walk", () => {
    expect(fetchOffset({ ...start, phase: "head", offsetHint: 0 }, 50)).toBe(0);
    expect(fetchOffset({ ...start, phase: "head", offsetHint: 300, cursorAdded: 1 }, 50)).toBe(250);
  });

  it("head pass: a longer walk is followed by another from the top, bounded by its first top", () => {
    const c: ScanCursor = { ...start, phase: "head", boundary: 1000 - 25 };
    const p1 = decideHeadPage(c, range(0, 10), 0, 10, 50);
    expect(p1).toMatchObject({ kind: "process", complete: false, next: { headTop: 1000, offsetHint: 10 } });
    if (p1.kind !== "process") return;
    const p2 = decideHeadPage(p1.next, range(7, 17), 7, 10, 50);
    expect(p2.kind === "process" && p2.fresh.map((x) => x.id)).toEqual(range(10, 17).map((x) => x.id));
    if (p2.kind !== "process") return;
    const p3 = decideHeadPage(p2.next, range(14, 24), 14, 10, 50);
    if (p3.kind !== "process") throw new Error("expected process");
    const p4 = decideHeadPage(p3.next, range(21, 31), 21, 10, 50);
    // reached the boundary (T25) after several pages: another walk from the top, boundary = T0's time
    expect(p4).toMatchObject({
      kind: "process",
      complete: false,
      next: { offsetHint: 0, cursorAdded: null, boundary: 1000 },
    });
    expect(p4.kind === "process" && p4.fresh.map((x) => x.id)).toEqual(["T24", "T25"]);
  });
});
