import { FetchError, ofetch } from "ofetch";
import * as v from "valibot";
import { UpstreamError } from "../errors.ts";
import { classifyRdError, type RdErrorInfo } from "../rd/errors.ts";
import { abortableSleep, type RdLimiter } from "../rd/limiter.ts";
import { parseRetryAfter } from "../rd/rate-limit.ts";
import { describeIssues, MalformedResponseError, parseResponse } from "../validate.ts";
import type { DebridProvider, DebridTorrent, DebridTorrentInfo } from "./debrid.ts";
import { JsonArrayError, readJsonArray } from "./json-array-stream.ts";
import { createNodeFetch } from "./node-fetch.ts";

const SERVICE = "real-debrid";

/** A failed Real-Debrid call: HTTP status, RD error_code, message and what it means. */
export class RdError extends UpstreamError {
  override name = "RdError";
  constructor(
    readonly endpoint: string,
    message: string,
    readonly info: RdErrorInfo,
    opts: {
      status?: number | undefined;
      code?: number | undefined;
      retryAfterMs?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(SERVICE, `${endpoint}: ${message}`, { status: opts.status, code: opts.code, cause: opts.cause });
    this.retryAfterMs = opts.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}

/** One RD call as metrics see it. */
export interface RdCall {
  endpoint: string;
  method: string;
  status: number | null;
  errorCode: number | null;
  latencyMs: number;
}

export interface RealDebridOptions {
  baseUrl: string;
  token: string;
  limiter: RdLimiter | null;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** Called after every HTTP exchange (also failed ones). */
  onCall?: (call: RdCall) => void;
  /** Attempts for calls that are safe to repeat (reads, and any call RD refused with 429). */
  maxAttempts?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const Hash = v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{40}$/, "40 hex characters"), v.toLowerCase());
const JsonDate = v.pipe(v.string(), v.transform(Date.parse), v.number("a date"));
const Num = v.pipe(v.number(), v.finite());

const TorrentItem = v.object({
  id: v.pipe(v.string(), v.minLength(1)),
  filename: v.string(),
  hash: Hash,
  bytes: Num,
  progress: Num,
  status: v.pipe(v.string(), v.minLength(1)),
  added: JsonDate,
  ended: v.optional(JsonDate),
  links: v.array(v.string()),
});
// The account listing can hold 100k torrents: valibot checks each element's types as it streams in,
// and the few value rules (hash shape, dates) run once in toListedTorrent. Same guarantees, half the
// time of full pipes.
const ListedItem = v.object({
  id: v.string(),
  filename: v.string(),
  hash: v.string(),
  bytes: v.number(),
  progress: v.number(),
  status: v.string(),
  added: v.string(),
  ended: v.optional(v.string()),
  links: v.array(v.string()),
});
const HEX40 = /^[0-9a-fA-F]{40}$/;

/** One listed torrent, its value rules checked; a violation names the field like valibot does. */
function toListedTorrent(t: v.InferOutput<typeof ListedItem>, i: number): DebridTorrent {
  const addedAt = Date.parse(t.added);
  const endedAt = t.ended === undefined ? null : Date.parse(t.ended);
  const bad = (field: string, expected: string, got: unknown) =>
    new MalformedResponseError(SERVICE, "/torrents", [
      `response[${i}].${field}: expected ${expected} (got ${JSON.stringify(got)})`,
    ]);
  if (t.id === "") throw bad("id", "a non-empty id", t.id);
  if (t.status === "") throw bad("status", "a status", t.status);
  if (!HEX40.test(t.hash)) throw bad("hash", "40 hex characters", t.hash);
  if (Number.isNaN(addedAt)) throw bad("added", "a date", t.added);
  if (endedAt !== null && Number.isNaN(endedAt)) throw bad("ended", "a date", t.ended);
  if (!Number.isFinite(t.bytes)) throw bad("bytes", "a finite number", t.bytes);
  if (!Number.isFinite(t.progress)) throw bad("progress", "a finite number", t.progress);
  return {
    id: t.id,
    hash: t.hash.toLowerCase(),
    filename: t.filename,
    status: t.status,
    bytes: t.bytes,
    progress: t.progress,
    links: t.links.length,
    addedAt,
    endedAt,
  };
}
const isSuccess = (status: number | null) => status !== null && status >= 200 && status < 300;

/** Streams a listing page into compact records: the page's text and parsed tree are never held whole. */
async function readListing(body: ReadableStream<Uint8Array>): Promise<DebridTorrent[]> {
  const items: DebridTorrent[] = [];
  try {
    await readJsonArray(body, (value, i) => {
      const r = v.safeParse(ListedItem, value);
      if (!r.success)
        throw new MalformedResponseError(SERVICE, "/torrents", describeIssues(r.issues, `response[${i}]`));
      items.push(toListedTorrent(r.output, i));
    });
  } catch (err) {
    // RD answers an empty page with 204; a 200 with no body at all means the same
    if (err instanceof JsonArrayError && err.empty) return [];
    if (err instanceof JsonArrayError) throw new MalformedResponseError(SERVICE, "/torrents", [err.message]);
    throw err;
  }
  return items;
}

// ofetch options for a call whose body is streamed: no JSON parsing of a success, while an error body
// is still read as JSON (onResponse runs before ofetch raises it) so its error_code is classified.
const STREAMED = {
  responseType: "stream",
  parseResponse: undefined,
  async onResponse(ctx: { response: { ok: boolean; _data?: unknown; text(): Promise<string> } }) {
    if (ctx.response.ok) return;
    const text = await ctx.response.text().catch(() => "");
    try {
      ctx.response._data = JSON.parse(text);
    } catch {
      ctx.response._data = text;
    }
  },
} as const;

const TorrentInfo = v.object({
  ...TorrentItem.entries,
  original_filename: v.optional(v.string()),
  files: v.array(
    v.object({
      id: v.pipe(v.number(), v.integer()),
      path: v.string(),
      bytes: Num,
      selected: v.picklist([0, 1]),
    }),
  ),
});
const User = v.object({
  username: v.string(),
  type: v.string(),
  premium: Num,
  expiration: v.optional(v.nullable(v.string())),
});
const Added = v.object({ id: v.pipe(v.string(), v.minLength(1)) });
const ActiveCount = v.object({ nb: Num, limit: Num });

function toTorrent(t: v.InferOutput<typeof TorrentItem>): DebridTorrent {
  return {
    id: t.id,
    hash: t.hash,
    filename: t.filename,
    status: t.status,
    bytes: t.bytes,
    progress: t.progress,
    links: t.links.length,
    addedAt: t.added,
    endedAt: t.ended ?? null,
  };
}

/** Builds the magnet RDTM adds to re-inject a torrent: hash validated, name URL-encoded. */
export function magnetFor(hash: string, name: string): string {
  if (!/^[0-9a-fA-F]{40}$/.test(hash)) throw new Error(`not a 40-hex info hash: ${JSON.stringify(hash)}`);
  return `magnet:?xt=urn:btih:${hash.toLowerCase()}&dn=${encodeURIComponent(name)}`;
}

/** Real-Debrid behind the DebridProvider interface, every call through the shared limiter. */
export function createRealDebridClient(opts: RealDebridOptions): DebridProvider & { name: "real-debrid" } {
  const sleep = opts.sleep ?? abortableSleep;
  const maxAttempts = opts.maxAttempts ?? 4;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const api = ofetch.create(
    {
      baseURL: opts.baseUrl,
      headers: { Authorization: `Bearer ${opts.token}` },
      retry: 0,
      // (ofetch's own `timeout` is ignored when a signal is passed: withTimeout below does it.)
      // Plain JSON.parse: the schemas below copy only known keys, so destr's prototype guard (a third
      // of the parse time on 5,000-torrent pages) adds nothing. Bad JSON stays text and fails the schema.
      parseResponse: (text: string) => {
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      },
    },
    // The transport is a global option of the instance (tests and the demo pass the fake's fetch).
    // By default node:http: the listing's 2 MB pages cost ~15 MB less peak memory than through undici.
    { fetch: opts.fetch ?? createNodeFetch() },
  );

  /** One call with the limiter, classification and the retries that are safe. */
  async function call<T>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    endpoint: string,
    init: {
      query?: Record<string, string | number>;
      body?: URLSearchParams;
      signal?: AbortSignal | undefined;
      /** Reads a successful body as a stream (inside the call's timeout and retries) instead of as JSON. */
      consume?: (body: ReadableStream<Uint8Array>) => Promise<T>;
    } = {},
  ): Promise<{ status: number; data: T; headers: Headers }> {
    const streamed = init.consume ? STREAMED : {};
    for (let attempt = 1; ; attempt++) {
      await opts.limiter?.acquire(init.signal);
      const started = Date.now();
      // the HTTP status of an answer whose body then failed (a malformed 200 is still a 200 in the metrics)
      let answered: number | null = null;
      try {
        const res = await withTimeout(init.signal, timeoutMs, async (signal) => {
          const r = await api.raw<T>(endpoint, { method, query: init.query, body: init.body, signal, ...streamed });
          answered = r.status;
          if (!init.consume) return r;
          // ofetch raises 4xx/5xx itself; any other status but a 2xx (an unfollowed 3xx) is not an answer
          if (r.status < 200 || r.status > 299)
            throw new MalformedResponseError(SERVICE, endpoint, [`unexpected HTTP ${r.status}`]);
          const body = r._data as unknown as ReadableStream<Uint8Array> | undefined;
          r._data = (body ? await init.consume(body) : undefined) as T;
          return r;
        });
        opts.onCall?.({ endpoint, method, status: res.status, errorCode: null, latencyMs: Date.now() - started });
        opts.limiter?.onSuccess();
        return { status: res.status, data: res._data as T, headers: res.headers };
      } catch (err) {
        const e = toRdError(endpoint, err, Date.now());
        opts.onCall?.({
          endpoint,
          method,
          status: e.status ?? answered,
          errorCode: typeof e.code === "number" ? e.code : null,
          latencyMs: Date.now() - started,
        });
        if (init.signal?.aborted) throw init.signal.reason;
        // RD answered (it did not throttle us); only the body was wrong
        if (isSuccess(answered)) opts.limiter?.onSuccess();
        if (e.info.throttle) await opts.limiter?.onThrottle(e.retryAfterMs);
        // A refused (429) call did nothing, so any call may repeat it; other transient failures only
        // repeat for reads, since a write may have happened before the connection broke.
        const safe = e.info.throttle || (method === "GET" && e.info.retryable);
        if (!safe || attempt >= maxAttempts) throw e;
        if (!opts.limiter || !e.info.throttle) await sleep(Math.min(8_000, 500 * 2 ** (attempt - 1)), init.signal);
      }
    }
  }

