import { html, raw } from "hono/html";
import type { Flash } from "./session.ts";
import { STYLE } from "./style.ts";

/** What the html tag returns; every view builds one. */
export type Html = ReturnType<typeof html>;

/** What the layout needs besides the page body. */
export interface Frame {
  title: string;
  /** Path of the page, to mark the current nav entry. */
  path: string;
  /** The session's CSRF token, for the logout form; absent on pages shown before login. */
  csrf?: string;
  flash?: Flash | null;
  /** Server time of the render: the live script asks /events for what happened since. */
  now?: number;
}

const NAV = [
  ["/", "Overview"],
  ["/torrents", "Torrents"],
  ["/repairs", "Repairs"],
  ["/failures", "Failures"],
  ["/broken-links", "Broken links"],
  ["/actions", "Actions"],
  ["/runs", "Runs"],
  ["/qbit", "qBit"],
  ["/charts", "Charts"],
  ["/config", "Config"],
] as const;

/** The whole page around a body: skip link, nav, flash, one inline stylesheet, the live script. */
export function layout(f: Frame, body: Html): Html {
  const nav = f.csrf
    ? html`<nav aria-label="Main">
        <ul>
          ${NAV.map(
            ([href, label]) =>
              html`<li><a href="${href}" ${href === f.path ? html`aria-current="page"` : ""}>${label}</a></li>`,
          )}
        </ul>
        <form method="post" action="/logout" class="inline">
          ${csrfField(f.csrf)}<button type="submit">Log out</button>
        </form>
      </nav>`
    : "";
  const flash = f.flash
    ? html`<p class="flash ${f.flash.kind}" role="${f.flash.kind === "error" ? "alert" : "status"}">${f.flash.text}</p>`
    : "";
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="same-origin" />
    <link rel="icon" href="data:," />
    <title>${f.title} · RDTM</title>
    <style>
      ${raw(STYLE)}
    </style>
  </head>
  <body data-since="${f.now ?? ""}">
    <a class="skip" href="#main">Skip to content</a>
    <header><span class="brand">RDTM</span>${nav}</header>
    <main id="main" tabindex="-1">${flash}${body}</main>
    ${f.csrf ? html`<script src="/dashboard.js" defer></script>` : ""}
  </body>
</html>`;
}

/** The hidden CSRF field every POST form carries. */
export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}" />`;
}

/** The hidden field telling a control where to send the browser back to. */
export function backField(back: string): Html {
  return html`<input type="hidden" name="back" value="${back}" />`;
}

/** A time as UTC text in a <time> element (the script shows it in local time). */
export function time(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return html`<span class="muted">—</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")} UTC</time>`;
}

/** A duration as people read it: 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

/** Bytes in binary units. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let x = n;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

/** A job summary or action detail (JSON text) as short `key=value` text. */
export function summaryText(json: unknown): string {
  if (json === null || json === undefined || json === "") return "";
  let value: unknown = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch {
      // Not JSON: shown as stored.
      return json;
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return JSON.stringify(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([k, x]) => `${k}=${typeof x === "object" && x !== null ? JSON.stringify(x) : String(x)}`)
    .join(", ");
}

/** A status word as a badge; the class picks a colour, the text says it (colour is never the only cue). */
export function badge(status: string): Html {
  const tone = /^(succeeded|done|up|completed|resolved|downloaded)$/.test(status)
    ? "good"
    : /^(failed|error|dead|virus|magnet_error|interrupted|aborted|down|broken|holding)$/.test(status)
      ? "bad"
      : "neutral";
  return html`<span class="badge ${tone}">${status}</span>`;
}

/** A list of `name: count` pairs as a definition list, each count tagged for live updates. */
export function countList(group: string, counts: Record<string, number>, empty = "none"): Html {
  const entries = Object.entries(counts);
  if (entries.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<dl class="counts">
    ${entries.map(([k, n]) => html`<div><dt>${k}</dt><dd data-count="${group}.${k}">${n}</dd></div>`)}
  </dl>`;
}
