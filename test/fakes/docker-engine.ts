import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { DockerContainer } from "../../shared/clients/docker.ts";

/** A request as the fake received it; `path` includes the query string. */
export interface FakeDockerRequest {
  method: string;
  path: string;
}

export interface FakeDockerEngine {
  socketPath: string;
  /** Every container, stopped ones too: the listing hides non-running ones unless `?all=1`, as dockerd does. */
  containers: DockerContainer[];
  requests: FakeDockerRequest[];
  /** When set, every request gets this answer (still with the Engine's headers). */
  fault: { status: number; body: string; contentType?: string } | undefined;
  close(): Promise<void>;
}

export interface ContainerSpec {
  name: string;
  image: string;
  state?: string;
  /** Exposed TCP ports (EXPOSE or published). */
  ports?: number[];
  /** Network name → IP address; default the default bridge. */
  networks?: Record<string, string>;
  labels?: Record<string, string>;
  /** Container path → host path. */
  mounts?: Record<string, string>;
  env?: string[];
  /** e.g. "container:<id>"; default the first network's name. */
  networkMode?: string;
}

/** A container in the Engine's /containers/json shape; the id is derived from the name, so it is stable. */
export function makeContainer(spec: ContainerSpec): DockerContainer {
  const networks = spec.networks ?? { bridge: "172.17.0.2" };
  return {
    Id: createHash("sha256").update(spec.name).digest("hex"),
    Names: [`/${spec.name}`],
    Image: spec.image,
    Labels: spec.labels ?? {},
    State: spec.state ?? "running",
    Ports: (spec.ports ?? []).map((port) => ({ PrivatePort: port, Type: "tcp" })),
    NetworkSettings: {
      Networks: Object.fromEntries(Object.entries(networks).map(([name, ip]) => [name, { IPAddress: ip }])),
    },
    Mounts: Object.entries(spec.mounts ?? {}).map(([Destination, Source]) => ({ Source, Destination })),
    HostConfig: { NetworkMode: spec.networkMode ?? Object.keys(networks)[0] ?? "none" },
    ...(spec.env ? { Env: spec.env } : {}),
  };
}

/** Serves a fetch handler on a unix socket in a fresh temp dir, as dockerd serves /var/run/docker.sock. */
export async function listenOnSocket(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<{ socketPath: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "rdtm-docker-"));
  const socketPath = join(dir, "docker.sock");
  const server = createServer(getRequestListener(fetch));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Docker Engine API (list and inspect containers) on a real unix socket. */
export async function createFakeDockerEngine(containers: DockerContainer[] = []): Promise<FakeDockerEngine> {
  const app = new Hono();
  const engine: Omit<FakeDockerEngine, "socketPath" | "close"> = { containers, requests: [], fault: undefined };

  app.use(async (c, next) => {
    const url = new URL(c.req.url);
    engine.requests.push({ method: c.req.method, path: url.pathname + url.search });
    // dockerd's version middleware puts these on every answer.
    c.header("Api-Version", "1.43");
    c.header("Server", "Docker/24.0.7 (linux)");
    c.header("Docker-Experimental", "false");
    if (engine.fault) {
      const { status, body, contentType } = engine.fault;
      return c.body(body, status as 500, { "Content-Type": contentType ?? "application/json" });
    }
    await next();
  });

  app.get("/_ping", (c) => c.text("OK"));

  app.get("/containers/json", (c) => {
    const all = ["1", "true"].includes(c.req.query("all") ?? "");
    const listed = engine.containers.filter((x) => all || x.State === "running");
    // Real listings carry more than we read; the extras prove the client ignores them.
    return c.json(
      listed.map(({ Env: _env, ...x }) => ({
        ...x,
        ImageID: `sha256:${x.Id.slice(0, 64)}`,
        Command: "/init",
        Created: 1_700_000_000,
        Status: x.State === "running" ? "Up 2 hours" : "Exited (0) 3 hours ago",
        Mounts: x.Mounts.map((m) => ({ Type: "bind", ...m, Mode: "", RW: true, Propagation: "rprivate" })),
      })),
    );
  });

  app.get("/containers/:id/json", (c) => {
    const id = c.req.param("id");
    const x = engine.containers.find((o) => o.Id.startsWith(id) || o.Names.includes(`/${id}`));
    if (!x) return c.json({ message: `No such container: ${id}` }, 404);
    return c.json({
      Id: x.Id,
      Name: x.Names[0],
      State: { Status: x.State, Running: x.State === "running" },
      Config: {
        Image: x.Image,
        Env: x.Env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"],
        Labels: x.Labels,
      },
      HostConfig: x.HostConfig,
      Mounts: x.Mounts,
      NetworkSettings: x.NetworkSettings,
    });
  });

  app.notFound((c) => c.json({ message: "page not found" }, 404));

  const server = await listenOnSocket(app.fetch);
  return Object.assign(engine, server);
}
