// One timed library sweep in a fresh process: `node sweep.mjs <library root> <mount> <db file>`.
// Prints {"ms", "rssMb", "links", "broken", "mountReaddirs", "statFallbacks"}.
import { DEFAULT_SCHEDULES } from "../functions/index.ts";
import symlinkSweep from "../functions/symlink-sweep.ts";
import { noClients } from "../shared/clients/index.ts";
import { parseConfig } from "../shared/config.ts";
import { migrate, openDb } from "../shared/db.ts";
import { createLogger } from "../shared/log.ts";
import { createRunner } from "../shared/runner.ts";

const [root, mount, file] = process.argv.slice(2);
if (!root || !mount || !file) throw new Error("usage: sweep <library root> <mount> <db file>");
const config = parseConfig(
  {
    LIBSQL_URL: `file:${file}`,
    LIBRARY_ROOTS: root,
    RD_MOUNT_PATH: mount,
    SWEEP_RUN_ENTRIES: "10000000",
    SWEEP_RUN_SECONDS: "600",
    LOG_LEVEL: "silent",
  },
  DEFAULT_SCHEDULES,
);
const db = await openDb(config.LIBSQL_URL);
await migrate(db);
const runner = createRunner({
  jobs: [symlinkSweep],
  config,
  db,
  log: createLogger({ level: "silent", format: "json" }),
  host: { runtime: "node" },
  clients: noClients(),
});
const started = performance.now();
const r = await runner.run("symlink-sweep", { trigger: "test" });
const ms = performance.now() - started;
if (r.status !== "succeeded") throw new Error(r.error ?? "sweep failed");
const s = r.summary as Record<string, unknown>;
if (!s.completed) throw new Error(`sweep did not complete in one run: ${JSON.stringify(s)}`);
db.close();
process.stdout.write(
  `${JSON.stringify({ ms, rssMb: process.resourceUsage().maxRSS / 1024, links: s.links, broken: s.broken, mountReaddirs: s.mountReaddirs, statFallbacks: s.statFallbacks })}\n`,
);
