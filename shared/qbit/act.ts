// What qbit-check does about a download once a rule's strikes are reached. Every call is journaled
// before it is made (`pending`, then `done`/`failed`); a dry run journals it as `planned` and sends nothing.

import type { NotifyEvent } from "../clients/notify.ts";
import type { QbitClient, QbitTorrent } from "../clients/qbittorrent.ts";
import type { Db } from "../db.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { actionClose, actionInsert } from "../repair/store.ts";
import type { Download } from "./check.ts";
import type { Strike, Verdict } from "./classify.ts";
import type { QbitAction } from "./rules.ts";

export interface ActDeps {
  db: Db;
  dryRun: boolean;
  runId: string;
  job: string;
  /** Delete private-tracker torrents from the client too (hit-and-run risk); default no. */
  deletePrivate: boolean;
  log: Logger;
  now: number;
  signal: AbortSignal;
  onEvent: (e: NotifyEvent) => void;
}

/** What each action sends to the *arr. */
const PLAN: Record<
  QbitAction,
  { remove: boolean; fromClient: boolean; blocklist: boolean; search: boolean; alert: boolean }
> = {
  remove_blocklist_search: { remove: true, fromClient: true, blocklist: true, search: true, alert: false },
  blocklist_search: { remove: true, fromClient: false, blocklist: true, search: true, alert: false },
  remove_search: { remove: true, fromClient: true, blocklist: false, search: true, alert: false },
  remove_alert: { remove: true, fromClient: true, blocklist: false, search: false, alert: true },
  blocklist: { remove: true, fromClient: false, blocklist: true, search: false, alert: false },
  alert: { remove: false, fromClient: false, blocklist: false, search: false, alert: true },
  ignore: { remove: false, fromClient: false, blocklist: false, search: false, alert: false },
};

/** Takes the action of the verdict's rule; returns how many journal entries it wrote. */
export async function act(
  deps: ActDeps,
  x: {
    download: Download;
    torrent: { client: QbitClient; torrent: QbitTorrent } | null;
    verdict: Verdict;
    strike: Strike;
  },
): Promise<number> {
  const { download: d, verdict } = x;
  const plan = PLAN[verdict.rule.action];
  const arr = d.arr;
  const first = d.records[0];
  if (!first) return 0;
  let entries = 0;
  const why = {
    class: verdict.rule.class,
    action: verdict.rule.action,
    evidence: `${verdict.source}: ${verdict.text}`,
    strikes: x.strike.strikes,
  };

  const step = async (kind: string, target: string, detail: Record<string, unknown>, run: () => Promise<void>) => {
    entries++;
    const entry = { runId: deps.runId, job: deps.job, kind, target, detail: { ...why, ...detail } };
    if (deps.dryRun) {
      await deps.db.execute(actionInsert(entry, "planned", deps.now));
      return;
    }
    const rs = await deps.db.execute(actionInsert(entry, "pending", deps.now));
    const id = Number(rs.rows[0]?.id);
    try {
      await run();
      await deps.db.execute(actionClose(id, "done", Date.now()));
    } catch (err) {
      await deps.db.execute(actionClose(id, "failed", Date.now(), errorMessage(err)));
      throw err;
    }
  };

  if (plan.remove) {
    let fromClient = plan.fromClient;
    let protectedPrivate = false;
    if (fromClient && !deps.deletePrivate && x.torrent) {
      // Private trackers punish a torrent deleted before its seeding time (hit-and-run): keep it seeding.
      const known = x.torrent.torrent.isPrivate;
      const isPrivate = known ?? (await x.torrent.client.properties(d.downloadId, deps.signal)).isPrivate;
      // Unknown counts as private: a public torrent left seeding costs little, a hit-and-run costs the account.
      if (isPrivate !== false) {
        fromClient = false;
        protectedPrivate = true;
      }
    }
    await step(
      "arr_queue_remove",
      `${arr.instance.name}:queue:${first.id}`,
      {
        downloadId: d.downloadId,
        title: d.title,
        removeFromClient: fromClient,
        blocklist: plan.blocklist,
        protectedPrivate,
      },
      () =>
        arr.removeQueueItem(
          first.id,
          // The *arr's own re-search is switched off: RDTM searches for exactly the affected items below.
          { removeFromClient: fromClient, blocklist: plan.blocklist, skipRedownload: true },
          deps.signal,
        ),
    );
  }
  if (plan.search) {
    const owner = searchTarget(d);
    if (owner) {
      await step(
        "arr_search",
        `${arr.instance.name}:${owner.itemId}:${owner.episodeIds.join(",")}`,
        { downloadId: d.downloadId, ...owner },
        async () => {
          await arr.search(owner, deps.signal);
        },
      );
    } else {
      deps.log.warn("No series/movie to search for this download.", { arr: arr.instance.name, title: d.title });
    }
  }
  if (plan.alert) {
    entries++;
    deps.onEvent({
      kind: "download_problem",
      title: `${verdict.rule.class}: ${d.title}`,
      detail: `${verdict.source}: ${verdict.text}${plan.remove ? " (removed from the queue)" : ""}`,
      at: deps.now,
      fields: { arr: arr.instance.name, strikes: x.strike.strikes },
    });
  }
  return entries;
}

/** Sonarr: the series and exactly the episodes of the download; Radarr: the movie. */
export function searchTarget(d: Download): { itemId: number; episodeIds: number[] } | null {
  const first = d.records[0];
  if (!first) return null;
  if (d.arr.instance.kind === "radarr")
    return first.movieId === undefined ? null : { itemId: first.movieId, episodeIds: [] };
  const episodes = [...new Set(d.records.map((r) => r.episodeId).filter((e): e is number => e !== undefined))].sort(
    (a, b) => a - b,
  );
  if (first.seriesId === undefined || episodes.length === 0) return null;
  return { itemId: first.seriesId, episodeIds: episodes };
}
