import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import type { QbitTorrent, QbitTracker } from "../../shared/clients/qbittorrent.ts";
import { fetchOnly, listenLoopback } from "./loopback.ts";

/** A main-log entry as qBit keeps it (timestamp in epoch seconds, as the API sends it). */
export interface FakeQbitLogEntry {
  id: number;
  timestamp: number;
  type: number;
  message: string;
}

/** A fault: matching requests (path is the URL path) get this status and body, `count` times (default 1). */
export interface FakeQbitFault {
  status: number;
  body?: string;
  path?: RegExp | string;
  method?: string;
  count?: number;
}

/** How the fake behaves: 4.x (default 4.5.2) or 5.x, which credentials it accepts. */
export interface FakeQbitOptions {
  /** "4.5.2" sends no `private` in torrents/info; ≥ 5.0 does; ≥ 5.2 names the cookie QBT_SID_<port>, answers a bad login with 401, takes an API key. */
  version?: string;
  username?: string;
  password?: string;
  /** Honoured from 5.2 on. */
  apiKey?: string;
  /** false: "bypass authentication" (every request passes without a cookie). */
  authRequired?: boolean;
}

/** The fake: its Hono app, in-process `fetch`, the state tests arrange and the records they assert on. */
export interface FakeQbit {
  app: Hono;
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  baseUrl: string;
  version: string;
  username: string;
  password: string;
  torrents: QbitTorrent[];
  /** Per lower-case hash; without an entry a torrent has one working tracker (its `tracker`), if any. */
  trackers: Map<string, QbitTracker[]>;
  /** Per lower-case hash, overrides of what torrents/properties derives from the torrent. */
  properties: Map<string, { isPrivate?: boolean | null; savePath?: string }>;
  log: FakeQbitLogEntry[];
  connectionStatus: string;
  requests: { method: string; path: string; status: number }[];
  deleted: { hash: string; deleteFiles: boolean }[];
  tags: { hash: string; tag: string }[];
  /** Login attempts with their outcome. */
  logins: { username: string; ok: boolean }[];
  addLog(message: string, type?: number): FakeQbitLogEntry;
  /** Forgets every session, as a qBit restart does: the next call with an old cookie gets 403. */
  expireSessions(): void;
  inject(fault: FakeQbitFault): void;
  listen(): Promise<{ url: string; close(): Promise<void> }>;
}

const WEBAPI: Record<string, string> = { "4.5": "2.8.19", "4.6": "2.9.3", "5.0": "2.11.2", "5.1": "2.11.4" };
const MAX_FAILED_LOGINS = 5;

let seq = 0;

/** A finished, seeding torrent in category tv-sonarr; pass what the test is about. */
export function makeQbitTorrent(partial: Partial<QbitTorrent> = {}): QbitTorrent {
  const n = ++seq;
  const name = partial.name ?? `Show.S01E${String(n % 100).padStart(2, "0")}.1080p.WEB.h264-GRP${n}`;
  const savePath = partial.savePath ?? "/downloads/tv-sonarr";
  return {
    hash: (0xb17000000 + n).toString(16).padStart(40, "0"),
    name,
    state: "stalledUP",
    category: "tv-sonarr",
    tags: [],
    progress: 1,
    size: 1_500_000_000,
    amountLeft: 0,
    savePath,
    contentPath: `${savePath}/${name}`,
    tracker: "https://tracker.invalid/announce",
    isPrivate: false,
    addedOn: Date.UTC(2025, 0, 1),
    numSeeds: 0,
    numLeechs: 0,
    ratio: 0,
    dlspeed: 0,
    eta: 8_640_000,
    ...partial,
  };
}

