import type { Row } from "@libsql/client";
import type { Db } from "../db.ts";
import type { ChartSpec, Series } from "./charts.ts";

const DAY_MS = 86_400_000;
const DAY = (col: string) => `CAST(${col} / ${DAY_MS} AS INTEGER)`;

/** UTC day numbers from `days - 1` days ago to today, and their MM-DD labels. */
export function dayRange(now: number, days: number): { first: number; days: number[]; labels: string[] } {
  const today = Math.floor(now / DAY_MS);
  const list = Array.from({ length: days }, (_, i) => today - days + 1 + i);
  return {
    first: list[0] ?? today,
    days: list,
    labels: list.map((d) => new Date(d * DAY_MS).toISOString().slice(5, 10)),
  };
}

/**
 * Spreads `(day, key, value)` rows into one series per key over every day. A day without a row is 0 for
 * counts and null (no data, a gap) for measurements such as durations.
 */
function perDay(
  rows: Row[],
  days: number[],
  keys: readonly string[],
  keyOf: (r: Row) => string,
  value: string,
  missing: 0 | null = 0,
) {
  const index = new Map(days.map((d, i) => [d, i]));
  const empty = () => new Array<number | null>(days.length).fill(missing);
  const series = new Map(keys.map((k) => [k, empty()]));
  for (const r of rows) {
    const i = index.get(Number(r.day));
    const key = keyOf(r);
    if (i === undefined) continue;
    let values = series.get(key);
    if (!values) {
      values = empty();
      series.set(key, values);
    }
    values[i] = Number(r[value] ?? 0);
  }
  return [...series].map(([name, values]): Series => ({ name, values }));
}

/** Every chart of the charts page over the last `days` UTC days, from metrics, job_runs, repairs, attempts. */
export async function chartSpecs(db: Db, now: number, days: number): Promise<ChartSpec[]> {
  const range = dayRange(now, days);
  const from = range.first * DAY_MS;
  const [repairs, runs, jobDurations, scans, rd, other, open, strikes] = await Promise.all([
    db.execute({
      sql: `SELECT ${DAY("finished_at")} AS day, state, count(*) AS n FROM repairs
            WHERE finished_at >= ? AND state IN ('done', 'failed') GROUP BY day, state`,
      args: [from],
    }),
    db.execute({
      sql: `SELECT ${DAY("started_at")} AS day, count(*) AS total,
              sum(status IN ('failed', 'aborted', 'interrupted')) AS failed
            FROM job_runs WHERE started_at >= ? GROUP BY day`,
      args: [from],
    }),
    db.execute({
      sql: `SELECT ${DAY("at")} AS day, json_extract(tags, '$.job') AS job, avg(value) / 1000.0 AS s
            FROM metrics WHERE type = 'job' AND name = 'duration_ms' AND at >= ? GROUP BY day, job`,
      args: [from],
    }),
    db.execute({
      sql: `SELECT ${DAY("at")} AS day, max(value) / 60000.0 AS min FROM metrics
            WHERE type = 'scan' AND name = 'full_duration_ms' AND at >= ? GROUP BY day`,
      args: [from],
    }),
    db.execute({
      sql: `SELECT ${DAY("at")} AS day, avg(latency_ms) AS latency, count(*) AS calls,
              sum(status = 429 OR error_code IN (5, 34)) AS throttled
            FROM attempts WHERE at >= ? GROUP BY day`,
      args: [from],
    }),
    // Whatever else lands in metrics later (RD latency, queue sizes...) is drawn as it comes.
    db.execute({
      sql: `SELECT type || '.' || name AS metric, ${DAY("at")} AS day, avg(value) AS v FROM metrics
            WHERE at >= ? AND NOT (type = 'job' AND name = 'duration_ms') AND NOT (type = 'scan' AND name = 'full_duration_ms')
            GROUP BY metric, day ORDER BY metric LIMIT 2000`,
      args: [from],
    }),
    db.execute(
      "SELECT state, count(*) AS n FROM repairs WHERE state NOT IN ('done', 'failed', 'cancelled') GROUP BY state ORDER BY state",
    ),
    db.execute("SELECT class, count(*) AS n FROM qbit_strikes GROUP BY class ORDER BY class"),
  ]);
  const { days: ds, labels } = range;
  const jobs = [...new Set(jobDurations.rows.map((r) => String(r.job)))].sort();
  const metrics = [...new Set(other.rows.map((r) => String(r.metric)))];
  const base = { labels, labelHead: "Day (UTC)" };
  return [
    {
      ...base,
      id: "repairs",
      title: "Repairs finished per day",
      series: perDay(repairs.rows, ds, ["done", "failed"], (r) => String(r.state), "n"),
    },
    {
      ...base,
      id: "runs",
      title: "Job runs and failed runs per day",
      series: [
        ...perDay(runs.rows, ds, ["runs"], () => "runs", "total"),
        ...perDay(runs.rows, ds, ["failed"], () => "failed", "failed"),
      ],
    },
    {
      ...base,
      id: "scan",
      kind: "line",
      title: "Full scan duration (longest per day, minutes)",
      unit: " min",
      series: perDay(scans.rows, ds, ["full scan"], () => "full scan", "min", null),
    },
    {
      ...base,
      id: "durations",
      kind: "line",
      title: "Job run duration (average per day, seconds)",
      unit: " s",
      series: perDay(jobDurations.rows, ds, jobs, (r) => String(r.job), "s", null),
    },
    {
      ...base,
      id: "rd-latency",
      kind: "line",
      title: "Real-Debrid latency of repair calls (average per day, ms)",
      unit: " ms",
      series: perDay(rd.rows, ds, ["latency"], () => "latency", "latency", null),
    },
    {
      ...base,
      id: "rd-429",
      title: "Real-Debrid calls and throttled answers (429 / code 5, 34) per day",
      series: [
        ...perDay(rd.rows, ds, ["calls"], () => "calls", "calls"),
        ...perDay(rd.rows, ds, ["throttled"], () => "throttled", "throttled"),
      ],
    },
    ...metrics.map((m, i) => ({
      ...base,
      id: `metric-${i}`,
      kind: "line" as const,
      title: `${m} (average per day)`,
      series: perDay(
        other.rows.filter((r) => String(r.metric) === m),
        ds,
        [m],
        () => m,
        "v",
        null,
      ),
    })),
    {
      id: "queue",
      title: "Open repairs by state (now)",
      labels: open.rows.map((r) => String(r.state)),
      labelHead: "State",
      series: [{ name: "repairs", values: open.rows.map((r) => Number(r.n)) }],
    },
    {
      id: "strikes",
      title: "qBit downloads with strikes by class (now)",
      labels: strikes.rows.map((r) => String(r.class)),
      labelHead: "Class",
      series: [{ name: "downloads", values: strikes.rows.map((r) => Number(r.n)) }],
    },
  ];
}
