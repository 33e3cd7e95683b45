import { FetchError, ofetch } from "ofetch";
import * as v from "valibot";
import { UpstreamError } from "../errors.ts";
import { MalformedResponseError, parseResponse } from "../validate.ts";

/** Which *arr an instance is; decides the routes, command names and query flags. */
export type ArrKind = "sonarr" | "radarr";

/** One configured instance (several of each kind are allowed). */
export interface ArrInstance {
  name: string;
  kind: ArrKind;
  /** Base URL without a trailing slash, e.g. http://sonarr:8989 (plus the URL base when one is set). */
  url: string;
  apiKey: string;
}

/** A failed Sonarr/Radarr call: which instance, which endpoint, the HTTP status when there was one. */
export class ArrError extends UpstreamError {
  override name = "ArrError";
  constructor(
    readonly instance: string,
    readonly endpoint: string,
    kind: ArrKind,
    message: string,
    opts: { status?: number | undefined; transient?: boolean; cause?: unknown } = {},
  ) {
    super(kind, message, { status: opts.status, cause: opts.cause });
    this.transient = opts.transient ?? false;
  }
  /** A network failure, timeout or 5xx: the same call may work a moment later. */
  readonly transient: boolean;
}

/** One record of the *arr download queue, reduced to what repairs look at. */
export interface ArrQueueItem {
  id: number;
  /** The client's id; for qBittorrent the info hash upper-cased, as the *arr stores it. */
  downloadId: string | null;
  title: string;
  status: string;
  trackedDownloadStatus: string | null;
  trackedDownloadState: string | null;
  statusMessages: { title: string; messages: string[] }[];
  errorMessage: string | null;
  protocol: string;
  downloadClient: string | null;
  seriesId?: number;
  episodeId?: number;
  movieId?: number;
  size: number;
  sizeleft: number;
}

/** Who owns a library path: the series/movie, the file record, and (Sonarr) the episodes in that file. */
export interface ArrOwner {
  instance: string;
  kind: ArrKind;
  /** seriesId or movieId */
  itemId: number;
  /** episodeFileId or movieFileId */
  fileId: number;
  /** Sonarr; [] for Radarr */
  episodeIds: number[];
  path: string;
}

/** The client `createArrClient` returns. */
export type ArrClient = ReturnType<typeof createArrClient>;

export interface ArrClientOptions {
  fetch?: typeof globalThis.fetch;
  /** Per attempt; default 30 s. */
  timeoutMs?: number;
  /** Pause before the one retry of a read; default 500 ms. */
  retryDelayMs?: number;
}

const PAGE_SIZE = 200;
// 200,000 queue records: far beyond any real queue, only there so a misbehaving server cannot loop us forever.
const MAX_PAGES = 1000;

const Int = v.pipe(v.number(), v.integer());
const OptText = v.optional(v.nullable(v.string()), null);
const SystemStatus = v.object({ appName: v.string(), version: v.string() });
const QueueRecord = v.object({
  id: Int,
  downloadId: OptText,
  title: v.string(),
  status: v.string(),
  trackedDownloadStatus: OptText,
  trackedDownloadState: OptText,
  statusMessages: v.optional(
    v.nullable(v.array(v.object({ title: v.optional(v.nullable(v.string()), ""), messages: v.array(v.string()) }))),
    [],
  ),
  errorMessage: OptText,
  protocol: v.string(),
  downloadClient: OptText,
  seriesId: v.optional(Int),
  episodeId: v.optional(Int),
  movieId: v.optional(Int),
  size: v.number(),
  sizeleft: v.number(),
});
const QueuePage = v.object({ page: Int, pageSize: Int, totalRecords: Int, records: v.array(QueueRecord) });
const RootFolders = v.array(v.object({ path: v.string() }));
const LibraryItems = v.array(v.object({ id: Int, path: v.string() }));
const Files = v.array(v.object({ id: Int, path: v.string() }));
const Episodes = v.array(v.object({ id: Int }));
const Command = v.object({ id: Int });

