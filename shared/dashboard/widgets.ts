import { html } from "hono/html";
import * as v from "valibot";
import { pageQuery } from "../query.ts";
import type { Html } from "./layout.ts";

/** A query parameter the page cannot use: answered with a 400 page naming it. */
export class BadQueryError extends Error {
  override name = "BadQueryError";
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** Most rows one table page shows. */
export const MAX_PAGE = 200;

/** `limit` and `offset` of every table page. */
export const PAGE = pageQuery(MAX_PAGE);

/** Validates a page's query; empty fields (an untouched filter) count as absent. Throws BadQueryError. */
export function parseQuery<T extends v.GenericSchema<Record<string, string>, Record<string, unknown>>>(
  schema: T,
  raw: Record<string, string>,
): v.InferOutput<T> {
  const input = Object.fromEntries(Object.entries(raw).filter(([, x]) => x.trim() !== ""));
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return parsed.output;
  const issue = parsed.issues[0];
  const field = issue.path?.map((p) => String(p.key)).join(".") || "query";
  throw new BadQueryError(field, issue.message);
}

/** One option list for a filter select: value and label. */
export type Options = readonly (readonly [string, string])[];

/** A labelled select that keeps the current choice. */
export function select(name: string, label: string, options: Options, current: string | undefined): Html {
  return html`<label
    >${label}
    <select name="${name}">
      ${options.map(([value, text]) => html`<option value="${value}" ${value === (current ?? "") ? "selected" : ""}>${text}</option>`)}
    </select></label
  >`;
}

/** The filter form of a table page: its own selects, a "Search" box, and a page size kept hidden. */
export function filterForm(
  action: string,
  q: string | undefined,
  fields: (Html | string)[],
  placeholder: string,
): Html {
  return html`<form method="get" action="${action}" class="filters" role="search">
    ${fields}
    <label
      >Search <input type="search" name="q" value="${q ?? ""}" placeholder="${placeholder}" maxlength="200"
    /></label>
    <button type="submit">Filter</button>
    <a href="${action}">Clear</a>
  </form>`;
}

/** Previous/next links keeping the filters, and where this page lies in the total. */
export function pager(
  path: string,
  query: Record<string, string | number | undefined>,
  total: number,
  limit: number,
  offset: number,
): Html {
  const link = (to: number) => {
    const params = new URLSearchParams();
    for (const [k, x] of Object.entries(query)) if (x !== undefined && x !== "") params.set(k, String(x));
    params.set("limit", String(limit));
    params.set("offset", String(to));
    return `${path}?${params}`;
  };
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(total, offset + limit);
  return html`<nav class="pager" aria-label="Pages">
    <span>${first}–${last} of ${total}</span>
    ${offset > 0 ? html`<a href="${link(Math.max(0, offset - limit))}" rel="prev">Previous</a>` : ""}
    ${offset + limit < total ? html`<a href="${link(offset + limit)}" rel="next">Next</a>` : ""}
  </nav>`;
}

/** A table with a caption and column headers, scrolling sideways on a narrow screen. */
export function dataTable(
  caption: string,
  head: readonly string[],
  rows: Html[],
  opts: { bodyId?: string } = {},
): Html {
  return html`<div class="scroll">
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${head.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody ${opts.bodyId ? html`id="${opts.bodyId}"` : ""}>
        ${rows.length > 0 ? rows : html`<tr><td colspan="${head.length}" class="muted">Nothing here.</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

/** The current page's path and query, for a control's way back. */
export function backOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}
