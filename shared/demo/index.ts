// `npm run demo`: RDTM against fakes of every service it talks to, with an account and a library that
// show every feature, and every job run once so the data is there when the page opens.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runUntil } from "../cli.ts";
import type { JobSummary } from "../job.ts";
import { startServer } from "../node.ts";
import { type DemoRequest, FAKE_CREDENTIALS, startFakes } from "./fakes.ts";
import { libraryPaths } from "./library.ts";

export type { DemoRequest } from "./fakes.ts";

/** How to start the demo. */
export interface DemoOptions {
  /** Folder for the database, library and mount; wiped and recreated. Default data/demo. */
  dir?: string;
  /** RDTM's HTTP port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Real mode: repairs and qbit-check act (on the fakes). Default dry-run. */
  real?: boolean;
  /** Receives a line per set-up step. */
  log?: (line: string) => void;
  /** RDTM's LOG_LEVEL. Default info. */
  logLevel?: string;
  /** Readable log lines instead of JSON. */
  tty?: boolean;
  /** More of RDTM's environment (tests: LOG_FILE, webhook URLs…); wins over the demo's own. */
  env?: Record<string, string>;
}

/** A running demo. */
export interface Demo {
  url: string;
  token: string;
  dir: string;
  /** The environment RDTM runs with (also written to <dir>/demo.env for `rdtm --env-file`). */
  env: Record<string, string>;
  /** What the demo account holds, by failure kind. */
  failing: Record<string, number>;
  /** Every request the fakes received so far. */
  requests: () => DemoRequest[];
  /** Stops RDTM and the fakes. */
  stop: () => Promise<void>;
}

// Written into the demo folder; only a folder holding it (or an empty one) is ever wiped.
const MARKER = ".rdtm-demo";

function freshDir(dir: string): void {
  if (existsSync(dir)) {
    const names = readdirSync(dir);
    if (names.length > 0 && !names.includes(MARKER)) {
      throw new Error(`${dir} is not empty and was not made by the demo: refusing to wipe it`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), "made by `npm run demo`; wiped at each start\n");
}

/** Starts the fakes and RDTM on 127.0.0.1 and runs every job once (full scan and sweep to the end). */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const dir = resolve(opts.dir ?? "data/demo");
  const log = opts.log ?? (() => {});
  freshDir(dir);
  const fakes = await startFakes(dir);
  const paths = libraryPaths(dir);
  const token = randomBytes(18).toString("base64url");
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    PORT: String(opts.port ?? 8787),
    LIBSQL_URL: `file:${join(dir, "rdtm.db")}`,
    BACKUP_DIR: join(dir, "backups"),
    API_TOKEN: token,
    DRY_RUN: opts.real ? "false" : "true",
    LOG_LEVEL: opts.logLevel ?? "info",
    RD_API_TOKEN: FAKE_CREDENTIALS.rdToken,
    RD_API_URL: fakes.urls.rd,
    // Small pages, so the full scan takes several runs as it would on a large account.
    FULL_SCAN_PAGE_SIZE: "100",
    REPAIR_BATCH_SIZE: "100",
    LIBRARY_ROOTS: `${paths.tv},${paths.movies}`,
    RD_MOUNT_PATH: paths.mount,
    SWEEP_RUN_ENTRIES: "100",
    SONARR_URL: fakes.urls.sonarr,
    SONARR_API_KEY: FAKE_CREDENTIALS.arrKey,
    RADARR_URL: fakes.urls.radarr,
    RADARR_API_KEY: FAKE_CREDENTIALS.arrKey,
    QBIT_URL: fakes.urls.qbit,
    QBIT_USERNAME: FAKE_CREDENTIALS.qbitUser,
    QBIT_PASSWORD: FAKE_CREDENTIALS.qbitPassword,
    PLEX_URL: fakes.urls.plex,
    PLEX_TOKEN: FAKE_CREDENTIALS.plexToken,
    ...opts.env,
  };
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(env, opts.tty === true);
  } catch (err) {
    await fakes.close();
    throw err;
  }
  const url = `http://127.0.0.1:${server.port}`;
  const fileEnv = { ...env, PORT: String(server.port) };
  writeFileSync(
    join(dir, "demo.env"),
    Object.entries(fileEnv)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n"),
  );
  const stop = async () => {
    await server.stop();
    await fakes.close();
  };
  try {
    const runner = server.services.runner;
    const once = () => true;
    const steps: [string, (x: JobSummary) => boolean][] = [
      ["rd-quick-scan", once],
      ["rd-full-scan-page", (x) => x.completed === true || typeof x.skipped === "string" || x.state === "idle"],
      ["symlink-sweep", (x) => x.completed === true || x.guard === "tripped" || typeof x.skipped === "string"],
      ["retry-drain", once],
      ["qbit-check", once],
    ];
    for (const [name, done] of steps) {
      const { last, runs } = await runUntil(runner, name, { done });
      log(`${name}: ${last.status}${runs > 1 ? ` after ${runs} runs` : ""} (${numbers(last.summary)})`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, token, dir, env: fileEnv, failing: fakes.account.failing, requests: fakes.requests, stop };
}

function numbers(summary: JobSummary | null): string {
  // The sweep reports its whole generation under `totals`; the last slice alone says little.
  const flat = { ...summary, ...(summary?.totals as object | undefined) };
  const picked = Object.entries(flat).filter(([, n]) => typeof n === "number" && n !== 0);
  return picked.map(([k, n]) => `${k} ${n}`).join(", ") || "nothing to do";
}