  /** Checks a body at the boundary; a wrong shape is an RdError of class "malformed" naming the field. */
  function parse<S extends v.GenericSchema>(schema: S, data: unknown, endpoint: string): v.InferOutput<S> {
    try {
      return parseResponse(schema, data, { service: SERVICE, endpoint });
    } catch (err) {
      throw toRdError(endpoint, err, Date.now());
    }
  }

  return {
    name: "real-debrid",
    async getUser(signal) {
      const { data } = await call<unknown>("GET", "/user", { signal });
      const u = parse(User, data, "/user");
      const exp = u.expiration ? Date.parse(u.expiration) : Number.NaN;
      return {
        username: u.username,
        type: u.type,
        premiumSecondsLeft: u.premium,
        expiration: Number.isNaN(exp) ? null : exp,
      };
    },
    async listTorrents(q, signal) {
      const { data, headers } = await call<DebridTorrent[] | undefined>("GET", "/torrents", {
        query: { offset: q.offset, limit: q.limit },
        signal,
        consume: readListing,
      });
      const totalHeader = headers.get("x-total-count");
      const total = totalHeader !== null && /^\d+$/.test(totalHeader.trim()) ? Number(totalHeader) : null;
      // RD answers an empty page with 204 and no body.
      return { items: data ?? [], total };
    },
    async getTorrent(id, signal) {
      const endpoint = `/torrents/info/${encodeURIComponent(id)}`;
      const { data } = await call<unknown>("GET", endpoint, { signal });
      const t = parse(TorrentInfo, data, "/torrents/info");
      const info: DebridTorrentInfo = {
        ...toTorrent(t),
        originalFilename: t.original_filename ?? t.filename,
        files: t.files.map((f) => ({ id: f.id, path: f.path, bytes: f.bytes, selected: f.selected === 1 })),
      };
      return info;
    },
    async addMagnet(magnet, signal) {
      const { data } = await call<unknown>("POST", "/torrents/addMagnet", {
        body: new URLSearchParams({ magnet }),
        signal,
      });
      return { id: parse(Added, data, "/torrents/addMagnet").id };
    },
    async selectFiles(id, fileIds, signal) {
      const files = fileIds === "all" ? "all" : fileIds.join(",");
      if (files === "") throw new Error("selectFiles needs at least one file id");
      const { status } = await call<unknown>("POST", `/torrents/selectFiles/${encodeURIComponent(id)}`, {
        body: new URLSearchParams({ files }),
        signal,
      });
      return status === 202 ? "already" : "selected";
    },
    async deleteTorrent(id, signal) {
      await call<unknown>("DELETE", `/torrents/delete/${encodeURIComponent(id)}`, { signal });
    },
    async activeCount(signal) {
      const { data } = await call<unknown>("GET", "/torrents/activeCount", { signal });
      const c = parse(ActiveCount, data, "/torrents/activeCount");
      return { active: c.nb, limit: c.limit };
    },
  };
}

