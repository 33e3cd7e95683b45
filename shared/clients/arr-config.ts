import type { ArrInstanceConfig } from "../config.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import { type ArrInstance, apiKeyFromConfigXml } from "./servarr.ts";

/**
 * Turns configured instances into ones with an API key, reading mounted config.xml files where the
 * key was not given. Every unreadable or keyless file is reported at once, as a configuration error.
 */
export async function resolveArrInstances(configs: readonly ArrInstanceConfig[]): Promise<ArrInstance[]> {
  const problems: string[] = [];
  const out: ArrInstance[] = [];
  for (const c of configs) {
    if (c.apiKey) {
      out.push({ name: c.name, kind: c.kind, url: c.url, apiKey: c.apiKey });
      continue;
    }
    const variable = `${c.name.toUpperCase().replace("-", "_")}_CONFIG_XML`;
    try {
      const { readFile } = await import("node:fs/promises");
      const apiKey = apiKeyFromConfigXml(await readFile(c.configXml ?? "", "utf8"));
      out.push({ name: c.name, kind: c.kind, url: c.url, apiKey });
    } catch (err) {
      problems.push(`${variable}: cannot read the API key from ${c.configXml}: ${errorMessage(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}
