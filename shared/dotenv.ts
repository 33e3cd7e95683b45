import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";

/**
 * Reads a dotenv file (the `.dev.vars` wrangler also reads) and returns the environment that results:
 * real environment variables win over the file, so a container's env can override it.
 */
export function withDotenv(env: Record<string, string | undefined>, path: string): Record<string, string | undefined> {
  if (!existsSync(path)) return env;
  const fromFile = parseEnv(readFileSync(path, "utf8")) as Record<string, string>;
  return { ...fromFile, ...definedOnly(env) };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) if (val !== undefined) out[k] = val;
  return out;
}
