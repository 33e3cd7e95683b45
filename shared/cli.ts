import { parseArgs } from "node:util";
import { accountCounts, serializeProgress } from "./api.ts";
import { serializeRun } from "./app.ts";
import { migrate } from "./db.ts";
import { withDotenv } from "./dotenv.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { listJobs } from "./jobs-view.ts";
import { serializeSweep } from "./library/api.ts";
import { readSweepState, requestSweep } from "./library/sweep-state.ts";
import { backupDatabase } from "./maintenance/backup.ts";
import { nodeHost, startServer } from "./node.ts";
import { checkRealDebrid } from "./rd/health.ts";
import { readProgress, requestFullRescan } from "./rd/scan-progress.ts";
import { RepairConflict, repairFor, serializeRepair } from "./repair/api.ts";
import { createServices, type Services } from "./services.ts";

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, config: 3, skipped: 4 } as const;

/** Where the CLI reads its environment and writes its output; tests pass their own. */
export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  tty: boolean;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); used by `serve`. */
  stopSignal: Promise<string>;
}

const HELP: Record<string, string> = {
  main: `rdtm — repairs Real-Debrid torrents, broken library symlinks and stuck downloads

Usage: rdtm <command> [options]

Commands:
  serve                 run the HTTP server and every scheduled job
  run <job>             run one job now and print its result
  status                jobs (schedule, next and last run), scan progress, torrents by status, repairs
  check                 check the Real-Debrid token, premium days left and active torrents
  scan reset            start a new full scan from the top at the next run
  sweep status|start    library sweep progress and mount guard; start a new sweep at the next run
  retries               repairs waiting for their next attempt, and hashes that failed for good
  repair <id|hash>      repair one torrent now (by RD torrent id or info hash), as far as it can go
  migrate               apply pending database migrations
  backup                take a database backup now (rotated like the scheduled ones)

Global options:
  --env-file <path>     dotenv file to read (default .dev.vars); real env vars win
  -h, --help            help for rdtm or a command
  -v, --version         print the version

Exit codes: 0 ok, 1 run failed, 2 usage error, 3 invalid configuration, 4 skipped (job busy)`,
  serve: `Usage: rdtm serve\n\nStarts the HTTP server (PORT, HOST) and schedules every job. Stops cleanly on SIGTERM/SIGINT.`,
  run: `Usage: rdtm run <job> [--dry-run | --real] [--limit N] [--json]

  --dry-run     record what would be done, change nothing (default: DRY_RUN)
  --real        perform the actions
  --limit N     cap the amount of work of this run
  --json        print the run as JSON
  --verbose     debug logging (LOG_LEVEL=debug)
  --config F    qbit-check rules file (QBIT_RULES_FILE)

Exit code: 0 succeeded, 1 failed or aborted, 4 skipped because the job is running elsewhere.`,
  status: `Usage: rdtm status [--json]\n\nLists every job (schedule, next run, current run, last run), the scans' progress,\ntorrents by status and repairs by state.`,
  check: `Usage: rdtm check [--json]\n\nChecks the Real-Debrid token (valid, premium days left) and active torrents, and that every\nqBittorrent, Sonarr and Radarr instance answers.\nExit code: 0 ok, 1 a problem was found.`,
  sweep: `Usage: rdtm sweep status|start [--json]\n\nstatus: the library sweep's progress (entries, links, broken, matched) and the mount guard.\nstart: a new sweep from the start at the next run of symlink-sweep.`,
  scan: `Usage: rdtm scan reset [--json]\n\nStarts a new full scan of the account from the top at the next run of rd-full-scan-page.`,
  retries: `Usage: rdtm retries [--json]\n\nLists open repairs (state, attempt, next attempt, last error), oldest due first,\nand the hashes that failed for good (reset one with rdtm repair <hash>).`,
  repair: `Usage: rdtm repair <torrent-id|hash> [--dry-run | --real] [--json]

Queues a repair of that torrent (re-opening a failed one: the user's reset) and drives it now,
step by step, as far as it can go; waiting for RD to download is left to retry-drain.

  --dry-run     journal the steps it would take, change nothing (default: DRY_RUN)
  --real        perform them`,
  migrate: `Usage: rdtm migrate\n\nApplies pending migrations from schema/ and prints what was applied.`,
  backup: `Usage: rdtm backup [--json]\n\nWrites a backup to BACKUP_DIR now and keeps the newest BACKUP_KEEP.`,
};

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  "env-file": { type: "string" },
  "dry-run": { type: "boolean" },
  real: { type: "boolean" },
  limit: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  config: { type: "string" },
} as const;

