import { type Context, Hono } from "hono";
import type { ArrKind } from "../../shared/clients/servarr.ts";
import { fetchOnly, listenLoopback } from "./loopback.ts";

export interface FakeSeries {
  id: number;
  title: string;
  path: string;
}

export interface FakeEpisodeFile {
  id: number;
  seriesId: number;
  /** Absolute, inside the series folder (Sonarr builds it as series path + relativePath). */
  path: string;
  episodeIds: number[];
  seasonNumber?: number;
  size?: number;
}

export interface FakeMovie {
  id: number;
  title: string;
  path: string;
  movieFile?: { id: number; path: string; size?: number };
}

/** A v3 QueueResource; absent optional fields are left out of the JSON, as the *arr leaves out nulls. */
export interface FakeQueueRecord {
  id: number;
  seriesId?: number;
  episodeId?: number;
  seasonNumber?: number;
  movieId?: number;
  title: string;
  status: string;
  trackedDownloadStatus?: string;
  trackedDownloadState?: string;
  statusMessages: { title: string; messages: string[] }[];
  errorMessage?: string;
  downloadId?: string;
  protocol: string;
  downloadClient?: string;
  indexer?: string;
  outputPath?: string;
  size: number;
  sizeleft: number;
  timeleft?: string;
}

/** One POST /api/v3/command as the fake received it; `body` is the JSON sent, `name` the canonical name. */
export interface FakeCommand {
  id: number;
  name: string;
  body: Record<string, unknown>;
  at: number;
  /** What GET /api/v3/command/{id} reports; tests may move it on ("completed", "failed"). */
  status: string;
}

/** A fault: matching requests (path is the URL path, e.g. /api/v3/queue) get this answer, `count` times (default 1). */
export interface FakeArrFault {
  status: number;
  /** Default: the *arr's error body for the status (none for 401); a string goes out as is. */
  body?: unknown;
  path?: RegExp;
  method?: string;
  count?: number;
}

export interface FakeArr {
  kind: ArrKind;
  app: Hono;
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  baseUrl: string;
  apiKey: string;
  series: FakeSeries[];
  episodeFiles: FakeEpisodeFile[];
  movies: FakeMovie[];
  queue: FakeQueueRecord[];
  rootFolders: string[];
  commands: FakeCommand[];
  deleted: { kind: "episodefile" | "moviefile" | "queue"; id: number; query: string }[];
  requests: { method: string; path: string; query: string; status: number }[];
  inject(rule: FakeArrFault): void;
  listen(): Promise<{ url: string; close(): Promise<void> }>;
}

// Command classes (name minus "Command") the fake accepts; the *arr matches them case-insensitively.
const COMMANDS: Record<ArrKind, string[]> = {
  sonarr: [
    "EpisodeSearch",
    "SeasonSearch",
    "SeriesSearch",
    "MissingEpisodeSearch",
    "CutoffUnmetEpisodeSearch",
    "RescanSeries",
    "RefreshSeries",
    "RefreshMonitoredDownloads",
  ],
  radarr: [
    "MoviesSearch",
    "MissingMoviesSearch",
    "CutoffUnmetMoviesSearch",
    "RescanMovie",
    "RefreshMovie",
    "RefreshMonitoredDownloads",
  ],
};

const APP = {
  sonarr: { appName: "Sonarr", version: "4.0.14.2939", port: 8989 },
  radarr: { appName: "Radarr", version: "5.26.2.10099", port: 7878 },
} as const;

let seq = 100;
const nextId = () => ++seq;

/** A series; its folder defaults to /tv/<title>. */
export function makeSeries(partial: Partial<FakeSeries> = {}): FakeSeries {
  const id = partial.id ?? nextId();
  const title = partial.title ?? `Show ${id}`;
  return { id, title, path: `/tv/${title}`, ...partial };
}

/** A one-episode file in the series' "Season 01" folder unless told otherwise. */
export function makeEpisodeFile(
  series: Pick<FakeSeries, "id" | "path">,
  partial: Partial<FakeEpisodeFile> = {},
): FakeEpisodeFile {
  const id = partial.id ?? nextId();
  const season = partial.seasonNumber ?? 1;
  const name = series.path.split("/").pop() ?? "Show";
  const pad = (n: number) => String(n).padStart(2, "0");
  return {
    id,
    seriesId: series.id,
    path: `${series.path}/Season ${pad(season)}/${name} - S${pad(season)}E${pad(id % 100)}.mkv`,
    episodeIds: [nextId()],
    seasonNumber: season,
    size: 1_500_000_000,
    ...partial,
  };
}

