import type { Handler } from "hono";
import { html } from "hono/html";
import { redactConfig } from "../../config.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable } from "../widgets.ts";

function shown(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text =
    value instanceof Set ? [...value].join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value);
  // Credentials written into a URL (https://user:pass@host) are secrets too, whatever the variable.
  return text.replace(/(\/\/)[^/\s@"]+@/g, "$1***@");
}

/** GET /config: the effective configuration with every secret masked (redactConfig). */
export function configPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const rows = Object.entries(redactConfig(deps.config))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, value]) => html`<tr><th scope="row">${k}</th><td class="wrap">${shown(value)}</td></tr>`);
    const body = html`<h1>Configuration</h1>
      <p class="muted">Secrets are masked. Change values in the environment and restart RDTM.</p>
      ${dataTable("Effective configuration", ["Variable", "Value"], rows)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Configuration"), body);
  };
}
