import type { Hono } from "hono";
import pkg from "../package.json" with { type: "json" };
import { REPAIR_STATES } from "./repair/machine.ts";

/** The JSON Schema (2020-12, as OpenAPI 3.1 uses it) keywords this document uses. */
export interface Schema {
  $ref?: string;
  type?: JsonType | JsonType[];
  format?: string;
  description?: string;
  enum?: readonly (string | null)[];
  const?: unknown;
  default?: unknown;
  examples?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
}
type JsonType = "object" | "array" | "string" | "integer" | "number" | "boolean" | "null";

/** A path or query parameter; comma-separated lists are `style: form, explode: false` arrays. */
export interface Parameter {
  name: string;
  in: "path" | "query";
  required?: boolean;
  description?: string;
  style?: "form";
  explode?: boolean;
  schema: Schema;
}

/** One answer of an operation. */
export interface Response {
  description: string;
  headers?: Record<string, { description: string; schema: Schema }>;
  content?: Record<string, { schema: Schema }>;
}

/** One method on one path. */
export interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, Response | { $ref: string }>;
}

/** The OpenAPI 3.1 document's shape, as far as RDTM fills it. */
export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, Response>;
    securitySchemes: Record<string, { type: "http"; scheme: "bearer"; description: string }>;
  };
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const answer = (name: string) => ({ $ref: `#/components/responses/${name}` });
const str: Schema = { type: "string" };
const int: Schema = { type: "integer" };
const bool: Schema = { type: "boolean" };
const nullable = (t: JsonType): Schema => ({ type: [t, "null"] });
const time: Schema = { type: "string", format: "date-time" };
const maybeTime: Schema = { type: ["string", "null"], format: "date-time" };
const choice = (values: readonly string[], extra: Schema = {}): Schema => ({ type: "string", enum: values, ...extra });
const mapOf = (s: Schema): Schema => ({ type: "object", additionalProperties: s });
const list = (s: Schema): Schema => ({ type: "array", items: s });
/** Every property is present (the serializers always write each key, null when unknown) unless named optional. */
const obj = (properties: Record<string, Schema>, optional: string[] = []): Schema => ({
  type: "object",
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
});
const json = (schema: Schema, description: string): Response => ({
  description,
  content: { "application/json": { schema } },
});
const page = (item: string): Schema => obj({ total: int, limit: int, offset: int, items: list(ref(item)) });

const query = (name: string, schema: Schema, description?: string): Parameter => ({
  name,
  in: "query",
  schema,
  ...(description ? { description } : {}),
});
/** A comma-separated list, the way the list routes take `?state=a,b`. */
const csv = (name: string, items: Schema, description: string): Parameter => ({
  ...query(name, { type: "array", items }, description),
  style: "form",
  explode: false,
});
const pathParam = (name: string, schema: Schema): Parameter => ({ name, in: "path", required: true, schema });
// Mirrors pageQuery(500) in shared/query.ts.
const PAGE: Parameter[] = [
  query("limit", { type: "integer", minimum: 1, maximum: 500, default: 50 }),
  query("offset", { type: "integer", minimum: 0, maximum: 1_000_000_000, default: 0 }),
];
// Mirrors the `Id` schema of shared/repair/api.ts: up to 15 digits.
const REPAIR_ID = pathParam("id", { type: "integer", minimum: 0, maximum: 999_999_999_999_999, examples: [1] });
const JOB_NAME = pathParam("name", { type: "string", examples: ["maintenance"] });
const HASH: Schema = {
  type: "string",
  pattern: "^[0-9a-fA-F]{40}$",
  examples: ["0123456789abcdef0123456789abcdef01234567"],
};

const SECURED = [{ bearer: [] }];
const GUARDED = { "401": answer("Unauthorized"), "503": answer("Unavailable") };

/** One operation; every one may also fail with a JSON error (500, or 503 when the database is down). */
function op(
  operationId: string,
  summary: string,
  tag: string,
  responses: Operation["responses"],
  extra: Partial<Operation> = {},
): Operation {
  return { operationId, summary, tags: [tag], ...extra, responses: { ...responses, default: answer("Error") } };
}