/** A movie in /movies/<title> with a file; pass `movieFile: undefined` for one without. */
export function makeMovie(partial: Partial<FakeMovie> = {}): FakeMovie {
  const id = partial.id ?? nextId();
  const title = partial.title ?? `Movie ${id}`;
  const path = partial.path ?? `/movies/${title} (2020)`;
  return { id, title, path, movieFile: { id: nextId(), path: `${path}/${title} (2020).mkv` }, ...partial };
}

/** A qBittorrent queue record, downloading; set seriesId/episodeId or movieId to tie it to the library. */
export function makeQueueRecord(partial: Partial<FakeQueueRecord> = {}): FakeQueueRecord {
  const id = partial.id ?? nextId();
  return {
    id,
    title: `Release.${id}.1080p.WEB.h264-GRP`,
    status: "downloading",
    trackedDownloadStatus: "ok",
    trackedDownloadState: "downloading",
    statusMessages: [],
    downloadId: id.toString(16).toUpperCase().padStart(40, "A"),
    protocol: "torrent",
    downloadClient: "qBittorrent",
    indexer: "Fake Indexer",
    size: 2_000_000_000,
    sizeleft: 1_000_000_000,
    timeleft: "00:10:00",
    ...partial,
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: "BadRequest",
  404: "NotFound",
  409: "Conflict",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
};

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The *arr's ErrorModel for a model lookup that failed (ModelNotFoundException → 404). */
function modelNotFound(type: string, id: number): Response {
  const message = `${type} with ID ${id} does not exist`;
  return json({ message, description: `NzbDrone.Core.Datastore.ModelNotFoundException: ${message}` }, 404);
}

/** An ApiException body (BadRequestException, NotFoundException): message "<StatusCode>[: content]". */
function apiException(status: number, content?: string): Response {
  const name = STATUS_TEXT[status] ?? String(status);
  return json(content === undefined ? { message: name } : { message: `${name}: ${content}`, content }, status);
}

function faultResponse(f: FakeArrFault): Response {
  if (f.body === undefined) {
    if (f.status === 401 || f.status < 400) return new Response(null, { status: f.status });
    return apiException(f.status);
  }
  return typeof f.body === "string" ? new Response(f.body, { status: f.status }) : json(f.body, f.status);
}

/** ASP.NET binds query names case-insensitively; the first value wins. */
function queryValue(url: URL, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, value] of url.searchParams) if (k.toLowerCase() === lower) return value;
  return undefined;
}

/** bool.Parse: "true"/"false" in any case; anything else is a 400. */
function boolParam(url: URL, name: string, fallback: boolean): boolean | undefined {
  const raw = queryValue(url, name);
  if (raw === undefined) return fallback;
  if (/^true$/i.test(raw.trim())) return true;
  if (/^false$/i.test(raw.trim())) return false;
  return undefined;
}

/** int.TryParse, with the given fallback when absent or unparsable (the paging parameters behave so). */
function intParam(url: URL, name: string, fallback: number): number {
  const raw = queryValue(url, name)?.trim();
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : fallback;
}

function optionalInt(url: URL, name: string): number | undefined {
  const raw = queryValue(url, name)?.trim();
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : undefined;
}

