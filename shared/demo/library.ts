// The demo's files: a sample mount laid out like Zurg's (<mnt>/__all__/<torrent>/<file>, empty files)
// and a Plex-style library of symlinks into it, registered in the fake Sonarr and Radarr.

import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { FakeTorrent } from "../../test/fakes/real-debrid.ts";
import type { FakeEpisodeFile, FakeMovie, FakeSeries } from "../../test/fakes/servarr.ts";

/** Where the demo's library roots and mount are under its folder. */
export function libraryPaths(dir: string) {
  return { tv: join(dir, "library", "tv"), movies: join(dir, "library", "movies"), mount: join(dir, "mnt") };
}

const mediaFiles = (t: FakeTorrent) =>
  t.files.filter((f) => f.selected === 1 && f.path.endsWith(".mkv")).map((f) => basename(f.path));

/**
 * Writes one folder per torrent under <mount>/__all__ with its selected files, leaving out the
 * torrents in `missing` entirely and the last file of those in `missingFile`.
 */
export function writeMount(
  mount: string,
  torrents: readonly FakeTorrent[],
  missing: Set<string>,
  missingFile: Set<string>,
) {
  mkdirSync(join(mount, "__all__"), { recursive: true });
  for (const t of torrents) {
    if (missing.has(t.hash)) continue;
    const folder = join(mount, "__all__", t.filename);
    mkdirSync(folder, { recursive: true });
    const files = mediaFiles(t);
    for (const f of missingFile.has(t.hash) ? files.slice(0, -1) : files) writeFileSync(join(folder, f), "");
  }
}

/** What Sonarr and Radarr hold after the library is written. */
export interface LibraryRecords {
  series: FakeSeries[];
  episodeFiles: FakeEpisodeFile[];
  movies: FakeMovie[];
}

// Ids of the demo's own records, apart from the fakes' factories so they never collide.
let nextId = 5_000;

/** Links every selected file of `torrents` into the library the way Sonarr/Radarr name them. */
export function writeLibrary(dir: string, torrents: readonly FakeTorrent[]): LibraryRecords {
  const paths = libraryPaths(dir);
  const out: LibraryRecords = { series: [], episodeFiles: [], movies: [] };
  for (const t of torrents) {
    const m = /^Fake\.(Show|Movie)\.(\d+)\./.exec(t.filename);
    if (!m) continue;
    const target = (file: string) => join(paths.mount, "__all__", t.filename, file);
    if (m[1] === "Movie") {
      const title = `Fake Movie ${m[2]}`;
      const folder = join(paths.movies, `${title} (2021)`);
      const file = join(folder, `${title} (2021).mkv`);
      const [source] = mediaFiles(t);
      if (!source) continue;
      mkdirSync(folder, { recursive: true });
      symlinkSync(target(source), file);
      out.movies.push({ id: nextId++, title, path: folder, movieFile: { id: nextId++, path: file, size: t.bytes } });
      continue;
    }
    const title = `Fake Show ${m[2]}`;
    const series: FakeSeries = { id: nextId++, title, path: join(paths.tv, title) };
    const season = join(series.path, "Season 01");
    mkdirSync(season, { recursive: true });
    for (const source of mediaFiles(t)) {
      const episode = /S01E(\d\d)/.exec(source)?.[1] ?? "01";
      const file = join(season, `${title} - S01E${episode}.mkv`);
      symlinkSync(target(source), file);
      out.episodeFiles.push({ id: nextId++, seriesId: series.id, path: file, episodeIds: [nextId++], seasonNumber: 1 });
    }
    out.series.push(series);
  }
  return out;
}
