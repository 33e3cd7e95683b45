import { Cron } from "croner";
import * as v from "valibot";
import { checkWebhookUrl, NOTIFY_EVENT_KINDS, type NotifyEventKind } from "./clients/notify.ts";
import { ConfigError } from "./errors.ts";

const BOOL_WORDS: Record<string, boolean> = {
  true: true,
  "1": true,
  yes: true,
  on: true,
  false: false,
  "0": false,
  no: false,
  off: false,
};

const Bool = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.check((s) => s in BOOL_WORDS, "expected true/false (or 1/0, yes/no, on/off)"),
  v.transform((s) => BOOL_WORDS[s] === true),
);

const int = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^-?\d+$/, "expected a whole number"),
    v.transform(Number),
    v.number(),
    v.minValue(min, `expected a number >= ${min}`),
    v.maxValue(max, `expected a number <= ${max}`),
  );

const DB_URL = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => s === ":memory:" || /^(file:.+|https?:\/\/[^\s]+|libsql:\/\/[^\s]+|wss?:\/\/[^\s]+)$/.test(s),
    "expected file:<path>, http(s)://host:port, libsql://host or ws(s)://host",
  ),
);

const HttpUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => /^https?:\/\/[^\s/]+/.test(s) && URL.canParse(s), "expected an http(s) URL"),
  v.transform((s) => s.replace(/\/+$/, "")),
);

const AbsolutePath = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => s.startsWith("/") && !s.split("/").includes(".."), "expected an absolute path without '..'"),
  v.transform((s) => (s.length > 1 ? s.replace(/\/+$/, "") : s)),
);

const PathList = v.pipe(
  v.string(),
  v.transform((s) =>
    s
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== ""),
  ),
  v.check((l) => l.length > 0, "expected at least one folder"),
  v.check(
    (l) => l.every((p) => p.startsWith("/") && !p.split("/").includes("..")),
    "expected absolute paths without '..'",
  ),
  v.transform((l) => l.map((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p))),
);

const NameList = v.pipe(
  v.string(),
  v.transform((s) => s.split(",").map((p) => p.trim())),
  v.check((l) => l.every((p) => !p.includes("/") && p !== ".." && p !== "."), "expected folder names without '/'"),
);

const Webhook = (kind: "discord" | "webhook" | "slack") =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (s) => checkWebhookUrl(s, kind) === undefined,
      (issue) => checkWebhookUrl(String(issue.input), kind) ?? "invalid URL",
    ),
  );

const EventList = v.pipe(
  v.string(),
  v.transform((s) =>
    s
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== ""),
  ),
  v.check(
    (l) => l.every((e) => (NOTIFY_EVENT_KINDS as readonly string[]).includes(e)),
    `expected a comma-separated list of ${NOTIFY_EVENT_KINDS.join(", ")}`,
  ),
  v.transform((l) => new Set(l as NotifyEventKind[]) as ReadonlySet<NotifyEventKind>),
);

const CsvList = v.pipe(
  v.string(),
  v.check((s) => s.trim() === "" || s.split(",").every((p) => p.trim() !== ""), "expected comma-separated names"),
  v.transform((s) =>
    s
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== ""),
  ),
);

const Secret = (min: number) => v.pipe(v.string(), v.trim(), v.minLength(min, `must be at least ${min} characters`));

/** Checks a cron pattern the way croner will run it; "off" disables the schedule. */
export const CronPattern = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => s === "off" || cronError(s) === undefined,
    (issue) => `expected a cron pattern (5 or 6 fields) or off: ${cronError(String(issue.input))}`,
  ),
);

