// npm run bench: every benchmark of the project, each measured in fresh processes (median of RUNS),
// printed as one table with its target and written to bench/results.json.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { NODE_FLAGS } from "../scripts/node-flags.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// RDTM's own processes run with the service's V8 options (scripts/node-flags.mjs), as `npm start`
// and the Docker image run it; the fakes, `find` and the load generator run with Node's defaults.
const OUT = ".tmp/bench";
const root = new URL("../", import.meta.url).pathname;
process.chdir(root);

await build({
  entryPoints: [
    "bench/fake-rd-server.ts",
    "bench/rd-scan.ts",
    "bench/sweep.ts",
    "bench/match.ts",
    "bench/repair-throughput.ts",
    "bench/fake-qbit-server.ts",
    "bench/qbit-check.ts",
    "bench/idle-rss.ts",
    "bench/http-load.ts",
  ],
  outdir: OUT,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  loader: { ".sql": "text" },
  logLevel: "warning",
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Starts the fake RD account in its own process, so its memory is not counted as RDTM's. */
function startFake(torrents) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${OUT}/fake-rd-server.mjs`, String(torrents)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /READY (\S+)/.exec(buf);
      if (m) resolve({ url: m[1], stop: () => child.stdin.end() });
    });
    child.once("exit", (code) => reject(new Error(`fake exited ${code}`)));
  });
}

const scan = (kind, url, file) =>
  JSON.parse(
    execFileSync(process.execPath, [...NODE_FLAGS, `${OUT}/rd-scan.mjs`, kind, url, file], { encoding: "utf8" })
      .trim()
      .split("\n")
      .at(-1),
  );

/**
 * The machine's speed right now: a fixed CPU loop in a fresh process (ms). This machine is shared, and the
 * same loop has taken from 3.8 to 8.2 s over one day, so every figure below is printed beside it.
 */
function calibrate() {
  const out = execFileSync(
    process.execPath,
    ["-e", "const t=performance.now();let s=0;for(let i=0;i<1e8;i++)s+=i;console.log(performance.now()-t,s>0)"],
    { encoding: "utf8" },
  );
  return Math.round(Number.parseFloat(out));
}
const calibration = { beforeMs: calibrate(), afterMs: 0 };
console.log(`calibration: a fixed CPU loop took ${calibration.beforeMs} ms (about 1,270 ms on a quiet day)`);

const results = [];
function push(name, unit, atLeast, target, values, extra) {
  const value = Math.round(median(values) * 10) / 10;
  results.push({
    name,
    value,
    unit,
    target: `${atLeast ? "≥" : "≤"} ${target}`,
    pass: atLeast ? value >= target : value <= target,
    runs: values.map((v) => Math.round(v * 10) / 10),
    ...extra,
  });
}
/** A row where lower is better: passes when the median is ≤ target. */
function record(name, unit, target, values, extra = {}) {
  push(name, unit, false, target, values, extra);
}
/** A row where higher is better (throughput): passes when the median is ≥ target. */
function recordAtLeast(name, unit, target, values, extra = {}) {
  push(name, unit, true, target, values, extra);
}

// Real-Debrid scans against a 100,000-torrent account, 5,000 per page, limiter off.
{
  const fake = await startFake(100_050);
  try {
    const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-"));
    const full = [];
    for (let i = 0; i < RUNS; i++) full.push(scan("full", fake.url, join(dir, `full-${i}.db`)));
    record(
      "rd full scan, 100k torrents (wall)",
      "ms",
      3000,
      full.map((r) => r.ms),
      { torrents: full[0].torrents, requests: full[0].requests },
    );
    record(
      "rd full scan, 100k torrents (peak RSS)",
      "MB",
      128,
      full.map((r) => r.rssMb),
    );
    // quick scan: the database knows the account except its 50 newest torrents
    const template = join(dir, "full-0.db");
    execFileSync(process.execPath, [
      "-e",
      `
      const { createClient } = require("@libsql/client");
      const db = createClient({ url: "file:${template}" });
      db.execute("DELETE FROM torrents WHERE id IN (SELECT id FROM torrents ORDER BY added_at DESC LIMIT 50)")
        .then(() => db.execute("PRAGMA wal_checkpoint(TRUNCATE)")).then(() => db.close());
    `,
    ]);
    const quick = [];
    for (let i = 0; i < RUNS; i++) {
      const file = join(dir, `quick-${i}.db`);
      copyFileSync(template, file);
      quick.push(scan("quick", fake.url, file));
    }
    record(
      "rd quick scan, 100k known + 50 new (wall)",
      "ms",
      300,
      quick.map((r) => r.ms),
      { requests: quick[0].requests },
    );
  } finally {
    fake.stop();
  }
}

// Library sweep: 200,000 symlinks in nested folders, 5% broken, against `find -xtype l` on the same tree.
{
  const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-lib-"));
  const mount = join(dir, "mnt");
  const lib = join(dir, "library");
  const LINKS = 200_000;
  const PER_TORRENT = 10;
  for (let t = 0; t < LINKS / PER_TORRENT; t++) {
    const name = `Show.${Math.floor(t / 100)}.S${String((t % 100) + 1).padStart(2, "0")}.1080p.WEB-DL-GRP${t}`;
    const folder = join(mount, "__all__", name);
    const show = join(lib, `Show ${Math.floor(t / 100)}`, `Season ${(t % 100) + 1}`);
    mkdirSync(show, { recursive: true });
    // 5% of the torrents are gone from the mount: their links are broken
    const gone = t % 20 === 0;
    if (!gone) mkdirSync(folder, { recursive: true });
    for (let e = 0; e < PER_TORRENT; e++) {
      const fileName = `${name}.E${String(e + 1).padStart(2, "0")}.mkv`;
      if (!gone) writeFileSync(join(folder, fileName), "");
      symlinkSync(join(folder, fileName), join(show, `E${String(e + 1).padStart(2, "0")}.mkv`));
    }
  }
  const sweeps = [];
  const finds = [];
  for (let i = 0; i < RUNS; i++) {
    const f0 = performance.now();
    const out = execFileSync("find", [lib, "-xtype", "l"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    finds.push(performance.now() - f0);
    const found = out.split("\n").filter(Boolean).length;
    const db = join(dir, `sweep-${i}.db`);
    const r = JSON.parse(
      execFileSync(process.execPath, [...NODE_FLAGS, `${OUT}/sweep.mjs`, lib, mount, db], { encoding: "utf8" })
        .trim()
        .split("\n")
        .at(-1),
    );
    if (r.broken !== found) throw new Error(`sweep found ${r.broken} broken links, find found ${found}`);
    sweeps.push(r);
  }
  const ratios = sweeps.map((r, i) => r.ms / finds[i]);
  record("library sweep / find -xtype l, 200k links (ratio)", "x", 1.5, ratios, {
    sweepMs: Math.round(median(sweeps.map((r) => r.ms))),
    findMs: Math.round(median(finds)),
    broken: sweeps[0].broken,
    mountReaddirs: sweeps[0].mountReaddirs,
    mountStats: 0,
    statFallbacks: sweeps[0].statFallbacks,
  });
  record(
    "library sweep, 200k links (peak RSS)",
    "MB",
    128,
    sweeps.map((r) => r.rssMb),
  );
  rmSync(dir, { recursive: true, force: true });
}

// Matching 10,000 broken links against 100,000 torrents, as a sweep run does with the account keyed (keying
// the whole account, done once, reported apart).
{
  const runs = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(
      JSON.parse(
        execFileSync(process.execPath, [...NODE_FLAGS, `${OUT}/match.mjs`], { encoding: "utf8" })
          .trim()
          .split("\n")
          .at(-1),
      ),
    );
  if (runs.some((r) => r.wrong > 0)) throw new Error(`matching returned wrong torrents: ${JSON.stringify(runs)}`);
  record(
    "match 10k broken links vs 100k torrents",
    "ms",
    200,
    runs.map((r) => r.matchMs),
    {
      keyingMs: Math.round(median(runs.map((r) => r.keyingMs))),
      warmMs: Math.round(median(runs.map((r) => r.warmMs))),
      matched: runs[0].matched,
      none: runs[0].none,
    },
  );
}

// 1,000 queued repairs of cached torrents against the zero-latency fake RD, limiter at 250/min, on a virtual
// clock: the time from the first RD request to the last against the least the budget allows. As a percentage,
// since record() keeps one decimal. The process exits non-zero when a repair went wrong or the limit broke.
{
  const runs = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(
      JSON.parse(
        execFileSync(process.execPath, [...NODE_FLAGS, `${OUT}/repair-throughput.mjs`], { encoding: "utf8" })
          .trim()
          .split("\n")
          .at(-1),
      ),
    );
  record(
    "repair throughput, 1k cached repairs at 250/min (time / bound)",
    "%",
    105,
    runs.map((r) => r.ratio * 100),
    {
      elapsedMin: median(runs.map((r) => r.elapsedMin)),
      boundMin: runs[0].boundMin,
      requests: runs[0].requests,
      retryDrainRuns: runs[0].runs,
      done: runs[0].done,
      throttled: Math.max(...runs.map((r) => r.throttled)),
      wallMs: Math.round(median(runs.map((r) => r.wallMs))),
    },
  );
  record(
    "repair throughput, 1k cached repairs (max requests in any 60 s)",
    "requests",
    250,
    runs.map((r) => r.maxInWindow),
  );
}

// qbit-check: 5,000 queue items over Sonarr and Radarr and 5,000 qBittorrent torrents, services in their own
// process at no latency; the CPU time of RDTM's process for one run, and how many requests it needed.
{
  const child = spawn(process.execPath, [`${OUT}/fake-qbit-server.mjs`, "5000"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const urls = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /READY (\S+) (\S+) (\S+)/.exec(buf);
      if (m) resolve(m.slice(1, 4));
    });
    child.once("exit", (code) => reject(new Error(`fake qbit exited ${code}`)));
  });
  try {
    const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-qbit-"));
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const out = execFileSync(
        process.execPath,
        [...NODE_FLAGS, `${OUT}/qbit-check.mjs`, ...urls, join(dir, `q-${i}.db`)],
        {
          encoding: "utf8",
        },
      );
      runs.push(JSON.parse(out.trim().split("\n").at(-1)));
    }
    const r0 = runs[0];
    const pages = Object.entries(r0.byEndpoint)
      .filter(([k]) => k.endsWith("/queue"))
      .reduce((a, [, n]) => a + n, 0);
    record(
      "qbit-check, 5k queue items + 5k torrents (CPU of a warm run)",
      "ms",
      1000,
      runs.map((r) => r.cpuMs),
      {
        wallMs: Math.round(median(runs.map((r) => r.wallMs))),
        coldCpuMs: Math.round(median(runs.map((r) => r.coldCpuMs))),
        requests: r0.requests,
        queuePages: pages,
        candidates: r0.candidates,
        downloads: r0.downloads,
      },
    );
    // O(pages + candidates): everything beyond queue pages and one tracker read per candidate is a constant.
    record(
      "qbit-check requests beyond pages + candidates",
      "requests",
      10,
      runs.map((r) => r.requests - pages - r.candidates),
    );
    rmSync(dir, { recursive: true, force: true });
  } finally {
    child.stdin.end();
  }
}

// The service benchmarks run the real `node dist/cli.mjs serve`: build it from the current sources first
// (`npm run bench` already did; this keeps `node bench/run.mjs` alone from measuring a stale bundle).
execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"], { stdio: "inherit" });
const lastJson = (out) => JSON.parse(out.trim().split("\n").at(-1));
const med1 = (xs) => Math.round(median(xs) * 10) / 10;

// Idle service: `rdtm serve` on a fresh database, no RD token, default schedules, 3 s after /health first
// answered; VmRSS of the node process itself (bench/idle-rss.ts).
{
  const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-idle-"));
  try {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const work = join(dir, `run-${i}`);
      mkdirSync(work);
      runs.push(lastJson(execFileSync(process.execPath, [`${OUT}/idle-rss.mjs`, work], { encoding: "utf8" })));
    }
    record(
      "service idle RSS after start-up (VmRSS)",
      "MB",
      100,
      runs.map((r) => r.rssMb),
      { anonMb: med1(runs.map((r) => r.anonMb)), fileMb: med1(runs.map((r) => r.fileMb)) },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// HTTP under load (bench/http-load.ts): `rdtm serve` on a database already holding the 100,050-torrent fake
// account, full scan every second and a new one asked for, so it is writing pages during the load; autocannon
// in its own process, loopback, 50 connections, 10 s per path after a 1 s warm-up. Each run ≈ 27 s.
// /api/torrents has no target of its own in the issue: p99 ≤ 250 ms is ours, and ≥ 200 req/s is what that
// latency gives at 50 connections (Little's law). Errors and timeouts (autocannon's 10 s) are in the notes.
{
  const fake = await startFake(100_050);
  const dir = mkdtempSync(join(tmpdir(), "rdtm-bench-http-"));
  try {
    const seeded = join(dir, "seeded.db");
    scan("full", fake.url, seeded);
    execFileSync(process.execPath, [
      "-e",
      `
      const { createClient } = require("@libsql/client");
      const db = createClient({ url: "file:${seeded}" });
      db.execute("PRAGMA wal_checkpoint(TRUNCATE)").then(() => db.close());
    `,
    ]);
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const work = join(dir, `run-${i}`);
      mkdirSync(work);
      runs.push(
        lastJson(
          execFileSync(process.execPath, [`${OUT}/http-load.mjs`, fake.url, seeded, work], { encoding: "utf8" }),
        ),
      );
    }
    const loadNotes = (key) => ({
      p50Ms: med1(runs.map((r) => r[key].p50)),
      requests: med1(runs.map((r) => r[key].total)),
      non2xx: Math.max(...runs.map((r) => r[key].non2xx)),
      errors: Math.max(...runs.map((r) => r[key].errors)),
      timeouts: Math.max(...runs.map((r) => r[key].timeouts)),
      scanPages: med1(runs.map((r) => r[key].scanPages)),
    });
    const label = "50 conns, full scan running";
    recordAtLeast(
      `GET /health under load, ${label} (req/s)`,
      "req/s",
      2000,
      runs.map((r) => r.health.rps),
      loadNotes("health"),
    );
    record(
      `GET /health under load, ${label} (p99)`,
      "ms",
      50,
      runs.map((r) => r.health.p99),
      { maxMs: med1(runs.map((r) => r.health.max)) },
    );
    recordAtLeast(
      `GET /api/torrents?limit=50 under load, ${label} (req/s)`,
      "req/s",
      200,
      runs.map((r) => r.torrents.rps),
      { ...loadNotes("torrents"), torrents: runs[0].torrentsTotal },
    );
    record(
      `GET /api/torrents?limit=50 under load, ${label} (p99)`,
      "ms",
      250,
      runs.map((r) => r.torrents.p99),
      { maxMs: med1(runs.map((r) => r.torrents.max)) },
    );
    // The same target as the full scan's peak RSS: the service has just run 5,000-torrent pages.
    record(
      "service RSS after the HTTP load (VmRSS)",
      "MB",
      128,
      runs.map((r) => r.mem.rssMb),
      {
        peakMb: med1(runs.map((r) => r.mem.hwmMb)),
        anonMb: med1(runs.map((r) => r.mem.anonMb)),
        fileMb: med1(runs.map((r) => r.mem.fileMb)),
      },
    );
  } finally {
    fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE = new Set(["name", "value", "unit", "target", "pass", "runs"]);
const notes = (r) =>
  Object.entries(r)
    .filter(([k]) => !BASE.has(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
const table = [
  ["benchmark", "median", "target", "pass", "runs", "notes"],
  ...results.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    `${r.target} ${r.unit}`,
    r.pass ? "yes" : "NO",
    r.runs.join(" / "),
    notes(r),
  ]),
];
calibration.afterMs = calibrate();
const widths = table[0].map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
for (const row of table) console.log(row.map((c, i) => String(c).padEnd(widths[i])).join("  "));
mkdirSync("bench", { recursive: true });
writeFileSync(
  "bench/results.json",
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, calibration, results }, null, 2)}\n`,
);
console.log(`\ncalibration: the CPU loop took ${calibration.beforeMs} ms before and ${calibration.afterMs} ms after`);
console.log(`wrote bench/results.json (${RUNS} runs each, medians)`);
