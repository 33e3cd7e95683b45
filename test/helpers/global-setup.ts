import { execFileSync } from "node:child_process";

/** Integration tests spawn the real bundles, so build them once per test run. */
export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"], { stdio: "inherit" });
}