function cronError(pattern: string): string | undefined {
  try {
    new Cron(pattern, { paused: true });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

interface VarSpec {
  schema: v.GenericSchema<string, unknown>;
  default?: string;
  doc: string;
  secret?: boolean;
  /** A value the schema must refuse; keeps the config test honest for every variable. */
  invalidSample: string;
}

/** Every environment variable RDTM reads, with its default and meaning (README and .dev.vars.example follow this). */
export const CONFIG_VARS = {
  LIBSQL_URL: {
    schema: DB_URL,
    default: "file:data/rdtm.db",
    doc: "Database: file:<path> (embedded) or http(s)://, libsql:// for sqld",
    invalidSample: "postgres://x",
  },
  LIBSQL_AUTH_TOKEN: { schema: Secret(1), doc: "JWT for sqld when its auth is on", secret: true, invalidSample: "  " },
  API_TOKEN: {
    schema: Secret(16),
    doc: "Bearer token for invoking and mutating routes; unset disables them",
    secret: true,
    invalidSample: "short",
  },
  HOST: {
    schema: v.pipe(v.string(), v.trim(), v.regex(/^[\w.:-]+$/, "expected a host name or IP address")),
    default: "0.0.0.0",
    doc: "Address the HTTP server listens on",
    invalidSample: "bad host!",
  },
  PORT: { schema: int(0, 65535), default: "8787", doc: "HTTP port (0 picks a free port)", invalidSample: "99999" },
  DRY_RUN: {
    schema: Bool,
    default: "true",
    doc: "Default run mode: true records what would be done and changes nothing",
    invalidSample: "maybe",
  },
  LOG_LEVEL: {
    schema: v.picklist(
      ["silent", "error", "warn", "info", "debug", "trace"],
      "expected one of silent, error, warn, info, debug, trace",
    ),
    default: "info",
    doc: "Log verbosity",
    invalidSample: "loud",
  },
  LOG_FORMAT: {
    schema: v.picklist(["auto", "json", "pretty"], "expected auto, json or pretty"),
    default: "auto",
    doc: "auto: readable on a terminal, JSON lines otherwise",
    invalidSample: "xml",
  },
  LOG_FILE: {
    schema: v.pipe(v.string(), v.trim(), v.minLength(1, "expected a file path")),
    doc: "Also write JSON log lines to this file, rotated at 10 MB, 5 files kept (as in the seed)",
    invalidSample: " ",
  },
  METRICS_FILE: {
    schema: v.pipe(v.string(), v.trim(), v.minLength(1, "expected a file path")),
    doc: "Append one JSON line per job run (the seed's logs/metrics.jsonl)",
    invalidSample: " ",
  },
  SESSION_HOURS: {
    schema: int(1, 24 * 90),
    default: "168",
    doc: "How long a dashboard login lasts",
    invalidSample: "0",
  },
  LEASE_TTL_SECONDS: {
    schema: int(2, 3600),
    default: "60",
    doc: "How long a job lease lives without a heartbeat (a crashed run frees its job after this)",
    invalidSample: "1",
  },
  SHUTDOWN_GRACE_SECONDS: {
    schema: int(0, 600),
    default: "20",
    doc: "On SIGTERM, how long running jobs may finish before they are aborted",
    invalidSample: "-1",
  },
  HISTORY_RETENTION_DAYS: {
    schema: int(1, 3650),
    default: "30",
    doc: "Days of job runs and repair attempts kept",
    invalidSample: "0",
  },
  METRICS_RETENTION_DAYS: { schema: int(1, 3650), default: "90", doc: "Days of metrics kept", invalidSample: "abc" },
  BACKUP_DIR: {
    schema: v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty")),
    default: "data/backups",
    doc: "Where the maintenance job writes database backups",
    invalidSample: " ",
  },
  BACKUP_KEEP: {
    schema: int(1, 1000),
    default: "7",
    doc: "Newest backups kept; older ones are removed",
    invalidSample: "0",
  },
  RD_API_TOKEN: {
    schema: Secret(10),
    doc: "Real-Debrid API token (real-debrid.com/apitoken); unset turns the RD jobs off",
    secret: true,
    invalidSample: "short",
  },
  RD_API_URL: {
    schema: HttpUrl,
    default: "https://api.real-debrid.com/rest/1.0",
    doc: "Real-Debrid API base URL",
    invalidSample: "ftp://rd",
  },
  RD_RATE_LIMIT_PER_MINUTE: {
    schema: int(1, 250),
    default: "200",
    doc: "RD requests per minute, all processes together (RD allows 250; Zurg shares the account)",
    invalidSample: "300",
  },
  RD_TIMEOUT_SECONDS: { schema: int(1, 300), default: "30", doc: "Timeout of one RD request", invalidSample: "0" },
  FULL_SCAN_PAGE_SIZE: {
    schema: int(100, 5000),
    default: "2500",
    doc: "Torrents per full-scan page (one page per run)",
    invalidSample: "6000",
  },
  FULL_SCAN_INTERVAL_HOURS: {
    schema: int(1, 720),
    default: "24",
    doc: "A new full scan starts this long after the last one completed",
    invalidSample: "0",
  },
  QUICK_SCAN_PAGE_SIZE: {
    schema: int(10, 5000),
    default: "100",
    doc: "Newest torrents read per quick-scan page",
    invalidSample: "5",
  },
  QUICK_SCAN_MAX_PAGES: {
    schema: int(1, 50),
    default: "5",
    doc: "Most pages a quick scan reads before it stops",
    invalidSample: "0",
  },
  STUCK_AFTER_MINUTES: {
    schema: int(5, 100_000),
    default: "60",
    doc: "A torrent waiting in magnet_conversion or waiting_files_selection longer than this is stuck",
    invalidSample: "1",
  },
  LIBRARY_ROOTS: {
    schema: PathList,
    doc: "Comma-separated absolute folders of the symlink library; unset turns the sweep off",
    invalidSample: "relative/path",
  },
  RD_MOUNT_PATH: {
    schema: AbsolutePath,
    doc: "Where the Zurg/rclone mount of the RD account is (e.g. /mnt/zurg)",
    invalidSample: "mnt/zurg",
  },
  RD_MOUNT_DIRECTORIES: {
    schema: NameList,
    default: "__all__,torrents,shows,movies,anime",
    doc: "Zurg directories under the mount that hold torrent folders (comma-separated)",
    invalidSample: "a/b",
  },
  SWEEP_INTERVAL_HOURS: {
    schema: int(1, 720),
    default: "6",
    doc: "A new library sweep starts this long after the last one completed",
    invalidSample: "0",
  },
  SWEEP_RUN_ENTRIES: {
    schema: int(100, 10_000_000),
    default: "100000",
    doc: "Most library entries one sweep run handles before it stores its cursor",
    invalidSample: "10",
  },
  SWEEP_RUN_SECONDS: {
    schema: int(1, 3600),
    default: "50",
    doc: "Most seconds one sweep run spends before it stores its cursor",
    invalidSample: "0",
  },
  MOUNT_GUARD_MAX_BROKEN_PERCENT: {
    schema: int(1, 100),
    default: "20",
    doc: "Mount guard: more broken links than this share (and the minimum below) stops the sweep, changing nothing",
    invalidSample: "101",
  },
  MOUNT_GUARD_MIN_BROKEN: {
    schema: int(0, 1_000_000),
    default: "50",
    doc: "Mount guard: the share above only counts once at least this many links look broken",
    invalidSample: "-5",
  },
  MAX_RETRY_ATTEMPTS: {
    schema: int(1, 20),
    default: "3",
    doc: "Failed attempts (throttled, RD error, failed replacement) before a repair fails for good",
    invalidSample: "0",
  },
  RETRY_DELAY_HOURS: {
    schema: int(1, 168),
    default: "3",
    doc: "Wait before retrying a failed repair; doubles with each attempt",
    invalidSample: "0",
  },
  REPAIR_WAIT_MINUTES: {
    schema: int(5, 10_080),
    default: "60",
    doc: "A replacement torrent not downloaded this long after it was added is uncached: removed, old one kept",
    invalidSample: "1",
  },
  REPAIR_BATCH_SIZE: {
    schema: int(1, 10_000),
    default: "25",
    doc: "Most repairs one retry-drain run takes (a quarter of it for 10 minutes after RD throttled)",
    invalidSample: "0",
  },
  REPAIR_RUN_SECONDS: {
    schema: int(10, 3600),
    default: "240",
    doc: "Most seconds one retry-drain run spends before leaving the rest to the next run",
    invalidSample: "5",
  },
  DISCORD_WEBHOOK_URL: {
    schema: Webhook("discord"),
    doc: "Discord webhook for notifications (repairs done/failed, mount guard, rate-limit lockout)",
    secret: true,
    invalidSample: "https://example.com/hook",
  },
  WEBHOOK_URL: {
    schema: Webhook("webhook"),
    doc: "Generic webhook: receives a JSON POST {source, events[]} once per run with events",
    secret: true,
    invalidSample: "ftp://hooks.local/x",
  },
  NOTIFY_EVENTS: {
    schema: EventList,
    default: "repair_failed,repair_done,mount_guard,rate_limit_lockout,download_problem",
    doc: "Which events are sent (comma-separated)",
    invalidSample: "repair_started",
  },
  TELEGRAM_BOT_TOKEN: {
    schema: v.pipe(v.string(), v.trim(), v.regex(/^\d+:[\w-]{20,}$/, "expected a bot token like 123456:ABC…")),
    doc: "Telegram bot token for notifications (with TELEGRAM_CHAT_ID)",
    secret: true,
    invalidSample: "not-a-token",
  },
  TELEGRAM_CHAT_ID: {
    schema: v.pipe(v.string(), v.trim(), v.regex(/^(-?\d+|@\w{5,})$/, "expected a chat id or @channel")),
    doc: "Telegram chat to notify (numeric id, or @channelname)",
    invalidSample: "chat!",
  },
  SLACK_WEBHOOK_URL: {
    schema: Webhook("slack"),
    doc: "Slack incoming webhook for notifications",
    secret: true,
    invalidSample: "https://example.com/hook",
  },
  NOTIFY_DISCORD_EVENTS: {
    schema: EventList,
    doc: "Events sent to Discord (default: NOTIFY_EVENTS)",
    invalidSample: "nope",
  },
  NOTIFY_WEBHOOK_EVENTS: {
    schema: EventList,
    doc: "Events sent to WEBHOOK_URL (default: NOTIFY_EVENTS)",
    invalidSample: "nope",
  },
  NOTIFY_TELEGRAM_EVENTS: {
    schema: EventList,
    doc: "Events sent to Telegram (default: NOTIFY_EVENTS)",
    invalidSample: "nope",
  },
  NOTIFY_SLACK_EVENTS: {
    schema: EventList,
    doc: "Events sent to Slack (default: NOTIFY_EVENTS)",
    invalidSample: "nope",
  },
  PLEX_URL: {
    schema: HttpUrl,
    doc: "Plex base URL; with PLEX_TOKEN, folders whose links were removed get a partial refresh",
    invalidSample: "plex:32400",
  },
  PLEX_TOKEN: { schema: Secret(8), doc: "Plex token (X-Plex-Token)", secret: true, invalidSample: "short" },
  QBIT_URL: {
    schema: HttpUrl,
    doc: "qBittorrent WebUI URL, e.g. http://qbittorrent:8080 (more instances: QBIT_2_URL…); unset turns qbit-check off",
    invalidSample: "qbittorrent:8080",
  },
  QBIT_USERNAME: {
    schema: v.pipe(v.string(), v.trim(), v.minLength(1)),
    doc: "qBittorrent WebUI user",
    invalidSample: " ",
  },
  QBIT_PASSWORD: {
    schema: Secret(1),
    doc: "qBittorrent WebUI password (not needed with localhost auth bypass or QBIT_API_KEY)",
    secret: true,
    invalidSample: " ",
  },
  QBIT_API_KEY: {
    schema: Secret(16),
    doc: "qBittorrent 5.2+ API key (sent as Bearer; replaces the login)",
    secret: true,
    invalidSample: "short",
  },
  QBIT_RULES_FILE: {
    schema: v.pipe(v.string(), v.trim(), v.minLength(1, "expected a file path")),
    doc: "JSON rules file overriding the built-in classification (classes, extra rules, per category, ignores)",
    invalidSample: "  ",
  },
  QBIT_DELETE_PRIVATE: {
    schema: Bool,
    default: "false",
    doc: "Also delete private-tracker torrents from qBittorrent (hit-and-run risk); otherwise they are left seeding",
    invalidSample: "maybe",
  },
  QBIT_IGNORE_TAGS: {
    schema: CsvList,
    default: "",
    doc: "qBittorrent tags whose torrents qbit-check never touches (comma-separated)",
    invalidSample: ",,",
  },
  QBIT_IGNORE_CATEGORIES: {
    schema: CsvList,
    default: "",
    doc: "qBittorrent categories qbit-check never touches (comma-separated)",
    invalidSample: ",,",
  },
  DOCKER_SOCKET: {
    schema: AbsolutePath,
    doc: "Read-only Docker socket (e.g. /var/run/docker.sock): find qBittorrent/Sonarr/Radarr containers not configured by URL",
    invalidSample: "docker.sock",
  },
  DOCKER_NETWORK: {
    schema: v.pipe(v.string(), v.trim(), v.regex(/^[\w.-]+$/, "expected a Docker network name")),
    doc: "Docker network the discovered containers are reached on by name (e.g. traefik_proxy)",
    invalidSample: "a b",
  },
  SONARR_URL: {
    schema: HttpUrl,
    doc: "Sonarr base URL, e.g. http://sonarr:8989 (more instances: SONARR_2_URL, SONARR_3_URL…)",
    invalidSample: "sonarr:8989",
  },
  SONARR_API_KEY: {
    schema: Secret(16),
    doc: "Sonarr API key (Settings > General); or give SONARR_CONFIG_XML",
    secret: true,
    invalidSample: "short",
  },
  SONARR_CONFIG_XML: {
    schema: AbsolutePath,
    doc: "Path to a mounted Sonarr config.xml to read the API key from",
    invalidSample: "config.xml",
  },
  RADARR_URL: {
    schema: HttpUrl,
    doc: "Radarr base URL, e.g. http://radarr:7878 (more instances: RADARR_2_URL, RADARR_3_URL…)",
    invalidSample: "radarr:7878",
  },
  RADARR_API_KEY: {
    schema: Secret(16),
    doc: "Radarr API key (Settings > General); or give RADARR_CONFIG_XML",
    secret: true,
    invalidSample: "short",
  },
  RADARR_CONFIG_XML: {
    schema: AbsolutePath,
    doc: "Path to a mounted Radarr config.xml to read the API key from",
    invalidSample: "config.xml",
  },
} satisfies Record<string, VarSpec>;

type Vars = typeof CONFIG_VARS;
type Out<K extends keyof Vars> = v.InferOutput<Vars[K]["schema"]>;

/** The typed configuration every part of RDTM receives. */
export type Config = { [K in keyof Vars as Vars[K] extends { default: string } ? K : never]: Out<K> } & {
  [K in keyof Vars as Vars[K] extends { default: string } ? never : K]?: Out<K>;
} & {
  /** Effective schedule per job (null when turned off). */
  schedules: Record<string, string | null>;
  /** Every configured Sonarr/Radarr instance. */
  arr: ArrInstanceConfig[];
  /** Every configured qBittorrent instance. */
  qbit: QbitInstanceConfig[];
};

/** One Sonarr/Radarr instance as configured; the key comes from the env or from its config.xml. */
export interface ArrInstanceConfig {
  name: string;
  kind: "sonarr" | "radarr";
  url: string;
  apiKey?: string;
  configXml?: string;
}

const ARR_VAR = /^(SONARR|RADARR)_(?:(\d+)_)?(URL|API_KEY|CONFIG_XML)$/;

/** Collects SONARR_URL, SONARR_2_URL… (and their keys) into instances, listing every problem. */
function parseArrInstances(env: Record<string, string | undefined>, problems: string[]): ArrInstanceConfig[] {
  const groups = new Map<string, { kind: "sonarr" | "radarr"; n: number; vars: Record<string, string> }>();
  for (const [key, raw] of Object.entries(env)) {
    const m = ARR_VAR.exec(key);
    if (!m || raw === undefined || raw.trim() === "") continue;
    const kind = (m[1] ?? "").toLowerCase() as "sonarr" | "radarr";
    const n = m[2] === undefined ? 1 : Number(m[2]);
    const id = `${kind}-${n}`;
    const group = groups.get(id) ?? { kind, n, vars: {} };
    group.vars[m[3] ?? ""] = raw.trim();
    groups.set(id, group);
  }
  const out: ArrInstanceConfig[] = [];
  for (const g of [...groups.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.n - b.n)) {
    const prefix = `${g.kind.toUpperCase()}_${g.n === 1 ? "" : `${g.n}_`}`;
    if (g.n < 1 || g.n > 99) problems.push(`${prefix}URL: instance numbers go from 2 to 99`);
    const url = g.vars.URL;
    if (!url) {
      for (const k of Object.keys(g.vars)) problems.push(`${prefix}${k}: set without ${prefix}URL`);
      continue;
    }
    const u = v.safeParse(HttpUrl, url);
    if (!u.success) problems.push(describe(`${prefix}URL`, u.issues, false));
    const key = g.vars.API_KEY;
    const xml = g.vars.CONFIG_XML;
    if (key !== undefined && key.length < 16) problems.push(`${prefix}API_KEY: must be at least 16 characters`);
    if (xml !== undefined && !v.safeParse(AbsolutePath, xml).success)
      problems.push(`${prefix}CONFIG_XML: expected an absolute path`);
    if (key === undefined && xml === undefined)
      problems.push(`${prefix}API_KEY: set it or ${prefix}CONFIG_XML for ${url}`);
    if (u.success) {
      out.push({
        name: g.n === 1 ? g.kind : `${g.kind}-${g.n}`,
        kind: g.kind,
        url: u.output,
        ...(key !== undefined ? { apiKey: key } : {}),
        ...(xml !== undefined ? { configXml: xml } : {}),
      });
    }
  }
  return out;
}

/** One qBittorrent instance as configured. */
export interface QbitInstanceConfig {
  name: string;
  url: string;
  username?: string;
  password?: string;
  apiKey?: string;
}

const QBIT_VAR = /^QBIT_(\d+)_(URL|USERNAME|PASSWORD|API_KEY)$/;

/** QBIT_URL… (instance 1, checked as ordinary variables) plus QBIT_2_URL…, listing every problem. */
function parseQbitInstances(
  env: Record<string, string | undefined>,
  first: Record<string, unknown>,
  problems: string[],
): QbitInstanceConfig[] {
  const groups = new Map<number, Record<string, string>>();
  if (typeof first.QBIT_URL === "string") {
    groups.set(1, {
      URL: first.QBIT_URL,
      ...(typeof first.QBIT_USERNAME === "string" ? { USERNAME: first.QBIT_USERNAME } : {}),
      ...(typeof first.QBIT_PASSWORD === "string" ? { PASSWORD: first.QBIT_PASSWORD } : {}),
      ...(typeof first.QBIT_API_KEY === "string" ? { API_KEY: first.QBIT_API_KEY } : {}),
    });
  } else {
    for (const k of ["QBIT_USERNAME", "QBIT_PASSWORD", "QBIT_API_KEY"]) {
      if (env[k]?.trim()) problems.push(`${k}: set without QBIT_URL`);
    }
  }
  for (const [key, raw] of Object.entries(env)) {
    const m = QBIT_VAR.exec(key);
    if (!m || raw === undefined || raw.trim() === "") continue;
    const n = Number(m[1]);
    if (n < 2 || n > 99) {
      problems.push(`${key}: instance numbers go from 2 to 99`);
      continue;
    }
    const g = groups.get(n) ?? {};
    g[m[2] ?? ""] = raw.trim();
    groups.set(n, g);
  }
  const out: QbitInstanceConfig[] = [];
  for (const [n, g] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    const prefix = n === 1 ? "QBIT_" : `QBIT_${n}_`;
    if (!g.URL) {
      for (const k of Object.keys(g)) problems.push(`${prefix}${k}: set without ${prefix}URL`);
      continue;
    }
    const u = n === 1 ? { success: true as const, output: g.URL } : v.safeParse(HttpUrl, g.URL);
    if (!u.success) {
      problems.push(describe(`${prefix}URL`, u.issues, false));
      continue;
    }
    if (g.API_KEY !== undefined && g.API_KEY.length < 16)
      problems.push(`${prefix}API_KEY: must be at least 16 characters`);
    if ((g.USERNAME === undefined) !== (g.PASSWORD === undefined)) {
      problems.push(
        `${prefix}${g.USERNAME === undefined ? "USERNAME" : "PASSWORD"}: give both the user and the password`,
      );
    }
    out.push({
      name: n === 1 ? "qbittorrent" : `qbittorrent-${n}`,
      url: u.output,
      ...(g.USERNAME !== undefined ? { username: g.USERNAME } : {}),
      ...(g.PASSWORD !== undefined ? { password: g.PASSWORD } : {}),
      ...(g.API_KEY !== undefined ? { apiKey: g.API_KEY } : {}),
    });
  }
  return out;
}

/** The environment variable that overrides a job's schedule, e.g. SCHEDULE_RD_QUICK_SCAN. */
export function scheduleVar(job: string): string {
  return `SCHEDULE_${job.toUpperCase().replace(/-/g, "_")}`;
}

/** Names of the variables whose values must never be printed. */
export const SECRET_VARS = new Set(
  Object.entries(CONFIG_VARS)
    .filter(([, s]) => (s as VarSpec).secret)
    .map(([k]) => k),
);

/**
 * Parses an environment into Config. `jobSchedules` maps each job to its default cron so schedule
 * overrides are checked against real job names. Throws ConfigError listing every problem at once.
 */
export function parseConfig(env: Record<string, string | undefined>, jobSchedules: Record<string, string>): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_VARS) as [string, VarSpec][]) {
    if (ARR_VAR.test(key)) continue; // validated per instance by parseArrInstances
    const raw = env[key];
    const value = raw === undefined || raw === "" ? spec.default : raw;
    if (value === undefined) continue;
    const r = v.safeParse(spec.schema, value);
    if (r.success) out[key] = r.output;
    else problems.push(describe(key, r.issues, spec.secret === true));
  }
  const schedules: Record<string, string | null> = {};
  for (const [job, fallback] of Object.entries(jobSchedules)) {
    const key = scheduleVar(job);
    const raw = env[key]?.trim() || fallback;
    const r = v.safeParse(CronPattern, raw);
    if (!r.success) problems.push(describe(key, r.issues, false));
    else schedules[job] = r.output === "off" ? null : r.output;
  }
  const arr = parseArrInstances(env, problems);
  const qbit = parseQbitInstances(env, out, problems);
  const known = new Set(Object.keys(jobSchedules).map(scheduleVar));
  for (const key of Object.keys(env)) {
    if (key.startsWith("SCHEDULE_") && !known.has(key)) {
      problems.push(`${key}: no job by that name (schedulable jobs: ${[...known].join(", ")})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...(out as Omit<Config, "schedules" | "arr" | "qbit">), schedules, arr, qbit } as Config;
}

function describe(key: string, issues: v.BaseIssue<unknown>[], secret: boolean): string {
  const first = issues[0];
  if (!first) return `${key}: invalid value`;
  // valibot's own messages quote the received value; for secrets only our own wording is safe.
  const message = secret ? first.message.replace(/Received .*/s, "invalid value") : first.message;
  // A URL may carry user:password@ even when the variable is not a secret one: never echo that part.
  const shown =
    typeof first.input === "string" ? first.input.replace(/^([a-z][\w+.-]*:\/\/)?[^/@\s]*@/i, "$1***@") : first.input;
  const received = secret || first.input === undefined ? "" : ` (got ${JSON.stringify(shown)})`;
  return `${key}: ${message}${message.includes("Received") ? "" : received}`;
}

/** Every configured secret value (tokens, keys, passwords, webhook URLs), to mask wherever text leaves RDTM. */
export function secretValues(config: Config): string[] {
  const values: unknown[] = [...SECRET_VARS].map((k) => (config as Record<string, unknown>)[k]);
  for (const a of config.arr) values.push(a.apiKey);
  for (const q of config.qbit) values.push(q.password, q.apiKey);
  return values.filter((x): x is string => typeof x === "string" && x.length >= 4);
}

/** Replaces each secret value in `text` with "***". */
export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("***");
  return out;
}

/** The configuration with secret values masked, safe to log or show. */
export function redactConfig(config: Config): Record<string, unknown> {
  const mask = (o: object) =>
    Object.fromEntries(Object.entries(o).map(([k, x]) => [k, /key|password|token/i.test(k) ? "***" : x]));
  return Object.fromEntries(
    Object.entries(config).map(([k, val]) => [
      k,
      SECRET_VARS.has(k) && val !== undefined ? "***" : k === "arr" || k === "qbit" ? (val as object[]).map(mask) : val,
    ]),
  );
}
