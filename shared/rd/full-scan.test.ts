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
const start: ScanCursor = { generation: 1, phase: "body", offsetHint: 0, cursorAdded: null, cursorIds: [] };

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

  it("head pass: takes unseen torrents until it reaches seen ones", () => {
    const c: ScanCursor = { ...start, phase: "head", offsetHint: 0 };
    const d = decideHeadPage(c, range(0, 10), 10, new Set(["T3", "T4"]));
    expect(d.fresh.map((x) => x.id)).toEqual(["T0", "T1", "T2", "T5", "T6", "T7", "T8", "T9"]);
    expect(d.headDone).toBe(true);
    const more = decideHeadPage(c, range(0, 10), 10, new Set());
    expect(more).toMatchObject({ headDone: false, next: { offsetHint: 10 } });
  });
});
