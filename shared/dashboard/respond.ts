import type { Context } from "hono";
import { html } from "hono/html";
import type { Config } from "../config.ts";
import { secretValues } from "../config.ts";

export { secretValues };

import { type Frame, type Html, layout } from "./layout.ts";
import type { Session } from "./session.ts";

/** Hono environment of the dashboard routes: the session set by requireSession. */
export type DashEnv = { Variables: { session: Session } };

/** Context of a dashboard route. */
export type DashContext = Context<DashEnv>;

// Inline styles need 'unsafe-inline'; scripts only come from our own /dashboard.js.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Replaces secret values (raw and HTML-escaped) wherever they appear. Pages never interpolate config
 * secrets; this catches one copied into a stored error or summary by an upstream message.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s).join("***");
    const escaped = escapeHtml(s);
    if (escaped !== s) out = out.split(escaped).join("***");
  }
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );
}

/** Sends a page: layout, secrets masked, no caching, a strict CSP. */
export async function sendPage(
  c: Context,
  config: Config,
  frame: Frame,
  body: Html,
  status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 503 = 200,
): Promise<Response> {
  const text = maskSecrets(String(await layout(frame, body)), secretValues(config));
  c.header("Content-Security-Policy", CSP);
  c.header("Cache-Control", "no-store");
  return c.html(text, status);
}

/** A short page that only says what went wrong (bad query, unknown job, expired form). */
export function problemPage(
  c: Context,
  config: Config,
  frame: Frame,
  heading: string,
  detail: string,
  status: 400 | 401 | 403 | 404 | 409 | 500 | 503,
): Promise<Response> {
  return sendPage(
    c,
    config,
    { ...frame, title: heading },
    html`<h1>${heading}</h1>
      <p>${detail}</p>
      <p><a href="/">Back to the overview</a></p>`,
    status,
  );
}
