// Matching as a sweep run does it: torrents keyed once in torrent_keys, only the candidates loaded.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../schema/index.ts";
import { type Db, migrate, openDb } from "../../shared/db.ts";
import { buildMatchIndex, KEY_VERSION, matchTorrent, nameKeys, type TorrentRef } from "../../shared/library/match.ts";
import { type BrokenLink, FUZZY_CANDIDATES_SQL, keyTorrents, matchLinks } from "../../shared/library/record.ts";
import { backupDatabase } from "../../shared/maintenance/backup.ts";
import { makeDb } from "../helpers/factories.ts";
import { brokenLinksTo, storeNamedTorrents } from "../helpers/library.ts";
import { tempDir } from "../helpers/processes.ts";

let db: Db;
beforeEach(async () => {
  db = await makeDb();
});
afterEach(() => db.close());

// mulberry32, seeded: the same library every run
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Releases that collide on purpose: few titles, several qualities, groups and renames of each. */
function library(rand: () => number) {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const titles = ["Night.City", "The.Lost.House", "Dark.River", "Iron.Star", "Blue.Moon"];
  // some state no resolution or no codec: the fuzzy gates pass when one side does not say
  const tails = [
    "1080p.WEB-DL.x264-NTb",
    "1080p.WEB.H.264-FLUX",
    "2160p.BluRay.x265-SPARKS",
    "720p.HDTV.x264-LOL",
    "WEB-DL.x264-NTb",
    "1080p.BluRay-SPARKS",
  ];
  const names = new Set<string>();
  while (names.size < 400) {
    const t = pick(titles);
    names.add(
      rand() < 0.6
        ? `${t}.S0${1 + Math.floor(rand() * 3)}E0${1 + Math.floor(rand() * 9)}.${pick(tails)}`
        : `${t}.${2000 + Math.floor(rand() * 25)}.${pick(tails)}${rand() < 0.2 ? ".mkv" : ""}`,
    );
  }
  const torrents: TorrentRef[] = [...names].map((filename, i) => ({ id: `T${i}`, filename, status: "downloaded" }));
  // a few listed twice: ambiguous by design
  for (let i = 0; i < 5; i++) torrents.push({ id: `D${i}`, filename: pick(torrents).filename, status: "downloaded" });
  const variants: ((s: string) => string)[] = [
    (s) => s,
    (s) => s.toLowerCase(),
    (s) => s.replaceAll(".", " "),
    (s) => `[RARBG] ${s}`,
    (s) => s.replace(/-([A-Za-z]+)$/, "-$1-RARBG"),
    (s) => s.replace(/^The\./, ""),
    (s) => s.replace("1080p", "720p"),
    // renames that drop what the fuzzy gates compare, or add a PROPER/REPACK mark
    (s) => `[RARBG] ${s.replace(/\.(?:720p|1080p|2160p)/, "")}`,
    (s) => s.replace(/\.(?:x264|x265|H\.264)/, ""),
    (s) => s.replace(/\.(?:WEB-DL|WEB|BluRay|HDTV)/, ""),
    (s) => `[RARBG] ${s.replace(/(\.S\d\dE\d\d|\.\d{4})\./, "$1.REPACK.")}`,
  ];
  const links = Array.from({ length: 600 }, () => pick(variants)(pick(torrents).filename));
  links.push("Not.In.The.Account.S01E01.1080p.WEB-DL.x264-NTb", "");
  return { torrents, links };
}

const store = (torrents: TorrentRef[]) => storeNamedTorrents(db, torrents, 1_700_000_000_000);

