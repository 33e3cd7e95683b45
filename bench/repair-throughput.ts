// One repair-throughput run in a fresh process: `node repair-throughput.mjs [batch] [active slots]`.
// 1,000 dead torrents, all cached on RD, are queued by a quick scan and repaired by back-to-back
// retry-drain runs, through the real client and the real shared limiter at 250/min, against the
// in-process fake RD with its own 250/min limit on. Everything runs on one virtual clock: the fake
// answers in no time and sleeping moves the clock on at once, so only the limiter's pacing is measured.
// Prints one JSON line; exits non-zero when a repair went wrong or the limit was broken.

import { rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SCHEDULES } from "../functions/index.ts";
import rdQuickScan from "../functions/rd-quick-scan.ts";
import retryDrain from "../functions/retry-drain.ts";
import { noClients, RdCallStats } from "../shared/clients/index.ts";
import { createRealDebridClient } from "../shared/clients/real-debrid.ts";
import { parseConfig } from "../shared/config.ts";
import { migrate, openDb } from "../shared/db.ts";
import { createLogger } from "../shared/log.ts";
import { createRdLimiter } from "../shared/rd/limiter.ts";
import { maxInAnyWindow } from "../shared/rd/rate-limit.ts";
import { createRunner } from "../shared/runner.ts";
import { createFakeRealDebrid, makeAccount } from "../test/fakes/real-debrid.ts";
import { tempDir } from "../test/helpers/processes.ts";
import { virtualClock } from "../test/repair/harness.ts";

const REPAIRS = 1000;
const LIMIT = 250;
const WINDOW_MS = 60_000;
// Repairs per retry-drain run: all of them by default, so one run drains the queue.
const BATCH = Number(process.argv[2] ?? REPAIRS);
// RD's cap on active torrents: 25, the fake's default and what RD accounts commonly have. The drain reads
// the free slots once per run and takes each repair as far as it goes before the next, so the cap never
// stalls cached repairs (a breadth-first drain sent every addMagnet first and stalled on 509, measured).
const SLOTS = Number(process.argv[3] ?? 25);
const MAX_RUNS = Math.ceil(REPAIRS / BATCH) + 10;

// The whole run is one chain of promises (the fake and libSQL answer without I/O, the clock is virtual), so
// undici's finalizers never get a turn to drop the abort listener each fetch adds to the run's signal, and
// Node warns once per fetch past 1,500 of them. Those are counted, not printed; other warnings print as usual.
let listenerWarnings = 0;
const printWarning = process.listeners("warning");
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (w.name === "MaxListenersExceededWarning") listenerWarnings++;
  else for (const print of printWarning) print(w);
});

// A fixed start keeps the run deterministic (the shared budget counts 5-s buckets, so where the first
// request falls inside its bucket moves the first wait by up to 5 s).
const clock = virtualClock(Date.parse("2026-11-01T12:00:00Z"));
const dir = tempDir("rdtm-bench-repair-");
const config = parseConfig(
  {
    LIBSQL_URL: `file:${join(dir, "rdtm.db")}`,
    RD_API_TOKEN: "fake-rd-token",
    RD_RATE_LIMIT_PER_MINUTE: String(LIMIT),
    QUICK_SCAN_PAGE_SIZE: "5000",
    REPAIR_BATCH_SIZE: String(BATCH),
    // The longest run allowed: the run's own deadline must not be what ends it.
    REPAIR_RUN_SECONDS: "3600",
    DRY_RUN: "false",
    LOG_LEVEL: "silent",
  },
  DEFAULT_SCHEDULES,
);
const db = await openDb(config.LIBSQL_URL);
await migrate(db);

const fake = createFakeRealDebrid({ rateLimitPerMinute: LIMIT, now: clock.now });
fake.activeLimit = SLOTS;
const old = makeAccount(REPAIRS, { statusOf: () => "dead" });
fake.add(...old);
for (const t of old) fake.cached.add(t.hash);

const rdCalls = new RdCallStats();
const rdLimiter = createRdLimiter({ limitPerMinute: LIMIT, db, now: clock.now, sleep: clock.sleep });
const rd = createRealDebridClient({
  baseUrl: fake.baseUrl,
  token: "fake-rd-token",
  limiter: rdLimiter,
  fetch: fake.fetch as typeof fetch,
  sleep: clock.sleep,
  onCall: (c) => rdCalls.record(c),
});
const runner = createRunner({
  jobs: [rdQuickScan, retryDrain],
  config,
  db,
  log: createLogger({ level: "silent", format: "json" }),
  host: { runtime: "node" },
  clients: { ...noClients(), rd, rdLimiter, rdCalls },
  now: clock.now,
});

