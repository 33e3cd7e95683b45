import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { accountCounts, serializeProgress } from "./api.ts";
import { serializeRun } from "./app.ts";
import { migrate } from "./db.ts";
import { withDotenv } from "./dotenv.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import type { JobSummary } from "./job.ts";
import { listJobs } from "./jobs-view.ts";
import { mountGuardProbe, serializeSweep } from "./library/api.ts";
import { readSweepState, requestSweep } from "./library/sweep-state.ts";
import { backupDatabase } from "./maintenance/backup.ts";
import { nodeHost, startServer } from "./node.ts";
import { checkRealDebrid } from "./rd/health.ts";
import { readProgress, requestFullRescan } from "./rd/scan-progress.ts";
import { RepairConflict, repairFor, serializeRepair } from "./repair/api.ts";
import type { Runner, RunOptions, RunResult } from "./runner.ts";
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
  /** Asks the user a question on the terminal (default: stdin via node:readline). */
  ask?: (question: string) => Promise<string>;
  /** Writes without a newline, to redraw progress bars (default: stderr). */
  write?: (text: string) => void;
}

const HELP: Record<string, string> = {
  main: `rdtm — repairs Real-Debrid torrents, broken library symlinks and stuck downloads

Usage: rdtm <command> [options]

Commands:
  serve                 run the HTTP server and every scheduled job
  run <job>             run one job now and print its result
  status                jobs, scan and sweep progress, counts of torrents, repairs, broken links, strikes
  check                 check the Real-Debrid token, premium days left and active torrents
  scan reset|full       start a new full scan at the next run; or run a whole full scan now
  sweep status|start|run  sweep progress and mount guard; start a new sweep; or run a whole sweep now
  retries               repairs waiting for their next attempt, and hashes that failed for good
  repair <id|hash>      repair one torrent now (by RD torrent id or info hash), as far as it can go
  migrate               apply pending database migrations
  backup                take a database backup now (rotated like the scheduled ones)

Global options:
  --env-file <path>     dotenv file to read (default .dev.vars); real env vars win
  -h, --help            help for rdtm or a command
  -v, --version         print the version

Exit codes: 0 ok, 1 run failed, 2 usage error, 3 invalid configuration, 4 skipped (job busy)`,
  serve: `Usage: rdtm serve

Starts the HTTP server (PORT, HOST) and schedules every job. Stops cleanly on SIGTERM/SIGINT.
On a terminal with DRY_RUN set nowhere (environment or env file), asks for the run mode first:
1) DRY-RUN, or 2) REAL, which must be confirmed by typing 'yes'.`,
  run: `Usage: rdtm run <job> [--dry-run | --real] [--limit N] [--json]

  --dry-run     record what would be done, change nothing (default: DRY_RUN)
  --real        perform the actions
  --limit N     cap the amount of work of this run
  --json        print the run as JSON
  --verbose     debug logging (LOG_LEVEL=debug)
  --config F    qbit-check rules file (QBIT_RULES_FILE)

Exit code: 0 succeeded, 1 failed or aborted, 4 skipped because the job is running elsewhere.`,
  status: `Usage: rdtm status [--json]

Lists every job (schedule, next run, current run, last run), the scan and sweep progress, and the
dashboard's counts: torrents by status, repairs by state, broken links, qBittorrent strikes by class,
and the mount guard.`,
  check: `Usage: rdtm check [--json]\n\nChecks the Real-Debrid token (valid, premium days left) and active torrents, and that every\nqBittorrent, Sonarr and Radarr instance answers.\nExit code: 0 ok, 1 a problem was found.`,
  sweep: `Usage: rdtm sweep status|start|run [--json]

status: the library sweep's progress (entries, links, broken, matched) and the mount guard.
start: a new sweep from the start at the next run of symlink-sweep.
run: runs symlink-sweep slices now until the sweep completes (a progress bar on a terminal).`,
  scan: `Usage: rdtm scan reset|full [--json]

reset: starts a new full scan of the account from the top at the next run of rd-full-scan-page.
full: runs rd-full-scan-page now, page after page, until the scan completes (a progress bar on a terminal).`,
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
const ACTIONS: Record<string, string[]> = { scan: ["reset", "full"], sweep: ["status", "start", "run"] };

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
    if (command === "serve") {
      const chosen = await chooseRunMode(env, io);
      return chosen ? await serve(chosen, io) : EXIT.ok;
    }
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
          if (rest[0] === "full") return await scanFull(services, io, values.json === true);
          const p = serializeProgress(await requestFullRescan(services.db, Date.now()));
          io.out(
            values.json ? JSON.stringify({ full: p }) : "a new full scan starts at the next run of rd-full-scan-page",
          );
          return EXIT.ok;
        }
        case "sweep": {
          if (rest[0] === "run") return await sweepRun(services, io, values.json === true);
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
  const line = liveLine(io);
  let tick = 0;
  // Jobs report progress through ctx.progress(); the runner keeps the last report of a run in flight.
  const watch = (p: JobSummary | null) =>
    line.draw(`${name} ${renderBar(0, null, tick++)} ${p ? counts(p) : "starting"}`);
  const runOpts = { trigger: "cli", dryRun: opts.dryRun, limit: opts.limit } as const;
  const result = await runWatched(s.runner, name, runOpts, io.tty ? watch : undefined);
  line.clear();
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
  const [jobs, full, quick, counts, brokenLinks, qbitStrikes, sweep, mountGuard] = await Promise.all([
    listJobs(s),
    readProgress(s.db, "full"),
    readProgress(s.db, "quick"),
    accountCounts(s.db),
    countBy(s, "broken_links", "state"),
    countBy(s, "qbit_strikes", "class"),
    readSweepState(s.db),
    mountGuardProbe(s.db, (s.config.LIBRARY_ROOTS?.length ?? 0) > 0)(),
  ]);
  if (json) {
    io.out(
      JSON.stringify({
        jobs,
        scan: { full: serializeProgress(full), quick: serializeProgress(quick) },
        ...counts,
        brokenLinks,
        qbitStrikes,
        sweep: serializeSweep(sweep),
        mountGuard,
      }),
    );
    return EXIT.ok;
  }
  const f = serializeProgress(full);
  const scanLine =
    f.status === "running"
      ? `full scan: generation ${f.generation}, ${f.phase}, ${f.seen} of ${f.total ?? "?"} torrents (${f.percent ?? 0}%)`
      : `full scan: ${f.status}${f.completedAt ? `, last completed ${f.completedAt}` : ""}`;
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
      `sweep: ${sweep.status}, generation ${sweep.generation}, ${sweep.links} links, ${sweep.broken} broken`,
      "",
      table(
        ["AREA", "WHAT", "COUNT"],
        [
          ...section("torrents", counts.torrents),
          ...section("repairs", counts.repairs),
          ...section("broken links", brokenLinks),
          ...section("qbit strikes", qbitStrikes),
          ["mount guard", guardText(mountGuard), ""],
        ],
      ),
    ].join("\n"),
  );
  return EXIT.ok;
}

