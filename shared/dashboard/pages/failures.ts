import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { containsPattern, pagedRows } from "../../query.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { backField, csrfField, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { backOf, dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const Query = v.object({
  ...PAGE,
  reset: v.optional(v.picklist(["false", "true", "any"], "false, true or any"), "false"),
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

/** GET /failures: hashes that failed for good, each with a Reset button. */
export function failuresPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, reset, q } = parseQuery(Query, c.req.query());
    const where: string[] = [];
    const args: string[] = [];
    if (reset === "false") where.push("reset_at IS NULL");
    if (reset === "true") where.push("reset_at IS NOT NULL");
    if (q) {
      where.push("(filename LIKE ? ESCAPE '\\' OR hash = ? OR torrent_id = ?)");
      args.push(containsPattern(q), q.toLowerCase(), q);
    }
    const page = await pagedRows(deps.db, {
      from: "permanent_failures",
      where,
      args,
      orderBy: "failed_at DESC, hash",
      limit,
      offset,
    });
    const { csrf } = c.get("session");
    const back = backOf(c.req.url);
    const rows = page.rows.map((r) => {
      const hash = String(r.hash);
      const control =
        r.reset_at === null
          ? html`<form method="post" action="/failures/${hash}/reset" class="inline">
              ${csrfField(csrf)}${backField(back)}
              <button type="submit" class="secondary" aria-label="Reset failure of ${hash}">Reset</button>
            </form>`
          : html`reset ${time(Number(r.reset_at))}`;
      return html`<tr>
        <td class="wrap">${r.filename === null ? "" : String(r.filename)}</td>
        <td>${String(r.error_type)}</td>
        <td class="wrap">${r.detail === null ? "" : String(r.detail)}</td>
        <td>${Number(r.processed) === 1 ? "yes" : "no"}</td>
        <td>${time(Number(r.failed_at))}</td>
        <td><code>${hash}</code></td>
        <td>${control}</td>
      </tr>`;
    });
    const body = html`<h1>Permanent failures</h1>
      <p class="muted">The scans never queue these hashes again until they are reset.</p>
      ${filterForm(
        "/failures",
        q,
        [
          select(
            "reset",
            "Reset",
            [
              ["false", "not reset"],
              ["true", "reset"],
              ["any", "any"],
            ],
            reset,
          ),
        ],
        "name, hash or id",
      )}
      ${dataTable(
        "Permanent failures, newest first",
        ["Torrent", "Error", "Detail", "Processed", "Failed", "Hash", "Controls"],
        rows,
      )}
      ${pager("/failures", { reset, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Permanent failures"), body);
  };
}