/** Commands that take an action word, and the actions they know. */
const ACTIONS: Record<string, string[]> = { scan: ["reset"], sweep: ["status", "start"] };

const COMMAND_OPTIONS: Record<string, string[]> = {
  serve: ["verbose", "config"],
  run: ["dry-run", "real", "limit", "json", "verbose", "config"],
  status: ["json"],
  check: ["json"],
  scan: ["json"],
  sweep: ["json"],
  retries: ["json"],
  repair: ["dry-run", "real", "json"],
  migrate: [],
  backup: ["json"],
};

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`rdtm: ${errorMessage(err)}\nSee 'rdtm --help'.`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    io.out("rdtm 0.1.0");
    return EXIT.ok;
  }
  if (!command || !(command in COMMAND_OPTIONS)) {
    if (values.help || !command) {
      io.out(HELP.main ?? "");
      return command || values.help ? EXIT.ok : EXIT.usage;
    }
    io.err(`rdtm: unknown command '${command}'\nSee 'rdtm --help'.`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(HELP[command] ?? "");
    return EXIT.ok;
  }
  const allowed = new Set([...(COMMAND_OPTIONS[command] ?? []), "env-file"]);
  const stray = Object.keys(values).find((k) => !allowed.has(k));
  if (stray) return usage(io, command, `option --${stray} does not apply to '${command}'`);
  const actions = ACTIONS[command];
  const wantPositional = command === "run" || command === "repair" || actions ? 1 : 0;
  if (rest.length !== wantPositional) {
    const what =
      command === "run"
        ? "give exactly one job name"
        : command === "repair"
          ? "give exactly one RD torrent id or info hash"
          : actions
            ? `give the action: ${actions.join(" | ")}`
            : `unexpected argument '${rest[0]}'`;
    return usage(io, command, what);
  }
  if (actions && !actions.includes(rest[0] ?? "")) {
    return usage(io, command, `unknown action '${rest[0]}' (actions: ${actions.join(", ")})`);
  }
  if (values["dry-run"] && values.real) return usage(io, command, "--dry-run and --real exclude each other");
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1)
      return usage(io, command, `--limit expects a whole number >= 1, got '${values.limit}'`);
  }

  const loaded = withDotenv(io.env, values["env-file"] ?? ".dev.vars");
  if (values["env-file"] && loaded === io.env) return usage(io, command, `env file not found: ${values["env-file"]}`);
  // The seed's flags: --verbose and --config <rules file> stand for their variables.
  const env: Record<string, string | undefined> = {
    ...loaded,
    ...(values.verbose ? { LOG_LEVEL: "debug" } : {}),
    ...(values.config !== undefined ? { QBIT_RULES_FILE: values.config } : {}),
  };
  try {
    if (command === "serve") return await serve(env, io);
    const services = await createServices({
      env,
      host: nodeHost(env.LIBSQL_URL ?? "file:data/rdtm.db"),
      tty: io.tty,
      migrate: command !== "migrate",
    });
    try {
      switch (command) {
        case "run":
          return await runJob(services, io, rest[0] ?? "", {
            dryRun: values.real ? false : values["dry-run"] ? true : undefined,
            limit,
            json: values.json === true,
          });
        case "status":
          return await status(services, io, values.json === true);
        case "retries":
          return await retries(services, io, values.json === true);
        case "repair":
          return await repairOne(services, io, rest[0] ?? "", {
            dryRun: values.real ? false : values["dry-run"] ? true : undefined,
            json: values.json === true,
          });
        case "check":
          return await check(services, io, values.json === true);
        case "scan": {
          const p = serializeProgress(await requestFullRescan(services.db, Date.now()));
          io.out(
            values.json ? JSON.stringify({ full: p }) : "a new full scan starts at the next run of rd-full-scan-page",
          );
          return EXIT.ok;
        }
        case "sweep": {
          if (rest[0] === "start") await requestSweep(services.db, Date.now());
          const sweep = serializeSweep(await readSweepState(services.db));
          if (values.json) io.out(JSON.stringify({ sweep }));
          else if (rest[0] === "start") io.out("a new sweep starts at the next run of symlink-sweep");
          else io.out(sweepLines(sweep));
          return EXIT.ok;
        }
        case "migrate": {
          const applied = await migrate(services.db);
          io.out(applied.length > 0 ? `applied migrations: ${applied.join(", ")}` : "database is up to date");
          return EXIT.ok;
        }
        default: {
          const { config, db } = services;
          const result = await backupDatabase(db, config.LIBSQL_URL, {
            dir: config.BACKUP_DIR,
            keep: config.BACKUP_KEEP,
            now: Date.now(),
          });
          io.out(
            values.json
              ? JSON.stringify(result)
              : `backup written: ${result.file} (${result.bytes} bytes)${result.removed.length ? `; removed ${result.removed.length} old` : ""}`,
          );
          return EXIT.ok;
        }
      }
    } finally {
      services.db.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return EXIT.config;
    }
    io.err(`rdtm ${command}: ${errorMessage(err)}`);
    return EXIT.failed;
  }
}