const count = async (sql: string) => Number((await db.execute(sql)).rows[0]?.n ?? 0);
const openRepairs = () => count("SELECT count(*) AS n FROM repairs WHERE state NOT IN ('done', 'failed', 'cancelled')");

const started = performance.now();
const scan = await runner.run("rd-quick-scan", { trigger: "test" });
if (scan.status !== "succeeded") throw new Error(`rd-quick-scan ${scan.status}: ${scan.error ?? ""}`);
const queued = Number((scan.summary as { queued?: number }).queued ?? 0);
let runs = 0;
while (runs < MAX_RUNS && (await openRepairs()) > 0) {
  const r = await runner.run("retry-drain", { trigger: "test", dryRun: false, limit: BATCH });
  runs++;
  if (r.status !== "succeeded") throw new Error(`retry-drain ${r.status}: ${r.error ?? ""}`);
}
const wallMs = performance.now() - started;
// Let the warnings queued during the run arrive.
await new Promise((resolve) => setImmediate(resolve));

const times = fake.requests.map((r) => r.at);
const requests = times.length;
const elapsedMin = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / WINDOW_MS;
// The bound: with at most LIMIT requests in any 60-s window, requests i and i + LIMIT (in time order) are at
// least 60 s apart, so N requests span at least floor((N - 1) / LIMIT) minutes from the first to the last;
// sending LIMIT at once every minute meets it. N / LIMIT is the long-run rate bound, one minute more at most.
const boundMin = Math.floor((requests - 1) / LIMIT);
const byHash = new Map<string, string[]>();
for (const t of fake.torrents) byHash.set(t.hash, [...(byHash.get(t.hash) ?? []), t.id]);
const oldIds = new Set(old.map((t) => t.id));
const deletes = fake.requests.filter((r) => r.method === "DELETE" && r.status === 204);
const endpoints: Record<string, number> = {};
for (const r of fake.requests) {
  const key = `${r.method} ${r.path.replace(/\/[A-Z0-9]{13}$/, "/:id")} ${r.status}`;
  endpoints[key] = (endpoints[key] ?? 0) + 1;
}
const result = {
  repairs: REPAIRS,
  queued,
  done: await count("SELECT count(*) AS n FROM repairs WHERE state = 'done'"),
  failed: await count("SELECT count(*) AS n FROM repairs WHERE state = 'failed'"),
  open: await openRepairs(),
  runs,
  requests,
  elapsedMin: Math.round(elapsedMin * 1000) / 1000,
  boundMin,
  ratio: Math.round((elapsedMin / boundMin) * 1000) / 1000,
  rateBoundMin: requests / LIMIT,
  maxInWindow: maxInAnyWindow(times, WINDOW_MS),
  throttled: fake.requests.filter((r) => r.status === 429).length,
  oldLeft: fake.torrents.filter((t) => oldIds.has(t.id)).length,
  oldDeleted: new Set(deletes.map((r) => r.path).filter((p) => oldIds.has(p.split("/").at(-1) ?? ""))).size,
  hashesWithOneCopy: old.filter((t) => byHash.get(t.hash)?.length === 1).length,
  downloaded: fake.torrents.filter((t) => t.status === "downloaded").length,
  limiterWaitedMin: Math.round((rdLimiter.waitedMs() / WINDOW_MS) * 1000) / 1000,
  batch: BATCH,
  slots: SLOTS,
  listenerWarnings,
  endpoints,
  wallMs: Math.round(wallMs),
};
db.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(result)}\n`);

const problems = [
  result.done !== REPAIRS && `${result.done} of ${REPAIRS} repairs done (${result.failed} failed, ${result.open} open)`,
  result.maxInWindow > LIMIT && `${result.maxInWindow} requests in one 60-s window, limit ${LIMIT}`,
  result.throttled > 0 && `the fake answered ${result.throttled} requests with 429`,
  result.oldLeft > 0 && `${result.oldLeft} old torrents are still on the account`,
  result.hashesWithOneCopy !== REPAIRS &&
    `${REPAIRS - result.hashesWithOneCopy} hashes do not have exactly one torrent (duplicates or none)`,
  result.downloaded !== REPAIRS && `${result.downloaded} torrents downloaded, expected ${REPAIRS}`,
].filter((p): p is string => typeof p === "string");
if (problems.length > 0) {
  process.stderr.write(`repair throughput: ${problems.join("; ")}\n`);
  process.exit(1);
}