function routeId(c: Context): number | undefined {
  const raw = c.req.param("id") ?? "";
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

const notFound = () => new Response(null, { status: 404 });

/** A Hono app answering like Sonarr or Radarr API v3, with its state in plain arrays tests arrange. */
export function createFakeArr(kind: ArrKind, opts: { apiKey?: string; now?: () => number } = {}): FakeArr {
  const apiKey = opts.apiKey ?? "fake-arr-key";
  const now = opts.now ?? Date.now;
  const origin = `http://fake-${kind}.local`;
  const faults: { rule: FakeArrFault; left: number }[] = [];
  let commandSeq = 0;

  const api = new Hono().basePath("/api/v3");
  api.get("/system/status", () =>
    json({
      appName: APP[kind].appName,
      instanceName: APP[kind].appName,
      version: APP[kind].version,
      buildTime: "2025-01-01T00:00:00Z",
      isDebug: false,
      isProduction: true,
      isAdmin: false,
      isUserInteractive: false,
      startupPath: "/app/bin",
      appData: "/config",
      osName: "debian",
      isDocker: true,
      isLinux: true,
      isOsx: false,
      isWindows: false,
      branch: "main",
      authentication: "forms",
      urlBase: "",
      runtimeName: ".NET",
    }),
  );
  api.get("/rootfolder", () =>
    json(
      fake.rootFolders.map((path, i) => ({ id: i + 1, path, accessible: true, freeSpace: 1e12, unmappedFolders: [] })),
    ),
  );
  api.get("/queue", (c) => queuePage(fake, new URL(c.req.url)));
  api.delete("/queue/:id", (c) => {
    const id = routeId(c);
    if (id === undefined) return notFound();
    const url = new URL(c.req.url);
    for (const name of ["removeFromClient", "blocklist", "skipRedownload", "changeCategory"]) {
      if (boolParam(url, name, false) === undefined) return json(validationError(name, queryValue(url, name)), 400);
    }
    const i = fake.queue.findIndex((r) => r.id === id);
    if (i < 0) return apiException(404);
    fake.queue.splice(i, 1);
    fake.deleted.push({ kind: "queue", id, query: url.search.slice(1) });
    return new Response(null, { status: 200 });
  });
  api.post("/command", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return json(validationError("", "", "A non-empty request body is required."), 400);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return json(validationError("", body), 400);
    const sent = body as Record<string, unknown>;
    const asked = typeof sent.name === "string" ? sent.name.trim() : "";
    if (asked === "") return json(validationError("Name", sent.name, "'Name' must not be empty."), 400);
    const name = COMMANDS[kind].find((n) => n.toLowerCase() === asked.toLowerCase());
    // The *arr looks the class up with .Single(), which throws for an unknown name: a 500, not a 400.
    if (!name) {
      const message = "Sequence contains no matching element";
      return json({ message, description: `System.InvalidOperationException: ${message}` }, 500);
    }
    const cmd: FakeCommand = { id: ++commandSeq, name, body: sent, at: now(), status: "queued" };
    fake.commands.push(cmd);
    return json(commandResource(cmd), 201, { location: `/api/v3/command/${cmd.id}` });
  });
  api.get("/command/:id", (c) => {
    const cmd = fake.commands.find((x) => x.id === routeId(c));
    return cmd ? json(commandResource(cmd)) : notFound();
  });

  const takeFault = (method: string, path: string): FakeArrFault | undefined => {
    for (const [i, f] of faults.entries()) {
      if (f.rule.method && f.rule.method.toUpperCase() !== method) continue;
      if (f.rule.path) {
        f.rule.path.lastIndex = 0;
        if (!f.rule.path.test(path)) continue;
      }
      if (--f.left <= 0) faults.splice(i, 1);
      return f.rule;
    }
    return undefined;
  };

  // The key may come as ?apikey=, X-Api-Key or a Bearer token, in that order; missing or wrong is a bare 401.
  const authorized = (req: Request, url: URL): boolean => {
    const given =
      queryValue(url, "apikey") ??
      req.headers.get("x-api-key") ??
      req.headers.get("authorization")?.replace(/^Bearer /, "");
    return given !== undefined && given !== null && given !== "" && given === apiKey;
  };

  const app = new Hono();
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const entry = { method: c.req.method, path: url.pathname, query: url.search.slice(1), status: 0 };
    fake.requests.push(entry);
    const fault = takeFault(c.req.method, url.pathname);
    let res: Response;
    if (fault) res = faultResponse(fault);
    else if (!/^\/api(\/|$)/i.test(url.pathname)) res = notFound();
    else if (!authorized(c.req.raw, url)) res = new Response(null, { status: 401 });
    else res = await api.fetch(c.req.raw);
    entry.status = res.status;
    return res;
  });
  app.onError((err) => {
    throw err;
  });

  const fake: FakeArr = {
    kind,
    app,
    baseUrl: origin,
    apiKey,
    series: [],
    episodeFiles: [],
    movies: [],
    queue: [],
    rootFolders: kind === "sonarr" ? ["/tv"] : ["/movies"],
    commands: [],
    deleted: [],
    requests: [],
    fetch: fetchOnly(origin, (req) => app.fetch(req)),
    inject(rule) {
      const left = rule.count ?? 1;
      if (left > 0) faults.push({ rule, left });
    },
    listen: () => listenLoopback(app.fetch),
  };
  if (kind === "sonarr") sonarrRoutes(api, fake);
  else radarrRoutes(api, fake);
  api.notFound(notFound);
  api.onError((err) => {
    throw err;
  });
  return fake;
}

