// Matching fixtures shared by the tests and the match benchmark: named torrents stored as the scans
// store them, and broken links whose target names a torrent.
import type { Db } from "../../shared/db.ts";
import type { TorrentRef } from "../../shared/library/match.ts";
import type { BrokenLink } from "../../shared/library/record.ts";
import { upsertTorrents } from "../../shared/rd/store.ts";

/** Stores each torrent (its id and filename; downloaded, one link) as seen at `now`. */
export async function storeNamedTorrents(db: Db, torrents: readonly TorrentRef[], now: number): Promise<void> {
  await upsertTorrents(
    db,
    torrents.map((t, i) => ({
      id: t.id,
      hash: i.toString(16).padStart(40, "0"),
      filename: t.filename,
      status: "downloaded",
      bytes: 1,
      progress: 100,
      links: 1,
      addedAt: now - i * 1000,
      endedAt: null,
    })),
    now,
    1,
    { count: false },
  );
}

/** One unmatched broken link per name, its target in the torrent folder of that name. */
export function brokenLinksTo(names: readonly string[]): BrokenLink[] {
  return names.map((name, i) => ({
    path: `/library/${i}.mkv`,
    root: "/library",
    target: `/mnt/__all__/${name}/${i}.mkv`,
    reason: "missing_torrent",
    torrentName: name,
    matchedTorrentId: null,
    matchKind: null,
  }));
}