/**
 * Runs one request under its own signal: aborted by the caller's signal or after `ms`. A fresh
 * controller per call, its listener removed after: fetch keeps a listener on the signal it gets until
 * the request is collected, so handing it the run's signal piled hundreds onto it (Node warns at 11);
 * and a plain timer, because an AbortSignal.timeout() combined with AbortSignal.any() can be collected
 * before it fires.
 */
async function withTimeout<T>(
  parent: AbortSignal | undefined,
  ms: number,
  run: (s: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => ctl.abort(new DOMException(`timeout: no answer within ${ms} ms`, "TimeoutError")), ms);
  try {
    return await run(ctl.signal);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onAbort);
  }
}

function toRdError(endpoint: string, err: unknown, now: number): RdError {
  if (err instanceof RdError) return err;
  if (err instanceof MalformedResponseError) {
    return new RdError(endpoint, err.message, classifyRdError({ malformed: true }), { cause: err });
  }
  if (err instanceof FetchError) {
    const status = err.response?.status;
    const body = err.data as { error?: unknown; error_code?: unknown } | undefined;
    const code = typeof body?.error_code === "number" ? body.error_code : undefined;
    const text =
      typeof body?.error === "string" ? body.error : err.cause instanceof Error ? err.cause.message : err.message;
    return new RdError(endpoint, status ? `HTTP ${status} ${text}` : text, classifyRdError({ status, code }), {
      status,
      code,
      retryAfterMs: parseRetryAfter(err.response?.headers.get("retry-after"), now),
      cause: err,
    });
  }
  return new RdError(endpoint, err instanceof Error ? err.message : String(err), classifyRdError({}), { cause: err });
}
