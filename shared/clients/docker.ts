import type { IncomingHttpHeaders } from "node:http";
import * as v from "valibot";
import { ConfigError, errorMessage, UpstreamError } from "../errors.ts";
import { MalformedResponseError, parseResponse } from "../validate.ts";

/** The apps discovery recognises. */
export type ServiceKind = "qbittorrent" | "sonarr" | "radarr";

/** One recognised running container and the URL it answers on. */
export interface DiscoveredService {
  kind: ServiceKind;
  /** Container name without Docker's leading slash. */
  name: string;
  url: string;
  containerId: string;
  /** Sonarr/Radarr: where the container's /config/config.xml is on the host, when /config is a mount. */
  configXmlHostPath?: string;
}

/** Label that names a container's service explicitly; `none` opts a container out. It beats image and name. */
export const SERVICE_LABEL = "rdtm.service";

const KINDS: readonly ServiceKind[] = ["qbittorrent", "sonarr", "radarr"];
const DEFAULT_PORTS: Record<ServiceKind, number> = { qbittorrent: 8080, sonarr: 8989, radarr: 7878 };
const BUILTIN_NETWORKS = new Set(["bridge", "host", "none"]);
const LABEL_VALUES = new Set<string>([...KINDS, "none"]);

const Int = v.pipe(v.number(), v.integer());
const ContainerSummary = v.object({
  Id: v.string(),
  Names: v.array(v.string()),
  Image: v.string(),
  Labels: v.nullish(v.record(v.string(), v.string()), {}),
  State: v.string(),
  Ports: v.nullish(v.array(v.object({ PrivatePort: Int, PublicPort: v.optional(Int), Type: v.string() })), []),
  NetworkSettings: v.object({
    Networks: v.nullish(v.record(v.string(), v.object({ IPAddress: v.nullish(v.string(), "") })), {}),
  }),
  Mounts: v.nullish(v.array(v.object({ Source: v.nullish(v.string(), ""), Destination: v.string() })), []),
  HostConfig: v.nullish(v.object({ NetworkMode: v.nullish(v.string(), "") }), { NetworkMode: "" }),
});
const ContainerInspect = v.object({ Id: v.string(), Config: v.object({ Env: v.nullish(v.array(v.string()), []) }) });

/** A container as /containers/json lists it (only the fields we use), plus `Env` once read through inspect. */
export type DockerContainer = v.InferOutput<typeof ContainerSummary> & { Env?: string[] };

/** The client `createDockerClient` returns. */
export type DockerClient = ReturnType<typeof createDockerClient>;

/** Read-only Docker Engine API client over a unix socket; GET only, as the socket is mounted read-only. */
export function createDockerClient(opts: { socketPath: string; timeoutMs?: number }) {
  const { socketPath } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;

  async function get<S extends v.GenericSchema>(schema: S, path: string, signal?: AbortSignal) {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: { status: number; headers: IncomingHttpHeaders; body: string };
    try {
      res = await httpGet(socketPath, path, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw socketError(socketPath, err, timeout.aborted ? timeoutMs : undefined);
    }
    const { status, headers, body } = res;
    // dockerd (and Podman's compat API) send Api-Version on every answer, errors included; nothing else does.
    const type = headers["content-type"] ?? "no content type";
    const notDocker = `${socketPath} is not a Docker Engine API: GET ${path} got HTTP ${status} (${type}) without an Api-Version header`;
    if (!headers["api-version"]) throw new UpstreamError("docker", notDocker, { status });
    const failed = `GET ${path} on ${socketPath}: HTTP ${status} ${engineMessage(body)}`;
    if (status < 200 || status >= 300) throw new UpstreamError("docker", failed, { status });
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      throw new MalformedResponseError("docker", path, [`body is not JSON (got ${JSON.stringify(body.slice(0, 60))})`]);
    }
    return parseResponse(schema, data, { service: "docker", endpoint: path });
  }

  return {
    socketPath,
    /** Running containers (the Engine leaves stopped ones out unless asked for `all`). */
    listContainers(signal?: AbortSignal): Promise<DockerContainer[]> {
      return get(v.array(ContainerSummary), "/containers/json", signal);
    },
    /** A container's environment as `KEY=value` lines, which only inspect shows. */
    async inspect(id: string, signal?: AbortSignal): Promise<{ id: string; env: string[] }> {
      const c = await get(ContainerInspect, `/containers/${encodeURIComponent(id)}/json`, signal);
      return { id: c.Id, env: c.Config.Env };
    },
  };
}

