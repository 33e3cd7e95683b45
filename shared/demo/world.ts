// The demo's made-up world: which RD torrents fail and how, which are cached, which one RD refuses as
// infringing, and the downloads Sonarr/Radarr hand to qBittorrent with one problem each.

import { type FakeQbit, makeQbitTorrent } from "../../test/fakes/qbittorrent.ts";
import { type FakeFile, type FakeTorrent, makeAccount, type RdStatus } from "../../test/fakes/real-debrid.ts";
import type { FakeArr, FakeMovie, FakeSeries } from "../../test/fakes/servarr.ts";
import { makeQueueRecord } from "../../test/fakes/servarr.ts";

/** Torrents in the demo account. */
export const ACCOUNT_SIZE = 300;

// Index in the account (0 = newest) of every torrent that is not simply downloaded.
const FAILING: Partial<Record<RdStatus, number[]>> = {
  dead: [3, 17, 41, 88, 150, 222],
  error: [5, 60, 133, 201],
  magnet_error: [9, 99, 250],
  virus: [12, 180],
  waiting_files_selection: [20, 140, 260],
  magnet_conversion: [25, 170, 280],
  downloading: [1, 2],
  queued: [4],
};

/** Downloaded torrents whose folder is missing from the mount: their library links are broken. */
export const MISSING_FROM_MOUNT = [30, 31, 33, 45];
/** A downloaded torrent missing from the mount that RD refuses (451) when it is added again. */
export const INFRINGING = 52;
/** A downloaded torrent whose folder is on the mount without its last episode. */
export const MISSING_FILE = 58;
/** Dead torrents the library still links to (Zurg no longer shows them). */
export const DEAD_IN_LIBRARY = [3, 17, 41];
/** Newest torrents that have files in the library (Sonarr/Radarr know them). */
export const LIBRARY_SPAN = 60;
// Re-adding these finds them cached on RD, so a repair in real mode completes at once.
const CACHED = [3, 17, 41, 5, 60, 9, 20, 25, ...MISSING_FROM_MOUNT, MISSING_FILE];

/** The RD account with its failures, the files RD knows per hash, the cached hashes, and the 451 one. */
export function buildAccount() {
  const statusOf = new Map<number, RdStatus>();
  for (const [status, list] of Object.entries(FAILING)) for (const i of list ?? []) statusOf.set(i, status as RdStatus);
  // Same indexes give the same ids and hashes: the healthy copy holds the files a failed one lost.
  const healthy = makeAccount(ACCOUNT_SIZE);
  const torrents = makeAccount(ACCOUNT_SIZE, { statusOf: (i) => statusOf.get(i) ?? "downloaded" });
  const catalog = new Map<string, FakeFile[]>();
  for (const i of statusOf.keys()) {
    const t = healthy[i];
    if (t) catalog.set(t.hash, t.files);
  }
  const hashAt = (i: number) => torrents[i]?.hash ?? "";
  return {
    torrents,
    catalog,
    cached: new Set(CACHED.map(hashAt)),
    infringingHash: hashAt(INFRINGING),
    /** The torrents that failed, by status, for the demo's printout and tests. */
    failing: Object.fromEntries(Object.entries(FAILING).map(([s, list]) => [s, (list ?? []).length])),
  };
}

/** Index of a makeAccount torrent from its name (Fake.Show.<n>… / Fake.Movie.<n>…). */
export function indexOf(t: FakeTorrent): number {
  return Number(/^Fake\.(?:Show|Movie)\.(\d+)\./.exec(t.filename)?.[1] ?? -1);
}

interface Problem {
  name: string;
  state: string;
  /** Tracker message when no tracker works. */
  trackerMsg?: string;
  /** A reason qBittorrent logs for the torrent. */
  logReason?: string;
  /** What the *arr says about the queue item. */
  arrMessage?: string;
}

// One download per problem class qbit-check knows, plus a healthy one and a harmless tracker hiccup.
const SONARR_DOWNLOADS: Problem[] = [
  { name: "Demo.Show.S02E01.1080p.WEB.h264-UNREG", state: "stalledDL", trackerMsg: "Unregistered torrent" },
  { name: "Demo.Show.S02E02.1080p.WEB.h264-STALL", state: "stalledDL" },
  { name: "Demo.Show.S02E03.1080p.WEB.h264-DISK", state: "error", logReason: "No space left on device" },
  { name: "Demo.Show.S02E04.1080p.WEB.h264-RATIO", state: "pausedUP", arrMessage: "Ratio limit reached" },
  { name: "Demo.Show.S02E05.1080p.WEB.h264-META", state: "metaDL" },
  { name: "Demo.Show.S02E06.1080p.WEB.h264-TIMEOUT", state: "stalledDL", trackerMsg: "Connection timed out" },
  { name: "Demo.Show.S02E07.1080p.WEB.h264-DOWN", state: "stalledDL", trackerMsg: "Tracker is down" },
  { name: "Demo.Show.S02E08.1080p.WEB.h264-OK", state: "downloading" },
];
const RADARR_DOWNLOADS: Problem[] = [
  { name: "Demo.Movie.2024.1080p.BluRay.x264-GONE", state: "missingFiles" },
  { name: "Demo.Movie.2023.1080p.BluRay.x264-PASSKEY", state: "stalledDL", trackerMsg: "Invalid passkey" },
  { name: "Demo.Movie.2022.1080p.BluRay.x264-ERR", state: "error" },
];

/** Puts the problem downloads in qBittorrent and in the Sonarr/Radarr queues, joined by hash. */
export function addDownloads(
  qbit: FakeQbit,
  sonarr: FakeArr,
  radarr: FakeArr,
  owners: { series: FakeSeries[]; movies: FakeMovie[] },
): void {
  const add = (arr: FakeArr, p: Problem, i: number) => {
    const category = arr.kind === "sonarr" ? "tv-sonarr" : "radarr";
    const t = makeQbitTorrent({
      name: p.name,
      state: p.state,
      category,
      savePath: `/downloads/${category}`,
      contentPath: `/downloads/${category}/${p.name}`,
      progress: p.state === "pausedUP" ? 1 : 0.4,
      amountLeft: p.state === "pausedUP" ? 0 : 900_000_000,
      tracker: p.trackerMsg ? "" : "https://tracker.example/announce",
    });
    qbit.torrents.push(t);
    if (p.trackerMsg) {
      qbit.trackers.set(t.hash, [{ url: "https://tracker.example/announce", status: 4, msg: p.trackerMsg, tier: 0 }]);
    }
    if (p.logReason) {
      qbit.addLog(
        `File error alert. Torrent: "${p.name}". File: "${t.contentPath}/${p.name}.mkv". Reason: "${p.logReason}"`,
        4,
      );
    }
    const owner =
      arr.kind === "sonarr"
        ? { seriesId: owners.series[i % owners.series.length]?.id, episodeId: 90_000 + i, seasonNumber: 2 }
        : { movieId: owners.movies[i % owners.movies.length]?.id };
    arr.queue.push(
      makeQueueRecord({
        ...owner,
        title: p.name,
        downloadId: t.hash.toUpperCase(),
        downloadClient: "qBittorrent",
        status: p.state === "downloading" ? "downloading" : "warning",
        trackedDownloadStatus: p.arrMessage ? "warning" : "ok",
        statusMessages: p.arrMessage ? [{ title: p.name, messages: [p.arrMessage] }] : [],
      }),
    );
  };
  for (const [i, p] of SONARR_DOWNLOADS.entries()) add(sonarr, p, i);
  for (const [i, p] of RADARR_DOWNLOADS.entries()) add(radarr, p, i);
}