/** Rows of the status table for one area; an empty area gets one "none" row. */
function section(area: string, byKey: Record<string, number>): string[][] {
  const rows = Object.entries(byKey).map(([k, n]) => [area, k, String(n)]);
  return rows.length > 0 ? rows : [[area, "none", "0"]];
}

function guardText(g: Record<string, unknown>): string {
  if (g.status === "down") return `HOLDING THE SWEEP: ${String(g.reason)}`;
  return g.status === "up" ? "ok" : "not configured";
}

async function countBy(s: Services, from: "broken_links" | "qbit_strikes", key: "state" | "class") {
  const rs = await s.db.execute(`SELECT ${key} AS k, count(*) AS n FROM ${from} GROUP BY ${key} ORDER BY ${key}`);
  return Object.fromEntries(rs.rows.map((r) => [String(r.k), Number(r.n)]));
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

/** The seed's start-up question, asked by `rdtm serve` on a terminal when DRY_RUN is set nowhere. */
export const MODE_QUESTION = `Run mode
  1) DRY-RUN (analyse only, change nothing)
  2) REAL (repairs, deletions)
Your choice (1-2) [1]: `;
/** Asked after choosing 2: real mode only with a typed confirmation. */
export const CONFIRM_QUESTION =
  "REAL mode re-adds and deletes Real-Debrid torrents, removes library symlinks and qBittorrent downloads.\nType 'yes' to confirm: ";

/** Thrown by the default `ask` when the user presses Ctrl+C at the prompt. */
class PromptCancelled extends Error {
  override name = "PromptCancelled";
}

/**
 * The environment `serve` runs with: unchanged when DRY_RUN is set or output is not a terminal;
 * otherwise the user's answer (real mode only after a typed 'yes'). null when the user cancelled.
 */
export async function chooseRunMode(
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<Record<string, string | undefined> | null> {
  if (env.DRY_RUN !== undefined || !io.tty) return env;
  const ask = io.ask ?? askStdin;
  try {
    const real = (await ask(MODE_QUESTION)).trim() === "2" && (await ask(CONFIRM_QUESTION)).trim() === "yes";
    io.err(real ? "running in REAL mode" : "running in dry-run: nothing will be changed");
    return { ...env, DRY_RUN: real ? "false" : "true" };
  } catch (err) {
    if (err instanceof PromptCancelled) return null;
    throw err;
  }
}

/** Reads one answer from the terminal; with no terminal on stdin the answer is empty (dry-run). */
function askStdin(question: string): Promise<string> {
  if (!process.stdin.isTTY) return Promise.resolve("");
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    // Without a listener, Ctrl+C at a readline prompt only pauses it and the process hangs.
    rl.once("SIGINT", () => {
      rl.close();
      reject(new PromptCancelled("cancelled"));
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}

/** Runs rd-full-scan-page until the full scan completes (starting one when none is running). */
async function scanFull(s: Services, io: CliIo, json: boolean): Promise<number> {
  if ((await readProgress(s.db, "full")).status !== "running") await requestFullRescan(s.db, Date.now());
  const line = liveLine(io);
  const { last, runs } = await runUntil(s.runner, "rd-full-scan-page", {
    done: (x) => x.completed === true || typeof x.skipped === "string" || x.state === "idle",
    onRun: (r, n) => {
      const x = r.summary ?? {};
      const total = typeof x.total === "number" ? x.total : null;
      line.draw(`full scan ${renderBar(Number(x.seen ?? 0), total, n)} page ${n}, ${x.seen ?? 0} of ${total ?? "?"}`);
    },
  });
  line.clear();
  const full = serializeProgress(await readProgress(s.db, "full"));
  const ok = last.status === "succeeded" && last.summary?.completed === true;
  if (json) io.out(JSON.stringify({ runs, last: serializeRun(last), full }));
  else if (ok) io.out(`full scan completed: generation ${full.generation}, ${full.seen} torrents in ${runs} page(s)`);
  else io.out(`full scan stopped after ${runs} run(s): ${stopReason(last)}`);
  return ok ? EXIT.ok : last.status === "skipped" ? EXIT.skipped : EXIT.failed;
}

/** Runs symlink-sweep slices until the sweep completes (starting one when none is running). */
async function sweepRun(s: Services, io: CliIo, json: boolean): Promise<number> {
  if ((await readSweepState(s.db)).status !== "running") await requestSweep(s.db, Date.now());
  const line = liveLine(io);
  let tick = 0;
  const draw = (t: Record<string, unknown>) =>
    line.draw(
      `sweep ${renderBar(0, null, tick++)} entries ${t.entries ?? 0}, links ${t.links ?? 0}, broken ${t.broken ?? 0}`,
    );
  const { last, runs } = await runUntil(s.runner, "symlink-sweep", {
    done: (x) => x.completed === true || x.guard === "tripped" || typeof x.skipped === "string" || x.state === "idle",
    onRun: (r) => draw((r.summary?.totals ?? {}) as Record<string, unknown>),
    ...(io.tty ? { watch: (p: JobSummary | null) => p && draw(p) } : {}),
  });
  line.clear();
  const sweep = serializeSweep(await readSweepState(s.db));
  const ok = last.status === "succeeded" && last.summary?.completed === true;
  if (json) io.out(JSON.stringify({ runs, last: serializeRun(last), sweep }));
  else io.out(ok ? `${sweepLines(sweep)}\n${runs} run(s)` : `sweep stopped after ${runs} run(s): ${stopReason(last)}`);
  return ok ? EXIT.ok : last.status === "skipped" ? EXIT.skipped : EXIT.failed;
}

function stopReason(r: RunResult): string {
  if (r.status === "skipped") return `skipped (${r.skipReason})`;
  if (r.status !== "succeeded") return `${r.status}: ${r.error}`;
  return counts(r.summary ?? {});
}

/** How long to wait for a run of the same job started here by another trigger (a cron tick). */
const BUSY_WAIT_MS = 30_000;

/**
 * Runs a job again and again until `done` accepts a run's summary or a run does not succeed. A run
 * skipped because this process is already running the job (a cron tick) is waited for and repeated.
 */
export async function runUntil(
  runner: Runner,
  name: string,
  opts: {
    done: (summary: JobSummary) => boolean;
    dryRun?: boolean;
    onRun?: (r: RunResult, runs: number) => void;
    watch?: (progress: JobSummary | null) => void;
    maxRuns?: number;
  },
): Promise<{ last: RunResult; runs: number }> {
  let runs = 0;
  const busyUntil = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    const last = await runWatched(runner, name, { trigger: "cli", dryRun: opts.dryRun }, opts.watch);
    if (last.status === "skipped" && last.skipReason === "running-here" && Date.now() < busyUntil) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    runs++;
    opts.onRun?.(last, runs);
    if (last.status !== "succeeded" || opts.done(last.summary ?? {}) || runs >= (opts.maxRuns ?? 100_000))
      return { last, runs };
  }
}

/** Runs a job, passing its live progress report to `watch` every 200 ms while it runs. */
async function runWatched(
  runner: Runner,
  name: string,
  opts: RunOptions,
  watch?: (progress: JobSummary | null) => void,
): Promise<RunResult> {
  if (!watch) return runner.run(name, opts);
  const timer = setInterval(() => watch(runner.running().get(name)?.progress ?? null), 200);
  try {
    return await runner.run(name, opts);
  } finally {
    clearInterval(timer);
  }
}

/** One redrawn line on a terminal; nothing at all elsewhere, where only final lines are printed. */
function liveLine(io: CliIo) {
  const write = io.write ?? ((t: string) => void process.stderr.write(t));
  let drawn = false;
  return {
    draw(text: string) {
      if (!io.tty) return;
      write(`\r${text}\x1b[K`);
      drawn = true;
    },
    clear() {
      if (drawn) write("\r\x1b[K");
      drawn = false;
    },
  };
}

const BAR_WIDTH = 24;

/** A text progress bar with its percentage; with no total, a block that moves with `tick`. */
export function renderBar(done: number, total: number | null, tick = 0): string {
  if (total !== null && total > 0) {
    const share = Math.min(1, Math.max(0, done / total));
    const full = Math.round(share * BAR_WIDTH);
    return `${"█".repeat(full)}${"░".repeat(BAR_WIDTH - full)} ${String(Math.round(share * 100)).padStart(3)}%`;
  }
  const span = BAR_WIDTH - 4;
  const at = Math.abs(((tick + span) % (2 * span)) - span);
  return `${"░".repeat(at)}████${"░".repeat(span - at)}     `;
}

/** The numbers of a summary or progress report as "key n, key n". */
function counts(o: JobSummary): string {
  return (
    Object.entries(o)
      .filter(([, n]) => typeof n === "number")
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || JSON.stringify(o)
  );
}
