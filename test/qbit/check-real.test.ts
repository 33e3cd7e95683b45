// qbit-check against a REAL qBittorrent 4.5 (Debian's qbittorrent-nox, started here as nobody on a
// loopback port with its own profile) and a loopback tracker; Sonarr is the fake. Four downloads: one
// whose save path is not writable (error), one whose files went away (missingFiles), one the tracker
// calls unregistered, and a healthy private one.

import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import qbitCheck from "../../functions/qbit-check.ts";
import { type Clients, noClients } from "../../shared/clients/index.ts";
import type { NotifyEvent } from "../../shared/clients/notify.ts";
import { createQbitClient, type QbitClient } from "../../shared/clients/qbittorrent.ts";
import { createArrClient } from "../../shared/clients/servarr.ts";
import type { Db } from "../../shared/db.ts";
import { createFakeArr, type FakeArr, makeQueueRecord } from "../fakes/servarr.ts";
import { makeConfig, makeDb, makeRunner } from "../helpers/factories.ts";
import { eventually } from "../helpers/processes.ts";
import {
  type LoopbackTracker,
  makeTorrentFile,
  type RealQbit,
  startQbittorrent,
  startTracker,
  type TorrentFile,
  writePayload,
} from "../helpers/qbittorrent.ts";

const NOBODY = 65534;
const runnable = process.getuid?.() === 0 && hasBinary("qbittorrent-nox");

