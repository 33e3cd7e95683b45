import { type FetchResponse, ofetch } from "ofetch";
import * as v from "valibot";
import { UpstreamError } from "../errors.ts";
import { parseResponse } from "../validate.ts";

/** One configured qBittorrent WebUI; no credentials means qBit's "bypass authentication for localhost". */
export interface QbitInstance {
  name: string;
  /** Base URL of the WebUI without a trailing slash, e.g. http://qbittorrent:8080 (plus a reverse-proxy path). */
  url: string;
  username?: string;
  password?: string;
  /** qBittorrent ≥ 5.2 only; sent as a Bearer token and no login happens. */
  apiKey?: string;
}

/** A failed qBittorrent call: which instance and endpoint, the HTTP status when there was one. */
export class QbitError extends UpstreamError {
  override name = "QbitError";
  /** A network failure, timeout or 5xx: the same call may work a moment later. */
  readonly transient: boolean;
  constructor(
    readonly instance: string,
    readonly endpoint: string,
    message: string,
    opts: { status?: number | undefined; transient?: boolean; cause?: unknown } = {},
  ) {
    super("qbittorrent", message, { status: opts.status, cause: opts.cause });
    this.transient = opts.transient ?? false;
  }
}

/** qBittorrent refused the credentials; after a refused login the client never tries again (qBit bans the IP). */
export class QbitAuthError extends UpstreamError {
  override name = "QbitAuthError";
  constructor(
    readonly instance: string,
    message: string,
    opts: { status?: number | undefined; cause?: unknown } = {},
  ) {
    super("qbittorrent", message, { status: opts.status, cause: opts.cause });
  }
}

/** One torrent from /api/v2/torrents/info, reduced to what the monitor looks at; states stay qBit's strings. */
export interface QbitTorrent {
  /** Lower-case. */
  hash: string;
  name: string;
  /** As sent: 4.x `pausedDL`/`pausedUP`, 5.x `stoppedDL`/`stoppedUP`, `error`, `missingFiles`, … */
  state: string;
  category: string;
  tags: string[];
  progress: number;
  size: number;
  amountLeft: number;
  savePath: string;
  contentPath: string | null;
  /** The tracker currently in use; "" when none works. */
  tracker: string;
  /** qBit 5.x `private` field; null on 4.x (use `properties`) and while metadata is missing. */
  isPrivate: boolean | null;
  /** Epoch milliseconds. */
  addedOn: number;
  numSeeds: number;
  numLeechs: number;
  ratio: number;
  dlspeed: number;
  eta: number;
}

/** A real tracker of a torrent (the DHT/PeX/LSD rows are left out); status 0 disabled … 4 not working (5.2+: 5, 6). */
export interface QbitTracker {
  url: string;
  status: number;
  msg: string;
  tier: number;
}

/** One entry of qBit's main log; type 1 normal, 2 info, 4 warning, 8 critical. */
export interface QbitLogEntry {
  id: number;
  /** Epoch milliseconds (qBit sends seconds). */
  timestamp: number;
  type: number;
  message: string;
}

/** The client `createQbitClient` returns. */
export type QbitClient = ReturnType<typeof createQbitClient>;

