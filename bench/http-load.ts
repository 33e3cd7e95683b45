// HTTP under load, one run in fresh processes: `node http-load.mjs <rd url> <seeded db> <work dir>`.
// Starts the real `node dist/cli.mjs serve` on a copy of a database that already holds the fake RD account
// (so /api/torrents has rows), with the full scan scheduled every second and a new full scan asked for,
// so RD pages are being fetched and written while autocannon (its own process, loopback, 50 connections)
// loads GET /health and then GET /api/torrents?limit=50. Prints one JSON line with both results and the
// server's RSS after the load. The server is stopped whatever happens.
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { autocannon, type LoadResult, procMemory, startServe } from "./serve-proc.ts";

const [rdUrl, seeded, work] = process.argv.slice(2);
if (!rdUrl || !seeded || !work) throw new Error("usage: http-load <rd url> <seeded db> <work dir>");
const CONNECTIONS = 50;
const SECONDS = 10;
const WARMUP_SECONDS = 1;
const API_TOKEN = "bench-api-token-0123456789";

const db = join(work, "rdtm.db");
copyFileSync(seeded, db);

const server = await startServe(
  {
    LIBSQL_URL: `file:${db}`,
    API_TOKEN,
    RD_API_TOKEN: "fake-rd-token",
    RD_API_URL: rdUrl,
    FULL_SCAN_PAGE_SIZE: "5000",
    SCHEDULE_RD_FULL_SCAN_PAGE: "* * * * * *",
    DRY_RUN: "true",
    LOG_LEVEL: "warn",
  },
  work,
  // For finding what dominates, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean),
);

interface FullScan {
  status: string;
  generation: number;
  pages: number;
  seen: number;
}

async function fullScan(): Promise<FullScan> {
  const r = await fetch(`${server.url}/api/scan`);
  if (!r.ok) throw new Error(`GET /api/scan: ${r.status}`);
  return ((await r.json()) as { full: FullScan }).full;
}

/** Makes sure a full scan is in progress: asks for a new one when the last completed, waits until it runs. */
async function scanRunning(): Promise<FullScan> {
  let p = await fullScan();
  if (p.status === "running") return p;
  const r = await fetch(`${server.url}/api/scan/full/reset`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_TOKEN}` },
  });
  if (r.status !== 202) throw new Error(`POST /api/scan/full/reset: ${r.status} ${await r.text()}`);
  const deadline = Date.now() + 15_000;
  while (p.status !== "running") {
    if (Date.now() > deadline) throw new Error(`the full scan did not start: ${JSON.stringify(p)}`);
    await new Promise((res) => setTimeout(res, 100));
    p = await fullScan();
  }
  return p;
}

/** Loads one path; checks the full scan advanced while it ran. */
async function load(path: string) {
  const before = await scanRunning();
  await autocannon(`${server.url}${path}`, { connections: CONNECTIONS, seconds: WARMUP_SECONDS });
  const r: LoadResult = await autocannon(`${server.url}${path}`, { connections: CONNECTIONS, seconds: SECONDS });
  const after = await fullScan();
  // Non-2xx answers, errors and timeouts (autocannon's 10 s) are reported with the figures, not hidden.
  if (r.total === 0 || r.non2xx === r.total) throw new Error(`${path} under load: ${JSON.stringify(r)}`);
  // Pages the full scan stored during the warm-up and the measured run (a new generation restarts the count).
  const pages = after.generation === before.generation ? after.pages - before.pages : after.pages;
  if (pages < 1) throw new Error(`the full scan made no progress during ${path}: ${JSON.stringify({ before, after })}`);
  return { ...r, scanPages: pages };
}

try {
  const page = (await (await fetch(`${server.url}/api/torrents?limit=50`)).json()) as {
    total: number;
    items: unknown[];
  };
  if (page.items.length !== 50) throw new Error(`/api/torrents returned ${page.items.length} items, want 50`);
  const health = await load("/health");
  const torrents = await load("/api/torrents?limit=50");
  const mem = procMemory(server.pid);
  process.stdout.write(`${JSON.stringify({ health, torrents, torrentsTotal: page.total, mem })}\n`);
} catch (err) {
  process.stderr.write(`server output:\n${server.output()}\n`);
  throw err;
} finally {
  await server.stop();
}