/** Lists running containers, reads the environment of qBittorrent ones (WEBUI_PORT moves the WebUI), discovers. */
export async function discoverFromDocker(
  docker: Pick<DockerClient, "listContainers" | "inspect">,
  opts: { network?: string } = {},
  signal?: AbortSignal,
): Promise<DiscoveredService[]> {
  const containers = await docker.listContainers(signal);
  const inspected = containers.map(async (c) =>
    serviceKind(c) === "qbittorrent" ? { ...c, Env: (await docker.inspect(c.Id, signal)).env } : c,
  );
  return discoverServices(await Promise.all(inspected), opts);
}

/**
 * Recognises running qBittorrent, Sonarr and Radarr containers (label, else image, else name) and their URLs,
 * ordered by kind then name. Containers without any address (host networking) are left out: configure those.
 */
export function discoverServices(
  containers: readonly DockerContainer[],
  opts: { network?: string } = {},
): DiscoveredService[] {
  const running = containers.filter((c) => c.State === "running");
  const allowed = [...LABEL_VALUES].join(", ");
  const badLabels = running.filter((c) => !LABEL_VALUES.has(labelOf(c) ?? "none"));
  const problem = (c: DockerContainer) => `${containerName(c)}: ${SERVICE_LABEL}=${JSON.stringify(labelOf(c))}`;
  if (badLabels.length > 0) throw new ConfigError(badLabels.map((c) => `${problem(c)} is not one of ${allowed}`));
  const out: DiscoveredService[] = [];
  for (const c of running) {
    const kind = serviceKind(c);
    const host = kind && hostOf(c, running, opts.network);
    if (!kind || !host) continue;
    const url = `http://${host}:${portOf(kind, c)}`;
    const xml = kind === "qbittorrent" ? undefined : configXmlHostPath(c);
    out.push({ kind, name: containerName(c), url, containerId: c.Id, ...(xml ? { configXmlHostPath: xml } : {}) });
  }
  // Numeric collation keeps radarr2 before radarr10, so numbered instances map onto them in a stable order.
  const names = new Intl.Collator("en", { numeric: true });
  return out.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || names.compare(a.name, b.name));
}

function labelOf(c: DockerContainer): string | undefined {
  return c.Labels[SERVICE_LABEL]?.trim().toLowerCase();
}

function serviceKind(c: DockerContainer): ServiceKind | null {
  const label = labelOf(c);
  if (label !== undefined) return KINDS.find((k) => k === label) ?? null;
  return kindFromImage(c.Image) ?? kindFromName(containerName(c));
}

// Per app: the image's repository name (registry, owner, tag and digest dropped), and a container-name token.
const PATTERNS: [ServiceKind, RegExp, RegExp][] = [
  ["qbittorrent", /^(arch-)?qbittorrent(-nox)?(-?vpn)?$/, /^qbittorrent(vpn|nox)?\d*$/],
  ["sonarr", /^sonarr$/, /^sonarr(\d*|4k|uhd)$/],
  ["radarr", /^radarr$/, /^radarr(\d*|4k|uhd)$/],
];

function kindFromImage(image: string): ServiceKind | null {
  // "lscr.io/linuxserver/sonarr:4@sha256:…" → "sonarr". An image ID ("sha256:…", shown once the tag moved on) gives "sha256", so the name decides.
  const repo = (image.split("@")[0] ?? "").split("/").pop()?.split(":")[0]?.toLowerCase() ?? "";
  return PATTERNS.find(([, image]) => image.test(repo))?.[0] ?? null;
}

// Companions are often named after the app they serve (sonarr-exporter, qbittorrent-monitor) but are not it.
const COMPANION_TOKENS = /^(exporter|exportarr|monitor|manage|sync|backup|notifier|cleaner|cleanup|proxy)$/;

function kindFromName(name: string): ServiceKind | null {
  const tokens = name.toLowerCase().split(/[-_.]+/);
  if (tokens.some((t) => COMPANION_TOKENS.test(t))) return null;
  return PATTERNS.find(([, , token]) => tokens.some((t) => token.test(t)))?.[0] ?? null;
}

