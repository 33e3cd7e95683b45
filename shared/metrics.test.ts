import { createRequire } from "node:module";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeConfig, makeDb } from "../test/helpers/factories.ts";
import { noClients } from "./clients/index.ts";
import type { Db } from "./db.ts";
import { Exposition, endpointLabel, METRICS_CONTENT_TYPE, mountMetrics, safeLabel } from "./metrics.ts";
import type { RdLimiter } from "./rd/limiter.ts";

interface Family {
  name: string;
  type: string;
  help: string;
  metrics: { value?: string; sum?: string; count?: string; labels?: Record<string, string> }[];
}
// The package ships no types; require keeps the test free of an ambient declaration.
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

const RD_TOKEN = "rd-s3cret-token-value";
const SECRET_PATH = "/mnt/library/Secret Show (2020)/S01E01.mkv";

let db: Db;
beforeEach(async () => {
  db = await makeDb();
});
afterEach(() => db.close());

async function seed(): Promise<void> {
  const run = (id: string, job: string, status: string, started: number, ms: number | null) => ({
    sql: "INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at, ended_at) VALUES (?, ?, 'cron', 1, 'h', ?, ?, ?)",
    args: [id, job, status, started, ms === null ? null : started + ms],
  });
  const repair = (hash: string, state: string, cls: string | null) => ({
    sql: `INSERT INTO repairs (hash, filename, reason, priority, state, next_attempt_at, error_class, created_at, updated_at)
          VALUES (?, ?, 'dead', 1, ?, 0, ?, 0, 0)`,
    args: [hash, SECRET_PATH, state, cls],
  });
  const action = (kind: string, state: string) => ({
    sql: "INSERT INTO actions (job, kind, target, state, created_at, updated_at) VALUES ('retry-drain', ?, ?, ?, 0, 0)",
    args: [kind, SECRET_PATH, state],
  });
  const torrent = (id: string, status: string, gone: number | null) => ({
    sql: `INSERT INTO torrents (id, hash, filename, status, bytes, progress, links, added_at, first_seen_at, last_seen_at,
          status_changed_at, gone_at) VALUES (?, ?, ?, ?, 1, 100, 1, 0, 0, 0, 0, ?)`,
    args: [id, id.padEnd(40, "0"), SECRET_PATH, status, gone],
  });
  await db.batch(
    [
      run("r1", "rd-quick-scan", "succeeded", 1_000, 1_000),
      run("r2", "rd-quick-scan", "failed", 5_000, 500),
      run("r3", "rd-quick-scan", "succeeded", 9_000, 3_000),
      run("r4", "rd-quick-scan", "running", 20_000, null),
      run("r5", "symlink-sweep", "succeeded", 2_000, 250),
      "INSERT INTO leases (job) VALUES ('rd-quick-scan'), ('symlink-sweep')",
      repair("a1", "queued", null),
      repair("a2", "queued", null),
      repair("a3", "failed", "infringing"),
      repair("a4", "waiting", "too_many_requests"),
      `INSERT INTO permanent_failures (hash, filename, error_type, failed_at, reset_at) VALUES
         ('p1', '${SECRET_PATH}', 'infringing_file', 0, NULL), ('p2', NULL, 'infringing_file', 0, NULL),
         ('p3', NULL, 'infringing_file', 0, 5), ('p4', NULL, 'virus', 0, NULL)`,
      `INSERT INTO broken_links (path, root, target, reason, state, generation, first_seen_at, last_seen_at) VALUES
         ('${SECRET_PATH}', '/mnt/library', '/mnt/zurg/x', 'missing_torrent', 'broken', 1, 0, 0),
         ('/mnt/library/b', '/mnt/library', '/mnt/zurg/y', 'missing_file', 'broken', 1, 0, 0),
         ('/mnt/library/c', '/mnt/library', '/mnt/zurg/z', 'missing_file', 'resolved', 1, 0, 0)`,
      `INSERT INTO qbit_strikes (item_key, arr, download_id, queue_ids, title, class, action, strikes, needed, first_seen_at, last_seen_at)
       VALUES ('s:1', 'sonarr', '1', '[]', 'Secret Show', 'tracker', 'remove', 1, 3, 0, 0),
              ('s:2', 'sonarr', '2', '[]', NULL, 'tracker', 'remove', 2, 3, 0, 0),
              ('s:3', 'sonarr', '3', '[]', NULL, 'file', 'remove', 1, 1, 0, 0)`,
      action("delete_torrent", "done"),
      action("delete_torrent", "done"),
      action("delete_torrent", "failed"),
      action("delete_torrent", "planned"),
      action("add_magnet", "pending"),
      action(SECRET_PATH, "done"),
      torrent("T1", "downloaded", null),
      torrent("T2", "downloaded", null),
      torrent("T3", "magnet_error", null),
      torrent("T4", "downloaded", 123),
      "INSERT INTO scan_progress (scan, generation, status, seen, total) VALUES ('full', 3, 'running', 1200, 5000)",
      "UPDATE sweep_state SET entries = 100, links = 80, broken = 2, guard_reason = 'mount is empty' WHERE id = 1",
    ],
    "write",
  );
}

