// Two qbit-check runs in a fresh process against the services of fake-qbit-server: `node qbit-check.mjs
// <qbit url> <sonarr url> <radarr url> <db file>`. Prints {"cpuMs", "wallMs", "requests", ...}: the CPU
// time of this process only (the fakes run in their own), and every request it sent, by endpoint.

import { DEFAULT_SCHEDULES } from "../functions/index.ts";
import qbitCheck from "../functions/qbit-check.ts";
import { createClients } from "../shared/clients/index.ts";
import { parseConfig } from "../shared/config.ts";
import { migrate, openDb } from "../shared/db.ts";
import { createLogger } from "../shared/log.ts";
import { createRunner } from "../shared/runner.ts";

const [qbitUrl, sonarrUrl, radarrUrl, file] = process.argv.slice(2);
if (!qbitUrl || !sonarrUrl || !radarrUrl || !file) throw new Error("usage: qbit-check <qbit> <sonarr> <radarr> <db>");
const config = parseConfig(
  {
    LIBSQL_URL: `file:${file}`,
    // Dry run: the runs classify, strike and journal, but leave the fakes as they are, so every run and
    // every process sees the same 5,000 items.
    DRY_RUN: "true",
    QBIT_URL: qbitUrl,
    QBIT_USERNAME: "admin",
    QBIT_PASSWORD: "adminadmin",
    SONARR_URL: sonarrUrl,
    SONARR_API_KEY: "bench-sonarr-key-0123456789",
    RADARR_URL: radarrUrl,
    RADARR_API_KEY: "bench-radarr-key-0123456789",
    LOG_LEVEL: "silent",
  },
  DEFAULT_SCHEDULES,
);
const db = await openDb(config.LIBSQL_URL);
await migrate(db);
const requests = new Map<string, number>();
const counting: typeof fetch = (input, init) => {
  const u = new URL(input instanceof Request ? input.url : String(input));
  const key = `${init?.method ?? "GET"} ${u.pathname.replace(/\/\d+$/, "/:id")}`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
  return fetch(input, init);
};
const clients = createClients(config, db, {
  fetch: counting,
  arr: config.arr.map((a) => ({ name: a.name, kind: a.kind, url: a.url, apiKey: a.apiKey ?? "" })),
  qbit: config.qbit,
});
const log = createLogger({ level: "silent", format: "json" });
const runner = createRunner({ jobs: [qbitCheck], config, db, log, host: { runtime: "node" }, clients });

// The service runs warm: the first run also pays for loading undici and compiling code paths, so the
// second run is the figure; the first is reported beside it.
async function measure() {
  requests.clear();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runner.run("qbit-check", { trigger: "cli" });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (r.status !== "succeeded") throw new Error(`qbit-check ${r.status}: ${r.error}`);
  return { cpuMs: Math.round((cpu.user + cpu.system) / 1000), wallMs: Math.round(wallMs), summary: r.summary };
}
const cold = await measure();
const warm = await measure();
const s = warm.summary as { downloads: number; candidates: number; trackerRequests: number; struck: number };
const total = [...requests.values()].reduce((a, b) => a + b, 0);
process.stdout.write(
  `${JSON.stringify({
    cpuMs: warm.cpuMs,
    wallMs: warm.wallMs,
    coldCpuMs: cold.cpuMs,
    coldWallMs: cold.wallMs,
    requests: total,
    byEndpoint: Object.fromEntries(requests),
    downloads: s.downloads,
    candidates: s.candidates,
    struck: s.struck,
  })}\n`,
);
db.close();