function usage(io: CliIo, command: string, message: string): number {
  io.err(`rdtm ${command}: ${message}\nSee 'rdtm ${command} --help'.`);
  return EXIT.usage;
}

async function serve(env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  // A stop request while still waiting for the database ends the process at once.
  const early = io.stopSignal.then(() => null);
  const server = await Promise.race([startServer(env, io.tty), early]);
  if (!server) return EXIT.ok;
  const signal = await io.stopSignal;
  server.services.log.info("stop requested", { signal });
  await server.stop();
  return EXIT.ok;
}

async function runJob(
  s: Services,
  io: CliIo,
  name: string,
  opts: { dryRun: boolean | undefined; limit: number | undefined; json: boolean },
): Promise<number> {
  if (!s.runner.jobs.some((j) => j.name === name)) {
    return usage(io, "run", `unknown job '${name}' (jobs: ${s.runner.jobs.map((j) => j.name).join(", ")})`);
  }
  const result = await s.runner.run(name, { trigger: "cli", dryRun: opts.dryRun, limit: opts.limit });
  if (opts.json) io.out(JSON.stringify(serializeRun(result)));
  else if (result.status === "skipped") io.out(`${name}: skipped (${result.skipReason})`);
  else
    io.out(
      `${name}: ${result.status}${result.dryRun ? " (dry run)" : ""} in ${result.durationMs} ms\n${JSON.stringify(result.summary ?? { error: result.error }, null, 2)}`,
    );
  return result.status === "succeeded" ? EXIT.ok : result.status === "skipped" ? EXIT.skipped : EXIT.failed;
}

