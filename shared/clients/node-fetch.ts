// A fetch over node:http and node:https for the API clients that move large bodies. Node's global
// fetch (undici) reads a response ahead into its own buffers and web streams: reading the twenty
// 2 MB pages of a 100k-torrent RD account through it cost ~15 MB more peak RSS than through
// node:http, whose stream waits for the reader (measured with bench/rd-scan). Same contract as fetch
// for what the clients use: keep-alive, gzip/deflate/br, redirects for reads, an AbortSignal whose
// reason is what the call rejects with, and TypeError("fetch failed") for network errors.

// The node modules are loaded on first use, so the Worker bundle (workerd has no node:http) can import
// this file; there, the first call finds them missing and every call goes to the global fetch.
import type { Agent, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";

interface NodeModules {
  http: Pick<typeof import("node:http"), "Agent" | "request">;
  https: Pick<typeof import("node:https"), "Agent" | "request">;
  stream: Pick<typeof import("node:stream"), "Readable">;
  zlib: Pick<typeof import("node:zlib"), "createGunzip" | "createInflate" | "createBrotliDecompress">;
}

let loading: Promise<NodeModules | null> | null = null;
function loadNode(): Promise<NodeModules | null> {
  loading ??= Promise.all([import("node:http"), import("node:https"), import("node:stream"), import("node:zlib")]).then(
    ([http, https, stream, zlib]) => ({ http, https, stream, zlib }),
    () => null,
  );
  return loading as Promise<NodeModules | null>;
}

type Fetch = typeof globalThis.fetch;

export interface NodeFetchOptions {
  /** How long an idle keep-alive socket is kept (ms). Under the servers' own timeout, like undici's 4 s. */
  keepAliveMs?: number;
  /** Redirects followed for GET/HEAD before giving up. */
  maxRedirects?: number;
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A fetch-compatible function; bodies it cannot send itself (FormData, Blob, streams) go to global fetch. */
export function createNodeFetch(opts: NodeFetchOptions = {}): Fetch {
  const keepAlive = { keepAlive: true, timeout: opts.keepAliveMs ?? 4_000 };
  let agents: { http: Agent; https: Agent } | null = null;
  const maxRedirects = opts.maxRedirects ?? 5;

  const nodeFetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const node = await loadNode();
    if (!node || input instanceof Request) return globalThis.fetch(input, init);
    agents ??= { http: new node.http.Agent(keepAlive), https: new node.https.Agent(keepAlive) };
    const body = encodeBody(init.body);
    if (body === undefined) return globalThis.fetch(input, init);
    let url = new URL(String(input));
    const method = (init.method ?? "GET").toUpperCase();
    const headers = headerRecord(init.headers, body);
    for (let hop = 0; ; hop++) {
      const res = await send(node, url, method, headers, body.bytes, init.signal ?? null);
      const location = res.headers.location;
      const follow =
        res.statusCode !== undefined &&
        [301, 302, 303, 307, 308].includes(res.statusCode) &&
        location !== undefined &&
        (method === "GET" || method === "HEAD") &&
        init.redirect !== "manual";
      if (!follow) return toResponse(node, res, method, init.signal ?? null);
      res.resume();
      if (init.redirect === "error" || hop >= maxRedirects)
        throw new TypeError("fetch failed", { cause: new Error(`redirect to ${location} not followed`) });
      const next = new URL(location, url);
      // as fetch does: credentials never follow a redirect to another origin
      if (next.origin !== url.origin) {
        delete headers.authorization;
        delete headers.cookie;
      }
      url = next;
    }
  };

  function send(
    node: NodeModules,
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | null,
    signal: AbortSignal | null,
  ): Promise<IncomingMessage> {
    if (url.protocol !== "http:" && url.protocol !== "https:")
      return Promise.reject(
        new TypeError("fetch failed", { cause: new Error(`unsupported protocol ${url.protocol}`) }),
      );
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const https = url.protocol === "https:";
      const request = https ? node.https.request : node.http.request;
      const agent = https ? agents?.https : agents?.http;
      const req = request(url, { method, headers, agent }, (res) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(res);
      });
      const onAbort = () => {
        req.destroy();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: err }));
      });
      req.end(body ?? undefined);
    });
  }

  return nodeFetch as Fetch;
}

/** The body as bytes with its default content type, null for none, undefined when fetch must send it. */
function encodeBody(body: RequestInit["body"]): { bytes: Uint8Array | null; type?: string } | undefined {
  if (body === undefined || body === null) return { bytes: null };
  if (typeof body === "string") return { bytes: new TextEncoder().encode(body), type: "text/plain;charset=UTF-8" };
  if (body instanceof URLSearchParams)
    return {
      bytes: new TextEncoder().encode(body.toString()),
      type: "application/x-www-form-urlencoded;charset=UTF-8",
    };
  if (body instanceof Uint8Array) return { bytes: body };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  return undefined;
}

function headerRecord(init: HeadersInit | undefined, body: { bytes: Uint8Array | null; type?: string }) {
  const headers: Record<string, string> = {};
  new Headers(init).forEach((value, key) => {
    headers[key] = value;
  });
  headers["accept-encoding"] ??= "gzip, deflate, br";
  headers.accept ??= "*/*";
  if (body.type) headers["content-type"] ??= body.type;
  if (body.bytes) headers["content-length"] = String(body.bytes.byteLength);
  return headers;
}

/** The node response as a fetch Response, its body decoded and read on demand (with backpressure). */
function toResponse(node: NodeModules, res: IncomingMessage, method: string, signal: AbortSignal | null): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    headers.append(res.rawHeaders[i] ?? "", res.rawHeaders[i + 1] ?? "");
  if (status < 200 || status > 599) {
    res.destroy();
    throw new TypeError("fetch failed", { cause: new Error(`invalid HTTP status ${status}`) });
  }
  if (NULL_BODY.has(status) || method === "HEAD") {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage, headers });
  }
  let stream: Readable = res;
  const encoding = (res.headers["content-encoding"] ?? "").trim().toLowerCase();
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? node.zlib.createGunzip()
      : encoding === "deflate"
        ? node.zlib.createInflate()
        : encoding === "br"
          ? node.zlib.createBrotliDecompress()
          : null;
  if (decoder) {
    res.on("error", (err) => decoder.destroy(err));
    // The decoder ending early (cancelled, aborted, corrupt data) must release the socket too: a piped
    // source is only unpiped and left paused, and its connection would stay open.
    decoder.once("close", () => {
      if (!res.complete) res.destroy();
    });
    stream = res.pipe(decoder);
    // fetch hands back the decoded body: its length and encoding no longer describe it
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  if (signal) {
    const onAbort = () => stream.destroy(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    stream.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  return new Response(node.stream.Readable.toWeb(stream) as ReadableStream<Uint8Array>, {
    status,
    statusText: res.statusMessage,
    headers,
  });
}
