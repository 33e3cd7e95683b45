import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Every child gets killed after this, whatever the test does. */
const WATCHDOG_MS = 180_000;
const HAS_SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].some((p) => existsSync(p));

/** A fresh temporary directory. */
export function tempDir(prefix = "rdtm-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A spawned process with its collected output. */
export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  kill: (signal?: NodeJS.Signals) => void;
}

/** Spawns a command with a watchdog so it can never outlive the test run. */
export function spawnProc(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; group?: boolean } = {},
): Proc {
  // setpriv --pdeathsig: the child is killed when the test process dies, even by SIGKILL, so no server
  // outlives its test (the watchdog below only fires while this process lives).
  const [file, argv] = HAS_SETPRIV ? ["setpriv", ["--pdeathsig", "KILL", cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TZ: "UTC", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group, so wrappers like `npm start` are stopped with everything they started.
    detached: opts.group === true,
  });
  const signalAll = (signal: NodeJS.Signals) => {
    if (opts.group && child.pid) process.kill(-child.pid, signal);
    else child.kill(signal);
  };
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  const watchdog = setTimeout(() => signalAll("SIGKILL"), WATCHDOG_MS);
  watchdog.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) signalAll(signal);
    },
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** Starts `rdtm serve` from the built bundle on a loopback port. */
export async function startRdtm(
  env: Record<string, string>,
  cwd: string,
  opts: { clockSkewMs?: number } = {},
): Promise<Proc & { port: number; url: string }> {
  const port = await freePort();
  const skew = opts.clockSkewMs ? ["--import", join(ROOT, "test/helpers/clock-skew.mjs")] : [];
  const proc = spawnProc(process.execPath, [...skew, join(ROOT, "dist/cli.mjs"), "serve"], {
    cwd,
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_FORMAT: "json",
      ...(opts.clockSkewMs ? { RDTM_TEST_CLOCK_SKEW_MS: String(opts.clockSkewMs) } : {}),
      ...env,
    },
  });
  await proc.waitFor(/"msg":"listening"/);
  return Object.assign(proc, { port, url: `http://127.0.0.1:${port}` });
}

/** Runs the CLI bundle to completion. */
export async function runCli(args: string[], env: Record<string, string>, cwd: string) {
  const proc = spawnProc(process.execPath, [join(ROOT, "dist/cli.mjs"), ...args], {
    cwd,
    env: { LOG_FORMAT: "json", ...env },
  });
  const { code } = await proc.exited;
  return { code, output: proc.output() };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
