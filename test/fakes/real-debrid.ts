import type { IncomingMessage } from "node:http";
import { Hono } from "hono";
import { fetchOnly, listenLoopback } from "./loopback.ts";
import {
  ACTIVE_STATUSES,
  type FakeFile,
  type FakeTorrent,
  freshIndex,
  genericFiles,
  idFor,
  infoItem,
  linksFor,
  listItem,
  parseMagnet,
  selectedBytes,
} from "./real-debrid-data.ts";

export type { FakeFile, FakeTorrent, RdStatus } from "./real-debrid-data.ts";
export { ACTIVE_STATUSES, makeAccount, makeTorrent, RD_STATUSES } from "./real-debrid-data.ts";

/**
 * What an injected fault does to a request: answer this status (body defaults to RD's error for it), wait
 * then answer normally, answer 200 with JSON of the wrong shape, answer 200 with JSON cut in half, or drop
 * the connection (in process: reject like undici's fetch with ECONNRESET).
 */
export type Fault =
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: "delay"; ms: number }
  | { kind: "malformed" }
  | { kind: "truncated" }
  | { kind: "reset" }
  /** Never answer (until the client goes away); `after`: handle the request first, so it took effect. */
  | { kind: "hang"; after?: boolean };

/** Faults apply to matching requests in injection order, each `count` times, before normal handling. */
export interface FaultRule {
  fault: Fault;
  /** How many matching requests get this fault; default 1, Infinity allowed. */
  count?: number;
  method?: string;
  /** Matched against the path after /rest/1.0. */
  path?: RegExp;
}

export interface FakeUser {
  id: number;
  username: string;
  email: string;
  points: number;
  locale: string;
  avatar: string;
  type: "premium" | "free";
  premium: number;
  expiration: string;
}

export interface RequestLogEntry {
  method: string;
  /** The path after /rest/1.0 (the whole path for requests outside it). */
  path: string;
  /** The query string without its leading "?". */
  query: string;
  /** 0 when the fake answered nothing (reset, or the client gave up during a delay). */
  status: number;
  at: number;
  /** Held by a hang fault: logged when it arrived (and, with `after`, was handled); no answer went out. */
  hung?: boolean;
}

/** The fake and its state; tests arrange the account through `add`, `cached`, `catalog` and `inject`. */
export interface FakeRealDebrid {
  app: Hono;
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  baseUrl: string;
  /** Newest first: by `added` descending, ties newest insertion first. */
  torrents: FakeTorrent[];
  user: FakeUser;
  /** The `limit` of /torrents/activeCount, also the point where addMagnet answers 509. */
  activeLimit: number;
  add(...t: FakeTorrent[]): void;
  remove(id: string): boolean;
  inject(rule: FaultRule): void;
  clearFaults(): void;
  requests: RequestLogEntry[];
  cached: Set<string>;
  catalog: Map<string, FakeFile[]>;
  listen(): Promise<{ url: string; close(): Promise<void> }>;
}

export interface FakeRealDebridOptions {
  token?: string;
  /** Default 250 as documented; 0 switches the limit off. */
  rateLimitPerMinute?: number;
  now?: () => number;
  lockedToken?: string;
  /**
   * Benchmarks: torrents are never changed in place after add(), so list items are serialized once
   * and pages are joined from those strings (the fake then costs next to nothing per page).
   */
  frozen?: boolean;
}

const BASE_PATH = "/rest/1.0";
const FAKE_ORIGIN = "http://fake-rd.local";
const WINDOW_MS = 60_000;
const MAX_LIMIT = 5000;
const DAY_MS = 86_400_000;
const HANG_MS = 120_000;

// Defaults for status faults without a body, taken from the doc's codes and the bodies seen on the wire.
const FAULT_ERRORS: Record<number, [string, number]> = {
  400: ["wrong_parameter", 2],
  401: ["bad_token", 8],
  403: ["permission_denied", 9],
  404: ["unknown_ressource", 7],
  429: ["too_many_requests", 34],
  451: ["infringing_file", 35],
  500: ["internal_error", -1],
  503: ["service_unavailable", 25],
  509: ["too_many_active_downloads", 21],
};

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** RD's error shape; `details` mirrors the error_details RD adds to parameter_missing. */
function rdError(status: number, error: string, code: number, details?: string): Response {
  return json(
    details === undefined ? { error, error_code: code } : { error, error_details: details, error_code: code },
    status,
  );
}

