import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeDockerEngine, type FakeDockerEngine, makeContainer } from "../test/fakes/docker-engine.ts";
import { makeConfig, makeLog } from "../test/helpers/factories.ts";
import { tempDir } from "../test/helpers/processes.ts";
import { resolveInstances } from "./discovery.ts";

let engine: FakeDockerEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe("resolveInstances", () => {
  it("fills the kinds not configured by URL from Docker, reads the *arr key from its config.xml, and only reads", async () => {
    const dir = tempDir("rdtm-disco-");
    const radarrConfig = join(dir, "radarr");
    mkdirSync(radarrConfig);
    writeFileSync(
      join(radarrConfig, "config.xml"),
      "<Config><ApiKey>0123456789abcdef0123456789abcdef</ApiKey></Config>",
    );
    engine = await createFakeDockerEngine([
      makeContainer({
        name: "qbittorrent",
        image: "lscr.io/linuxserver/qbittorrent:latest",
        ports: [8080],
        networks: { traefik_proxy: "172.20.0.5" },
      }),
      makeContainer({
        name: "sonarr",
        image: "lscr.io/linuxserver/sonarr",
        ports: [8989],
        networks: { traefik_proxy: "172.20.0.6" },
      }),
      makeContainer({
        name: "radarr",
        image: "ghcr.io/hotio/radarr:release",
        ports: [7878],
        networks: { traefik_proxy: "172.20.0.7" },
        mounts: { "/config": radarrConfig },
      }),
    ]);
    const config = makeConfig({
      DOCKER_SOCKET: engine.socketPath,
      DOCKER_NETWORK: "traefik_proxy",
      SONARR_URL: "http://my-sonarr:8989",
      SONARR_API_KEY: "configured-sonarr-key-0123",
    });
    const log = makeLog();
    const got = await resolveInstances(config, log);
    expect(got.qbit).toEqual([{ name: "qbittorrent", url: "http://qbittorrent:8080" }]);
    // Sonarr was configured: the configured one wins, the container is not added.
    expect(got.arr).toEqual([
      { name: "sonarr", kind: "sonarr", url: "http://my-sonarr:8989", apiKey: "configured-sonarr-key-0123" },
      { name: "radarr", kind: "radarr", url: "http://radarr:7878", apiKey: "0123456789abcdef0123456789abcdef" },
    ]);
    expect(new Set(engine.requests.map((r) => r.method))).toEqual(new Set(["GET"]));
  });

  it("keeps the configured instances when the socket does not answer, and says why", async () => {
    const config = makeConfig({ DOCKER_SOCKET: "/nonexistent/docker.sock", QBIT_URL: "http://qbit:8080" });
    const log = makeLog();
    const got = await resolveInstances(config, log);
    expect(got.qbit).toEqual([{ name: "qbittorrent", url: "http://qbit:8080" }]);
    expect(
      log.lines.some((l) => String(l.msg ?? l.message ?? JSON.stringify(l)).includes("Docker discovery failed")),
    ).toBe(true);
  });
});
