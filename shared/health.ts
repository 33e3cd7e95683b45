import { type Db, isFileUrl } from "./db.ts";
import { errorMessage } from "./errors.ts";

/** State of one dependency as /health reports it. */
export interface ServiceHealth {
  status: "up" | "down" | "degraded" | "not_configured";
  [detail: string]: unknown;
}

/** One named check; later features (RD, mount guard, qBittorrent) add their own. */
export type HealthProbe = () => Promise<ServiceHealth>;

/** Overall verdict: unhealthy when a required service is down, degraded when anything is off. */
export interface HealthReport {
  status: "healthy" | "degraded" | "unhealthy";
  services: Record<string, ServiceHealth>;
  /** Each service up (true) or down (false), e.g. {"qbittorrent":true,"sonarr":true,"radarr":true}. */
  up: Record<string, boolean>;
}

const SLOW_DB_MS = 1_000;

/** Database reachability and latency; the one service RDTM cannot work without. */
export function databaseProbe(db: Db, url: string): HealthProbe {
  return async () => {
    const started = Date.now();
    try {
      await db.execute("SELECT 1");
      const latencyMs = Date.now() - started;
      return { status: latencyMs > SLOW_DB_MS ? "degraded" : "up", kind: isFileUrl(url) ? "file" : "sqld", latencyMs };
    } catch (err) {
      return { status: "down", kind: isFileUrl(url) ? "file" : "sqld", error: errorMessage(err) };
    }
  };
}

/** Jobs whose latest finished run failed; they degrade health until a run succeeds. */
export function jobsProbe(db: Db): HealthProbe {
  return async () => {
    const rs = await db.execute(
      `SELECT job, status, error FROM job_runs r
       WHERE r.rowid = (SELECT rowid FROM job_runs x WHERE x.job = r.job AND x.status <> 'running' ORDER BY started_at DESC LIMIT 1)`,
    );
    const failing = rs.rows
      .filter((r) => r.status !== "succeeded")
      .map((r) => ({ job: String(r.job), status: String(r.status), error: r.error === null ? null : String(r.error) }));
    return { status: failing.length > 0 ? "degraded" : "up", failing };
  };
}

const PROBE_TTL_MS = 5 * 60_000;
const FIRST_CHECK_TIMEOUT_MS = 3_000;

/**
 * A probe of another service served from a cache refreshed every 5 minutes (in the background on
 * Node), so /health under load never calls the service nor waits on it, except for the very first
 * check, which waits at most 3 s.
 */
export function cachedProbe(check: () => Promise<ServiceHealth>, opts: { background: boolean }): HealthProbe {
  let cached: { at: number; value: ServiceHealth } | undefined;
  let refreshing: Promise<ServiceHealth> | undefined;
  const refresh = () => {
    refreshing ??= (async () => {
      try {
        const value = await check();
        cached = { at: Date.now(), value: { ...value, checkedAt: new Date().toISOString() } };
        return cached.value;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };
  return async () => {
    if (cached && Date.now() - cached.at < PROBE_TTL_MS) return cached.value;
    if (cached && opts.background) {
      void refresh().catch(() => {});
      return cached.value;
    }
    const timeout = new Promise<ServiceHealth>((resolve) =>
      setTimeout(() => resolve({ status: "degraded", detail: "first check still running" }), FIRST_CHECK_TIMEOUT_MS),
    );
    return Promise.race([refresh(), timeout]);
  };
}

/** Runs every probe (a probe that throws counts as down) and folds them into one report. */
export async function checkHealth(probes: Record<string, HealthProbe>, required = ["database"]): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, ServiceHealth]> => {
      try {
        return [name, await probe()];
      } catch (err) {
        return [name, { status: "down", error: errorMessage(err) }];
      }
    }),
  );
  const services = Object.fromEntries(entries);
  const down = entries.filter(([, s]) => s.status === "down");
  const status = down.some(([n]) => required.includes(n))
    ? "unhealthy"
    : down.length > 0 || entries.some(([, s]) => s.status === "degraded")
      ? "degraded"
      : "healthy";
  // The seed's at-a-glance view: each service up or not.
  const up = Object.fromEntries(entries.map(([n, s]) => [n, s.status !== "down"]));
  return { status, services, up };
}