async function check(s: Services, io: CliIo, json: boolean): Promise<number> {
  const rd = s.clients.rd;
  const others = await checkServices(s);
  const othersOk = Object.values(others).every((o) => o.up);
  if (!rd) {
    const configured = Object.keys(others).length > 0;
    if (json) io.out(JSON.stringify({ realDebrid: { status: "not_configured" }, services: others }));
    else io.out(["Real-Debrid: RD_API_TOKEN is not set", ...serviceLines(others)].join("\n"));
    return configured && othersOk ? EXIT.ok : EXIT.failed;
  }
  const health = await checkRealDebrid(rd);
  const active = health.status === "down" ? null : await rd.activeCount().catch(() => null);
  if (json) io.out(JSON.stringify({ realDebrid: { ...health, active }, services: others }));
  else if (health.status === "down") io.out(`Real-Debrid: ${health.error}`);
  else {
    io.out(
      [
        `Real-Debrid: ${health.username} — ${health.premium ? `premium, ${health.premiumDaysLeft} day(s) left` : "NOT premium"}`,
        active ? `active torrents: ${active.active} of ${active.limit}` : "active torrents: unknown",
        ...(health.warning ? [`warning: ${health.warning}`] : []),
        ...(health.error ? [`problem: ${health.error}`] : []),
        ...serviceLines(others),
      ].join("\n"),
    );
  }
  return health.status === "up" && othersOk ? EXIT.ok : EXIT.failed;
}

/** qBittorrent and Sonarr/Radarr: each answers or not (the seed's health check). */
async function checkServices(s: Services): Promise<Record<string, { up: boolean; detail: string }>> {
  const out: Record<string, { up: boolean; detail: string }> = {};
  const signal = AbortSignal.timeout(15_000);
  await Promise.all([
    ...s.clients.qbit.map(async (q) => {
      try {
        const [v, st] = await Promise.all([q.version(signal), q.serverState(signal)]);
        out[q.instance.name] = {
          up: st.connectionStatus !== "disconnected",
          detail: `qBittorrent ${v.app}, ${st.connectionStatus}`,
        };
      } catch (err) {
        out[q.instance.name] = { up: false, detail: errorMessage(err) };
      }
    }),
    ...s.clients.arr.map(async (a) => {
      try {
        const st = await a.systemStatus(signal);
        out[a.instance.name] = { up: true, detail: `${st.appName} ${st.version}` };
      } catch (err) {
        out[a.instance.name] = { up: false, detail: errorMessage(err) };
      }
    }),
  ]);
  return out;
}

function serviceLines(services: Record<string, { up: boolean; detail: string }>): string[] {
  return Object.entries(services).map(([name, x]) => `${name}: ${x.up ? "up" : "DOWN"} — ${x.detail}`);
}

async function status(s: Services, io: CliIo, json: boolean): Promise<number> {
  const [jobs, full, quick, counts] = await Promise.all([
    listJobs(s),
    readProgress(s.db, "full"),
    readProgress(s.db, "quick"),
    accountCounts(s.db),
  ]);
  if (json) {
    io.out(
      JSON.stringify({ jobs, scan: { full: serializeProgress(full), quick: serializeProgress(quick) }, ...counts }),
    );
    return EXIT.ok;
  }
  const f = serializeProgress(full);
  const scanLine =
    f.status === "running"
      ? `full scan: generation ${f.generation}, ${f.phase}, ${f.seen} of ${f.total ?? "?"} torrents (${f.percent ?? 0}%)`
      : `full scan: ${f.status}${f.completedAt ? `, last completed ${f.completedAt}` : ""}`;
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none";
  const rows = jobs.map((j) => [
    j.name,
    j.schedule ?? "off",
    j.nextRun ?? "-",
    j.running ? `running since ${j.running.since}` : "idle",
    j.lastRun ? `${j.lastRun.status} ${j.lastRun.startedAt}` : "never",
  ]);
  io.out(
    [
      table(["JOB", "SCHEDULE", "NEXT RUN", "NOW", "LAST RUN"], rows),
      "",
      scanLine,
      `torrents: ${kv(counts.torrents)}`,
      `repairs: ${kv(counts.repairs)}`,
    ].join("\n"),
  );
  return EXIT.ok;
}