const SCHEMAS: Record<string, Schema> = {
  Error: obj({ error: str, issues: { type: "object" }, jobs: list(str) }, ["issues", "jobs"]),
  Health: obj({
    status: choice(["healthy", "degraded", "unhealthy"]),
    services: mapOf({
      ...obj({ status: choice(["up", "down", "degraded", "not_configured"]) }),
      additionalProperties: true,
    }),
    up: mapOf(bool),
  }),
  Job: obj({
    name: str,
    description: str,
    schedule: nullable("string"),
    enabled: bool,
    nextRun: maybeTime,
    running: { ...obj({ runId: str, holder: str, since: maybeTime, progress: {} }), type: ["object", "null"] },
    lastRun: {
      ...obj({
        id: str,
        status: str,
        trigger: str,
        dryRun: bool,
        startedAt: maybeTime,
        endedAt: maybeTime,
        summary: {},
        error: nullable("string"),
      }),
      type: ["object", "null"],
    },
  }),
  RunBody: {
    ...obj({ dryRun: bool, limit: { type: "integer", minimum: 1, maximum: 1_000_000 } }, ["dryRun", "limit"]),
    additionalProperties: false,
  },
  Run: obj(
    {
      id: nullable("string"),
      job: str,
      trigger: choice(["cron", "http", "worker", "cli", "test"]),
      status: choice(["succeeded", "failed", "aborted", "skipped"]),
      dryRun: bool,
      startedAt: time,
      endedAt: time,
      durationMs: { type: "number" },
      summary: nullable("object"),
      error: nullable("string"),
      skipReason: choice(["running-here", "shutting-down", "held", "tick-taken"]),
    },
    ["skipReason"],
  ),
  ScanProgress: obj({
    status: choice(["idle", "pending", "running", "completed", "failed"]),
    generation: int,
    phase: { enum: ["body", "head", null] },
    seen: int,
    total: nullable("integer"),
    percent: nullable("number"),
    pages: int,
    startedAt: maybeTime,
    updatedAt: maybeTime,
    completedAt: maybeTime,
    verifyNext: bool,
    lastError: nullable("string"),
  }),
  Torrent: obj({
    id: str,
    hash: str,
    filename: str,
    status: str,
    bytes: int,
    progress: { type: "number" },
    links: int,
    addedAt: time,
    lastSeenAt: time,
    statusChangedAt: time,
    goneAt: maybeTime,
  }),
  Repair: obj({
    id: int,
    torrentId: nullable("string"),
    hash: str,
    filename: nullable("string"),
    reason: str,
    priority: int,
    state: choice(REPAIR_STATES),
    attempt: int,
    nextAttemptAt: time,
    newTorrentId: nullable("string"),
    errorClass: nullable("string"),
    lastError: nullable("string"),
    deadlineAt: maybeTime,
    createdAt: time,
    updatedAt: time,
    finishedAt: maybeTime,
  }),
  Action: obj({
    id: int,
    runId: nullable("string"),
    job: str,
    kind: str,
    target: str,
    detail: {},
    state: choice(["planned", "pending", "done", "failed"]),
    repairId: nullable("integer"),
    createdAt: time,
    updatedAt: time,
    error: nullable("string"),
  }),
  Attempt: obj({
    at: time,
    endpoint: str,
    status: nullable("integer"),
    errorCode: nullable("integer"),
    latencyMs: nullable("number"),
    message: nullable("string"),
  }),
  RepairDetail: {
    allOf: [ref("Repair"), obj({ actions: list(ref("Action")), attempts: list(ref("Attempt")) })],
  },
  PermanentFailure: obj({
    hash: str,
    torrentId: nullable("string"),
    filename: nullable("string"),
    errorType: str,
    detail: nullable("string"),
    processed: bool,
    failedAt: time,
  }),
  BrokenLink: obj({
    path: str,
    root: str,
    target: str,
    reason: str,
    torrentName: nullable("string"),
    matchedTorrentId: nullable("string"),
    matchKind: nullable("string"),
    state: choice(["broken", "resolved", "removed"]),
    firstSeenAt: time,
    lastSeenAt: time,
    resolvedAt: maybeTime,
  }),
  Sweep: obj({
    status: choice(["idle", "pending", "running", "completed"]),
    generation: int,
    entries: int,
    links: int,
    broken: int,
    matched: int,
    skipped: int,
    startedAt: maybeTime,
    updatedAt: maybeTime,
    completedAt: maybeTime,
    guard: obj({ tripped: bool, reason: str, at: maybeTime }, ["reason", "at"]),
  }),
  QbitStrike: obj({
    arr: str,
    downloadId: str,
    queueIds: list(int),
    title: nullable("string"),
    class: str,
    action: str,
    strikes: int,
    needed: int,
    evidence: nullable("string"),
    firstSeenAt: time,
    lastSeenAt: time,
    actedAt: maybeTime,
  }),
  Qbit: obj({
    total: int,
    limit: int,
    offset: int,
    byClass: mapOf(int),
    items: list(ref("QbitStrike")),
    recentActions: list(obj({ kind: str, target: str, state: str, detail: {}, at: time, error: nullable("string") })),
  }),
};