function containerName(c: DockerContainer): string {
  // Legacy links add names like "/web/db"; the container's own name has a single leading slash.
  const name = c.Names.find((n) => !n.slice(1).includes("/")) ?? c.Names[0] ?? c.Id.slice(0, 12);
  return name.replace(/^\//, "");
}

function hostOf(c: DockerContainer, running: readonly DockerContainer[], network: string | undefined): string | null {
  // network_mode container:<id> (qBittorrent behind a VPN container) shares that container's network and address.
  const ref = /^container:(.+)$/.exec(c.HostConfig.NetworkMode)?.[1];
  const owner = ref ? running.find((o) => o.Id.startsWith(ref) || containerName(o) === ref) : c;
  if (!owner) return null;
  const networks = owner.NetworkSettings.Networks;
  // Docker's DNS resolves names on user-defined networks only (not bridge); names survive restarts, IPs do not.
  if (network && !BUILTIN_NETWORKS.has(network) && network in networks) return containerName(owner);
  return Object.values(networks).find((n) => n.IPAddress !== "")?.IPAddress ?? null;
}

function portOf(kind: ServiceKind, c: DockerContainer): number {
  const fromEnv = kind === "qbittorrent" ? webUiPort(c.Env ?? []) : undefined;
  if (fromEnv !== undefined) return fromEnv;
  const def = DEFAULT_PORTS[kind];
  // The same private port is listed once per published host address (IPv4 and IPv6).
  const tcp = [...new Set(c.Ports.filter((p) => p.Type === "tcp").map((p) => p.PrivatePort))];
  // Nothing exposed (a shared network namespace) or several candidates: the app's own default is the best bet.
  return tcp.includes(def) || tcp.length !== 1 ? def : (tcp[0] ?? def);
}

function webUiPort(env: readonly string[]): number | undefined {
  // linuxserver sets WEBUI_PORT=8090; hotio WEBUI_PORTS=8090/tcp,8090/udp.
  const m = env.map((line) => /^WEBUI_PORTS?=(\d+)/.exec(line)).find((x) => x !== null);
  return m ? Number(m[1]) : undefined;
}

function configXmlHostPath(c: DockerContainer): string | undefined {
  // linuxserver, hotio and home-operations images all keep the *arr's config.xml in /config.
  const target = "/config/config.xml";
  let best: { source: string; destination: string } | undefined;
  for (const m of c.Mounts) {
    const destination = m.Destination.replace(/\/+$/, "");
    const inside = target === destination || target.startsWith(`${destination}/`);
    if (inside && m.Source !== "" && destination.length > (best?.destination.length ?? -1))
      best = { source: m.Source.replace(/\/+$/, ""), destination };
  }
  return best && best.source + target.slice(best.destination.length);
}

async function httpGet(socketPath: string, path: string, signal: AbortSignal) {
  // Loaded on use: the Worker bundle shares this module and has no node:http (nor a socket to talk to).
  const { get: httpRequest } = await import("node:http");
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    // agent: false → one connection per call, closed after it, so nothing keeps the process alive.
    const req = httpRequest({ socketPath, path, agent: false, signal }, (res) => {
      const chunks: string[] = [];
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join("") }));
    });
    req.on("error", reject);
  });
}

const SOCKET_HINTS: Record<string, (socketPath: string) => string> = {
  ENOENT: (p) => `no Docker socket at ${p}: mount it read-only (-v /var/run/docker.sock:${p}:ro)`,
  EACCES: (p) => `permission denied on ${p}: run as a user in the socket's group (usually docker)`,
  EPERM: (p) => `permission denied on ${p}: run as a user in the socket's group (usually docker)`,
  ECONNREFUSED: (p) => `nothing listens on ${p}: is the Docker daemon running?`,
};

function socketError(socketPath: string, err: unknown, timedOutAfterMs: number | undefined): UpstreamError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    timedOutAfterMs !== undefined
      ? `no answer on ${socketPath} within ${timedOutAfterMs} ms`
      : (code && SOCKET_HINTS[code]?.(socketPath)) || `cannot talk to ${socketPath}: ${errorMessage(err)}`;
  return new UpstreamError("docker", hint, { cause: err, code });
}

/** The Engine's error body is {"message": "..."}; anything else is shown as short text. */
function engineMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { message?: unknown } | null)?.message;
    if (typeof message === "string") return message;
  } catch {}
  return body.replace(/\s+/g, " ").trim().slice(0, 200);
}