/** FluentValidation's error list, as the *arr answers a ValidationException (400). */
function validationError(property: string, attempted: unknown, message = `'${property}' is not valid.`) {
  return [{ propertyName: property, errorMessage: message, attemptedValue: attempted ?? null, severity: "error" }];
}

function commandResource(cmd: FakeCommand) {
  const queued = new Date(cmd.at).toJSON();
  return {
    id: cmd.id,
    name: cmd.name,
    commandName: cmd.name.replace(/([a-z])([A-Z])/g, "$1 $2"),
    body: { ...cmd.body, name: cmd.name, sendUpdatesToClient: true, updateScheduledTask: true, trigger: "manual" },
    priority: "normal",
    status: cmd.status,
    queued,
    trigger: "manual",
    sendUpdatesToClient: true,
    updateScheduledTask: true,
  };
}

/**
 * GET /api/v3/queue as QueueController pages it: unmatched items only with includeUnknown…Items, pageSize
 * defaulting to 10, and a page past the end answered with the last full page under that page's number.
 */
function queuePage(fake: FakeArr, url: URL): Response {
  const unknownFlag = fake.kind === "sonarr" ? "includeUnknownSeriesItems" : "includeUnknownMovieItems";
  const includeUnknown = boolParam(url, unknownFlag, false);
  if (includeUnknown === undefined) return json(validationError(unknownFlag, queryValue(url, unknownFlag)), 400);
  const owned = (r: FakeQueueRecord) => (fake.kind === "sonarr" ? r.seriesId : r.movieId) !== undefined;
  const all = includeUnknown ? fake.queue : fake.queue.filter(owned);
  const pageSize = intParam(url, "pageSize", 10);
  let page = intParam(url, "page", 1);
  const slice = (p: number) => all.slice(Math.max(0, (p - 1) * pageSize), Math.max(0, p * pageSize));
  let records = slice(page);
  if (records.length === 0 && page > 1) {
    // QueueController: Math.Max(Math.Ceiling((decimal)(total / pageSize)), 1), integer division inside.
    page = Math.max(pageSize > 0 ? Math.floor(all.length / pageSize) : 1, 1);
    records = slice(page);
  }
  return json({ page, pageSize, sortKey: "timeleft", sortDirection: "ascending", totalRecords: all.length, records });
}

function relative(dir: string, path: string): string {
  return path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : path;
}

function sonarrRoutes(api: Hono, fake: FakeArr): void {
  const seriesResource = (s: FakeSeries) => ({
    id: s.id,
    title: s.title,
    sortTitle: s.title.toLowerCase(),
    path: s.path,
    rootFolderPath: s.path.slice(0, s.path.lastIndexOf("/")) || "/",
    monitored: true,
    seasonFolder: true,
    seriesType: "standard",
    qualityProfileId: 1,
  });
  const fileResource = (f: FakeEpisodeFile) => {
    const series = fake.series.find((s) => s.id === f.seriesId);
    return {
      id: f.id,
      seriesId: f.seriesId,
      seasonNumber: f.seasonNumber ?? 1,
      relativePath: series ? relative(series.path, f.path) : f.path,
      path: f.path,
      size: f.size ?? 0,
      dateAdded: "2025-01-01T00:00:00Z",
      languages: [{ id: 1, name: "English" }],
      quality: { quality: { id: 3, name: "WEBDL-1080p" }, revision: { version: 1, real: 0, isRepack: false } },
    };
  };
  const episodeResources = (files: FakeEpisodeFile[]) =>
    files.flatMap((f) =>
      f.episodeIds.map((id, i) => ({
        id,
        seriesId: f.seriesId,
        episodeFileId: f.id,
        seasonNumber: f.seasonNumber ?? 1,
        episodeNumber: i + 1,
        title: `Episode ${id}`,
        hasFile: true,
        monitored: true,
      })),
    );

  api.get("/series", () => json(fake.series.map(seriesResource)));
  api.get("/series/:id", (c) => {
    const s = fake.series.find((x) => x.id === routeId(c));
    return s ? json(seriesResource(s)) : notFound();
  });
  api.get("/episodefile", (c) => {
    const url = new URL(c.req.url);
    const seriesId = optionalInt(url, "seriesId");
    if (seriesId !== undefined) {
      if (!fake.series.some((s) => s.id === seriesId)) return modelNotFound("Series", seriesId);
      return json(fake.episodeFiles.filter((f) => f.seriesId === seriesId).map(fileResource));
    }
    const ids = url.searchParams.getAll("episodeFileIds").map(Number);
    if (ids.length === 0) return apiException(400, "seriesId or episodeFileIds must be provided");
    return json(fake.episodeFiles.filter((f) => ids.includes(f.id)).map(fileResource));
  });
  api.get("/episodefile/:id", (c) => {
    const f = fake.episodeFiles.find((x) => x.id === routeId(c));
    return f ? json(fileResource(f)) : notFound();
  });
  api.delete("/episodefile/:id", (c) => {
    const id = routeId(c);
    if (id === undefined) return notFound();
    const i = fake.episodeFiles.findIndex((f) => f.id === id);
    if (i < 0) return modelNotFound("EpisodeFile", id);
    fake.episodeFiles.splice(i, 1);
    fake.deleted.push({ kind: "episodefile", id, query: new URL(c.req.url).search.slice(1) });
    return new Response(null, { status: 200 });
  });
  api.get("/episode", (c) => {
    const url = new URL(c.req.url);
    const seriesId = optionalInt(url, "seriesId");
    const episodeIds = url.searchParams.getAll("episodeIds").map(Number);
    const fileId = optionalInt(url, "episodeFileId");
    const all = episodeResources(fake.episodeFiles);
    if (seriesId !== undefined) return json(all.filter((e) => e.seriesId === seriesId));
    if (episodeIds.length > 0) return json(all.filter((e) => episodeIds.includes(e.id)));
    if (fileId !== undefined) return json(all.filter((e) => e.episodeFileId === fileId));
    return apiException(400, "seriesId or episodeIds must be provided");
  });
}

