// npm run bench: every benchmark of the project, each measured in fresh processes (median of RUNS),
// printed as one table with its target and written to bench/results.json.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const OUT = ".tmp/bench";
const root = new URL("../", import.meta.url).pathname;
process.chdir(root);

await build({
  entryPoints: ["bench/fake-rd-server.ts", "bench/rd-scan.ts"],
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
    execFileSync(process.execPath, [`${OUT}/rd-scan.mjs`, kind, url, file], { encoding: "utf8" })
      .trim()
      .split("\n")
      .at(-1),
  );

const results = [];
function record(name, unit, target, values, extra = {}) {
  const value = Math.round(median(values) * 10) / 10;
  results.push({
    name,
    value,
    unit,
    target: `≤ ${target}`,
    pass: value <= target,
    runs: values.map((v) => Math.round(v * 10) / 10),
    ...extra,
  });
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

const table = [
  ["benchmark", "median", "target", "pass", "runs"],
  ...results.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    `${r.target} ${r.unit}`,
    r.pass ? "yes" : "NO",
    r.runs.join(" / "),
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
for (const row of table) console.log(row.map((c, i) => String(c).padEnd(widths[i])).join("  "));
mkdirSync("bench", { recursive: true });
writeFileSync(
  "bench/results.json",
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, results }, null, 2)}\n`,
);
console.log(`\nwrote bench/results.json (${RUNS} runs each, medians)`);