async function retries(s: Services, io: CliIo, json: boolean): Promise<number> {
  const [open, permanent] = await Promise.all([
    s.db.execute(
      "SELECT * FROM repairs WHERE state NOT IN ('done', 'failed', 'cancelled') ORDER BY next_attempt_at, priority, id",
    ),
    s.db.execute("SELECT * FROM permanent_failures WHERE reset_at IS NULL ORDER BY failed_at DESC"),
  ]);
  const repairs = open.rows.map(serializeRepair);
  const failed = permanent.rows.map((r) => ({
    hash: String(r.hash),
    filename: r.filename === null ? null : String(r.filename),
    errorType: String(r.error_type),
    failedAt: new Date(Number(r.failed_at)).toISOString(),
  }));
  if (json) {
    io.out(JSON.stringify({ repairs, permanentFailures: failed }));
    return EXIT.ok;
  }
  const rows = repairs.map((r) => [
    String(r.id),
    (r.filename ?? r.hash).slice(0, 48),
    r.state,
    String(r.attempt),
    r.nextAttemptAt ?? "-",
    (r.lastError ?? r.errorClass ?? "").slice(0, 60),
  ]);
  io.out(
    [
      `Retries: ${repairs.length} pending`,
      ...(rows.length ? [table(["ID", "TORRENT", "STATE", "ATTEMPT", "NEXT ATTEMPT", "LAST ERROR"], rows)] : []),
      `Failed for good: ${failed.length}`,
      ...failed.map((f) => `  ${f.hash}  ${f.errorType}  ${f.filename ?? ""}`),
    ].join("\n"),
  );
  return EXIT.ok;
}

async function repairOne(
  s: Services,
  io: CliIo,
  ref: string,
  opts: { dryRun: boolean | undefined; json: boolean },
): Promise<number> {
  if (!/^[0-9a-fA-F]{40}$/.test(ref) && !/^[A-Za-z0-9]{1,64}$/.test(ref)) {
    return usage(io, "repair", `'${ref}' is neither an RD torrent id nor a 40-hex info hash`);
  }
  if (!s.clients.rd) {
    io.err("rdtm repair: RD_API_TOKEN is not set");
    return EXIT.failed;
  }
  let row: Awaited<ReturnType<typeof repairFor>>;
  try {
    row = await repairFor(s.db, ref, Date.now());
  } catch (err) {
    if (err instanceof RepairConflict) {
      io.err(`rdtm repair: ${err.message}`);
      return EXIT.failed;
    }
    throw err;
  }
  const id = Number(row.id);
  const result = await s.runner.run("retry-drain", { trigger: "cli", dryRun: opts.dryRun, ids: [id] });
  const after = serializeRepair(
    (await s.db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id] })).rows[0] ?? row,
  );
  if (opts.json) io.out(JSON.stringify({ run: serializeRun(result), repair: after }));
  else if (result.status === "skipped") io.out(`repair ${id}: retry-drain is running elsewhere; try again shortly`);
  else
    io.out(
      `repair ${id} (${after.filename ?? after.hash}): ${after.state}${result.dryRun ? " (dry run: steps journaled as planned)" : ""}${after.lastError ? ` — ${after.lastError}` : ""}`,
    );
  return result.status === "succeeded" ? EXIT.ok : result.status === "skipped" ? EXIT.skipped : EXIT.failed;
}

function sweepLines(s: ReturnType<typeof serializeSweep>): string {
  return [
    `sweep: ${s.status}, generation ${s.generation}${s.completedAt ? `, last completed ${s.completedAt}` : ""}`,
    `entries ${s.entries}, links ${s.links}, broken ${s.broken}, matched ${s.matched}, skipped ${s.skipped}`,
    s.guard.tripped ? `MOUNT GUARD: sweep stopped, nothing changed: ${s.guard.reason}` : "mount guard: ok",
  ].join("\n");
}

/** Left-aligned text table. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
