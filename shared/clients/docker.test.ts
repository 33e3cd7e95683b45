import { chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import {
  createFakeDockerEngine,
  type FakeDockerEngine,
  listenOnSocket,
  makeContainer,
} from "../../test/fakes/docker-engine.ts";
import { ConfigError, UpstreamError } from "../errors.ts";
import { MalformedResponseError } from "../validate.ts";
import { createDockerClient, type DockerContainer, discoverFromDocker, discoverServices } from "./docker.ts";

/** What listContainers rejects with (a list instead fails every assertion made on it). */
const listError = (socketPath: string, timeoutMs?: number) =>
  createDockerClient({ socketPath, timeoutMs })
    .listContainers()
    .catch((err) => err);

const STORAGE = "/settings/storage/docker/alice";
const qbit = makeContainer({
  name: "qbittorrent",
  image: "lscr.io/linuxserver/qbittorrent:4.6.2",
  ports: [8090, 6881],
  networks: { traefik_proxy: "172.18.0.2" },
  env: ["PUID=1000", "WEBUI_PORT=8090"],
  mounts: { "/config": `${STORAGE}/qbittorrent/config` },
});
const sonarr = makeContainer({
  name: "sonarr",
  image: "lscr.io/linuxserver/sonarr:latest",
  ports: [8989],
  networks: { traefik_proxy: "172.18.0.3" },
  mounts: { "/config": `${STORAGE}/sonarr/config`, "/tv": "/home/alice/tv" },
});
const radarr = makeContainer({
  name: "radarr",
  image: "ghcr.io/hotio/radarr:release",
  ports: [7878],
  networks: { traefik_proxy: "172.18.0.4" },
  mounts: { "/config/": `${STORAGE}/radarr/config/` },
});
const radarr4k = makeContainer({
  name: "radarr-4k",
  image: "lscr.io/linuxserver/radarr@sha256:5e1b2ad0c0e3f8c5",
  ports: [7878],
  networks: { bridge: "172.17.0.5", traefik_proxy: "172.18.0.5" },
});
const nginx = makeContainer({ name: "nginx", image: "nginx:1.25", networks: { traefik_proxy: "172.18.0.9" } });
const oldSonarr = makeContainer({ name: "sonarr-old", image: "linuxserver/sonarr", state: "exited", ports: [8989] });
const service = (c: DockerContainer, kind: string, url: string, configXmlHostPath?: string) => ({
  ...{ kind, name: c.Names[0]?.slice(1), url, containerId: c.Id },
  ...(configXmlHostPath ? { configXmlHostPath } : {}),
});

describe("Docker client against a fake Engine on a unix socket", () => {
  let fake: FakeDockerEngine;
  beforeEach(async () => {
    fake = await createFakeDockerEngine([radarr4k, nginx, sonarr, oldSonarr, radarr, qbit]);
  });
  afterEach(() => fake.close());

  it("lists running containers only, with the fields discovery reads", async () => {
    const listed = await createDockerClient({ socketPath: fake.socketPath }).listContainers();
    expect(listed.map((c) => c.Names[0])).toEqual(["/radarr-4k", "/nginx", "/sonarr", "/radarr", "/qbittorrent"]);
    expect(listed[2]).toEqual(sonarr);
    expect(fake.requests).toEqual([{ method: "GET", path: "/containers/json" }]);
  });

  it("discovers qBittorrent, Sonarr and both Radarrs by name on traefik_proxy, with only GETs", async () => {
    const docker = createDockerClient({ socketPath: fake.socketPath });
    expect(await discoverFromDocker(docker, { network: "traefik_proxy" })).toEqual([
      service(qbit, "qbittorrent", "http://qbittorrent:8090"),
      service(sonarr, "sonarr", "http://sonarr:8989", `${STORAGE}/sonarr/config/config.xml`),
      service(radarr, "radarr", "http://radarr:7878", `${STORAGE}/radarr/config/config.xml`),
      service(radarr4k, "radarr", "http://radarr-4k:7878"),
    ]);
    // Only qBittorrent is inspected (for WEBUI_PORT); nothing is ever written to the Engine.
    expect(fake.requests).toEqual([
      { method: "GET", path: "/containers/json" },
      { method: "GET", path: `/containers/${qbit.Id}/json` },
    ]);
  });

  it("uses the IP on the first network when the container is not on the given network", async () => {
    const docker = createDockerClient({ socketPath: fake.socketPath });
    for (const opts of [{}, { network: "other_net" }]) {
      const hosts = (await discoverFromDocker(docker, opts)).map((s) => s.url.replace("http://", ""));
      expect(hosts).toEqual(["172.18.0.2:8090", "172.18.0.3:8989", "172.18.0.4:7878", "172.17.0.5:7878"]);
    }
  });

  it("lets the rdtm.service label win over image and name", async () => {
    fake.containers = [
      makeContainer({ name: "media-tv", image: "registry.example/acme/tv:2", labels: { "rdtm.service": "sonarr" } }),
      makeContainer({ name: "films", image: "linuxserver/sonarr", labels: { "rdtm.service": "Radarr" } }),
      makeContainer({ name: "radarr", image: "linuxserver/radarr", labels: { "rdtm.service": "none" } }),
    ];
    const found = await discoverFromDocker(createDockerClient({ socketPath: fake.socketPath }));
    expect(found.map((s) => [s.kind, s.name, s.url])).toEqual([
      ["sonarr", "media-tv", "http://172.17.0.2:8989"],
      ["radarr", "films", "http://172.17.0.2:7878"],
    ]);
  });

  it("reports an Engine error with its message and status", async () => {
    fake.fault = { status: 500, body: '{"message":"Cannot connect to the containerd socket"}' };
    const err = await listError(fake.socketPath);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ service: "docker", status: 500 });
    expect(err.message).toContain("HTTP 500 Cannot connect to the containerd socket");
  });

  it.each([
    ["a body that is not JSON", "[{", /body is not JSON/],
    ["a container without Names", JSON.stringify([{ Id: "a", Image: "b", State: "running" }]), /response\[0\]\.Names/],
  ])("rejects %s as a malformed response", async (_, body, message) => {
    fake.fault = { status: 200, body };
    const err = await listError(fake.socketPath);
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect(err.message).toMatch(message);
  });

  it.skipIf(process.getuid?.() === 0)("names the socket when permission is denied", async () => {
    await chmod(fake.socketPath, 0o000);
    const err = await listError(fake.socketPath);
    expect(err).toMatchObject({ service: "docker", code: "EACCES" });
    expect(err.message).toContain(`permission denied on ${fake.socketPath}`);
  });
});

