import { listenLoopback } from "../../test/fakes/loopback.ts";
// The demo's services: the test fakes of Real-Debrid, Sonarr, Radarr, qBittorrent and Plex, filled with
// the demo world and listening on 127.0.0.1.

import { createFakePlex, makeSection } from "../../test/fakes/plex.ts";
import { createFakeQbit } from "../../test/fakes/qbittorrent.ts";
import { createFakeRealDebrid } from "../../test/fakes/real-debrid.ts";
import { parseMagnet } from "../../test/fakes/real-debrid-data.ts";
import { createFakeArr } from "../../test/fakes/servarr.ts";
import { libraryPaths, writeLibrary, writeMount } from "./library.ts";
import {
  addDownloads,
  buildAccount,
  DEAD_IN_LIBRARY,
  INFRINGING,
  indexOf,
  LIBRARY_SPAN,
  MISSING_FILE,
  MISSING_FROM_MOUNT,
} from "./world.ts";

/** One request a fake received. */
export interface DemoRequest {
  service: string;
  method: string;
  path: string;
  status: number;
}

/** Credentials the fakes accept; RDTM is configured with them. */
export const FAKE_CREDENTIALS = {
  rdToken: "demo-rd-token-0123",
  arrKey: "demo-arr-api-key",
  qbitUser: "admin",
  qbitPassword: "adminadmin",
  plexToken: "demo-plex-token",
};

/** Writes the mount and library under `dir`, fills the fakes and starts them. */
export async function startFakes(dir: string) {
  const account = buildAccount();
  const rd = createFakeRealDebrid({ token: FAKE_CREDENTIALS.rdToken });
  rd.add(...account.torrents);
  for (const [hash, files] of account.catalog) rd.catalog.set(hash, files);
  for (const hash of account.cached) rd.cached.add(hash);
  // Stuck torrents count as active on RD: leave room so real-mode repairs are not all refused (509).
  rd.activeLimit = 100;

  const at = (i: number) => account.torrents[i];
  const hashes = (list: number[]) => new Set(list.map((i) => at(i)?.hash ?? ""));
  const downloaded = account.torrents.filter((t) => t.status === "downloaded");
  const paths = libraryPaths(dir);
  writeMount(paths.mount, downloaded, hashes([...MISSING_FROM_MOUNT, INFRINGING]), hashes([MISSING_FILE]));
  const inLibrary = account.torrents.filter(
    (t) => (t.status === "downloaded" && indexOf(t) < LIBRARY_SPAN) || DEAD_IN_LIBRARY.includes(indexOf(t)),
  );
  const records = writeLibrary(dir, inLibrary);

  const sonarr = createFakeArr("sonarr", { apiKey: FAKE_CREDENTIALS.arrKey });
  const radarr = createFakeArr("radarr", { apiKey: FAKE_CREDENTIALS.arrKey });
  sonarr.series.push(...records.series);
  sonarr.episodeFiles.push(...records.episodeFiles);
  sonarr.rootFolders = [paths.tv];
  radarr.movies.push(...records.movies);
  radarr.rootFolders = [paths.movies];
  const qbit = createFakeQbit({ username: FAKE_CREDENTIALS.qbitUser, password: FAKE_CREDENTIALS.qbitPassword });
  addDownloads(qbit, sonarr, radarr, records);
  const plex = createFakePlex({
    token: FAKE_CREDENTIALS.plexToken,
    sections: [
      makeSection({ key: "1", title: "TV Shows", type: "show", locations: [paths.tv] }),
      makeSection({ key: "2", title: "Movies", type: "movie", locations: [paths.movies] }),
    ],
  });

  const servers = await Promise.all([
    // RD refuses one hash as infringing (451) when it is added again: a one-shot fault set per request.
    listenLoopback(async (req: Request) => {
      if (req.method === "POST" && new URL(req.url).pathname.endsWith("/torrents/addMagnet")) {
        const magnet = (await req.clone().formData()).get("magnet");
        if (typeof magnet === "string" && parseMagnet(magnet)?.hash === account.infringingHash) {
          rd.inject({ fault: { kind: "status", status: 451 }, method: "POST", path: /^\/torrents\/addMagnet$/ });
        }
      }
      return rd.app.fetch(req);
    }),
    sonarr.listen(),
    radarr.listen(),
    qbit.listen(),
    plex.listen(),
  ]);
  const [rdServer, sonarrServer, radarrServer, qbitServer, plexServer] = servers;
  const tagged = (service: string, list: readonly { method: string; path: string; status: number }[]) =>
    list.map((r): DemoRequest => ({ service, method: r.method, path: r.path, status: r.status }));
  return {
    account,
    urls: {
      rd: `${rdServer.url}/rest/1.0`,
      sonarr: sonarrServer.url,
      radarr: radarrServer.url,
      qbit: qbitServer.url,
      plex: plexServer.url,
    },
    /** Every request the fakes received so far. */
    requests: (): DemoRequest[] => [
      ...tagged("real-debrid", rd.requests),
      ...tagged("sonarr", sonarr.requests),
      ...tagged("radarr", radarr.requests),
      ...tagged("qbittorrent", qbit.requests),
      ...tagged("plex", plex.requests),
    ],
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