const RESPONSES: Record<string, Response> = {
  Error: json(ref("Error"), "Any other failure: 500 internal error, 503 database unavailable"),
  BadRequest: json(ref("Error"), "A bad parameter or body, with the issues by field"),
  NotFound: json(ref("Error"), "No such item"),
  Unauthorized: {
    ...json(ref("Error"), "Missing or wrong bearer token"),
    headers: { "WWW-Authenticate": { description: 'Bearer realm="rdtm"', schema: str } },
  },
  Unavailable: json(ref("Error"), "API_TOKEN is not set (mutating routes are off), or the database is down"),
};

const PATHS: OpenApiDocument["paths"] = {
  "/health": {
    get: op("getHealth", "Each service's state", "system", {
      "200": json(ref("Health"), "Healthy or degraded"),
      "503": json(ref("Health"), "Unhealthy: a required service (the database) is down"),
    }),
  },
  "/jobs": {
    get: op("listJobs", "Every job with its schedule, next run, current and last run", "jobs", {
      "200": json(obj({ jobs: list(ref("Job")) }), "The jobs"),
    }),
  },
  "/jobs/{name}": {
    get: op(
      "getJob",
      "One job",
      "jobs",
      { "200": json(ref("Job"), "The job"), "404": answer("NotFound") },
      {
        parameters: [JOB_NAME],
      },
    ),
  },
  "/jobs/{name}/run": {
    post: op(
      "runJob",
      "Runs a job now and answers with the finished run",
      "jobs",
      {
        "200": json(ref("Run"), "Succeeded"),
        "400": answer("BadRequest"),
        ...GUARDED,
        "404": answer("NotFound"),
        "409": json(ref("Run"), "Skipped: already running"),
        "413": json(ref("Error"), "Body over 16 KiB"),
        "415": json(ref("Error"), "Body not sent as application/json"),
        "500": json({ anyOf: [ref("Run"), ref("Error")] }, "The run failed"),
        "503": json({ anyOf: [ref("Run"), ref("Error")] }, "The run was aborted, API_TOKEN is not set, or no database"),
      },
      {
        security: SECURED,
        parameters: [JOB_NAME],
        requestBody: { required: false, content: { "application/json": { schema: ref("RunBody") } } },
      },
    ),
  },
  "/api/scan": {
    get: op("getScan", "Full and quick scan progress, torrents by status, repairs by state", "scan", {
      "200": json(
        obj({ full: ref("ScanProgress"), quick: ref("ScanProgress"), torrents: mapOf(int), repairs: mapOf(int) }),
        "Scan progress and counts",
      ),
    }),
  },
  "/api/scan/full/reset": {
    post: op(
      "resetFullScan",
      "Starts a new full scan at the next run",
      "scan",
      { "202": json(obj({ message: str, full: ref("ScanProgress") }), "Requested"), ...GUARDED },
      { security: SECURED },
    ),
  },
  "/api/torrents": {
    get: op(
      "listTorrents",
      "Known RD torrents, newest first",
      "scan",
      { "200": json(page("Torrent"), "One page"), "400": answer("BadRequest") },
      {
        parameters: [
          ...PAGE,
          csv("status", { type: "string", pattern: "^[a-z_]+$", examples: ["dead", "magnet_error"] }, "RD statuses"),
          query("q", { type: "string", maxLength: 200 }, "Part of the name, or the exact hash or RD id"),
          query("gone", choice(["true", "false", "any"], { default: "false" }), "Torrents no longer on the account"),
        ],
      },
    ),
  },
  "/api/repairs": {
    get: op(
      "listRepairs",
      "Repairs by priority",
      "repairs",
      { "200": json(page("Repair"), "One page"), "400": answer("BadRequest") },
      { parameters: [...PAGE, csv("state", choice(REPAIR_STATES), "Repair states"), query("hash", HASH)] },
    ),
  },
  "/api/repairs/{id}": {
    get: op(
      "getRepair",
      "One repair with its journal and RD calls",
      "repairs",
      { "200": json(ref("RepairDetail"), "The repair"), "400": answer("BadRequest"), "404": answer("NotFound") },
      { parameters: [REPAIR_ID] },
    ),
  },
  "/api/repairs/{id}/retry": {
    post: op(
      "retryRepair",
      "Makes an open repair due now, or re-opens a failed or cancelled one",
      "repairs",
      {
        "200": json(ref("Repair"), "The repair, due now"),
        "400": answer("BadRequest"),
        ...GUARDED,
        "404": answer("NotFound"),
        "409": json(ref("Error"), "Done, or another repair of the hash is open"),
      },
      { security: SECURED, parameters: [REPAIR_ID] },
    ),
  },
  "/api/actions": {
    get: op(
      "listActions",
      "The journal, newest first",
      "repairs",
      { "200": json(page("Action"), "One page"), "400": answer("BadRequest") },
      {
        parameters: [
          ...PAGE,
          query("kind", { type: "string", pattern: "^[a-z_]+$", examples: ["add_magnet"] }),
          query("state", choice(["planned", "pending", "done", "failed"])),
          query("job", { type: "string", pattern: "^[a-z0-9-]+$", examples: ["retry-drain"] }),
          query("repair", { type: "integer", minimum: 0, examples: [1] }, "A repair id"),
        ],
      },
    ),
  },
  "/api/permanent-failures": {
    get: op(
      "listPermanentFailures",
      "Hashes that failed for good (not reset)",
      "repairs",
      { "200": json(page("PermanentFailure"), "One page"), "400": answer("BadRequest") },
      { parameters: PAGE },
    ),
  },
  "/api/permanent-failures/{hash}/reset": {
    post: op(
      "resetPermanentFailure",
      "Lets the scans queue the hash again",
      "repairs",
      {
        "200": json(obj({ hash: str, reset: { const: true } }), "Reset"),
        "400": answer("BadRequest"),
        ...GUARDED,
        "404": answer("NotFound"),
      },
      { security: SECURED, parameters: [pathParam("hash", HASH)] },
    ),
  },
  "/api/broken-links": {
    get: op(
      "listBrokenLinks",
      "Library symlinks found broken, most recently seen first",
      "library",
      { "200": json(page("BrokenLink"), "One page"), "400": answer("BadRequest") },
      {
        parameters: [
          ...PAGE,
          query("state", choice(["broken", "resolved", "removed", "any"], { default: "broken" })),
          query("matched", choice(["true", "false", "any"], { default: "any" }), "Matched to an RD torrent"),
          query("q", { type: "string", maxLength: 300 }, "Part of the path or torrent name"),
        ],
      },
    ),
  },
  "/api/sweep": {
    get: op("getSweep", "The library sweep and its mount guard", "library", { "200": json(ref("Sweep"), "The sweep") }),
  },
  "/api/sweep/start": {
    post: op(
      "startSweep",
      "Starts a new sweep at the next run",
      "library",
      { "202": json(obj({ message: str, sweep: ref("Sweep") }), "Requested"), ...GUARDED },
      { security: SECURED },
    ),
  },
  "/api/qbit": {
    get: op(
      "getQbit",
      "qbit-check: downloads with strikes, counts by class, its last actions",
      "qbit",
      { "200": json(ref("Qbit"), "Strikes and actions"), "400": answer("BadRequest") },
      {
        parameters: [
          ...PAGE,
          query("class", { type: "string", pattern: "^[a-z][a-z0-9_]*$", examples: ["stalled"] }),
          query("arr", { type: "string", pattern: "^[a-z0-9-]+$", examples: ["sonarr"] }, "Sonarr/Radarr instance"),
        ],
      },
    ),
  },
  "/metrics": {
    get: op("getMetrics", "Metrics in the Prometheus text format", "system", {
      "200": { description: "The metrics", content: { "text/plain": { schema: str } } },
    }),
  },
  "/openapi.json": {
    get: op("getOpenApi", "This document", "system", { "200": json({ type: "object" }, "OpenAPI 3.1") }),
  },
};

/** The OpenAPI 3.1 description of the HTTP API (README "HTTP API" in machine-readable form). */
export const OPENAPI: OpenApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "RDTM",
    version: pkg.version,
    description: "Real-Debrid, library and qBittorrent repair service. Times are ISO-8601 UTC.",
  },
  servers: [{ url: "/" }],
  paths: PATHS,
  components: {
    schemas: SCHEMAS,
    responses: RESPONSES,
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "The API_TOKEN; without it these routes answer 503" },
    },
  },
};

/** Serves the document at GET /openapi.json. */
export function mountOpenApi(app: Hono): void {
  app.get("/openapi.json", (c) => c.json(OPENAPI));
}