const text = (body: string, status = 200, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=UTF-8", ...headers } });
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

/** A Hono app answering the qBittorrent WebAPI v2 endpoints the client uses, with state in plain fields. */
export function createFakeQbit(opts: FakeQbitOptions = {}): FakeQbit {
  const version = opts.version ?? "4.5.2";
  const [major = 4, minor = 0] = version.split(".").map(Number);
  const v5 = major >= 5;
  const v52 = major > 5 || (major === 5 && minor >= 2);
  const origin = "http://qbit.fake:8080";
  const cookieName = v52 ? "QBT_SID_8080" : "SID";
  const sessions = new Set<string>();
  const faults: { rule: FakeQbitFault; left: number }[] = [];
  let failedLogins = 0;

  const byHash = (hash: string | undefined) => fake.torrents.find((t) => t.hash === hash?.toLowerCase());
  const hashSet = (raw: string): ((t: QbitTorrent) => boolean) => {
    if (raw === "all") return () => true;
    const set = new Set(raw.toLowerCase().split("|"));
    return (t) => set.has(t.hash);
  };

  const api = new Hono().basePath("/api/v2");
  api.get("/app/version", () => text(`v${version}`));
  api.get("/app/webapiVersion", () => text(v52 ? "2.15.1" : (WEBAPI[`${major}.${minor}`] ?? "2.8.19")));
  api.get("/transfer/info", () =>
    json({
      connection_status: fake.connectionStatus,
      dht_nodes: 0,
      dl_info_data: 0,
      dl_info_speed: 0,
      dl_rate_limit: 0,
      up_info_data: 0,
      up_info_speed: 0,
      up_rate_limit: 0,
    }),
  );
  api.get("/torrents/info", (c) => {
    const { hashes, category, tag } = c.req.query();
    let list = fake.torrents;
    if (hashes !== undefined) list = list.filter(hashSet(hashes));
    if (category !== undefined) list = list.filter((t) => t.category === category);
    if (tag !== undefined) list = list.filter((t) => (tag === "" ? t.tags.length === 0 : t.tags.includes(tag)));
    return json(list.map((t) => wireTorrent(t, v5)));
  });
  api.get("/torrents/trackers", (c) => {
    const t = byHash(c.req.query("hash"));
    if (!t) return text("", 404);
    const own = fake.trackers.get(t.hash) ?? (t.tracker ? [{ url: t.tracker, status: 2, msg: "", tier: 0 }] : []);
    const pseudo = ["DHT", "PeX", "LSD"].map((name) => ({
      url: `** [${name}] **`,
      status: 0,
      msg: t.isPrivate ? "This torrent is private" : "",
      tier: -1,
    }));
    const counts = { num_downloaded: -1, num_leeches: -1, num_peers: 0, num_seeds: -1 };
    return json([...pseudo, ...own].map((e) => ({ ...counts, ...e })));
  });
  api.get("/torrents/properties", (c) => {
    const t = byHash(c.req.query("hash"));
    if (!t) return text("", 404);
    const o = fake.properties.get(t.hash) ?? {};
    const isPrivate = o.isPrivate !== undefined ? o.isPrivate : t.isPrivate;
    return json({
      hash: t.hash,
      name: t.name,
      save_path: o.savePath ?? t.savePath,
      addition_date: Math.floor(t.addedOn / 1000),
      total_size: t.size,
      ...(isPrivate === null ? {} : { is_private: isPrivate }),
    });
  });
  api.get("/log/main", (c) => {
    const after = Number(c.req.query("last_known_id") ?? -1);
    // qBit's type bits: 1 normal, 2 info, 4 warning, 8 critical; each filter defaults to true.
    const want = (k: string) => c.req.query(k) !== "false";
    const types =
      (want("normal") ? 1 : 0) | (want("info") ? 2 : 0) | (want("warning") ? 4 : 0) | (want("critical") ? 8 : 0);
    return json(fake.log.filter((e) => e.id > after && (e.type & types) !== 0));
  });
  api.post("/torrents/delete", async (c) => {
    const form = await c.req.parseBody();
    if (typeof form.hashes !== "string" || typeof form.deleteFiles !== "string") return text("", 400);
    const hit = hashSet(form.hashes);
    const deleteFiles = form.deleteFiles === "true";
    let kept = 0;
    // In place, so a test holding `fake.torrents` sees the removal; one pass stays cheap for thousands.
    for (const t of fake.torrents) {
      if (hit(t)) fake.deleted.push({ hash: t.hash, deleteFiles });
      else fake.torrents[kept++] = t;
    }
    fake.torrents.length = kept;
    return text("");
  });
  api.post("/torrents/addTags", async (c) => {
    const form = await c.req.parseBody();
    if (typeof form.hashes !== "string" || typeof form.tags !== "string") return text("", 400);
    const tags = form.tags.split(",").map((s) => s.trim());
    for (const t of fake.torrents.filter(hashSet(form.hashes))) {
      for (const tag of tags.filter((x) => x !== "" && !t.tags.includes(x))) {
        t.tags.push(tag);
        fake.tags.push({ hash: t.hash, tag });
      }
    }
    return text("");
  });
  api.all("/torrents/:action{delete|addTags}", () => text("", 405));
  api.notFound(() => text("", 404));

  const login = async (c: Context): Promise<Response> => {
    if (c.req.method !== "POST") return text("", 405);
    if (v52 && c.req.header("authorization")) return text("", 403);
    if (failedLogins >= MAX_FAILED_LOGINS) {
      return text("Your IP address has been banned after too many failed authentication attempts.", 403);
    }
    const form = await c.req.parseBody();
    const ok = form.username === fake.username && form.password === fake.password;
    fake.logins.push({ username: String(form.username ?? ""), ok });
    if (!ok) {
      failedLogins++;
      return v52 ? text("", 401) : text("Fails.");
    }
    const sid = randomBytes(24).toString("base64");
    sessions.add(sid);
    return text("Ok.", 200, { "set-cookie": `${cookieName}=${sid}; HttpOnly; path=/; SameSite=Strict` });
  };

  const authorized = (req: Request): boolean => {
    if (opts.authRequired === false) return true;
    const bearer = req.headers.get("authorization")?.replace(/^Bearer /, "");
    if (v52 && opts.apiKey && bearer === opts.apiKey) return true;
    const cookies = (req.headers.get("cookie") ?? "").split(/;\s*/);
    return cookies.some((c) => c.startsWith(`${cookieName}=`) && sessions.has(c.slice(cookieName.length + 1)));
  };

  // qBit's CSRF check: an Origin or Referer naming another host than the request's is refused with 401.
  const crossSite = (req: Request, url: URL): boolean =>
    ["origin", "referer"].some((h) => {
      const value = req.headers.get(h);
      return value !== null && URL.canParse(value) && new URL(value).host !== url.host;
    });

  const takeFault = (method: string, path: string): FakeQbitFault | undefined => {
    for (const [i, f] of faults.entries()) {
      if (f.rule.method && f.rule.method.toUpperCase() !== method) continue;
      const p = f.rule.path;
      if (p !== undefined && (typeof p === "string" ? p !== path : !p.test(path))) continue;
      if (--f.left <= 0) faults.splice(i, 1);
      return f.rule;
    }
    return undefined;
  };

  const app = new Hono();
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const entry = { method: c.req.method, path: url.pathname, status: 0 };
    fake.requests.push(entry);
    const fault = takeFault(c.req.method, url.pathname);
    let res: Response;
    if (fault) res = text(fault.body ?? "", fault.status);
    else if (crossSite(c.req.raw, url)) res = text("", 401);
    else if (url.pathname === "/api/v2/auth/login") res = await login(c);
    else if (!authorized(c.req.raw)) res = text("Forbidden", 403);
    else res = await api.fetch(c.req.raw);
    entry.status = res.status;
    return res;
  });

  const fake: FakeQbit = {
    app,
    baseUrl: origin,
    version,
    username: opts.username ?? "admin",
    password: opts.password ?? "adminadmin",
    torrents: [],
    trackers: new Map(),
    properties: new Map(),
    log: [],
    connectionStatus: "connected",
    requests: [],
    deleted: [],
    tags: [],
    logins: [],
    addLog(message, type = 1) {
      const entry = { id: (fake.log.at(-1)?.id ?? -1) + 1, timestamp: Math.floor(Date.now() / 1000), type, message };
      fake.log.push(entry);
      return entry;
    },
    expireSessions: () => sessions.clear(),
    fetch: fetchOnly(origin, (req) => app.fetch(req)),
    inject(rule) {
      const left = rule.count ?? 1;
      if (left > 0) faults.push({ rule, left });
    },
    listen: () => listenLoopback(app.fetch),
  };
  return fake;
}

/** The torrents/info JSON of a torrent; `private` only from 5.0 on, as qBit sends it. */
function wireTorrent(t: QbitTorrent, v5: boolean) {
  return {
    hash: t.hash,
    name: t.name,
    state: t.state,
    category: t.category,
    tags: t.tags.join(", "),
    progress: t.progress,
    size: t.size,
    total_size: t.size,
    amount_left: t.amountLeft,
    completed: t.size - t.amountLeft,
    save_path: t.savePath,
    content_path: t.contentPath ?? "",
    tracker: t.tracker,
    added_on: Math.floor(t.addedOn / 1000),
    num_seeds: t.numSeeds,
    num_leechs: t.numLeechs,
    ratio: t.ratio,
    dlspeed: t.dlspeed,
    upspeed: 0,
    eta: t.eta,
    ...(v5 ? { private: t.isPrivate, has_metadata: true } : {}),
  };
}
