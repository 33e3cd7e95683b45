// Helpers of the service benchmarks (http-load, idle-rss): the real `node dist/cli.mjs serve` in its own
// process on loopback, its RSS read from /proc, and autocannon in yet another process.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "../scripts/node-flags.mjs";
import { freePort } from "../test/helpers/processes.ts";

/** The repository: the first folder above this script (bundled into .tmp/bench by run.mjs) with a package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no package.json above the benchmark script");
    dir = up;
  }
  return dir;
}
const ROOT = findRoot();
export const CLI = join(ROOT, "dist/cli.mjs");
const AUTOCANNON = join(ROOT, "node_modules/autocannon/autocannon.js");
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

export interface Served {
  child: ChildProcess;
  pid: number;
  url: string;
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop: (graceMs?: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `node dist/cli.mjs serve` on a free loopback port with only the given environment (plus PATH, HOME,
 * TZ), and waits until GET /health answers 200. setpriv --pdeathsig (exec'd, so the pid stays the node
 * process's) kills the server should this process die without its finally.
 */
export async function startServe(
  env: Record<string, string>,
  cwd: string,
  // BENCH_NODE_FLAGS (space-separated, may be empty) replaces the service's flags, for A/B runs
  nodeArgs: string[] = process.env.BENCH_NODE_FLAGS === undefined
    ? NODE_FLAGS
    : process.env.BENCH_NODE_FLAGS.split(" ").filter(Boolean),
): Promise<Served> {
  const port = await freePort();
  const argv = [process.execPath, ...nodeArgs, CLI, "serve"];
  const [file, args] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", ...argv]] : [argv[0] as string, argv.slice(1)];
  const child = spawn(file, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TZ: "UTC",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const served: Served = {
    child,
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rdtm serve exited (${child.exitCode}):\n${out}`);
      if (Date.now() > deadline) throw new Error(`rdtm serve: /health did not answer 200 in 30 s:\n${out}`);
      const ok = await fetch(`${served.url}/health`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await sleep(50);
    }
    // Measure node itself, never a wrapper: by now setpriv has exec'd node in place.
    const exe = readlinkSync(`/proc/${served.pid}/exe`);
    if (exe !== realpathSync(process.execPath)) throw new Error(`pid ${served.pid} is ${exe}, not node`);
  } catch (err) {
    await served.stop(1_000);
    throw err;
  }
  return served;
}

/** Memory of a process from /proc, in MB: VmRSS (now), VmHWM (peak), and RSS split into anon / file. */
export function procMemory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
    return Math.round((Number(m[1]) / 1024) * 10) / 10;
  };
  return { rssMb: kb("VmRSS"), hwmMb: kb("VmHWM"), anonMb: kb("RssAnon"), fileMb: kb("RssFile") };
}

export interface LoadResult {
  /** Mean requests per second over the run (autocannon's requests.average). */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon's CLI in its own process against `url` and returns its summary. */
export function autocannon(url: string, opts: { connections: number; seconds: number }): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [AUTOCANNON, "--json", "--no-progress", "-c", String(opts.connections), "-d", String(opts.seconds), url],
      { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, timeout: (opts.seconds + 60) * 1000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`autocannon failed: ${err.message}\n${stderr}`));
        const r = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
        resolve({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          max: r.latency.max,
          total: r.requests.total,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
        });
      },
    );
  });
}