/** Routes and names that differ between the two apps. */
const ROUTES = {
  sonarr: {
    items: "/api/v3/series",
    files: "/api/v3/episodefile",
    fileOwnerParam: "seriesId",
    unknownItems: "includeUnknownSeriesItems",
  },
  radarr: {
    items: "/api/v3/movie",
    files: "/api/v3/moviefile",
    fileOwnerParam: "movieId",
    unknownItems: "includeUnknownMovieItems",
  },
} as const;

/** Client for one Sonarr or Radarr instance (API v3, key in X-Api-Key). */
export function createArrClient(instance: ArrInstance, opts: ArrClientOptions = {}) {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const routes = ROUTES[instance.kind];
  const api = ofetch.create(
    {
      baseURL: instance.url,
      headers: { "X-Api-Key": instance.apiKey, Accept: "application/json" },
      retry: 0,
      // Bad JSON stays text, so it fails the schema and is reported with the field it lacks.
      parseResponse: (text: string) => {
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      },
    },
    // the transport is a global option of the instance (tests pass the fake's fetch)
    opts.fetch ? { fetch: opts.fetch } : {},
  );

  /** One call; reads that failed transiently are tried once more, writes never (they may have happened). */
  async function call(
    method: "GET" | "POST" | "DELETE",
    endpoint: string,
    init: {
      query?: Record<string, string | number | boolean>;
      body?: Record<string, unknown>;
      signal?: AbortSignal;
    } = {},
  ): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      try {
        const res = await api.raw(endpoint, { method, query: init.query, body: init.body, signal });
        return res._data;
      } catch (err) {
        if (init.signal?.aborted) throw init.signal.reason;
        const e = toArrError(instance, method, endpoint, err, timeout.aborted ? timeoutMs : undefined);
        if (method !== "GET" || !e.transient || attempt >= 2) throw e;
        await pause(retryDelayMs, init.signal);
      }
    }
  }

  function parse<S extends v.GenericSchema>(schema: S, data: unknown, endpoint: string): v.InferOutput<S> {
    try {
      return parseResponse(schema, data, { service: instance.name, endpoint });
    } catch (err) {
      if (!(err instanceof MalformedResponseError)) throw err;
      const problems = err.problems.slice(0, 3).join("; ");
      throw new ArrError(
        instance.name,
        endpoint,
        instance.kind,
        `${instance.name} ${endpoint}: unexpected response: ${problems}`,
        {
          cause: err,
        },
      );
    }
  }

  async function command(body: Record<string, unknown>, signal?: AbortSignal): Promise<{ commandId: number }> {
    const data = await call("POST", "/api/v3/command", { body, signal });
    return { commandId: parse(Command, data, "/api/v3/command").id };
  }

  // One listing per client: series/movie folders rarely move, and a lookup per repaired file must stay cheap.
  // A failed listing is forgotten so the next lookup tries again.
  let library: Promise<{ id: number; path: string }[]> | undefined;
  function libraryItems(signal?: AbortSignal) {
    if (library) return library;
    const listing = call("GET", routes.items, { signal }).then((data) => parse(LibraryItems, data, routes.items));
    library = listing;
    listing.catch(() => {
      if (library === listing) library = undefined;
    });
    return listing;
  }

  /**
   * Removes a queue item: from the download client too when asked, blocklisting the release when asked.
   * Without a blocklist the *arr does not search again by itself; with one it does unless skipRedownload.
   */
  async function removeQueueItem(
    queueId: number,
    o: { removeFromClient: boolean; blocklist: boolean; skipRedownload: boolean },
    signal?: AbortSignal,
  ): Promise<void> {
    const query = { removeFromClient: o.removeFromClient, blocklist: o.blocklist, skipRedownload: o.skipRedownload };
    await call("DELETE", `/api/v3/queue/${queueId}`, { query, signal });
  }

  return {
    instance,
    async systemStatus(signal?: AbortSignal): Promise<{ appName: string; version: string }> {
      const s = parse(SystemStatus, await call("GET", "/api/v3/system/status", { signal }), "/api/v3/system/status");
      return { appName: s.appName, version: s.version };
    },

    /** Every queue record, unknown (unmatched) items included, each once even if the queue shifts while paging. */
    async queueAll(signal?: AbortSignal): Promise<ArrQueueItem[]> {
      const byId = new Map<number, ArrQueueItem>();
      let total = Number.POSITIVE_INFINITY;
      for (let page = 1; page <= MAX_PAGES && (page - 1) * PAGE_SIZE < total; page++) {
        const query = { page, pageSize: PAGE_SIZE, [routes.unknownItems]: true };
        const p = parse(QueuePage, await call("GET", "/api/v3/queue", { query, signal }), "/api/v3/queue");
        total = p.totalRecords;
        for (const r of p.records) if (!byId.has(r.id)) byId.set(r.id, toQueueItem(r));
        // Past the end the *arr answers its last page again under another page number, so that ends the walk too.
        if (p.page !== page || p.records.length < PAGE_SIZE) break;
      }
      return [...byId.values()];
    },

    async rootFolders(signal?: AbortSignal): Promise<string[]> {
      const data = await call("GET", "/api/v3/rootfolder", { signal });
      return parse(RootFolders, data, "/api/v3/rootfolder").map((f) => f.path);
    },

    /** The series/movie folder containing `path` (longest match), then its file record with exactly that path. */
    async findOwner(path: string, signal?: AbortSignal): Promise<ArrOwner | null> {
      if (!isAbsolute(path)) throw new Error(`findOwner needs an absolute path, got ${JSON.stringify(path)}`);
      const item = containingItem(await libraryItems(signal), path);
      if (!item) return null;
      const files = parse(
        Files,
        await call("GET", routes.files, { query: { [routes.fileOwnerParam]: item.id }, signal }),
        routes.files,
      );
      const file = files.find((f) => f.path === path);
      if (!file) return null;
      let episodeIds: number[] = [];
      if (instance.kind === "sonarr") {
        const data = await call("GET", "/api/v3/episode", { query: { episodeFileId: file.id }, signal });
        episodeIds = parse(Episodes, data, "/api/v3/episode").map((e) => e.id);
      }
      return { instance: instance.name, kind: instance.kind, itemId: item.id, fileId: file.id, episodeIds, path };
    },

    /** Sonarr RescanSeries {seriesId}; Radarr RescanMovie {movieId} (the command class has a single movieId). */
    rescan(itemId: number, signal?: AbortSignal): Promise<{ commandId: number }> {
      return instance.kind === "sonarr"
        ? command({ name: "RescanSeries", seriesId: itemId }, signal)
        : command({ name: "RescanMovie", movieId: itemId }, signal);
    },

    /** Sonarr EpisodeSearch {episodeIds}; Radarr MoviesSearch {movieIds: [itemId]}. */
    search(owner: Pick<ArrOwner, "itemId" | "episodeIds">, signal?: AbortSignal): Promise<{ commandId: number }> {
      if (instance.kind === "radarr") return command({ name: "MoviesSearch", movieIds: [owner.itemId] }, signal);
      if (owner.episodeIds.length === 0) throw new Error("search needs at least one episode id for Sonarr");
      return command({ name: "EpisodeSearch", episodeIds: owner.episodeIds }, signal);
    },

    /** Deletes the file record and the file on disk; an unknown id is an ArrError with status 404. */
    async deleteFile(fileId: number, signal?: AbortSignal): Promise<void> {
      await call("DELETE", `${routes.files}/${fileId}`, { signal });
    },

    /** Removes a queue item and blocklists its release; the *arr searches again unless skipRedownload. */
    async blocklistQueueItem(
      queueId: number,
      o: { removeFromClient: boolean; skipRedownload: boolean },
      signal?: AbortSignal,
    ): Promise<void> {
      await removeQueueItem(queueId, { ...o, blocklist: true }, signal);
    },

    removeQueueItem,
  };
}

