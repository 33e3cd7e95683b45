import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createQbitClient,
  QbitAuthError,
  type QbitClient,
  type QbitTorrent,
} from "../../shared/clients/qbittorrent.ts";
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
// Running qBit as nobody (for a real permission error) needs root; the binary comes from apt (qbittorrent-nox).
const runnable = process.getuid?.() === 0 && hasBinary("qbittorrent-nox");

let qbit: RealQbit;
let tracker: LoopbackTracker;
let client: QbitClient;
const sent: string[] = [];
const t = {} as Record<"healthy" | "unregistered" | "errored" | "missing", TorrentFile>;
const dirs = { seed: "", unregistered: "", locked: "", missing: "" };

function hasBinary(name: string): boolean {
  try {
    execFileSync("which", [name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Polls the client until the torrent is listed in `state` (the last one seen is in the failure message). */
async function untilState(hash: string, state: string): Promise<QbitTorrent> {
  let last: QbitTorrent | undefined;
  try {
    return await eventually(async () => {
      [last] = await client.torrents({ hashes: [hash] });
      return last?.state === state ? last : undefined;
    }, 15_000);
  } catch {
    throw new Error(`torrent ${hash} never reached ${state}; last seen ${JSON.stringify(last)}`);
  }
}

describe.skipIf(!runnable)("a real qBittorrent 4.5 through the client", () => {
  beforeAll(async () => {
    tracker = await startTracker();
    qbit = await startQbittorrent({ asNobody: true });
    const fetchLogged: typeof fetch = (input, init) => {
      sent.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    };
    client = createQbitClient(
      { name: "real", url: qbit.url, username: qbit.username, password: qbit.password },
      { fetch: fetchLogged },
    );
    for (const name of ["seed", "unregistered", "missing", "locked"] as const) {
      dirs[name] = join(qbit.dir, name);
      mkdirSync(dirs[name]);
      // Everything belongs to qBit's user except `locked`: root's, 0755, so qBit cannot create files there.
      if (name === "locked") chmodSync(dirs[name], 0o755);
      else chownSync(dirs[name], NOBODY, NOBODY);
    }
    const announce = tracker.announceUrl;
    t.healthy = makeTorrentFile({ name: "Healthy.Show.S01E01.mkv", announce, private: true });
    t.unregistered = makeTorrentFile({ name: "Gone.Show.S01E02.mkv", announce });
    t.missing = makeTorrentFile({ name: "Moved.Show.S01E03.mkv", announce });
    // libtorrent 2.0 creates zero-length files when the torrent starts, so this fails at once without any peer.
    t.errored = makeTorrentFile({
      name: "Locked.Show.S01",
      announce,
      files: [
        { path: "Locked.Show.S01E04.mkv", data: Buffer.alloc(48 * 1024, 7) },
        { path: "Locked.Show.S01E04.nfo", data: Buffer.alloc(0) },
      ],
    });
    tracker.fail(t.unregistered.infoHash, "unregistered torrent");
    writePayload(t.healthy, dirs.seed, NOBODY);
    writePayload(t.missing, dirs.missing, NOBODY);
    await qbit.addTorrentFile(t.healthy, { savepath: dirs.seed, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.unregistered, { savepath: dirs.unregistered, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.errored, { savepath: dirs.locked, category: "tv-sonarr" });
    await qbit.addTorrentFile(t.missing, { savepath: dirs.missing, category: "tv-sonarr" });
  });

  afterAll(async () => {
    await qbit?.stop();
    await tracker?.close();
    if (qbit) rmSync(qbit.dir, { recursive: true, force: true });
  });

  it("reads the versions and the connection status", async () => {
    expect(await client.version()).toEqual({ app: "4.5.2", webapi: "2.8.19" });
    expect(["connected", "firewalled", "disconnected"]).toContain((await client.serverState()).connectionStatus);
    expect(sent.filter((s) => s.endsWith("/auth/login"))).toHaveLength(1);
  });

  it("(d) sees a healthy seeding torrent: complete, its tracker working", async () => {
    const hash = t.healthy.infoHash;
    const torrent = await untilState(hash, "stalledUP");
    expect(torrent).toMatchObject({
      hash,
      name: t.healthy.name,
      category: "tv-sonarr",
      progress: 1,
      amountLeft: 0,
      size: t.healthy.files[0]?.data.length,
      savePath: dirs.seed,
      contentPath: join(dirs.seed, t.healthy.name),
      // 4.5 has no `private` in torrents/info …
      isPrivate: null,
    });
    expect(Math.abs(torrent.addedOn - Date.now())).toBeLessThan(60_000);
    // … but torrents/properties has is_private.
    expect(await client.properties(hash)).toEqual({ isPrivate: true, savePath: dirs.seed });
    const trackers = await eventually(async () => {
      const list = await client.trackers(hash);
      return list[0]?.status === 2 ? list : undefined;
    });
    expect(trackers).toEqual([{ url: tracker.announceUrl, status: 2, msg: "", tier: 0 }]);
    expect(tracker.announces).toContainEqual({ infoHash: hash, event: "started" });
  });

  it("(c) sees the tracker answer 'unregistered torrent' in trackers()", async () => {
    const hash = t.unregistered.infoHash;
    const trackers = await eventually(async () => {
      const list = await client.trackers(hash);
      return list[0]?.msg ? list : undefined;
    });
    expect(trackers).toEqual([{ url: tracker.announceUrl, status: 4, msg: "unregistered torrent", tier: 0 }]);
    expect((await client.torrents({ hashes: [hash] }))[0]).toMatchObject({ state: "stalledDL", progress: 0 });
  });

  it("(a) sees a torrent in state error, and the reason in the main log", async () => {
    const torrent = await untilState(t.errored.infoHash, "error");
    expect(torrent.savePath).toBe(dirs.locked);
    const log = await client.log(null);
    const alert = log.find((e) => e.message.startsWith(`File error alert. Torrent: "${t.errored.name}"`));
    expect(alert?.message).toMatch(/Reason: ".*Permission denied"/);
    expect(alert?.type).toBe(4);
    expect(Math.abs((alert?.timestamp ?? 0) - Date.now())).toBeLessThan(60_000);
    const lastId = log.at(-1)?.id ?? -1;
    expect((await client.log(lastId)).every((e) => e.id > lastId)).toBe(true);
  });

  it("tags and deletes through the form bodies qBit accepts", async () => {
    const hash = t.unregistered.infoHash;
    await client.addTags([hash, t.errored.infoHash], ["rdtm-unregistered", "rdtm seen"]);
    const tagged = await client.torrents({ tag: "rdtm-unregistered" });
    expect(tagged.map((x) => x.hash).sort()).toEqual([hash, t.errored.infoHash].sort());
    expect(tagged[0]?.tags.sort()).toEqual(["rdtm seen", "rdtm-unregistered"]);
    await client.deleteTorrents([hash], false);
    await eventually(async () => ((await client.torrents({ hashes: [hash] })).length === 0 ? true : undefined));
    expect((await client.torrents()).map((x) => x.name).sort()).toEqual(
      [t.errored.name, t.healthy.name, t.missing.name].sort(),
    );
  });

  it("(b) sees missingFiles after the data went away and qBit restarted, logging in again by itself", async () => {
    const hash = t.missing.infoHash;
    await untilState(hash, "stalledUP");
    rmSync(join(dirs.missing, t.missing.name));
    // 4.5 only notices on loading its resume data: a recheck would just start downloading again from 0 %.
    await qbit.restart();
    const logins = sent.filter((s) => s.endsWith("/auth/login")).length;
    const torrent = await untilState(hash, "missingFiles");
    expect(torrent.progress).toBe(0);
    // The old SID died with the process: one 403, one new login.
    expect(sent.filter((s) => s.endsWith("/auth/login")).length).toBe(logins + 1);
    const log = await client.log(null);
    expect(log.map((e) => e.message)).toContainEqual(
      expect.stringMatching(new RegExp(`Failed to restore torrent.*${t.missing.name}.*mismatching file size`)),
    );
  });

  it("latches a refused login: one attempt reaches qBit, later calls send nothing", async () => {
    let requests = 0;
    const wrong = createQbitClient(
      { name: "wrong", url: qbit.url, username: qbit.username, password: "not-the-password" },
      {
        fetch: (input, init) => {
          requests++;
          return fetch(input, init);
        },
      },
    );
    const err = await wrong.torrents().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QbitAuthError);
    await expect(wrong.log(null)).rejects.toBe(err);
    await expect(wrong.deleteTorrents([t.healthy.infoHash], true)).rejects.toBe(err);
    expect(requests).toBe(1);
    const failures = (await client.log(null)).filter((e) => e.message.startsWith("WebAPI login failure"));
    expect(failures).toHaveLength(1);
    expect((await client.torrents({ hashes: [t.healthy.infoHash] })).length).toBe(1);
  });
});