function makeApp() {
  const clients = noClients();
  for (const [endpoint, method, status, errorCode] of [
    ["/torrents/info/ABC123", "GET", 200, null],
    ["/torrents/info/XYZ789", "GET", 200, null],
    ["/torrents/addMagnet", "POST", 201, null],
    ["/torrents", "GET", 429, null],
    ["/user", "GET", null, null],
  ] as const)
    clients.rdCalls.record({ endpoint, method, status, errorCode, latencyMs: 250 });
  const limiter: RdLimiter = {
    acquire: async () => {},
    onThrottle: async () => {},
    onSuccess: () => {},
    lastThrottleAt: () => null,
    waitedMs: () => 2_500,
  };
  const app = new Hono();
  mountMetrics(app, {
    db,
    clients: { ...clients, rdLimiter: limiter },
    config: makeConfig({ RD_API_TOKEN: RD_TOKEN }),
  });
  return app;
}

async function scrape(app: Hono): Promise<{ body: string; families: Family[] }> {
  const res = await app.request("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
  const body = await res.text();
  assertStrictFormat(body);
  return { body, families: parsePrometheus(body) };
}

/** The value of one series, matched on its exact label set (undefined when absent). */
function value(
  families: Family[],
  name: string,
  labels: Record<string, string> = {},
  key: "value" | "sum" | "count" = "value",
) {
  const f = families.find((x) => x.name === name);
  expect(f, name).toBeDefined();
  const m = f?.metrics.find((s) => JSON.stringify(s.labels ?? {}) === JSON.stringify(labels));
  return m?.[key] === undefined ? undefined : Number(m[key]);
}

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

/** What the lenient parser lets through: grammar, HELP/TYPE once before samples, no duplicate series. */
function assertStrictFormat(body: string): void {
  expect(body.endsWith("\n")).toBe(true);
  const declared = new Map<string, string>();
  const seen = new Set<string>();
  let current = "";
  for (const line of body.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (kind === "HELP") {
        expect(declared.has(name), `family ${name} declared twice`).toBe(false);
        declared.set(name, "");
        current = name;
      } else {
        expect(current).toBe(name);
        expect(["counter", "gauge", "summary"]).toContain(rest);
        declared.set(name, rest);
        if (rest === "counter") expect(name).toMatch(/_total$/);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    expect(m, `bad sample line: ${line}`).not.toBeNull();
    const name = m?.[1] ?? "";
    const base = declared.get(current) === "summary" ? name.replace(/_(sum|count)$/, "") : name;
    expect(base, `sample ${line} outside its family`).toBe(current);
    const series = `${name}${m?.[2] ?? ""}`;
    expect(seen.has(series), `duplicate series ${series}`).toBe(false);
    seen.add(series);
  }
}

describe("GET /metrics", () => {
  it("exposes every series with its labels and values", async () => {
    await seed();
    const { families } = await scrape(makeApp());
    const v = (name: string, labels?: Record<string, string>) => value(families, name, labels);

    expect(v("rdtm_job_runs_total", { job: "rd-quick-scan", status: "succeeded" })).toBe(2);
    expect(v("rdtm_job_runs_total", { job: "rd-quick-scan", status: "failed" })).toBe(1);
    expect(v("rdtm_job_runs_total", { job: "rd-quick-scan", status: "running" })).toBeUndefined();
    expect(value(families, "rdtm_job_run_duration_seconds", { job: "rd-quick-scan" }, "sum")).toBe(4.5);
    expect(value(families, "rdtm_job_run_duration_seconds", { job: "rd-quick-scan" }, "count")).toBe(3);
    expect(v("rdtm_job_last_run_duration_seconds", { job: "rd-quick-scan" })).toBe(3);
    expect(v("rdtm_job_last_run_timestamp_seconds", { job: "rd-quick-scan" })).toBe(12);
    expect(v("rdtm_job_last_run_succeeded", { job: "rd-quick-scan" })).toBe(1);
    expect(v("rdtm_job_last_run_duration_seconds", { job: "symlink-sweep" })).toBe(0.25);

    expect(v("rdtm_rd_requests_total", { method: "GET", endpoint: "/torrents/info/:id", code: "200" })).toBe(2);
    expect(v("rdtm_rd_requests_total", { method: "POST", endpoint: "/torrents/addMagnet", code: "201" })).toBe(1);
    expect(v("rdtm_rd_requests_total", { method: "GET", endpoint: "/user", code: "network" })).toBe(1);
    expect(v("rdtm_rd_throttled_total")).toBe(1);
    expect(value(families, "rdtm_rd_request_duration_seconds", {}, "sum")).toBe(1.25);
    expect(value(families, "rdtm_rd_request_duration_seconds", {}, "count")).toBe(5);
    expect(v("rdtm_rd_limiter_wait_seconds_total")).toBe(2.5);

    expect(v("rdtm_repairs", { state: "queued" })).toBe(2);
    expect(v("rdtm_repairs", { state: "failed" })).toBe(1);
    expect(v("rdtm_repairs_by_error_class", { error_class: "infringing" })).toBe(1);
    expect(v("rdtm_repairs_by_error_class", { error_class: "too_many_requests" })).toBe(1);
    expect(v("rdtm_permanent_failures", { error_type: "infringing_file" })).toBe(2);
    expect(v("rdtm_permanent_failures", { error_type: "virus" })).toBe(1);
    expect(v("rdtm_broken_links", { state: "broken" })).toBe(2);
    expect(v("rdtm_broken_links", { state: "resolved" })).toBe(1);
    expect(v("rdtm_qbit_strikes", { class: "tracker" })).toBe(2);
    expect(v("rdtm_qbit_strikes", { class: "file" })).toBe(1);
    expect(v("rdtm_actions_total", { kind: "delete_torrent", state: "done" })).toBe(2);
    expect(v("rdtm_actions_total", { kind: "delete_torrent", state: "failed" })).toBe(1);
    expect(v("rdtm_actions_total", { kind: "delete_torrent", state: "planned" })).toBe(1);
    expect(v("rdtm_actions_total", { kind: "other", state: "done" })).toBe(1);
    expect(v("rdtm_actions_pending", { kind: "add_magnet" })).toBe(1);
    expect(v("rdtm_torrents", { status: "downloaded" })).toBe(2);
    expect(v("rdtm_torrents", { status: "magnet_error" })).toBe(1);
    expect(v("rdtm_full_scan_generation")).toBe(3);
    expect(v("rdtm_full_scan_seen_torrents")).toBe(1200);
    expect(v("rdtm_full_scan_total_torrents")).toBe(5000);
    expect(v("rdtm_sweep_entries")).toBe(100);
    expect(v("rdtm_sweep_links")).toBe(80);
    expect(v("rdtm_sweep_broken")).toBe(2);
    expect(v("rdtm_sweep_guard_tripped")).toBe(1);
    expect(v("rdtm_dry_run")).toBe(1);
    expect(families.find((f) => f.name === "rdtm_job_runs_total")?.type).toBe("COUNTER");
  });

  it("carries no secret, path or name", async () => {
    await seed();
    const { body } = await scrape(makeApp());
    for (const leak of [RD_TOKEN, "/mnt", "Secret", "sonarr", "ABC123", "mount is empty", "T1"])
      expect(body).not.toContain(leak);
  });

  it("serves an empty database", async () => {
    const { families } = await scrape(makeApp());
    expect(value(families, "rdtm_sweep_guard_tripped")).toBe(0);
    expect(families.find((f) => f.name === "rdtm_job_runs_total")?.metrics).toEqual([]);
  });

  it("keeps counters monotonic while runs finish and old history is pruned", async () => {
    await seed();
    const app = makeApp();
    await Promise.all([scrape(app), scrape(app)]);
    await db.batch(
      [
        "UPDATE job_runs SET status = 'succeeded', ended_at = 21000 WHERE id = 'r4'",
        "DELETE FROM job_runs WHERE id IN ('r1', 'r2')",
        "UPDATE actions SET state = 'done' WHERE state = 'pending'",
        "DELETE FROM actions WHERE kind = 'delete_torrent' AND state = 'failed'",
      ],
      "write",
    );
    const { families } = await scrape(app);
    expect(value(families, "rdtm_job_runs_total", { job: "rd-quick-scan", status: "succeeded" })).toBe(3);
    expect(value(families, "rdtm_job_runs_total", { job: "rd-quick-scan", status: "failed" })).toBe(1);
    expect(value(families, "rdtm_actions_total", { kind: "add_magnet", state: "done" })).toBe(1);
    expect(value(families, "rdtm_actions_total", { kind: "delete_torrent", state: "failed" })).toBe(1);
    expect(value(families, "rdtm_actions_pending", { kind: "add_magnet" })).toBeUndefined();
  });

  it("starts the counts over when ids go back (a restored database)", async () => {
    await seed();
    const app = makeApp();
    await scrape(app);
    await db.execute("DELETE FROM job_runs");
    await db.execute(
      "INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at, ended_at) VALUES ('n', 'maintenance', 'cron', 0, 'h', 'succeeded', 1, 2)",
    );
    await scrape(app);
    const { families } = await scrape(app);
    expect(families.find((f) => f.name === "rdtm_job_runs_total")?.metrics).toEqual([
      { labels: { job: "maintenance", status: "succeeded" }, value: "1" },
    ]);
  });
});

describe("Exposition", () => {
  it("escapes help and label values, and sums a series added twice", () => {
    const x = new Exposition();
    const add = x.family("t_total", "counter", 'back\\slash and\nnewline "quoted"');
    add(1, { v: 'a"b\\c\nd' });
    add(2, { v: 'a"b\\c\nd' });
    x.single("t_nan", "gauge", "not a number", Number.NaN);
    x.single("t_empty", "gauge", "no sample", null);
    const text = x.text();
    assertStrictFormat(text);
    expect(text).toContain('t_total{v="a\\"b\\\\c\\nd"} 3');
    const [total, nan, empty] = parsePrometheus(text);
    expect(total).toMatchObject({
      help: 'back\\slash and\nnewline "quoted"',
      metrics: [{ value: "3", labels: { v: 'a"b\\c\nd' } }],
    });
    expect(nan?.metrics).toEqual([{ value: "NaN" }]);
    expect(empty).toMatchObject({ name: "t_empty", metrics: [] });
  });
});

describe("label values", () => {
  it.each([
    ["rd-quick-scan", "rd-quick-scan"],
    ["magnet_error", "magnet_error"],
    [null, "none"],
    ["/mnt/media/x", "other"],
    ['a"b', "other"],
    ["x".repeat(80), "other"],
  ])("safeLabel(%j) is %j", (input, out) => expect(safeLabel(input)).toBe(out));

  it.each([
    ["/torrents/info/ABC123", "/torrents/info/:id"],
    ["/torrents/info/:id", "/torrents/info/:id"],
    ["/torrents/delete/ABCDEFGHIJKLM", "/torrents/delete/:id"],
    [`/torrents/instantAvailability/${"ab".repeat(20)}`, "/torrents/instantAvailability/:id"],
    ["/unrestrict/link?link=https://x", "/unrestrict/link"],
    ["/user", "/user"],
  ])("endpointLabel(%j) is %j", (input, out) => expect(endpointLabel(input)).toBe(out));
});
