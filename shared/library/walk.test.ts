import * as nodeFs from "node:fs";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/processes.ts";
import { type SliceOptions, type WalkBatch, type WalkFs, type WalkParams, walkSlice, walkTree } from "./walk.ts";

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
  // and its twin: both names decode to "x-\uFFFD.mkv"
  symlinkSync(
    "/nowhere/bad.mkv",
    Buffer.concat([Buffer.from(join(root, "x-")), Buffer.from([0xfe]), Buffer.from(".mkv")]),
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
function walkFromSource(p: Partial<WalkParams>, fs: WalkFs = nodeFs): WalkBatch[] {
  const fromSource = new Function(`return (${String(walkTree)})`)() as typeof walkTree;
  const batches: WalkBatch[] = [];
  const params = { root, after: null, maxEntries: Number.POSITIVE_INFINITY, batchLinks: 1_000, batchMs: 1e9, ...p };
  fromSource(params, fs, Date.now, (b) => batches.push(b));
  return batches;
}

/** Each checkpoint of the batches: the slice's entries, links and skipped entries there, and its cursor. */
const checkpointsOf = (batches: WalkBatch[]) => {
  let skippedBefore = 0;
  return batches.flatMap((b) => {
    const out = b.cursors.map((cursor, c) => ({
      batchLinks: b.marks[c * 4] as number,
      skipped: skippedBefore + (b.marks[c * 4 + 1] as number),
      entries: b.marks[c * 4 + 2] as number,
      links: b.marks[c * 4 + 3] as number,
      cursor,
    }));
    skippedBefore += b.skipped.length;
    return out;
  });
};
const skippedOf = (batches: WalkBatch[]) => batches.flatMap((b) => b.skipped.map((x) => x.path));

/** Resuming from every checkpoint's cursor gives the rest of the whole walk: links and skipped entries. */
function expectEveryCheckpointResumes(batches: WalkBatch[], fs: WalkFs = nodeFs) {
  const links = linksOf(batches);
  const skipped = skippedOf(batches);
  for (const c of checkpointsOf(batches)) {
    const rest = walkFromSource({ after: c.cursor }, fs);
    expect(linksOf(rest), `links after ${c.cursor}`).toEqual(links.slice(c.links));
    expect(skippedOf(rest), `skipped after ${c.cursor}`).toEqual(skipped.slice(c.skipped));
  }
}
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
    const bad = { path: `${root}/x-\uFFFD.mkv`, reason: "name is not valid UTF-8" };
    expect(batches[0]?.skipped).toEqual([bad, bad]);
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
      }
      expect(checkpoints.length).toBeGreaterThanOrEqual(Math.ceil(entries / 32));
      expectEveryCheckpointResumes(batches);
    }
    for (const batchLinks of [2, 3]) expectEveryCheckpointResumes(walkFromSource({ batchLinks }));
    // The twins are never split by a checkpoint, so a cursor on them stands for both: one batch per
    // link or skipped entry, except the twins, which share one.
    const perEntry = walkFromSource({ batchLinks: 1 });
    const twins = perEntry.filter((b) => b.skipped.length > 0 && b.skipped[0]?.path.endsWith("x-\uFFFD.mkv"));
    expect(twins.map((b) => b.skipped.length)).toEqual([2]);
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
    const batches = walkFromSource({}, fake);
    const readable = expected.filter((l) => !l.includes("/b show/") && !l.endsWith("/E02.mkv"));
    expect(linksOf(batches)).toEqual(readable);
    expect(batches.flatMap((b) => b.skipped).map((x) => `${x.path.slice(root.length)}: ${x.reason}`)).toEqual([
      "/a show/Season 1/E02.mkv: unreadable link: EIO",
      "/a show/Season 2/E02.mkv: unreadable link: EIO",
      "/b show: unreadable folder: EACCES",
      "/c show/Season 1/E02.mkv: unreadable link: EIO",
      "/c show/Season 2/E02.mkv: unreadable link: EIO",
      "/x-\uFFFD.mkv: name is not valid UTF-8",
      "/x-\uFFFD.mkv: name is not valid UTF-8",
    ]);
    expectEveryCheckpointResumes(walkFromSource({ batchLinks: 1 }, fake), fake);

    const deep = tempDir("rdtm-deep-");
    let dir = deep;
    for (let i = 0; i < 66; i++) dir = join(dir, "d");
    mkdirSync(dir, { recursive: true });
    symlinkSync("/nowhere", join(dir, "too-deep.mkv"));
    symlinkSync("/nowhere", join(deep, "shallow.mkv"));
    const deepBatches = walkFromSource({ root: deep }, fake);
    expect(linksOf(deepBatches)).toEqual([join(deep, "shallow.mkv")]);
    expect(deepBatches.flatMap((b) => b.skipped)).toEqual([
      { path: join(deep, ...Array(65).fill("d")), reason: "deeper than 64 folders" },
    ]);
  });

  it("sends a batch when its links and skipped entries reach the batch size", () => {
    const batches = walkFromSource({ batchLinks: 2 });
    for (const b of batches.slice(0, -1)) {
      // one more when the second of the twins would have been left to the next batch
      const twins = b.skipped.filter((x) => x.path.endsWith("x-\uFFFD.mkv")).length === 2;
      expect(twins ? [2, 3] : [2]).toContain(b.names.length + b.skipped.length);
    }
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
    expect(r.skipped.map((s) => s.reason)).toEqual(["name is not valid UTF-8", "name is not valid UTF-8"]);
  });

  it("ends within 32 entries of the deadline, inside a batch, and resumes from its cursor", async () => {
    // 200 links in one folder, all in one batch of the walk thread
    const dense = tempDir("rdtm-dense-");
    mkdirSync(join(dense, "show"));
    const all = Array.from({ length: 200 }, (_, i) => join(dense, "show", `E${String(i).padStart(3, "0")}.mkv`));
    for (const l of all) symlinkSync("/nowhere", l);
    // and three names that are not UTF-8 among them: reported once each across the slices
    for (const i of ["010", "100", "150"])
      symlinkSync("/nowhere", Buffer.concat([Buffer.from(join(dense, "show", `E${i}-`)), Buffer.from([0xff])]));
    const skipped: string[] = [];
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
      skipped.push(...r.skipped.map((x) => x.path.slice(dense.length)));
      if (r.done) break;
      expect(r.links).toBe(visited.length - before);
      expect(r.links).toBeGreaterThan(0);
      expect(r.entries).toBeLessThanOrEqual(32);
    }
    expect(runs).toBeGreaterThanOrEqual(6);
    expect(visited).toEqual(all);
    expect(skipped).toEqual(["/show/E010-\uFFFD", "/show/E100-\uFFFD", "/show/E150-\uFFFD"]);
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

  /** A tree of folders with a link each, and an fs module for the walk thread that takes `seconds` to read `slow`. */
  function slowTree(folders: string[], slow: string, seconds: number) {
    const tree = tempDir("rdtm-stuck-");
    for (const dir of folders) {
      mkdirSync(join(tree, dir));
      symlinkSync("/nowhere", join(tree, dir, "link.mkv"));
    }
    // a call that terminate() cannot interrupt, as on a hung network share
    const fsModule = join(tree, "slow-fs.cjs");
    writeFileSync(
      fsModule,
      `const fs = require("node:fs");
       module.exports = {
         readdirSync(p, o) { if (p.endsWith("/${slow}")) require("node:child_process").execSync("sleep ${seconds}"); return fs.readdirSync(p, o); },
         readlinkSync: fs.readlinkSync,
       };`,
    );
    return { tree, fsModule };
  }

  it("ends at the deadline while the walk thread is still reading a folder", async () => {
    const { tree, fsModule } = slowTree(["a-slow", "b"], "a-slow", 2.5);
    const visited: string[] = [];
    const started = Date.now();
    const r = await walkSlice(
      { root: tree, after: null, maxEntries: 1e9, deadline: Date.now() + 300, tuning: { batchLinks: 1, fsModule } },
      (l) => {
        visited.push(l.path);
      },
    );
    expect(r).toMatchObject({ done: false, links: 0, cursor: null });
    expect(visited).toEqual([]);
    // the deadline, then a second's wait for the thread; not the 2.5 s call
    expect(Date.now() - started).toBeLessThan(2_200);
    await new Promise((r) => setTimeout(r, 2_000)); // the thread has ended
  });

  it("leaves a thread stuck in a filesystem call behind, and starts no other walk until it has ended", async () => {
    // reading "slow" blocks the walk thread for 2.5 s
    const { tree, fsModule: slowFs } = slowTree(["a", "slow"], "slow", 2.5);
    let t = 0;
    const started = Date.now();
    const first = await walkSlice(
      {
        root: tree,
        after: null,
        maxEntries: 1e9,
        deadline: 10,
        now: () => t,
        tuning: { batchLinks: 1, fsModule: slowFs },
      },
      async () => {
        // by then the thread is in the slow call
        await new Promise((r) => setTimeout(r, 300));
        t = 10;
      },
    );
    expect(first).toMatchObject({ done: false, links: 1, cursor: "a/link.mkv" });
    // the slice waited about a second for the thread, not the rest of the 2.5 s call
    expect(Date.now() - started).toBeLessThan(2_400);
    await expect(slice({ root: tree })).rejects.toThrow(/still stuck in a filesystem call under .*rdtm-stuck-/);
    await new Promise((r) => setTimeout(r, 2_500));
    const after = await slice({ root: tree });
    expect(after.visited).toEqual([join(tree, "a", "link.mkv"), join(tree, "slow", "link.mkv")]);
  });

  it("fails with a clear error when the walk thread fails", async () => {
    const bad = slice({ after: 42 as unknown as string });
    await expect(bad).rejects.toThrow(new RegExp(`^the library walk of ${root} failed: .*split`));
  });
});