/** Sliding-window counter; every request is recorded, refused ones included, as the doc says they count. */
function slidingWindow(limit: number): (at: number) => boolean {
  const times: number[] = [];
  let head = 0;
  return (at) => {
    if (limit <= 0) return true;
    while (head < times.length && (times[head] ?? at) <= at - WINDOW_MS) head++;
    if (head > 4096 && head * 2 > times.length) {
      times.splice(0, head);
      head = 0;
    }
    times.push(at);
    return times.length - head <= limit;
  };
}

interface ActiveRule {
  rule: FaultRule;
  left: number;
}

function takeFault(rules: ActiveRule[], method: string, path: string): Fault | undefined {
  for (const [i, r] of rules.entries()) {
    if (r.rule.method && r.rule.method.toUpperCase() !== method) continue;
    if (r.rule.path) {
      r.rule.path.lastIndex = 0;
      if (!r.rule.path.test(path)) continue;
    }
    r.left--;
    if (r.left <= 0) rules.splice(i, 1);
    return r.rule.fault;
  }
  return undefined;
}

function statusFault(f: Extract<Fault, { kind: "status" }>): Response {
  const noBody = f.status === 204 || f.status === 205 || f.status === 304;
  let body = f.body;
  if (body === undefined && f.status >= 400) {
    const [error, code] = FAULT_ERRORS[f.status] ?? ["internal_error", -1];
    body = { error, error_code: code };
  }
  if (noBody || body === undefined) return new Response(null, { status: f.status, headers: f.headers });
  // A string goes out as is, so a proxy's HTML error page can be imitated.
  if (typeof body === "string") return new Response(body, { status: f.status, headers: f.headers });
  return json(body, f.status, f.headers);
}

/** Same data, wrong shape: no `hash`, numbers as strings; an empty list becomes an object. */
function mangle(value: unknown): unknown {
  const item = (v: unknown) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== "hash") out[k] = typeof x === "number" ? String(x) : x;
    return out;
  };
  if (Array.isArray(value)) return value.length > 0 ? value.map(item) : { torrents: [] };
  if (typeof value === "object" && value !== null) return item(value);
  return { unexpected: "shape" };
}

/** What the request would normally get, for malformed and truncated; only GETs run, to keep them free of effects. */
async function normalBody(req: Request, api: Hono): Promise<unknown> {
  if (req.method !== "GET") return { unexpected: "shape" };
  const res = await api.fetch(req);
  if (res.status === 204) return [];
  if (res.status !== 200) return { unexpected: "shape" };
  return res.json();
}

function connectionReset(): TypeError {
  const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" });
  return new TypeError("fetch failed", { cause });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Inserts before the first torrent not newer than `t`, so equal dates keep the newest insertion first. */
function insertNewest(list: FakeTorrent[], t: FakeTorrent): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid]?.added ?? "") > t.added) lo = mid + 1;
    else hi = mid;
  }
  if (lo === list.length) list.push(t);
  else list.splice(lo, 0, t);
}

