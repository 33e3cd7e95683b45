// Docker discovery (DOCKER_SOCKET): qBittorrent, Sonarr and Radarr containers found on the read-only
// socket fill in the kinds that were not configured by URL, as the seed's monitor did.

import { resolveArrInstances } from "./clients/arr-config.ts";
import { createDockerClient, discoverFromDocker } from "./clients/docker.ts";
import type { QbitInstance } from "./clients/qbittorrent.ts";
import type { ArrInstance } from "./clients/servarr.ts";
import type { Config } from "./config.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./log.ts";

/** The instances to use: configured ones, plus discovered ones for kinds with none configured. */
export async function resolveInstances(
  config: Config,
  log: Logger,
): Promise<{ arr: ArrInstance[]; qbit: QbitInstance[] }> {
  const arr = await resolveArrInstances(config.arr);
  const qbit: QbitInstance[] = config.qbit.map((q) => ({ ...q }));
  if (!config.DOCKER_SOCKET) return { arr, qbit };
  try {
    const docker = createDockerClient({ socketPath: config.DOCKER_SOCKET });
    const found = await discoverFromDocker(
      docker,
      config.DOCKER_NETWORK ? { network: config.DOCKER_NETWORK } : {},
      AbortSignal.timeout(15_000),
    );
    const has = (kind: string) => (kind === "qbittorrent" ? qbit.length > 0 : arr.some((a) => a.kind === kind));
    const fill = new Set(["qbittorrent", "sonarr", "radarr"].filter((k) => !has(k)));
    for (const s of found) {
      if (!fill.has(s.kind)) continue;
      if (s.kind === "qbittorrent") {
        const n = qbit.length + 1;
        qbit.push({ name: n === 1 ? "qbittorrent" : `qbittorrent-${n}`, url: s.url });
        continue;
      }
      if (!s.configXmlHostPath) {
        log.warn("Found a container but no config.xml to read its API key from; set its URL and key.", { ...s });
        continue;
      }
      const n = arr.filter((a) => a.kind === s.kind).length + 1;
      const name = n === 1 ? s.kind : `${s.kind}-${n}`;
      try {
        const [resolved] = await resolveArrInstances([
          { name, kind: s.kind, url: s.url, configXml: s.configXmlHostPath },
        ]);
        if (resolved) arr.push(resolved);
      } catch (err) {
        log.warn("Found a container but could not read its API key.", { ...s, error: errorMessage(err) });
      }
    }
    log.info("Docker discovery", {
      found: found.map((s) => `${s.kind} ${s.url}`),
      used: { arr: arr.length, qbit: qbit.length },
    });
  } catch (err) {
    // Discovery is a convenience: without it, the configured instances still run.
    log.error("Docker discovery failed; using the configured instances only.", { error: errorMessage(err) });
  }
  return { arr, qbit };
}
