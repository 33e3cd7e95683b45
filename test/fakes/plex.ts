import { Hono } from "hono";
import { fetchOnly, listenLoopback } from "./loopback.ts";

/** One library section as the fake serves it. */
export interface FakePlexSection {
  key: string;
  title: string;
  type: "movie" | "show";
  locations: string[];
}

/** A one-shot answer for the next request whose path matches (default: any). */
export interface FakePlexFault {
  status: number;
  body?: string;
  path?: RegExp;
}

export interface FakePlex {
  app: Hono;
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  baseUrl: string;
  token: string;
  sections: FakePlexSection[];
  /** Every accepted refresh, `path` decoded as Plex decodes it. */
  refreshes: { sectionId: string; path: string | undefined }[];
  requests: { method: string; path: string; status: number }[];
  inject(fault: FakePlexFault): void;
  listen(): Promise<{ url: string; close(): Promise<void> }>;
}

let seq = 0;

/** A section with one location; defaults to a TV library at /tv. */
export function makeSection(partial: Partial<FakePlexSection> = {}): FakePlexSection {
  const key = partial.key ?? String(++seq);
  return { key, title: `Library ${key}`, type: "show", locations: ["/tv"], ...partial };
}

// What Plex Media Server answers without a valid token.
const UNAUTHORIZED = "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>";

/** A Plex Media Server that knows GET /library/sections and GET /library/sections/{key}/refresh. */
export function createFakePlex(opts: { token?: string; sections?: FakePlexSection[] } = {}): FakePlex {
  const origin = "http://plex.fake:32400";
  const faults: FakePlexFault[] = [];
  const api = new Hono();

  api.get("/library/sections", (c) => {
    // Plex answers XML unless JSON is asked for.
    if (!c.req.header("accept")?.includes("application/json"))
      return c.body(`<?xml version="1.0"?><MediaContainer size="${fake.sections.length}"/>`, 200, {
        "content-type": "text/xml",
      });
    const Directory = fake.sections.map((s) => ({
      key: s.key,
      title: s.title,
      type: s.type,
      agent: s.type === "show" ? "tv.plex.agents.series" : "tv.plex.agents.movie",
      Location: s.locations.map((path, i) => ({ id: Number(s.key) * 100 + i, path })),
    }));
    // Like Plex, an empty server has no Directory key at all.
    const container = { size: Directory.length, allowSync: false, title1: "Plex Library" };
    return c.json({ MediaContainer: Directory.length > 0 ? { ...container, Directory } : container });
  });

  api.get("/library/sections/:key/refresh", (c) => {
    const key = c.req.param("key");
    if (!fake.sections.some((s) => s.key === key)) return c.body(null, 404);
    fake.refreshes.push({ sectionId: key, path: c.req.query("path") });
    return c.body(null, 200);
  });

  const app = new Hono();
  app.all("*", async (c) => {
    const entry = { method: c.req.method, path: c.req.path, status: 0 };
    fake.requests.push(entry);
    const i = faults.findIndex((f) => !f.path || f.path.test(c.req.path));
    const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
    const given = c.req.header("x-plex-token") ?? c.req.query("X-Plex-Token");
    let res: Response;
    if (fault)
      res = new Response(fault.body ?? null, { status: fault.status, headers: { "content-type": "application/json" } });
    else if (given !== fake.token)
      res = new Response(UNAUTHORIZED, { status: 401, headers: { "content-type": "text/html" } });
    else res = await api.fetch(c.req.raw);
    entry.status = res.status;
    return res;
  });

  const fake: FakePlex = {
    app,
    baseUrl: origin,
    token: opts.token ?? "plex-token-abcdef",
    sections: opts.sections ?? [],
    refreshes: [],
    requests: [],
    fetch: fetchOnly(origin, (req) => app.fetch(req)),
    inject(fault) {
      faults.push(fault);
    },
    listen: () => listenLoopback(app.fetch),
  };
  return fake;
}
