// One timed scan in a fresh process: `node rd-scan.mjs full|quick <rd url> <db file>`.
// Prints {"ms": wall time of the scan, "rssMb": peak RSS of this process}. RD limiter off.

import { DEFAULT_SCHEDULES } from "../functions/index.ts";
import rdFullScanPage from "../functions/rd-full-scan-page.ts";
import rdQuickScan from "../functions/rd-quick-scan.ts";
import { noClients, RdCallStats } from "../shared/clients/index.ts";
import { createRealDebridClient } from "../shared/clients/real-debrid.ts";
import { parseConfig } from "../shared/config.ts";
import { migrate, openDb } from "../shared/db.ts";
import { createLogger } from "../shared/log.ts";
import { readProgress } from "../shared/rd/scan-progress.ts";
import { createRunner } from "../shared/runner.ts";

const [kind, url, file] = process.argv.slice(2);
if (!kind || !url || !file) throw new Error("usage: rd-scan full|quick <rd url> <db file>");
const config = parseConfig(
  {
    LIBSQL_URL: `file:${file}`,
    RD_API_TOKEN: "fake-rd-token",
    RD_API_URL: url,
    FULL_SCAN_PAGE_SIZE: "5000",
    LOG_LEVEL: "silent",
  },
  DEFAULT_SCHEDULES,
);
const db = await openDb(config.LIBSQL_URL);
await migrate(db);
const rdCalls = new RdCallStats();
const rd = createRealDebridClient({
  baseUrl: url,
  token: "fake-rd-token",
  limiter: null,
  onCall: (c) => rdCalls.record(c),
});
const runner = createRunner({
  jobs: [rdQuickScan, rdFullScanPage],
  config,
  db,
  log: createLogger({ level: "silent", format: "json" }),
  host: { runtime: "node" },
  clients: { ...noClients(), rd, rdCalls },
});

const started = performance.now();
if (kind === "full") {
  for (let i = 0; i < 1000; i++) {
    const r = await runner.run("rd-full-scan-page", { trigger: "test" });
    if (r.status !== "succeeded") throw new Error(r.error ?? "run failed");
    if ((await readProgress(db, "full")).status === "completed") break;
  }
} else {
  const r = await runner.run("rd-quick-scan", { trigger: "test" });
  if (r.status !== "succeeded") throw new Error(r.error ?? "run failed");
}
const ms = performance.now() - started;
const count = Number((await db.execute("SELECT count(*) AS n FROM torrents WHERE gone_at IS NULL")).rows[0]?.n);
db.close();
process.stdout.write(
  `${JSON.stringify({ ms, rssMb: process.resourceUsage().maxRSS / 1024, torrents: count, requests: rdCalls.total })}\n`,
);