function radarrRoutes(api: Hono, fake: FakeArr): void {
  const fileResource = (m: FakeMovie, f: NonNullable<FakeMovie["movieFile"]>) => ({
    id: f.id,
    movieId: m.id,
    relativePath: relative(m.path, f.path),
    path: f.path,
    size: f.size ?? 0,
    dateAdded: "2025-01-01T00:00:00Z",
    languages: [{ id: 1, name: "English" }],
    quality: { quality: { id: 7, name: "Bluray-1080p" }, revision: { version: 1, real: 0, isRepack: false } },
  });
  const movieResource = (m: FakeMovie) => ({
    id: m.id,
    title: m.title,
    sortTitle: m.title.toLowerCase(),
    path: m.path,
    rootFolderPath: m.path.slice(0, m.path.lastIndexOf("/")) || "/",
    hasFile: m.movieFile !== undefined,
    monitored: true,
    qualityProfileId: 1,
    sizeOnDisk: m.movieFile?.size ?? 0,
    ...(m.movieFile ? { movieFile: fileResource(m, m.movieFile) } : {}),
  });

  api.get("/movie", () => json(fake.movies.map(movieResource)));
  api.get("/movie/:id", (c) => {
    const m = fake.movies.find((x) => x.id === routeId(c));
    return m ? json(movieResource(m)) : notFound();
  });
  api.get("/moviefile", (c) => {
    const url = new URL(c.req.url);
    const movieId = optionalInt(url, "movieId");
    if (movieId !== undefined) {
      const m = fake.movies.find((x) => x.id === movieId);
      if (!m) return modelNotFound("Movie", movieId);
      return json(m.movieFile ? [fileResource(m, m.movieFile)] : []);
    }
    const ids = url.searchParams.getAll("movieFileIds").map(Number);
    if (ids.length === 0) return apiException(400, "movieId or movieFileIds must be provided");
    return json(
      fake.movies.flatMap((m) => (m.movieFile && ids.includes(m.movieFile.id) ? [fileResource(m, m.movieFile)] : [])),
    );
  });
  api.get("/moviefile/:id", (c) => {
    const m = fake.movies.find((x) => x.movieFile?.id === routeId(c));
    return m?.movieFile ? json(fileResource(m, m.movieFile)) : notFound();
  });
  api.delete("/moviefile/:id", (c) => {
    const id = routeId(c);
    if (id === undefined) return notFound();
    const m = fake.movies.find((x) => x.movieFile?.id === id);
    if (!m) return modelNotFound("MovieFile", id);
    m.movieFile = undefined;
    fake.deleted.push({ kind: "moviefile", id, query: new URL(c.req.url).search.slice(1) });
    return new Response(null, { status: 200 });
  });
}
