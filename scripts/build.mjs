// Bundles the Node entries (dist/cli.mjs, and dist/demo.mjs for `npm run demo`) and the Worker entry
// (dist/worker.mjs) with esbuild.
// Node keeps node_modules external (libsql is native); the Worker bundles everything for workerd.
import { build } from "esbuild";

const quiet = process.argv.includes("--quiet");
const started = Date.now();
const common = { bundle: true, format: "esm", sourcemap: "linked", loader: { ".sql": "text" }, logLevel: "warning" };

await Promise.all([
  build({
    ...common,
    entryPoints: ["shared/cli-main.ts"],
    outfile: "dist/cli.mjs",
    platform: "node",
    target: "node20",
    packages: "external",
  }),
  build({
    ...common,
    entryPoints: ["shared/demo/main.ts"],
    outfile: "dist/demo.mjs",
    platform: "node",
    target: "node20",
    packages: "external",
  }),
  build({
    ...common,
    entryPoints: ["shared/worker.ts"],
    outfile: "dist/worker.mjs",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["node:*"],
  }),
]);
if (!quiet) console.error(`built dist/cli.mjs, dist/demo.mjs and dist/worker.mjs in ${Date.now() - started} ms`);
