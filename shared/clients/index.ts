import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import { createRdLimiter, type RdLimiter } from "../rd/limiter.ts";
import type { DebridProvider } from "./debrid.ts";
import { createRealDebridClient, type RdCall } from "./real-debrid.ts";
import { type ArrClient, type ArrInstance, createArrClient } from "./servarr.ts";

/** Counts of RD calls made by this process, by endpoint and outcome. */
export class RdCallStats {
  readonly counts = new Map<string, number>();
  total = 0;
  throttled = 0;
  latencyMs = 0;

  record(c: RdCall): void {
    this.total++;
    this.latencyMs += c.latencyMs;
    if (c.status === 429 || c.errorCode === 34 || c.errorCode === 5) this.throttled++;
    const key = `${c.method} ${c.endpoint.replace(/\/[^/]*\d[^/]*$/, "/:id")} ${c.status ?? "network"}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Calls and throttles since an earlier snapshot, for a run's summary. */
  since(before: { total: number; throttled: number }): { rdRequests: number; rdThrottled: number } {
    return { rdRequests: this.total - before.total, rdThrottled: this.throttled - before.throttled };
  }
}

/** The service clients a job may use; a service that is not configured is null. */
export interface Clients {
  rd: DebridProvider | null;
  rdLimiter: RdLimiter | null;
  rdCalls: RdCallStats;
  /** Every Sonarr/Radarr instance (see resolveArrInstances). */
  arr: ArrClient[];
}

/** Builds the clients from config; `fetch` replaces the network (tests, demo). */
export function createClients(
  config: Config,
  db: Db,
  opts: { fetch?: typeof fetch; arr?: readonly ArrInstance[] } = {},
): Clients {
  const rdCalls = new RdCallStats();
  const arr = (opts.arr ?? []).map((i) => createArrClient(i, opts.fetch ? { fetch: opts.fetch } : {}));
  if (!config.RD_API_TOKEN) return { rd: null, rdLimiter: null, rdCalls, arr };
  const rdLimiter = createRdLimiter({ limitPerMinute: config.RD_RATE_LIMIT_PER_MINUTE, db });
  const rd = createRealDebridClient({
    baseUrl: config.RD_API_URL,
    token: config.RD_API_TOKEN,
    limiter: rdLimiter,
    timeoutMs: config.RD_TIMEOUT_SECONDS * 1000,
    onCall: (c) => rdCalls.record(c),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return { rd, rdLimiter, rdCalls, arr };
}

/** Clients with nothing configured (tests that do not reach any service). */
export function noClients(): Clients {
  return { rd: null, rdLimiter: null, rdCalls: new RdCallStats(), arr: [] };
}
