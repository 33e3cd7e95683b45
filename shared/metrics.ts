import type { InStatement, ResultSet, Row } from "@libsql/client";
import type { Hono } from "hono";
import type { Clients } from "./clients/index.ts";
import type { Config } from "./config.ts";
import type { Db } from "./db.ts";

/** The Prometheus text format version /metrics serves. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type MetricType = "counter" | "gauge" | "summary";
type Labels = Record<string, string>;
type Add = (value: number, labels?: Labels, suffix?: "_sum" | "_count") => void;

/** Prometheus text exposition: one HELP/TYPE per family; a series added twice is summed, never repeated. */
export class Exposition {
  private readonly families: { name: string; type: MetricType; help: string; series: Map<string, number> }[] = [];

  /** Declares a family and returns the function that adds its samples. */
  family(name: string, type: MetricType, help: string): Add {
    const series = new Map<string, number>();
    this.families.push({ name, type, help, series });
    return (value, labels = {}, suffix) => {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      const key = `${name}${suffix ?? ""}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""}`;
      series.set(key, (series.get(key) ?? 0) + value);
    };
  }

  /** Declares a family of one unlabelled sample; `null` leaves it without a sample. */
  single(name: string, type: MetricType, help: string, value: number | null): void {
    const add = this.family(name, type, help);
    if (value !== null) add(value);
  }

