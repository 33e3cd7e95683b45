// Idle RSS of the service after start-up, one run: `node idle-rss.mjs <work dir>`.
// Starts the real `node dist/cli.mjs serve` on a fresh database, no RD token, default schedules, waits for
// /health, stays idle 3 s, and prints the node process's own memory from /proc/<pid>/status as one JSON line.
import { join } from "node:path";
import { procMemory, startServe } from "./serve-proc.ts";

const [work] = process.argv.slice(2);
if (!work) throw new Error("usage: idle-rss <work dir>");

const server = await startServe(
  {
    LIBSQL_URL: `file:${join(work, "rdtm.db")}`,
    API_TOKEN: "bench-api-token-0123456789",
    DRY_RUN: "true",
    LOG_LEVEL: "warn",
  },
  work,
);
try {
  await new Promise((r) => setTimeout(r, 3_000));
  process.stdout.write(`${JSON.stringify(procMemory(server.pid))}\n`);
} catch (err) {
  process.stderr.write(`server output:\n${server.output()}\n`);
  throw err;
} finally {
  await server.stop();
}