function toQueueItem(r: v.InferOutput<typeof QueueRecord>): ArrQueueItem {
  const item: ArrQueueItem = {
    id: r.id,
    downloadId: r.downloadId,
    title: r.title,
    status: r.status,
    trackedDownloadStatus: r.trackedDownloadStatus,
    trackedDownloadState: r.trackedDownloadState,
    statusMessages: (r.statusMessages ?? []).map((m) => ({ title: m.title ?? "", messages: m.messages })),
    errorMessage: r.errorMessage,
    protocol: r.protocol,
    downloadClient: r.downloadClient,
    size: r.size,
    sizeleft: r.sizeleft,
  };
  if (r.seriesId !== undefined) item.seriesId = r.seriesId;
  if (r.episodeId !== undefined) item.episodeId = r.episodeId;
  if (r.movieId !== undefined) item.movieId = r.movieId;
  return item;
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** The item whose folder contains `path`, the deepest one when folders nest; folder boundaries respected. */
export function containingItem<T extends { path: string }>(items: readonly T[], path: string): T | undefined {
  let best: T | undefined;
  let bestLength = -1;
  for (const item of items) {
    const dir = item.path.replace(/[\\/]+$/, "");
    if (dir === "" || dir.length <= bestLength || !path.startsWith(dir)) continue;
    // "/tv/Show" must not claim "/tv/Show 2/…": the next character has to be a separator.
    const next = path[dir.length];
    if (next === "/" || next === "\\") {
      best = item;
      bestLength = dir.length;
    }
  }
  return best;
}

/**
 * Reads <ApiKey> from a Sonarr/Radarr config.xml. Note an `<App>__AUTH__APIKEY` environment variable wins over
 * the file in the *arr itself, so an explicitly configured key should be preferred to this.
 */
export function apiKeyFromConfigXml(xml: string): string {
  // Comments first: a commented-out key is not the key the *arr uses.
  const text = xml.replace(/<!--[\s\S]*?-->/g, "");
  if (!/<Config[\s>]/.test(text)) throw new Error("config.xml: not a Sonarr/Radarr config (no <Config> element)");
  const m = /<ApiKey>([^<]*)<\/ApiKey>/.exec(text);
  if (!m) throw new Error("config.xml: no <ApiKey> element");
  const key = (m[1] ?? "").trim();
  if (key === "") throw new Error("config.xml: <ApiKey> is empty");
  return key;
}

/** Short text of an *arr error body: ErrorModel {message}, a validation list [{errorMessage}], or plain text. */
function bodyText(body: unknown): string | undefined {
  if (typeof body === "string") {
    // Cut first: the tag regex is quadratic on a long body of "<" (a misbehaving proxy's page).
    const t = body
      .slice(0, 2000)
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return t === "" ? undefined : t.slice(0, 200);
  }
  if (Array.isArray(body)) {
    const msgs = body.map((e) => (e as { errorMessage?: unknown })?.errorMessage).filter((m) => typeof m === "string");
    return msgs.length > 0 ? msgs.join("; ") : undefined;
  }
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" && message !== "" ? message : undefined;
}

function toArrError(
  instance: ArrInstance,
  method: string,
  endpoint: string,
  err: unknown,
  timedOutAfterMs: number | undefined,
): ArrError {
  const where = `${instance.name} ${method} ${endpoint}`;
  const make = (message: string, o: { status?: number; transient?: boolean }) =>
    new ArrError(instance.name, endpoint, instance.kind, message, { ...o, cause: err });
  if (timedOutAfterMs !== undefined)
    return make(`${where}: no answer within ${timedOutAfterMs} ms`, { transient: true });
  const status = err instanceof FetchError ? err.response?.status : undefined;
  if (status === 401)
    return make(`API key rejected by ${instance.name} (HTTP 401 on ${method} ${endpoint})`, { status });
  if (status !== undefined) {
    const text = bodyText((err as FetchError).data) ?? (err as FetchError).response?.statusText ?? "";
    return make(`${where}: HTTP ${status}${text ? ` ${text}` : ""}`, { status, transient: status >= 500 });
  }
  return make(`${where}: ${rootMessage(err)}`, { transient: true });
}

/** The innermost message: "connect ECONNREFUSED 127.0.0.1:8989" rather than ofetch's and undici's wrappers. */
function rootMessage(err: unknown): string {
  let e = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