  /** The exposition text, ending with a newline as the format requires. */
  text(): string {
    const lines: string[] = [];
    for (const f of this.families) {
      lines.push(
        `# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`,
        `# TYPE ${f.name} ${f.type}`,
      );
      for (const [key, value] of f.series) lines.push(`${key} ${formatValue(value)}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  return String(v);
}

/** A label value from the database: short identifiers pass, anything else (a path, a name) becomes "other". */
export function safeLabel(v: unknown): string {
  const s = v === null || v === undefined ? "none" : String(v);
  return /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(s) ? s : "other";
}

/** An RD endpoint as a label: every path segment that is not a plain lower-camel word becomes `:id`. */
export function endpointLabel(endpoint: string): string {
  const path = endpoint.split("?")[0] ?? "";
  const segments = path.split("/").map((s, i) => (i === 0 || /^[a-z][a-zA-Z]{0,31}$/.test(s) ? s : ":id"));
  return segments.join("/") || "/";
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);

interface TallySpec {
  table: string;
  /** An ever-growing integer key (rowid or an INTEGER PRIMARY KEY). */
  id: string;
  /** The label columns, as named in the table. */
  labels: readonly [string, string];
  /** SQL condition of a row that may still change (running run, pending action). */
  open: string;
  /** SQL expression summed per label set, if any. */
  value?: string;
}

/**
 * Counts rows of an append-mostly table by labels, aggregating in SQL only the rows added since the
 * last scrape and re-reading only the few still open. Pruning old rows never lowers a count, so the
 * series are real counters; they start from the table's content when the process does.
 */
class RowTally {
  readonly counts = new Map<string, { labels: Labels; n: number; sum: number }>();
  open = new Map<number, Labels>();
  private lastId = 0;

  constructor(private readonly spec: TallySpec) {}

  /** Three reads, to run in one read transaction: the newest id, new closed rows, open rows. */
  statements(): InStatement[] {
    const { table, id, labels, open, value } = this.spec;
    const cols = labels.join(", ");
    return [
      `SELECT max(${id}) AS max_id FROM ${table}`,
      {
        sql: `SELECT ${cols}, count(*) AS n, sum(${value ?? 0}) AS total FROM ${table}
              WHERE ${id} > ? AND NOT (${open}) GROUP BY ${cols}`,
        args: [this.lastId],
      },
      {
        sql: `SELECT ${id} AS id, ${cols}, ${value ?? 0} AS total, (${open}) AS is_open FROM ${table}
              WHERE (${id} > ? AND (${open})) OR ${id} IN (SELECT value FROM json_each(?))`,
        args: [this.lastId, JSON.stringify([...this.open.keys()])],
      },
    ];
  }

  apply([max, closed, open]: ResultSet[]): void {
    const maxId = Number(max?.rows[0]?.max_id ?? 0);
    if (maxId < this.lastId) {
      // Ids went back (a restored backup): start over, which Prometheus reads as a counter reset.
      this.counts.clear();
      this.open.clear();
      this.lastId = 0;
      return;
    }
    this.lastId = maxId;
    for (const r of closed?.rows ?? []) this.add(r, Number(r.n));
    const stillOpen = new Map<number, Labels>();
    for (const r of open?.rows ?? []) {
      if (Number(r.is_open)) stillOpen.set(Number(r.id), this.labelsOf(r));
      else this.add(r, 1);
    }
    this.open = stillOpen;
  }

  private labelsOf(r: Row): Labels {
    const [a, b] = this.spec.labels;
    return { [a]: safeLabel(r[a]), [b]: safeLabel(r[b]) };
  }

  private add(r: Row, n: number): void {
    const labels = this.labelsOf(r);
    const key = JSON.stringify(labels);
    const c = this.counts.get(key) ?? { labels, n: 0, sum: 0 };
    c.n += n;
    c.sum += Number(r.total ?? 0);
    this.counts.set(key, c);
  }
}

/** What /metrics reads: the database, and this process's RD call counts. */
export interface MetricsDeps {
  db: Db;
  clients: Clients;
  config: Config;
}

// Each of these is a GROUP BY over a small table or an index, or a one-row read.
const SNAPSHOT = [
  // leases has one row per job that ever ran; each last run is one index search.
  `SELECT r.job, r.status, r.started_at, r.ended_at FROM leases l JOIN job_runs r ON r.rowid =
     (SELECT x.rowid FROM job_runs x WHERE x.job = l.job AND x.status <> 'running' ORDER BY x.started_at DESC LIMIT 1)`,
  "SELECT state, error_class, count(*) AS n FROM repairs GROUP BY state, error_class",
  "SELECT error_type, count(*) AS n FROM permanent_failures WHERE reset_at IS NULL GROUP BY error_type",
  "SELECT state, count(*) AS n FROM broken_links GROUP BY state",
  "SELECT class, count(*) AS n FROM qbit_strikes GROUP BY class",
  "SELECT generation, seen, total FROM scan_progress WHERE scan = 'full'",
  "SELECT entries, links, broken, guard_reason FROM sweep_state WHERE id = 1",
] as const;
// The one scan of a big table (gone_at is not indexed: ~50 ms at 100k torrents), so it is cached.
const TORRENTS = "SELECT status, count(*) AS n FROM torrents WHERE gone_at IS NULL GROUP BY status";
const TORRENTS_TTL_MS = 60_000;

/** Returns a scrape function; scrapes run one at a time, since each one advances the row tallies. */
export function createMetricsCollector(deps: MetricsDeps, now: () => number = Date.now): () => Promise<string> {
  const runs = new RowTally({
    table: "job_runs",
    id: "rowid",
    labels: ["job", "status"],
    open: "status = 'running'",
    value: "ended_at - started_at",
  });
  const actions = new RowTally({ table: "actions", id: "id", labels: ["kind", "state"], open: "state = 'pending'" });
  let torrents: { at: number; rows: Row[] } | null = null;
  let previous: Promise<unknown> = Promise.resolve();

  async function scrape(): Promise<string> {
    const refresh = !torrents || now() - torrents.at >= TORRENTS_TTL_MS;
    const all = await deps.db.batch(
      [...runs.statements(), ...actions.statements(), ...SNAPSHOT, ...(refresh ? [TORRENTS] : [])],
      "read",
    );
    const at = (i: number): ResultSet => all[i] as ResultSet;
    runs.apply(all.slice(0, 3));
    actions.apply(all.slice(3, 6));
    if (refresh) torrents = { at: now(), rows: at(6 + SNAPSHOT.length).rows };
    const [lastRuns, repairs, permanent, links, strikes, scan, sweep] = SNAPSHOT.map((_, i) => at(6 + i).rows);
    const x = new Exposition();
    jobSeries(x, runs, lastRuns ?? []);
    rdSeries(x, deps.clients);
    stateSeries(x, { repairs, permanent, links, strikes, torrents: torrents?.rows }, actions);
    const full = scan?.[0];
    const sweepRow = sweep?.[0];
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    x.single("rdtm_full_scan_generation", "gauge", "Full scan generation", num(full?.generation) ?? 0);
    x.single("rdtm_full_scan_seen_torrents", "gauge", "Torrents seen by the current full scan", num(full?.seen) ?? 0);
    x.single("rdtm_full_scan_total_torrents", "gauge", "Torrents RD last reported for the account", num(full?.total));
    x.single("rdtm_sweep_entries", "gauge", "Entries walked by the current sweep", num(sweepRow?.entries) ?? 0);
    x.single("rdtm_sweep_links", "gauge", "Symlinks seen by the current sweep", num(sweepRow?.links) ?? 0);
    x.single("rdtm_sweep_broken", "gauge", "Broken links found by the current sweep", num(sweepRow?.broken) ?? 0);
    const guard = sweepRow?.guard_reason ? 1 : 0;
    x.single("rdtm_sweep_guard_tripped", "gauge", "1 while the mount guard holds the sweep", guard);
    x.single("rdtm_dry_run", "gauge", "1 when runs default to dry run", deps.config.DRY_RUN ? 1 : 0);
    return x.text();
  }

  return () => {
    const p = previous.then(scrape, scrape);
    previous = p.catch(() => {});
    return p;
  };
}

function jobSeries(x: Exposition, runs: RowTally, lastRuns: Row[]): void {
  const total = x.family("rdtm_job_runs_total", "counter", "Finished job runs by job and final status");
  const duration = x.family("rdtm_job_run_duration_seconds", "summary", "Duration of finished job runs");
  for (const c of runs.counts.values()) {
    total(c.n, c.labels);
    // The summary is per job: series of the same job add up across statuses.
    duration(c.sum / 1000, { job: c.labels.job ?? "none" }, "_sum");
    duration(c.n, { job: c.labels.job ?? "none" }, "_count");
  }
  const lastDuration = x.family("rdtm_job_last_run_duration_seconds", "gauge", "Duration of each job's last run");
  const lastAt = x.family("rdtm_job_last_run_timestamp_seconds", "gauge", "When each job's last run ended");
  const lastOk = x.family("rdtm_job_last_run_succeeded", "gauge", "1 when each job's last run succeeded");
  for (const r of lastRuns) {
    const job = { job: safeLabel(r.job) };
    const ended = Number(r.ended_at ?? r.started_at);
    lastDuration((ended - Number(r.started_at)) / 1000, job);
    lastAt(ended / 1000, job);
    lastOk(r.status === "succeeded" ? 1 : 0, job);
  }
}

function rdSeries(x: Exposition, clients: Clients): void {
  const stats = clients.rdCalls;
  const requests = x.family("rdtm_rd_requests_total", "counter", "RD requests made by this process");
  for (const [key, n] of stats.counts) {
    // RdCallStats keys read "<method> <endpoint> <status or network>".
    const parts = key.split(" ");
    const method = parts[0] ?? "";
    const code = parts.at(-1) ?? "";
    requests(n, {
      method: METHODS.has(method) ? method : "other",
      endpoint: endpointLabel(parts.slice(1, -1).join(" ")),
      code: /^(\d{3}|network)$/.test(code) ? code : "other",
    });
  }
  x.single("rdtm_rd_throttled_total", "counter", "RD requests refused as too many by this process", stats.throttled);
  const latency = x.family("rdtm_rd_request_duration_seconds", "summary", "Time RD requests of this process took");
  latency(stats.latencyMs / 1000, {}, "_sum");
  latency(stats.total, {}, "_count");
  const waited = clients.rdLimiter ? clients.rdLimiter.waitedMs() / 1000 : null;
  x.single("rdtm_rd_limiter_wait_seconds_total", "counter", "Time RD calls waited for the rate limiter", waited);
}

type Rows = Row[] | undefined;

function stateSeries(
  x: Exposition,
  t: { repairs: Rows; permanent: Rows; links: Rows; strikes: Rows; torrents: Rows },
  actions: RowTally,
): void {
  const repairState = x.family("rdtm_repairs", "gauge", "Repairs by state");
  const repairClass = x.family("rdtm_repairs_by_error_class", "gauge", "Repairs by the class of their last error");
  for (const r of t.repairs ?? []) {
    repairState(Number(r.n), { state: safeLabel(r.state) });
    if (r.error_class !== null) repairClass(Number(r.n), { error_class: safeLabel(r.error_class) });
  }
  counts(x, "rdtm_permanent_failures", "Permanent failures not reset, by error type", t.permanent, "error_type");
  counts(x, "rdtm_broken_links", "Broken library links by state", t.links, "state");
  counts(x, "rdtm_qbit_strikes", "Downloads with qbit-check strikes, by class", t.strikes, "class");
  const actionsTotal = x.family("rdtm_actions_total", "counter", "Journaled actions by kind and final state");
  for (const c of actions.counts.values()) actionsTotal(c.n, c.labels);
  const pending = x.family("rdtm_actions_pending", "gauge", "Journaled actions started and not yet closed");
  for (const labels of actions.open.values()) pending(1, { kind: labels.kind ?? "none" });
  const help = "RD torrents by status, gone ones excluded (refreshed every minute)";
  counts(x, "rdtm_torrents", help, t.torrents, "status");
}

function counts(x: Exposition, name: string, help: string, rows: Rows, column: string): void {
  const add = x.family(name, "gauge", help);
  for (const r of rows ?? []) add(Number(r.n), { [column]: safeLabel(r[column]) });
}

/** Serves GET /metrics in the Prometheus text format; no auth: it holds counts only, no names or paths. */
export function mountMetrics(app: Hono, deps: MetricsDeps): void {
  const scrape = createMetricsCollector(deps);
  app.get("/metrics", async (c) => c.body(await scrape(), 200, { "content-type": METRICS_CONTENT_TYPE }));
}
