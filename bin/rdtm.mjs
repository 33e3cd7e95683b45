#!/usr/bin/env -S node --max-semi-space-size=4
// Installed command: runs the bundled CLI (built by `npm run build`).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli.mjs", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("rdtm: dist/cli.mjs is missing; run `npm run build` first\n");
  process.exit(1);
}
await import(entry.href);