describe("Docker client on a socket that is not Docker", () => {
  it("names the missing socket path", async () => {
    const socketPath = join(tmpdir(), "rdtm-no-such-dir", "docker.sock");
    const err = await listError(socketPath);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ service: "docker", code: "ENOENT" });
    expect(err.message).toContain(`no Docker socket at ${socketPath}`);
  });

  it("says a server answering 404 HTML is not a Docker Engine API", async () => {
    const headers = { "Content-Type": "text/html" };
    const server = await listenOnSocket(
      () => new Response("<html><h1>404 Not Found</h1></html>", { status: 404, headers }),
    );
    onTestFinished(() => server.close());
    const err = await listError(server.socketPath);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ service: "docker", status: 404 });
    expect(err.message).toContain(`${server.socketPath} is not a Docker Engine API`);
  });

  it("gives up on a socket that never answers", async () => {
    const server = await listenOnSocket(() => new Promise<Response>(() => {}));
    onTestFinished(() => server.close());
    const err = await listError(server.socketPath, 100);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toContain(`no answer on ${server.socketPath} within 100 ms`);
  });
});

describe("discoverServices", () => {
  const kindOf = (spec: { name?: string; image?: string }) =>
    discoverServices([makeContainer({ name: "app", image: "sha256:3f4e9a0b", ...spec })])[0]?.kind ?? null;

  it.each([
    ["lscr.io/linuxserver/qbittorrent:latest", "qbittorrent"],
    ["ghcr.io/linuxserver/qbittorrent:4.6.2-r0-ls311", "qbittorrent"],
    ["hotio/qbittorrent:release-4.6.2", "qbittorrent"],
    ["qbittorrentofficial/qbittorrent-nox:4.6.2-1", "qbittorrent"],
    ["binhex/arch-qbittorrentvpn:latest", "qbittorrent"],
    ["qbittorrent", "qbittorrent"],
    ["lscr.io/linuxserver/sonarr:4.0.0@sha256:0123abcd", "sonarr"],
    ["ghcr.io/home-operations/sonarr:4", "sonarr"],
    ["registry.local:5000/sonarr", "sonarr"],
    ["hotio/radarr:nightly", "radarr"],
    ["radarr", "radarr"],
    ["nginx:1.25", null],
    ["ghcr.io/onedr0p/exportarr:v2", null],
    ["caseyscarborough/qbittorrent-exporter", null],
    ["ghcr.io/kesurof/qbittorrent-error-monitor/qbittorrent-monitor:ssdv2", null],
    ["lscr.io/linuxserver/overseerr", null],
    ["sha256:3f4e9a0b", null],
  ])("image %s → %s", (image, kind) => {
    expect(kindOf({ image })).toBe(kind);
  });

  it.each([
    ["sonarr", "sonarr"],
    ["media-sonarr-1", "sonarr"],
    ["radarr_4k", "radarr"],
    ["radarr2", "radarr"],
    ["qbittorrentvpn", "qbittorrent"],
    ["sonarr-exporter", null],
    ["qbittorrent-monitor", null],
    ["plex", null],
  ])("name %s (image id only) → %s", (name, kind) => {
    expect(kindOf({ name })).toBe(kind);
  });

  it.each([
    ["qbittorrent", [8080, 6881], [], 8080],
    ["qbittorrent", [8080], ["WEBUI_PORTS=8181/tcp,8181/udp"], 8181],
    ["sonarr", [], [], 8989],
    ["sonarr", [9000], [], 9000],
    ["sonarr", [9000, 9001], [], 8989],
    ["radarr", [9000, 7878], [], 7878],
  ])("%s exposing %j with env %j answers on %i", (image, ports, env, port) => {
    const x = makeContainer({ name: "x", image, ports, env, networks: { media: "10.0.0.2" } });
    const [found] = discoverServices([x], { network: "media" });
    expect(found?.url).toBe(`http://x:${port}`);
  });

  it("ignores stopped containers and ones without an address (host networking)", () => {
    const stopped = makeContainer({ name: "sonarr", image: "linuxserver/sonarr", state: "exited" });
    const host = makeContainer({ name: "radarr", image: "linuxserver/radarr", networks: { host: "" } });
    expect(discoverServices([stopped, host], { network: "host" })).toEqual([]);
    // Names resolve only on user-defined networks, so the default bridge gets the IP.
    const bridged = makeContainer({ name: "sonarr", image: "linuxserver/sonarr", networks: { bridge: "172.17.0.3" } });
    expect(discoverServices([bridged], { network: "bridge" })[0]?.url).toBe("http://172.17.0.3:8989");
  });

  it("reaches a qBittorrent sharing a VPN container's network through that container", () => {
    const vpn = makeContainer({ name: "gluetun", image: "qmcgaw/gluetun", networks: { traefik_proxy: "172.18.0.7" } });
    const q = makeContainer({
      name: "qbit",
      image: "hotio/qbittorrent",
      networks: {},
      networkMode: `container:${vpn.Id}`,
    });
    expect(discoverServices([vpn, q], { network: "traefik_proxy" })[0]?.url).toBe("http://gluetun:8080");
    expect(discoverServices([vpn, q])[0]?.url).toBe("http://172.18.0.7:8080");
  });

  it("finds config.xml through a file mount too, and not without a /config mount", () => {
    const file = makeContainer({ name: "sonarr", image: "sonarr", mounts: { "/config/config.xml": "/srv/xml" } });
    const none = makeContainer({ name: "radarr", image: "radarr", mounts: { "/movies": "/srv/movies" } });
    expect(discoverServices([file, none]).map((s) => s.configXmlHostPath)).toEqual(["/srv/xml", undefined]);
  });

  it("rejects an unknown rdtm.service value, naming the container", () => {
    const typo = makeContainer({ name: "tv", image: "acme/tv", labels: { "rdtm.service": "sonar" } });
    expect(() => discoverServices([typo])).toThrow(ConfigError);
    expect(() => discoverServices([typo])).toThrow(
      /tv: rdtm.service="sonar" is not one of qbittorrent, sonarr, radarr, none/,
    );
  });
});
