// The qbit-check benchmark's services in their own process (their CPU is not counted as RDTM's): a fake
// qBittorrent with N torrents and two fake *arrs sharing N queue items, a twentieth of them in trouble.
// `node fake-qbit-server.mjs <n>` prints `READY <qbit url> <sonarr url> <radarr url>`; stdin EOF stops it.

import { createFakeQbit, makeQbitTorrent } from "../test/fakes/qbittorrent.ts";
import { createFakeArr, makeQueueRecord } from "../test/fakes/servarr.ts";

const N = Number(process.argv[2] ?? 5000);
const qbit = createFakeQbit();
const sonarr = createFakeArr("sonarr", { apiKey: "bench-sonarr-key-0123456789" });
const radarr = createFakeArr("radarr", { apiKey: "bench-radarr-key-0123456789" });
for (let i = 0; i < N; i++) {
  // 1 in 20: no tracker works and the tracker says why; 1 in 40 of those is merely "down".
  const trouble = i % 20 === 0;
  const t = makeQbitTorrent({ state: trouble ? "stalledDL" : "downloading", tracker: trouble ? "" : "https://t/a" });
  qbit.torrents.push(t);
  if (trouble) {
    const msg = i % 40 === 0 ? "Tracker is down" : "Unregistered torrent";
    qbit.trackers.set(t.hash, [{ url: "https://t/announce", status: 4, msg, tier: 0 }]);
  }
  const record = { id: i + 1, downloadId: t.hash.toUpperCase(), title: t.name };
  if (i % 2 === 0) sonarr.queue.push(makeQueueRecord({ ...record, seriesId: 1 + (i % 300), episodeId: 10_000 + i }));
  else radarr.queue.push(makeQueueRecord({ ...record, movieId: 1 + i }));
}
const servers = await Promise.all([qbit.listen(), sonarr.listen(), radarr.listen()]);
process.stdout.write(`READY ${servers.map((s) => s.url).join(" ")}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await Promise.all(servers.map((s) => s.close()));
  process.exit(0);
});
