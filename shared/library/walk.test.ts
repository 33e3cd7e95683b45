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
  // a folder of 70 files and 3 links: more entries than lie between two checkpoints
  mkdirSync(join(root, "d extras"));
  for (let i = 0; i < 70; i++) writeFileSync(join(root, "d extras", `f${String(i).padStart(2, "0")}.nfo`), "x");
  for (const l of ["z1", "z2", "z3"]) symlinkSync(`/nowhere/${l}`, join(root, "d extras", l));
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
  for (const l of ["z1", "z2", "z3"]) expected.push(join(root, "d extras", l));
  entries += 73;
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

/** Each checkpoint of the batches: the slice's entries and links there, and its cursor. */
const checkpointsOf = (batches: WalkBatch[]) =>
  batches.flatMap((b) =>
    b.cursors.map((cursor, c) => ({
      batchLinks: b.marks[c * 4] as number,
      batchSkipped: b.marks[c * 4 + 1] as number,
      entries: b.marks[c * 4 + 2] as number,
      links: b.marks[c * 4 + 3] as number,
      cursor,
    })),
  );
const endOf = (batches: WalkBatch[]) => checkpointsOf(batches).at(-1);

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
    expect(batches[0]?.done).toBe(true);
    expect(endOf(batches)).toMatchObject({ entries, links: expected.length });
    expect(batches[0]?.skipped).toEqual([{ path: `${root}/x-\uFFFD.mkv`, reason: "name is not valid UTF-8" }]);
  });

  it("puts a checkpoint at least every 32 entries, and each one's cursor resumes the walk right after it", () => {
    for (const batchLinks of [1, 1_000]) {
      const batches = walkFromSource({ batchLinks });
      expect(linksOf(batches)).toEqual(expected);
      const checkpoints = checkpointsOf(batches);
      let before = 0;
      for (const c of checkpoints) {
        expect(c.entries - before).toBeLessThanOrEqual(32);
        before = c.entries;
        const rest = walkFromSource({ after: c.cursor });
        expect(linksOf(rest), `after ${c.cursor}`).toEqual(expected.slice(c.links));
      }
      expect(checkpoints.length).toBeGreaterThanOrEqual(Math.ceil(entries / 32));
    }
  });

  it("reports unreadable folders and links it could not read, and skips folders deeper than 64", () => {
    const fake = {
      readdirSync: (path: string, o: { withFileTypes: true }) => {
        if (path.endsWith("/b show")) throw Object.assign(new Error("denied"), { code: "EACCES" });
        return nodeFs.readdirSync(path, o);
      },
      readlinkSync: (path: string) => {
        if (path.endsWith("/E02.mkv")) throw Object.assign(new Error("io"), { code: "EIO" });
        return nodeFs.readlinkSync(path);
      },
    };
    const fromSource = new Function(`return (${String(walkTree)})`)() as typeof walkTree;
    const batches: WalkBatch[] = [];
    const params = { root, after: null, maxEntries: 1e9, batchLinks: 1_000, batchMs: 1e9 };
    fromSource(params, fake, Date.now, (b) => batches.push(b));
    const readable = expected.filter((l) => !l.includes("/b show/") && !l.endsWith("/E02.mkv"));
    expect(linksOf(batches)).toEqual(readable);
    expect(batches.flatMap((b) => b.skipped).map((x) => `${x.path.slice(root.length)}: ${x.reason}`)).toEqual([
      "/a show/Season 1/E02.mkv: unreadable link: EIO",
      "/a show/Season 2/E02.mkv: unreadable link: EIO",
      "/b show: unreadable folder: EACCES",
      "/c show/Season 1/E02.mkv: unreadable link: EIO",
      "/c show/Season 2/E02.mkv: unreadable link: EIO",
      "/x-\uFFFD.mkv: name is not valid UTF-8",
    ]);

    const deep = tempDir("rdtm-deep-");
    let dir = deep;
    for (let i = 0; i < 66; i++) dir = join(dir, "d");
    mkdirSync(dir, { recursive: true });
    symlinkSync("/nowhere", join(dir, "too-deep.mkv"));
    symlinkSync("/nowhere", join(deep, "shallow.mkv"));
    const deepBatches: WalkBatch[] = [];
    fromSource({ ...params, root: deep }, fake, Date.now, (b) => deepBatches.push(b));
    expect(linksOf(deepBatches)).toEqual([join(deep, "shallow.mkv")]);
    expect(deepBatches.flatMap((b) => b.skipped)).toEqual([
      { path: join(deep, ...Array(65).fill("d")), reason: "deeper than 64 folders" },
    ]);
  });

  it("sends a batch when its links and skipped entries reach the batch size", () => {
    const batches = walkFromSource({ batchLinks: 2 });
    for (const b of batches.slice(0, -1)) expect(b.names.length + b.skipped.length).toBe(2);
    expect(linksOf(batches)).toEqual(expected);
  });

  it("stops at maxEntries: slices resumed from their cursors add up to the whole walk", () => {
    const links: string[] = [];
    let after: string | null = null;
    let total = 0;
    for (let i = 0; i < 100; i++) {
      const batches = walkFromSource({ after, maxEntries: 3 });
      const end = endOf(batches);
      expect(end?.entries).toBeLessThanOrEqual(3);
      links.push(...linksOf(batches));
      total += end?.entries ?? 0;
      after = end?.cursor ?? null;
      const done = batches.at(-1)?.done;
      if (done) break;
      expect(done).toBe(false);
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

  it("ends within 32 entries of the deadline, inside a batch, and resumes from its cursor", async () => {
    // 200 links in one folder, all in one batch of the walk thread
    const dense = tempDir("rdtm-dense-");
    mkdirSync(join(dense, "show"));
    const all = Array.from({ length: 200 }, (_, i) => join(dense, "show", `E${String(i).padStart(3, "0")}.mkv`));
    for (const l of all) symlinkSync("/nowhere", l);
    const visited: string[] = [];
    let after: string | null = null;
    let runs = 0;
    for (; runs < 50; runs++) {
      // the clock passes the deadline as soon as the first link of the slice is visited
      let t = 0;
      const before = visited.length;
      const r = await walkSlice(
        { root: dense, after, maxEntries: 1e9, deadline: 10, now: () => t, tuning: { batchMs: 1e9 } },
        (l) => {
          visited.push(l.path);
          t = 10;
        },
      );
      after = r.cursor;
      if (r.done) break;
      expect(r.links).toBe(visited.length - before);
      expect(r.links).toBeGreaterThan(0);
      expect(r.entries).toBeLessThanOrEqual(32);
    }
    expect(runs).toBeGreaterThanOrEqual(6);
    expect(visited).toEqual(all);
  });

  it("does not start past the deadline", async () => {
    const r = await slice({ after: "b show", deadline: 5, now: () => 5 });
    expect(r).toMatchObject({ done: false, cursor: "b show", entries: 0, links: 0, visited: [] });
  });

  it("stops when aborted, on the next checkpoint", async () => {
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
