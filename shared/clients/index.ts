import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import type { Logger } from "../log.ts";
import { buildRuleSet, type RuleSet } from "../qbit/rules.ts";
import { createRdLimiter, type RdLimiter } from "../rd/limiter.ts";
import type { FolderRefresher } from "../repair/links.ts";
import type { DebridProvider } from "./debrid.ts";
import { createNotifier, type Notifier } from "./notify.ts";
import { createPlexClient } from "./plex.ts";
import { createQbitClient, type QbitClient, type QbitInstance } from "./qbittorrent.ts";
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
  /** Every qBittorrent instance (configured, or found through Docker). */
  qbit: QbitClient[];
  /** qbit-check's classification rules (built-in, or from QBIT_RULES_FILE). */
  qbitRules: RuleSet;
  /** Plex, when PLEX_URL and PLEX_TOKEN are set (partial refresh of folders whose links changed). */
  plex: FolderRefresher | null;
  /** A new notifier for one run (events are batched per run). */
  notifier: (log: Logger) => Notifier;
}

/** Builds the clients from config; `fetch` replaces the network (tests, demo). */
export function createClients(
  config: Config,
  db: Db,
  opts: {
    fetch?: typeof fetch;
    arr?: readonly ArrInstance[];
    qbit?: readonly QbitInstance[];
    qbitRules?: RuleSet;
  } = {},
): Clients {
  const rdCalls = new RdCallStats();
  const transport = opts.fetch ? { fetch: opts.fetch } : {};
  const arr = (opts.arr ?? []).map((i) => createArrClient(i, transport));
  const plex =
    config.PLEX_URL && config.PLEX_TOKEN
      ? createPlexClient({ url: config.PLEX_URL, token: config.PLEX_TOKEN, ...transport })
      : null;
  const notifier = (log: Logger) =>
    createNotifier({
      discordWebhookUrl: config.DISCORD_WEBHOOK_URL,
      webhookUrl: config.WEBHOOK_URL,
      slackWebhookUrl: config.SLACK_WEBHOOK_URL,
      ...(config.TELEGRAM_BOT_TOKEN && config.TELEGRAM_CHAT_ID
        ? { telegram: { botToken: config.TELEGRAM_BOT_TOKEN, chatId: config.TELEGRAM_CHAT_ID } }
        : {}),
      events: config.NOTIFY_EVENTS,
      channels: {
        discord: config.NOTIFY_DISCORD_EVENTS,
        webhook: config.NOTIFY_WEBHOOK_EVENTS,
        telegram: config.NOTIFY_TELEGRAM_EVENTS,
        slack: config.NOTIFY_SLACK_EVENTS,
      },
      log,
      ...transport,
    });
  const qbit = (opts.qbit ?? []).map((i) => createQbitClient(i, transport));
  const qbitRules =
    opts.qbitRules ??
    buildRuleSet(null, { ignoreTags: config.QBIT_IGNORE_TAGS, ignoreCategories: config.QBIT_IGNORE_CATEGORIES });
  const base = { rdCalls, arr, qbit, qbitRules, plex, notifier };
  if (!config.RD_API_TOKEN) return { rd: null, rdLimiter: null, ...base };
  const rdLimiter = createRdLimiter({ limitPerMinute: config.RD_RATE_LIMIT_PER_MINUTE, db });
  const rd = createRealDebridClient({
    baseUrl: config.RD_API_URL,
    token: config.RD_API_TOKEN,
    limiter: rdLimiter,
    timeoutMs: config.RD_TIMEOUT_SECONDS * 1000,
    onCall: (c) => rdCalls.record(c),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return { rd, rdLimiter, ...base };
}

/** Clients with nothing configured (tests that do not reach any service). */
export function noClients(): Clients {
  return {
    rd: null,
    rdLimiter: null,
    rdCalls: new RdCallStats(),
    arr: [],
    qbit: [],
    qbitRules: buildRuleSet(null),
    plex: null,
    notifier: silentNotifier,
  };
}

/** A notifier with nowhere to send (nothing configured). */
export function silentNotifier(log: Logger): Notifier {
  return createNotifier({ log });
}