/** Non-negative integer query value; `fallback` when absent, undefined when not a number. */
function intParam(raw: string | undefined, fallback: number): number | undefined {
  if (raw === undefined || raw === "") return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

const serialized = new WeakMap<FakeTorrent, string>();
const frozenPages = new WeakMap<FakeTorrent[], Map<string, Uint8Array<ArrayBuffer>>>();

function listTorrents(torrents: FakeTorrent[], q: Record<string, string>, frozen = false): Response {
  const limit = intParam(q.limit, 100);
  if (limit === undefined || limit > MAX_LIMIT) return rdError(400, "wrong_parameter", 2);
  // Only "active" is documented; other values are ignored, not refused.
  const list = q.filter === "active" ? torrents.filter((t) => ACTIVE_STATUSES.has(t.status)) : torrents;
  const total = list.length;
  let offset: number;
  if (q.page !== undefined && q.page !== "") {
    // The doc: "page is prioritzed" when both page and offset are sent.
    const page = intParam(q.page, 1);
    if (page === undefined || page < 1) return rdError(400, "wrong_parameter", 2);
    offset = (page - 1) * limit;
  } else {
    const o = intParam(q.offset, 0);
    if (o === undefined || o > total) return rdError(400, "wrong_parameter", 2);
    offset = o;
  }
  const headers = { "X-Total-Count": String(total) };
  const page = list.slice(offset, offset + limit);
  if (page.length === 0) return new Response(null, { status: 204, headers });
  if (frozen) {
    // A frozen account never changes, so a page's bytes are built once: the benchmarks' "zero-latency"
    // fake then costs a lookup per page instead of ~20 ms of joining and encoding 2 MB.
    const key = `${q.filter === "active" ? "a" : ""}${offset}:${limit}`;
    let body = frozenPages.get(torrents)?.get(key);
    if (!body) {
      body = new TextEncoder().encode(`[${page.map((t) => serialized.get(t) ?? cache(t)).join(",")}]`);
      const pages = frozenPages.get(torrents) ?? new Map<string, Uint8Array<ArrayBuffer>>();
      pages.set(key, body);
      frozenPages.set(torrents, pages);
    }
    return new Response(body, { status: 200, headers: { ...headers, "content-type": "application/json" } });
  }
  return json(page.map(listItem), 200, headers);
}

function cache(t: FakeTorrent): string {
  const text = JSON.stringify(listItem(t));
  serialized.set(t, text);
  return text;
}

function formValue(form: Record<string, string | File | (string | File)[]>, key: string): string | undefined {
  const v = form[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** A Hono app that answers like api.real-debrid.com/rest/1.0, with fault injection and its own rate limit. */
export function createFakeRealDebrid(opts: FakeRealDebridOptions = {}): FakeRealDebrid {
  const token = opts.token ?? "fake-rd-token";
  const now = opts.now ?? Date.now;
  const withinRate = slidingWindow(opts.rateLimitPerMinute ?? 250);
  const rules: ActiveRule[] = [];

  const activeCount = () => {
    let nb = 0;
    for (const t of fake.torrents) if (ACTIVE_STATUSES.has(t.status)) nb++;
    return nb;
  };
  const find = (id: string) => fake.torrents.find((t) => t.id === id);

  const api = new Hono().basePath(BASE_PATH);
  api.get("/user", () => json(fake.user));
  api.get("/torrents", (c) => listTorrents(fake.torrents, c.req.query(), opts.frozen === true));
  api.get("/torrents/activeCount", () => json({ nb: activeCount(), limit: fake.activeLimit }));
  api.get("/torrents/info/:id", (c) => {
    const t = find(c.req.param("id"));
    return t ? json(infoItem(t)) : rdError(404, "unknown_ressource", 7);
  });
  api.get("/torrents/instantAvailability/:hash", () => rdError(403, "disabled_endpoint", 37));

  api.post("/torrents/addMagnet", async (c) => {
    const magnet = formValue(await c.req.parseBody(), "magnet");
    if (magnet === undefined) return rdError(400, "parameter_missing", 1, "{magnet} is missing");
    const parsed = parseMagnet(magnet);
    if (!parsed) return rdError(400, "wrong_parameter", 2);
    if (activeCount() >= fake.activeLimit) return rdError(509, "too_many_active_downloads", 21);
    const known = fake.torrents.find((t) => t.hash === parsed.hash);
    const files = (fake.catalog.get(parsed.hash) ?? known?.files ?? genericFiles()).map(
      (f): FakeFile => ({ ...f, selected: 0 }),
    );
    const filename = parsed.name ?? known?.filename ?? parsed.hash;
    const id = idFor(freshIndex());
    fake.add({
      id,
      hash: parsed.hash,
      filename,
      original_filename: filename,
      bytes: 0,
      original_bytes: files.reduce((sum, f) => sum + f.bytes, 0),
      host: "real-debrid.com",
      split: 2000,
      progress: 0,
      status: "waiting_files_selection",
      added: new Date(now()).toJSON(),
      links: [],
      files,
    });
    return json({ id, uri: `${new URL(c.req.url).origin}${BASE_PATH}/torrents/info/${id}` }, 201);
  });

  api.post("/torrents/selectFiles/:id", async (c) => {
    const wanted = formValue(await c.req.parseBody(), "files");
    if (wanted === undefined) return rdError(400, "parameter_missing", 1, "{files} is missing");
    const t = find(c.req.param("id"));
    if (!t) return rdError(404, "unknown_ressource", 7);
    const known = new Set(t.files.map((f) => f.id));
    const ids =
      wanted === "all" ? known : new Set(wanted.split(",").map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : -1)));
    if (ids.size === 0 || [...ids].some((id) => !known.has(id))) return rdError(400, "wrong_parameter", 2);
    // "Action already done": the doc's 202, answered without a body.
    if (t.status !== "waiting_files_selection") return new Response(null, { status: 202 });
    t.files = t.files.map((f) => ({ ...f, selected: ids.has(f.id) ? 1 : 0 }));
    t.bytes = selectedBytes(t.files);
    if (fake.cached.has(t.hash)) {
      Object.assign(t, { status: "downloaded", progress: 100, links: linksFor(t.id, t.files) });
      t.ended = new Date(now()).toJSON();
    } else {
      Object.assign(t, { status: "queued", progress: 0, links: [] });
    }
    return new Response(null, { status: 204 });
  });

  api.delete("/torrents/delete/:id", (c) =>
    fake.remove(c.req.param("id")) ? new Response(null, { status: 204 }) : rdError(404, "unknown_ressource", 7),
  );

  api.notFound(() => rdError(404, "unknown_method", 3));
  // Thrown errors (a reset, an abort during a delay) must reach the caller as a failed fetch, not a 500.
  api.onError((err) => {
    throw err;
  });

  const authError = (req: Request): Response | undefined => {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (given !== undefined && given === opts.lockedToken) return rdError(403, "account_locked", 14);
    if (given !== token) return rdError(401, "bad_token", 8);
    return undefined;
  };

  const answer = async (req: Request, path: string, env: unknown, entry: RequestLogEntry): Promise<Response> => {
    const allowed = withinRate(now());
    const fault = takeFault(rules, req.method, path);
    if (fault?.kind === "hang") {
      // Logged now: a test waits for this entry to kill the client at exactly this point.
      if (fault.after) entry.status = (authError(req) ?? (await api.fetch(req))).status;
      entry.hung = true;
      fake.requests.push(entry);
      await sleep(HANG_MS, req.signal);
      throw connectionReset();
    }
    if (fault?.kind === "status") return statusFault(fault);
    if (fault?.kind === "delay") await sleep(fault.ms, req.signal);
    if (fault?.kind === "malformed") return json(mangle(await normalBody(req, api)));
    if (fault?.kind === "truncated") {
      const text = JSON.stringify(await normalBody(req, api));
      return new Response(text.slice(0, Math.max(1, text.length >> 1)), {
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    if (fault?.kind === "reset") {
      // Over a socket, drop the connection; in process, fail the way undici's fetch does.
      (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.destroy();
      throw connectionReset();
    }
    if (!allowed) return rdError(429, "too_many_requests", 34);
    return authError(req) ?? api.fetch(req);
  };

  const app = new Hono();
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const path = url.pathname.startsWith(BASE_PATH) ? url.pathname.slice(BASE_PATH.length) || "/" : url.pathname;
    const entry: RequestLogEntry = { method: c.req.method, path, query: url.search.slice(1), status: 0, at: now() };
    try {
      const res = await answer(c.req.raw, path, c.env, entry);
      entry.status = res.status;
      return res;
    } finally {
      if (!entry.hung) fake.requests.push(entry);
    }
  });
  app.onError((err) => {
    throw err;
  });

  const fake: FakeRealDebrid = {
    app,
    baseUrl: `${FAKE_ORIGIN}${BASE_PATH}`,
    torrents: [],
    user: {
      id: 1_234_567,
      username: "fakeuser",
      email: "fakeuser@example.com",
      points: 1_000,
      locale: "en",
      avatar: "https://fcdn.real-debrid.com/images/forum/empty.png",
      type: "premium",
      premium: 30 * 86_400,
      expiration: new Date(now() + 30 * DAY_MS).toJSON(),
    },
    activeLimit: 25,
    requests: [],
    cached: new Set(),
    catalog: new Map(),
    fetch: fetchOnly(FAKE_ORIGIN, (req) => app.fetch(req)),
    add(...list) {
      for (const t of list) insertNewest(fake.torrents, t);
    },
    remove(id) {
      const i = fake.torrents.findIndex((t) => t.id === id);
      if (i < 0) return false;
      fake.torrents.splice(i, 1);
      return true;
    },
    inject(rule) {
      const left = rule.count ?? 1;
      if (left > 0) rules.push({ rule, left });
    },
    clearFaults() {
      rules.length = 0;
    },
    listen: () => listenLoopback(app.fetch, BASE_PATH),
  };
  return fake;
}

/** A magnet URI for a hash, as repair tools build them. */
export function magnetFor(hash: string, name?: string): string {
  return `magnet:?xt=urn:btih:${hash}${name ? `&dn=${encodeURIComponent(name)}` : ""}`;
}
