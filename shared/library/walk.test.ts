import * as nodeFs from "node:fs";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/processes.ts";
import { type SliceOptions, type WalkBatch, type WalkParams, walkSlice, walkTree } from "./walk.ts";

let root: string;
/** Every link of the tree, in walk order (names sorted at each level, folders walked into where they sort). */
let expected: string[];
/** Files and links of the tree: the entries a whole walk completes. */
let entries: number;

beforeAll(() => {
  root = tempDir("rdtm-walk-");
  expected = [];
  entries = 0;
  // Created out of name order, so readdir's order is not the walk's.
  for (const show of ["b show", "a show", "c show"]) {
    for (const season of ["Season 2", "Season 1"]) {
      const dir = join(root, show, season);
      mkdirSync(dir, { recursive: true });
      for (const e of ["E03", "E01", "E02"]) symlinkSync(`/nowhere/${show}/${season}/${e}.mkv`, join(dir, `${e}.mkv`));
      writeFileSync(join(dir, "poster.jpg"), "x");
    }
  }
  mkdirSync(join(root, "empty", "deeper"), { recursive: true });
  writeFileSync(join(root, "z-notes.txt"), "x");
  symlinkSync(join(root, "a show"), join(root, "y-folder-link")); // a link to a folder: a link, never entered
  // a name that is not UTF-8: skipped and reported
  symlinkSync(
    "/nowhere/bad.mkv",
    Buffer.concat([Buffer.from(join(root, "x-")), Buffer.from([0xff]), Buffer.from(".mkv")]),
  );
  for (const show of ["a show", "b show", "c show"])
    for (const season of ["Season 1", "Season 2"]) {
      for (const e of ["E01", "E02", "E03"]) expected.push(join(root, show, season, `${e}.mkv`));
      entries += 4;
    }
  expected.push(join(root, "y-folder-link"));
  entries += 2;
});

/**
 * walkTree evaluated from its own source, the way the walk thread runs it: this fails if it uses anything
 * from outside its body.
 */
function walkFromSource(p: Partial<WalkParams>): WalkBatch[] {
  const fromSource = new Function(`return (${String(walkTree)})`)() as typeof walkTree;
  const batches: WalkBatch[] = [];
  const params = { root, after: null, maxEntries: Number.POSITIVE_INFINITY, batchLinks: 1_000, batchMs: 1e9, ...p };
  fromSource(params, nodeFs, Date.now, (b) => batches.push(b));
  return batches;
}

const linksOf = (batches: WalkBatch[]) =>
  batches.flatMap((b) => {
    const out: string[] = [];
    let at = 0;
    b.dirs.forEach((dir, d) => {
      for (const end = at + (b.counts[d] as number); at < end; at++) out.push(dir + b.names[at]);
    });
    return out;
  });

async function slice(opts: Partial<SliceOptions> = {}) {
  const visited: string[] = [];
  const r = await walkSlice(
    { root, after: null, maxEntries: Number.POSITIVE_INFINITY, deadline: Number.POSITIVE_INFINITY, ...opts },
    (l) => {
      expect(l.path).toBe(l.dir + l.path.slice(l.dir.length));
      visited.push(l.path);
    },
  );
  return { ...r, visited };
}

describe("walkTree", () => {
  it("walks in name order and hands out each link once, with its target", () => {
    const batches = walkFromSource({});
    expect(batches).toHaveLength(1);
    expect(linksOf(batches)).toEqual(expected);
    expect(batches[0]?.targets[0]).toBe("/nowhere/a show/Season 1/E01.mkv");
    expect(batches[0]).toMatchObject({ done: true, entries, links: expected.length });
    expect(batches[0]?.skipped).toEqual([{ path: `${root}/x-\uFFFD.mkv`, reason: "name is not valid UTF-8" }]);
  });

  it("ends each batch on an entry boundary: its cursor resumes the walk right after it", () => {
    const batches = walkFromSource({ batchLinks: 1 });
    expect(batches.length).toBeGreaterThan(expected.length - 1);
    expect(linksOf(batches)).toEqual(expected);
    for (const b of batches) {
      const rest = walkFromSource({ after: b.cursor });
      expect(linksOf(rest), `after ${b.cursor}`).toEqual(expected.slice(b.links));
    }
  });

  it("stops at maxEntries: slices resumed from their cursors add up to the whole walk", () => {
    const links: string[] = [];
    let after: string | null = null;
    let total = 0;
    for (let i = 0; i < 100; i++) {
      const batches = walkFromSource({ after, maxEntries: 3 });
      const last = batches.at(-1) as WalkBatch;
      expect(last.entries).toBeLessThanOrEqual(3);
      links.push(...linksOf(batches));
      total += last.entries;
      after = last.cursor;
      if (last.done) break;
      expect(last.done).toBe(false);
    }
    expect(links).toEqual(expected);
    expect(total).toBe(entries);
  });
});

describe("walkSlice (the walk in a worker thread)", () => {
  it("visits every link in walk order and reports what it skipped", async () => {
    const r = await slice();
    expect(r.visited).toEqual(expected);
    expect(r).toMatchObject({ done: true, entries, links: expected.length });
    expect(r.skipped.map((s) => s.reason)).toEqual(["name is not valid UTF-8"]);
  });

  it("ends at the deadline after the batch it is in, and resumes from its cursor", async () => {
    const visited: string[] = [];
    let after: string | null = null;
    let runs = 0;
    for (; runs < 50; runs++) {
      // the clock passes the deadline as soon as the first link of the slice is visited
      let t = 0;
      const r = await walkSlice(
        { root, after, maxEntries: 1e9, deadline: 10, now: () => t, tuning: { batchLinks: 2, batchMs: 1e9 } },
        (l) => {
          visited.push(l.path);
          t = 10;
        },
      );
      after = r.cursor;
      if (r.done) break;
      expect(r.links).toBe(2);
    }
    expect(runs).toBe(Math.ceil(expected.length / 2) - 1);
    expect(visited).toEqual(expected);
  });

  it("does not start past the deadline", async () => {
    const r = await slice({ after: "b show", deadline: 5, now: () => 5 });
    expect(r).toMatchObject({ done: false, cursor: "b show", entries: 0, links: 0, visited: [] });
  });

  it("stops when aborted, after the batch it is in", async () => {
    const abort = new AbortController();
    const r = await walkSlice(
      {
        root,
        after: null,
        maxEntries: 1e9,
        deadline: 1e15,
        signal: abort.signal,
        tuning: { batchLinks: 4, batchMs: 1e9 },
      },
      (l) => {
        if (l.path === expected[5]) abort.abort();
      },
    );
    expect(r).toMatchObject({ done: false, links: 8 });
    expect((await slice({ after: r.cursor })).visited).toEqual(expected.slice(8));
  });

  it("keeps the walk thread at most a few batches ahead of a slow visitor", async () => {
    const visited: string[] = [];
    const r = await walkSlice(
      { root, after: null, maxEntries: 1e9, deadline: 1e15, tuning: { batchLinks: 1, ahead: 2 } },
      async (l) => {
        visited.push(l.path);
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    );
    expect(visited).toEqual(expected);
    expect(r.mostQueued).toBeGreaterThanOrEqual(2);
    expect(r.mostQueued).toBeLessThanOrEqual(3);
  });

  it("fails with a clear error when the walk thread fails", async () => {
    const bad = slice({ after: 42 as unknown as string });
    await expect(bad).rejects.toThrow(new RegExp(`^the library walk of ${root} failed: .*split`));
  });
});
