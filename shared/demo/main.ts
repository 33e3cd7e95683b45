// The process entry of `npm run demo` (dist/demo.mjs): starts the demo, says where to look, and stops
// it cleanly on SIGINT/SIGTERM.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { type Demo, startDemo } from "./index.ts";

const HELP = `Usage: npm run demo -- [--real] [--port N] [--dir PATH | --tmp]

Starts RDTM against fake Real-Debrid, Sonarr, Radarr, qBittorrent and Plex services on 127.0.0.1,
with a sample library, and runs every job once.

  --real        real mode: repairs and removals are made (on the fakes only); default dry-run
  --port N      RDTM's port (default 8787; 0 picks a free one)
  --dir PATH    demo folder, wiped at each start (default data/demo)
  --tmp         use a new temporary folder instead`;

function guide(demo: Demo, real: boolean): string {
  const api = (path: string) => `  curl -s '${demo.url}${path}'`;
  const file = join(demo.dir, "demo.env");
  const envFile = relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file);
  return [
    "",
    `RDTM demo is running at ${demo.url} in ${real ? "REAL mode (acting on the fakes only)" : "dry-run: nothing is changed, not even in the fakes"}.`,
    `API token (log in with it, or send it as 'Authorization: Bearer <token>'): ${demo.token}`,
    `Demo folder: ${demo.dir} (library in library/, mount in mnt/, database rdtm.db)`,
    "",
    "What to look at:",
    api("/health"),
    api("/jobs"),
    api("/api/torrents?status=dead,error,magnet_error,virus,magnet_conversion,waiting_files_selection"),
    api("/api/repairs"),
    api("/api/broken-links"),
    api(`/api/actions?state=${real ? "done" : "planned"}`),
    api("/api/qbit"),
    api("/api/sweep"),
    `  curl -s -X POST -H 'Authorization: Bearer ${demo.token}' ${demo.url}/jobs/qbit-check/run`,
    `  npm run rdtm -- status --env-file ${envFile}`,
    `  npm run rdtm -- sweep run --env-file ${envFile}`,
    "",
    "Stop with Ctrl+C.",
  ].join("\n");
}

const OPTIONS = {
  real: { type: "boolean" },
  port: { type: "string" },
  dir: { type: "string" },
  tmp: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function fail(message: string, code: number): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(code);
}

let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>;
try {
  parsed = parseArgs({ options: OPTIONS });
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)}\n${HELP}`, 2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const port = values.port === undefined ? 8787 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port expects 0-65535, got '${values.port}'`, 2);
const real = values.real === true;
const dir = values.tmp ? mkdtempSync(join(tmpdir(), "rdtm-demo-")) : values.dir;
const say = (line: string) => process.stdout.write(`${line}\n`);

say(`Starting the RDTM demo (${real ? "REAL mode, on fakes" : "dry-run"})...`);
const demo = await startDemo({ dir, port, real, log: say, tty: process.stdout.isTTY === true }).catch((err: unknown) =>
  fail(err instanceof Error ? err.message : String(err), 1),
);
say(guide(demo, real));

let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    // A second signal while stopping means: now.
    if (stopping) process.exit(1);
    stopping = true;
    say("\nStopping the demo...");
    demo.stop().then(
      () => process.exit(0),
      (err: unknown) => fail(`stop failed: ${err instanceof Error ? err.message : String(err)}`, 1),
    );
  });
}