describe("matchLinks over torrent_keys", () => {
  it.each([1, 2, 3])("gives the answers of an index over the whole account (seed %i)", async (seed) => {
    const { torrents, links } = library(rng(seed));
    await store(torrents);
    const broken = brokenLinksTo(links);
    const matched = await matchLinks(db, broken);
    const whole = buildMatchIndex(torrents);
    const expected = links.map((n) => {
      const r = matchTorrent(whole, n);
      return r.match ? [r.match.torrent.id, r.match.kind] : [null, null];
    });
    expect(broken.map((b) => [b.matchedTorrentId, b.matchKind])).toEqual(expected);
    expect(matched).toBe(expected.filter((e) => e[0] !== null).length);
    // a fair test: every level and both outcomes occur
    const kinds = new Set(expected.map((e) => e[1]));
    for (const k of ["exact", "normalized", "fuzzy", null]) expect(kinds).toContain(k);
  });

  it("looks fuzzy candidates up by bucket and PROPER/REPACK marks in the index of migration 0008", async () => {
    const plan = await db.execute({
      sql: `EXPLAIN QUERY PLAN ${FUZZY_CANDIDATES_SQL}`,
      args: [JSON.stringify([["nightcity|s1e1", "1080p", "web", null, ""]])],
    });
    // the revision expression of the query is the index's: were they to differ, only release=? would be used
    expect(plan.rows.map((r) => String(r.detail))).toContainEqual(
      expect.stringMatching(/torrent_keys_fuzzy \(release=\? AND <expr>=\?\)/),
    );
  });

  it("keys each torrent once, again when its filename or the key rules change, and never a gone one", async () => {
    const { torrents } = library(rng(9));
    await store(torrents.slice(0, 50));
    expect(await keyTorrents(db)).toBe(50);
    expect(await keyTorrents(db)).toBe(0);
    await db.execute("UPDATE torrents SET filename = 'Renamed.S01E01.1080p.WEB-DL.x264-NTb' WHERE id = 'T3'");
    await db.execute("UPDATE torrents SET gone_at = 1 WHERE id = 'T5'");
    await db.execute("UPDATE torrents SET filename = 'Gone.Renamed' WHERE id = 'T5'");
    expect(await keyTorrents(db)).toBe(1);
    const t3 = (await db.execute("SELECT filename, normalized FROM torrent_keys WHERE id = 'T3'")).rows[0];
    expect([t3?.filename, t3?.normalized]).toEqual([
      "Renamed.S01E01.1080p.WEB-DL.x264-NTb",
      "renamed s01e01 1080p webdl x264 ntb",
    ]);
    // the renamed torrent matches by its new name, not its old one
    const [byNew, byOld] = brokenLinksTo(["Renamed.S01E01.1080p.WEB-DL.x264-NTb", torrents[3]?.filename ?? ""]);
    await matchLinks(db, [byNew as BrokenLink, byOld as BrokenLink]);
    expect(byNew?.matchedTorrentId).toBe("T3");
    expect(byOld?.matchedTorrentId).not.toBe("T3");
    // keys by other rules: every listed torrent keyed again (49: T5 is gone)
    await db.execute({ sql: "UPDATE torrent_keys_state SET version = ?", args: [KEY_VERSION - 1] });
    expect(await keyTorrents(db)).toBe(49);
    expect(
      (await db.execute("SELECT count(*) AS n FROM torrent_keys WHERE version = ?", [KEY_VERSION])).rows[0]?.n,
    ).toBe(49);
    // a row deleted from torrents loses its keys at the next keying pass
    await db.execute("DELETE FROM torrents WHERE id = 'T6'");
    await store([{ id: "NEW", filename: "Brand.New.2024.1080p.WEB-DL.x264-NTb", status: "downloaded" }]);
    expect(await keyTorrents(db)).toBe(1);
    expect((await db.execute("SELECT count(*) AS n FROM torrent_keys WHERE id = 'T6'")).rows[0]?.n).toBe(0);
  });

  it("keys an account larger than one chunk, in id order, without missing one", async () => {
    const torrents: TorrentRef[] = Array.from({ length: 4_321 }, (_, i) => ({
      id: `X${(i * 7919) % 100_000}`,
      filename: `Title.${i}.S01E01.1080p.WEB-DL.x264-GRP`,
      status: "downloaded",
    }));
    await store(torrents);
    expect(await keyTorrents(db)).toBe(4_321);
    expect((await db.execute("SELECT count(*) AS n FROM torrent_keys")).rows[0]?.n).toBe(4_321);
  });

  it("keeps torrent_keys to the listed torrents' current names by itself (triggers on torrents)", async () => {
    const keys = async () =>
      (await db.execute("SELECT id, filename FROM torrent_keys ORDER BY id")).rows.map((r) => `${r.id}=${r.filename}`);
    const queued = async () =>
      (await db.execute("SELECT id FROM torrent_keys_queue ORDER BY id")).rows.map((r) => String(r.id));
    await store([
      { id: "A", filename: "Alpha.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" },
      { id: "B", filename: "Beta.2020.1080p.BluRay.x264-SPARKS", status: "downloaded" },
      { id: "C", filename: "Gamma.S02E03.720p.HDTV.x264-LOL", status: "downloaded" },
    ]);
    // new torrents are found past the watermark, not queued
    expect(await queued()).toEqual([]);
    expect(await keyTorrents(db)).toBe(3);
    expect(await queued()).toEqual([]);
    // renamed: the old keys go at once, so the old name cannot match while it waits to be keyed again
    await db.execute("UPDATE torrents SET filename = 'Alpha.S01E01.REPACK.1080p.WEB-DL.x264-NTb' WHERE id = 'A'");
    // the same name written again (every scan does): nothing to redo
    await db.execute("UPDATE torrents SET filename = filename WHERE id = 'B'");
    // gone: keys and queue entry dropped; deleted: likewise
    await db.execute("UPDATE torrents SET gone_at = 5 WHERE id = 'C'");
    expect(await keys()).toEqual(["B=Beta.2020.1080p.BluRay.x264-SPARKS"]);
    expect(await queued()).toEqual(["A"]);
    // the old name no longer matches (a REPACK is another release), the new one does, exactly
    const [byOld, byNew] = brokenLinksTo([
      "Alpha.S01E01.1080p.WEB-DL.x264-NTb",
      "Alpha.S01E01.REPACK.1080p.WEB-DL.x264-NTb",
    ]);
    await matchLinks(db, [byOld as BrokenLink, byNew as BrokenLink]);
    expect([byOld?.matchedTorrentId, byNew?.matchedTorrentId, byNew?.matchKind]).toEqual([null, "A", "exact"]);
    expect(await queued()).toEqual([]);
    // listed again: queued and keyed under its name
    await store([{ id: "C", filename: "Gamma.S02E03.720p.HDTV.x264-LOL", status: "downloaded" }]);
    expect(await queued()).toEqual(["C"]);
    await db.execute("DELETE FROM torrents WHERE id = 'B'");
    expect(await keyTorrents(db)).toBe(1);
    expect(await keys()).toEqual(["A=Alpha.S01E01.REPACK.1080p.WEB-DL.x264-NTb", "C=Gamma.S02E03.720p.HDTV.x264-LOL"]);
    // the last rows deleted and their rowids given to a new torrent: the watermark went back, so it is keyed
    const last = (await db.execute("SELECT max(rowid) AS r FROM torrents")).rows[0]?.r;
    await db.execute("DELETE FROM torrents WHERE rowid = ?", [last ?? 0]);
    await store([{ id: "D", filename: "Delta.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" }]);
    // (a rowid at or below the watermark before the delete: without going back, D would never be keyed)
    expect(Number((await db.execute("SELECT rowid AS r FROM torrents WHERE id = 'D'")).rows[0]?.r)).toBeLessThanOrEqual(
      Number(last),
    );
    expect(await keyTorrents(db)).toBe(1);
    expect(await keys()).toContain("D=Delta.S01E01.1080p.WEB-DL.x264-NTb");
    // a queued torrent that went away before keying leaves the queue without keys
    await db.execute("INSERT INTO torrent_keys_queue (id) VALUES ('NOPE')");
    expect(await keyTorrents(db)).toBe(0);
    expect(await queued()).toEqual([]);
  });

  it("migrating a database keyed before the queue drops keys that no longer hold; the first pass keys the rest", async () => {
    const old = await openDb(":memory:");
    try {
      await migrate(
        old,
        MIGRATIONS.filter((m) => m.version <= 6),
      );
      await storeNamedTorrents(
        old,
        [
          { id: "FRESH", filename: "Fresh.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" },
          { id: "RENAMED", filename: "Renamed.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" },
          { id: "GONE", filename: "Gone.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" },
          { id: "UNKEYED", filename: "Unkeyed.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" },
        ],
        1_700_000_000_000,
      );
      await old.execute("UPDATE torrents SET gone_at = 1 WHERE id = 'GONE'");
      for (const [id, filename] of [
        ["FRESH", "Fresh.S01E01.1080p.WEB-DL.x264-NTb"],
        ["RENAMED", "Renamed.Before.S01E01.1080p.WEB-DL.x264-NTb"],
        ["GONE", "Gone.S01E01.1080p.WEB-DL.x264-NTb"],
        ["DELETED", "Deleted.S01E01.1080p.WEB-DL.x264-NTb"],
      ])
        await old.execute({
          sql: "INSERT INTO torrent_keys (id, filename, normalized, release, detail, version) VALUES (?, ?, ?, ?, ?, ?)",
          args: [id ?? "", filename ?? "", ...Object.values(nameKeys(filename ?? "")), KEY_VERSION],
        });
      expect(await migrate(old)).toEqual([7, 8]);
      const ids = async (sql: string) => (await old.execute(sql)).rows.map((r) => String(r.id));
      expect(await ids("SELECT id FROM torrent_keys ORDER BY id")).toEqual(["FRESH"]);
      expect(await ids("SELECT id FROM torrent_keys_queue ORDER BY id")).toEqual([]);
      // the first pass keys what has no keys, from the start of the table, and leaves FRESH as it is
      expect(await keyTorrents(old)).toBe(2);
      expect(await ids("SELECT id FROM torrent_keys ORDER BY id")).toEqual(["FRESH", "RENAMED", "UNKEYED"]);
      // the kept keys serve: FRESH matches exactly by them
      const [link] = brokenLinksTo(["Fresh.S01E01.1080p.WEB-DL.x264-NTb"]);
      await matchLinks(old, [link as BrokenLink]);
      expect([link?.matchedTorrentId, link?.matchKind]).toEqual(["FRESH", "exact"]);
    } finally {
      old.close();
    }
  });

  it("a backup copied table by table (sqld) keeps rowids, so a torrent added after a restore is keyed", async () => {
    await store(
      ["A", "B", "C"].map((id) => ({ id, filename: `${id}.S01E01.1080p.WEB-DL.x264-NTb`, status: "downloaded" })),
    );
    expect(await keyTorrents(db)).toBe(3);
    await db.execute("DELETE FROM torrents WHERE id = 'B'"); // a hole in the rowids
    const dir = tempDir();
    // a URL that is not a file: the table-by-table copy an sqld database gets
    const { file } = await backupDatabase(db, "http://sqld.invalid:8080", { dir, keep: 1, now: 1_700_000_000_000 });
    const restored = await openDb(`file:${file}`);
    try {
      const rowids = async (d: Db) =>
        (await d.execute("SELECT rowid AS r, id FROM torrents ORDER BY rowid")).rows.map((r) => `${r.id}@${r.r}`);
      expect(await rowids(restored)).toEqual(await rowids(db));
      await storeNamedTorrents(
        restored,
        [{ id: "D", filename: "D.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" }],
        1_700_000_000_000,
      );
      expect(await keyTorrents(restored)).toBe(1);
      const keyed = (await restored.execute("SELECT id FROM torrent_keys ORDER BY id")).rows.map((r) => r.id);
      expect(keyed).toEqual(["A", "C", "D"]);
    } finally {
      restored.close();
    }
  });

  it("a pass that a delete overtook leaves the watermark where the delete put it, so a reused rowid is keyed", async () => {
    await store(["A", "B"].map((id) => ({ id, filename: `${id}.S01E01.1080p.WEB-DL.x264-NTb`, status: "downloaded" })));
    await keyTorrents(db);
    await store([{ id: "C", filename: "C.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" }]);
    // Between the pass reading C (the last rowid) and writing its keys, another process deletes C and adds X,
    // which gets C's rowid back.
    let raced = false;
    const racing = new Proxy(db, {
      get(target, key, receiver) {
        if (key !== "batch") return Reflect.get(target, key, receiver);
        return async (...args: Parameters<Db["batch"]>) => {
          if (!raced) {
            raced = true;
            await db.execute("DELETE FROM torrents WHERE id = 'C'");
            await store([{ id: "X", filename: "X.S01E01.1080p.WEB-DL.x264-NTb", status: "downloaded" }]);
          }
          return target.batch(...args);
        };
      },
    });
    expect(await keyTorrents(racing)).toBe(0); // C went before its keys were written
    expect(raced).toBe(true);
    expect(await keyTorrents(db)).toBe(1);
    const keyed = (await db.execute("SELECT id FROM torrent_keys ORDER BY id")).rows.map((r) => r.id);
    expect(keyed).toEqual(["A", "B", "X"]);
  });
});