function hasBinary(name: string): boolean {
  try {
    execFileSync("which", [name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let qbit: RealQbit;
let tracker: LoopbackTracker;
let client: QbitClient;
let sonarr: FakeArr;
let db: Db;
const events: NotifyEvent[] = [];
const t = {} as Record<"healthy" | "unregistered" | "errored" | "missing", TorrentFile>;

async function untilState(hash: string, state: string) {
  return eventually(
    async () => {
      const [x] = await client.torrents({ hashes: [hash] });
      return x?.state === state ? x : undefined;
    },
    20_000,
    `${hash} in ${state}`,
  );
}

describe.skipIf(!runnable)("qbit-check against a real qBittorrent", () => {
  beforeAll(async () => {
    tracker = await startTracker();
    qbit = await startQbittorrent({ asNobody: true });
    client = createQbitClient({ name: "qbittorrent", url: qbit.url, username: qbit.username, password: qbit.password });
    const dir = (name: string, owner: number) => {
      const d = join(qbit.dir, name);
      mkdirSync(d);
      if (owner === NOBODY) chownSync(d, NOBODY, NOBODY);
      else chmodSync(d, 0o755); // root's: qBittorrent (as nobody) cannot write there
      return d;
    };
    const seed = dir("seed", NOBODY);
    const missing = dir("missing", NOBODY);
    const locked = dir("locked", 0);
    const fresh = dir("fresh", NOBODY);
    const announce = tracker.announceUrl;
    t.healthy = makeTorrentFile({ name: "Healthy.Show.S01E01.mkv", announce, private: true });
    t.unregistered = makeTorrentFile({ name: "Gone.Show.S01E02.mkv", announce });
    t.missing = makeTorrentFile({ name: "Moved.Show.S01E03.mkv", announce });
    t.errored = makeTorrentFile({
      name: "Locked.Show.S01",
      announce,
      files: [
        { path: "Locked.Show.S01E04.mkv", data: Buffer.alloc(48 * 1024, 7) },
        { path: "Locked.Show.S01E04.nfo", data: Buffer.alloc(0) },
      ],
    });
    tracker.fail(t.unregistered.infoHash, "unregistered torrent");
    writePayload(t.healthy, seed, NOBODY);
    writePayload(t.missing, missing, NOBODY);
    await qbit.addTorrentFile(t.healthy, { savepath: seed, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.unregistered, { savepath: fresh, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.errored, { savepath: locked, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.missing, { savepath: missing, category: "tv-sonarr" });
    await untilState(t.missing.infoHash, "stalledUP");
    rmSync(join(missing, t.missing.name));
    // qBittorrent 4.5 notices missing files when it loads its resume data.
    await qbit.restart();
    await untilState(t.missing.infoHash, "missingFiles");
    await untilState(t.errored.infoHash, "error");
    await untilState(t.healthy.infoHash, "stalledUP");
    await eventually(async () => ((await client.trackers(t.unregistered.infoHash))[0]?.msg ? true : undefined));
    await eventually(async () => ((await client.trackers(t.healthy.infoHash))[0]?.status === 2 ? true : undefined));
    // The torrent's own `tracker` field is set by the next announce, after the tracker list says "working";
    // until then qbit-check rightly looks closer at it (no tracker in use), so wait for it too.
    await eventually(async () =>
      (await client.torrents({ hashes: [t.healthy.infoHash] }))[0]?.tracker ? true : undefined,
    );

    sonarr = createFakeArr("sonarr");
    const record = (id: number, episodeId: number, tf: TorrentFile) =>
      makeQueueRecord({ id, seriesId: 7, episodeId, downloadId: tf.infoHash.toUpperCase(), title: tf.name });
    sonarr.queue.push(
      record(1, 11, t.healthy),
      record(2, 22, t.unregistered),
      record(3, 33, t.errored),
      record(4, 44, t.missing),
    );
    db = await makeDb();
  }, 90_000);

  afterAll(async () => {
    await qbit?.stop();
    await tracker?.close();
    db?.close();
    if (qbit) rmSync(qbit.dir, { recursive: true, force: true });
  });

  it("classifies each one, acts after its strikes, and leaves the healthy one alone", async () => {
    const clients: Clients = {
      ...noClients(),
      qbit: [client],
      arr: [
        createArrClient(
          { name: "sonarr", kind: "sonarr", url: sonarr.baseUrl, apiKey: sonarr.apiKey },
          { fetch: sonarr.fetch as typeof fetch },
        ),
      ],
      notifier: () => ({
        enabled: true,
        add: (e) => events.push(e),
        pending: () => 0,
        flush: async () => ({ sent: 0, failed: 0 }),
      }),
    };
    const runner = makeRunner({ db, config: makeConfig({ DRY_RUN: "false" }), clients, jobs: [qbitCheck] });
    const first = await runner.run("qbit-check", { trigger: "test" });
    expect(first.status, first.error ?? "").toBe("succeeded");
    expect(first.summary).toMatchObject({ downloads: 4, candidates: 3, acted: 0, outages: [] });
    expect((first.summary as { classified: object }).classified).toEqual({ tracker: 1, file: 2 });
    const strikes = await db.execute("SELECT download_id, class, evidence FROM qbit_strikes ORDER BY download_id");
    const byHash = Object.fromEntries(strikes.rows.map((r) => [String(r.download_id), r]));
    expect(byHash[t.unregistered.infoHash]).toMatchObject({
      class: "tracker",
      evidence: "tracker: unregistered torrent",
    });
    expect(String(byHash[t.errored.infoHash]?.evidence)).toMatch(/^log: .*Permission denied/);
    expect(byHash[t.missing.infoHash]).toMatchObject({ class: "file", evidence: "state: state:missingfiles" });
    expect(byHash[t.healthy.infoHash]).toBeUndefined();
    expect(sonarr.deleted).toEqual([]);

    const second = await runner.run("qbit-check", { trigger: "test" });
    expect(second.summary).toMatchObject({ acted: 3 });
    expect(sonarr.deleted.map((d) => `${d.id}?${d.query}`).sort()).toEqual([
      "2?removeFromClient=false&blocklist=true&skipRedownload=true",
      "3?removeFromClient=true&blocklist=false&skipRedownload=true",
      "4?removeFromClient=true&blocklist=false&skipRedownload=true",
    ]);
    expect(sonarr.commands.map((c) => c.body)).toEqual([{ name: "EpisodeSearch", episodeIds: [22] }]);
    expect(events.map((e) => e.title).sort()).toEqual([`file: ${t.errored.name}`, `file: ${t.missing.name}`]);
    // The healthy private torrent is still there, untouched; qbit-check itself never deletes in qBittorrent.
    expect((await client.torrents()).map((x) => x.hash)).toContain(t.healthy.infoHash);
  });
});