/** Options of `createQbitClient`. */
export interface QbitClientOptions {
  fetch?: typeof globalThis.fetch;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

const SESSION_COOKIE = /^(SID|QBT_SID_\d+)=([^;]*)/;
// A hash list goes into `hashes=a|b`; qBit reads the word "all" there as every torrent, so only real hashes pass.
const HASH = /^([0-9a-f]{40}|[0-9a-f]{64})$/i;
const PSEUDO_TRACKER = /^\*\* \[.+\] \*\*$/;

const Num = v.number();
const Int = v.pipe(v.number(), v.integer());
const TransferInfo = v.object({ connection_status: v.string() });
const Torrent = v.object({
  hash: v.string(),
  name: v.string(),
  state: v.string(),
  category: v.optional(v.string(), ""),
  tags: v.optional(v.string(), ""),
  progress: Num,
  size: Num,
  amount_left: Num,
  save_path: v.string(),
  content_path: v.optional(v.nullable(v.string()), null),
  tracker: v.optional(v.string(), ""),
  private: v.optional(v.nullable(v.boolean()), null),
  added_on: Num,
  num_seeds: Num,
  num_leechs: Num,
  ratio: Num,
  dlspeed: Num,
  eta: Num,
});
const Torrents = v.array(Torrent);
// 4.x sends tier -1 for the pseudo rows, older builds ""; only the real rows are kept, their tier is a number.
const Trackers = v.array(
  v.object({ url: v.string(), status: Int, msg: v.optional(v.string(), ""), tier: v.union([Int, v.string()]) }),
);
const Properties = v.object({ save_path: v.string(), is_private: v.optional(v.nullable(v.boolean()), null) });
const Log = v.array(v.object({ id: Int, timestamp: Num, type: Int, message: v.string() }));

type Method = "GET" | "POST";
interface CallInit {
  query?: Record<string, string | number>;
  form?: Record<string, string>;
  text?: boolean;
  signal?: AbortSignal | undefined;
}

/** Client for one qBittorrent WebUI (API v2; 4.x and 5.x), logging in lazily and once more when a session expires. */
export function createQbitClient(instance: QbitInstance, opts: QbitClientOptions = {}) {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const usesLogin = !instance.apiKey && Boolean(instance.username);
  const api = ofetch.create(
    {
      baseURL: instance.url,
      retry: 0,
      ignoreResponseError: true,
      headers: instance.apiKey ? { Authorization: `Bearer ${instance.apiKey}` } : {},
      // Bad JSON stays text, so it fails the schema and is reported with the field it lacks.
      parseResponse: (text: string) => {
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      },
    },
    opts.fetch ? { fetch: opts.fetch } : {},
  );

  // The session in use (a promise, so concurrent first calls share one login) and a refused login, kept for good.
  let session: Promise<string | undefined> | undefined;
  let refused: QbitAuthError | undefined;

  /** One HTTP exchange; only transport failures and timeouts throw here. */
  async function send(method: Method, endpoint: string, init: CallInit & { headers?: Record<string, string> }) {
    init.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await api.raw(endpoint, {
        method,
        query: init.query,
        body: init.form ? new URLSearchParams(init.form) : undefined,
        headers: init.headers,
        // The version endpoints answer bare text that may look like JSON ("2.8.19" does not, "5" would).
        ...(init.text ? { parseResponse: (text: string) => text } : {}),
        signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : rootMessage(err);
      throw new QbitError(instance.name, endpoint, `${instance.name} ${method} ${endpoint}: ${why}`, {
        transient: true,
        cause: err,
      });
    }
  }

  async function logIn(): Promise<string | undefined> {
    const endpoint = "/api/v2/auth/login";
    const form = { username: instance.username ?? "", password: instance.password ?? "" };
    // qBit's CSRF check wants Referer/Origin to name the WebUI itself.
    const headers = { Referer: instance.url, Origin: new URL(instance.url).origin };
    const res = await send("POST", endpoint, { form, headers, text: true });
    const body = typeof res._data === "string" ? res._data.trim() : "";
    // ≤ 5.1 answers 200 "Fails."; 5.2 answers 401; a banned IP gets 403. None of them gets better by retrying.
    if (body === "Fails." || res.status === 401 || res.status === 403) {
      const detail = res.status === 403 ? ` (HTTP 403${body ? `: ${body.slice(0, 120)}` : ""})` : "";
      refused = new QbitAuthError(
        instance.name,
        `${instance.name}: login as ${JSON.stringify(form.username)} refused${detail}; not trying again`,
        { status: res.status },
      );
      throw refused;
    }
    if (!res.ok) throw statusError("POST", endpoint, res);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => SESSION_COOKIE.exec(c))
      .find((m) => m !== null);
    // No cookie on "Ok." happens when qBit bypasses authentication for this client: calls then need none.
    return cookie ? `${cookie[1]}=${cookie[2]}` : undefined;
  }

  // The login is shared, so it runs under its own timeout only: one caller's abort must not fail the others' calls.
  function currentSession(): Promise<string | undefined> {
    if (session) return session;
    const attempt = logIn();
    session = attempt;
    // A failed login is forgotten (a refused one is latched in `refused` instead), so the next call tries again.
    attempt.catch(() => {
      if (session === attempt) session = undefined;
    });
    return attempt;
  }

  async function call(method: Method, endpoint: string, init: CallInit = {}): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      if (refused) throw refused;
      const used = usesLogin ? currentSession() : undefined;
      const cookie = await used;
      const res = await send(method, endpoint, { ...init, headers: cookie ? { Cookie: cookie } : {} });
      if (res.status === 403 && usesLogin && attempt === 1) {
        // The session expired (qBit restarted, or it timed out): log in again, unless a parallel call already did.
        if (session === used) session = undefined;
        continue;
      }
      if ((res.status === 401 || res.status === 403) && !usesLogin) {
        const how = instance.apiKey ? "the API key was refused" : "it wants a login (set username and password)";
        throw new QbitAuthError(instance.name, `${instance.name} ${method} ${endpoint}: ${how} (HTTP ${res.status})`, {
          status: res.status,
        });
      }
      if (!res.ok) throw statusError(method, endpoint, res);
      return res._data;
    }
  }

  function statusError(method: Method, endpoint: string, res: FetchResponse<unknown>): QbitError {
    const text = typeof res._data === "string" ? res._data.replace(/\s+/g, " ").trim().slice(0, 200) : "";
    const message = `${instance.name} ${method} ${endpoint}: HTTP ${res.status}${text ? ` ${text}` : ""}`;
    return new QbitError(instance.name, endpoint, message, { status: res.status, transient: res.status >= 500 });
  }

  const parse = <S extends v.GenericSchema>(schema: S, data: unknown, endpoint: string): v.InferOutput<S> =>
    parseResponse(schema, data, { service: `qbittorrent ${instance.name}`, endpoint });

  return {
    instance,

    /** App version without the leading "v" (e.g. "4.5.2") and WebAPI version (e.g. "2.8.19"). */
    async version(signal?: AbortSignal): Promise<{ app: string; webapi: string }> {
      const [app, webapi] = await Promise.all([
        call("GET", "/api/v2/app/version", { text: true, signal }),
        call("GET", "/api/v2/app/webapiVersion", { text: true, signal }),
      ]);
      return {
        app: parse(v.string(), app, "/api/v2/app/version").trim().replace(/^v/, ""),
        webapi: parse(v.string(), webapi, "/api/v2/app/webapiVersion").trim(),
      };
    },

    /** connected, firewalled or disconnected; from transfer/info, which (unlike sync/maindata) lists no torrents. */
    async serverState(signal?: AbortSignal): Promise<{ connectionStatus: string }> {
      const data = await call("GET", "/api/v2/transfer/info", { signal });
      return { connectionStatus: parse(TransferInfo, data, "/api/v2/transfer/info").connection_status };
    },

    /** Torrents, optionally only these hashes / this category / this tag ("" = none, as qBit reads it). */
    async torrents(
      filter: { hashes?: string[]; category?: string; tag?: string } = {},
      signal?: AbortSignal,
    ): Promise<QbitTorrent[]> {
      const query: Record<string, string> = {};
      if (filter.hashes) {
        if (filter.hashes.length === 0) return [];
        query.hashes = hashList(filter.hashes);
      }
      if (filter.category !== undefined) query.category = filter.category;
      if (filter.tag !== undefined) query.tag = filter.tag;
      const data = await call("GET", "/api/v2/torrents/info", { query, signal });
      return parse(Torrents, data, "/api/v2/torrents/info").map(toTorrent);
    },

    /** The torrent's trackers with their status and message ("unregistered torrent" …); an unknown hash is a 404. */
    async trackers(hash: string, signal?: AbortSignal): Promise<QbitTracker[]> {
      const data = await call("GET", "/api/v2/torrents/trackers", { query: { hash: hashList([hash]) }, signal });
      return parse(Trackers, data, "/api/v2/torrents/trackers")
        .filter((t) => !PSEUDO_TRACKER.test(t.url))
        .map((t) => ({ url: t.url, status: t.status, msg: t.msg, tier: Number(t.tier) }));
    },

    /** Private flag (`is_private`, null when this qBit does not send it) and save path of one torrent. */
    async properties(hash: string, signal?: AbortSignal): Promise<{ isPrivate: boolean | null; savePath: string }> {
      const data = await call("GET", "/api/v2/torrents/properties", { query: { hash: hashList([hash]) }, signal });
      const p = parse(Properties, data, "/api/v2/torrents/properties");
      return { isPrivate: p.is_private, savePath: p.save_path };
    },

    /**
     * Main log entries after `afterId` (all that qBit keeps when null); file errors are only reported here.
     * `problems`: warnings and critical entries only (a small part of the log).
     */
    async log(
      afterId: number | null,
      signal?: AbortSignal,
      opts: { problems?: boolean } = {},
    ): Promise<QbitLogEntry[]> {
      const only: Record<string, string> = opts.problems
        ? { normal: "false", info: "false", warning: "true", critical: "true" }
        : {};
      const data = await call("GET", "/api/v2/log/main", { query: { last_known_id: afterId ?? -1, ...only }, signal });
      return parse(Log, data, "/api/v2/log/main").map((e) => ({
        id: e.id,
        timestamp: e.timestamp * 1000,
        type: e.type,
        message: e.message,
      }));
    },

    /** Removes torrents, with their data when `deleteFiles`; an empty list sends nothing. */
    async deleteTorrents(hashes: string[], deleteFiles: boolean, signal?: AbortSignal): Promise<void> {
      if (hashes.length === 0) return;
      const form = { hashes: hashList(hashes), deleteFiles: String(deleteFiles) };
      await call("POST", "/api/v2/torrents/delete", { form, text: true, signal });
    },

    /** Adds tags (created on the fly by qBit) to torrents; empty lists send nothing. */
    async addTags(hashes: string[], tags: string[], signal?: AbortSignal): Promise<void> {
      if (hashes.length === 0 || tags.length === 0) return;
      // qBit splits the tag list on commas and trims, so a comma inside a tag would silently make two tags.
      const bad = tags.find((t) => t.includes(",") || t.trim() === "");
      if (bad !== undefined) throw new Error(`addTags: invalid tag ${JSON.stringify(bad)}`);
      const form = { hashes: hashList(hashes), tags: tags.join(",") };
      await call("POST", "/api/v2/torrents/addTags", { form, text: true, signal });
    },
  };
}

function hashList(hashes: string[]): string {
  const bad = hashes.find((h) => !HASH.test(h));
  if (bad !== undefined) throw new Error(`not a torrent hash: ${JSON.stringify(bad)}`);
  return hashes.map((h) => h.toLowerCase()).join("|");
}

function toTorrent(t: v.InferOutput<typeof Torrent>): QbitTorrent {
  return {
    hash: t.hash.toLowerCase(),
    name: t.name,
    state: t.state,
    category: t.category,
    // qBit joins tags with ", ".
    tags: t.tags
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    progress: t.progress,
    size: t.size,
    amountLeft: t.amount_left,
    savePath: t.save_path,
    contentPath: t.content_path || null,
    tracker: t.tracker,
    isPrivate: t.private,
    addedOn: t.added_on * 1000,
    numSeeds: t.num_seeds,
    numLeechs: t.num_leechs,
    ratio: t.ratio,
    dlspeed: t.dlspeed,
    eta: t.eta,
  };
}

/** The innermost message: "connect ECONNREFUSED 127.0.0.1:8080" rather than ofetch's and undici's wrappers. */
function rootMessage(err: unknown): string {
  let e = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
