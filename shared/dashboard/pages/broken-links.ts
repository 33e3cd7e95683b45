import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { brokenLinksFilter } from "../../library/api.ts";
import { pagedRows } from "../../query.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { badge, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const Query = v.object({
  ...PAGE,
  state: v.optional(v.picklist(["broken", "resolved", "removed", "any"], "broken, resolved, removed or any"), "broken"),
  matched: v.optional(v.picklist(["true", "false", "any"], "true, false or any"), "any"),
  q: v.optional(v.pipe(v.string(), v.maxLength(300, "at most 300 characters"))),
});

/** GET /broken-links: what the library sweep found, by state and match, searched by path or torrent. */
export function brokenLinksPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, ...filter } = parseQuery(Query, c.req.query());
    const { state, matched, q } = filter;
    const { where, args } = brokenLinksFilter(filter);
    const page = await pagedRows(deps.db, {
      from: "broken_links",
      where,
      args,
      orderBy: "last_seen_at DESC, path",
      limit,
      offset,
    });
    const str = (x: unknown) => (x === null ? "" : String(x));
    const rows = page.rows.map(
      (r) => html`<tr>
        <td class="wrap">${String(r.path)}</td>
        <td>${badge(String(r.state))}</td>
        <td>${String(r.reason)}</td>
        <td class="wrap">${str(r.torrent_name)}</td>
        <td>${r.matched_torrent_id === null ? html`<span class="muted">no</span>` : html`<code>${String(r.matched_torrent_id)}</code> (${str(r.match_kind)})`}</td>
        <td>${time(Number(r.first_seen_at))}</td>
        <td>${time(Number(r.last_seen_at))}</td>
        <td class="wrap">${String(r.target)}</td>
      </tr>`,
    );
    const body = html`<h1>Broken links</h1>
      ${filterForm(
        "/broken-links",
        q,
        [
          select(
            "state",
            "State",
            [
              ["broken", "broken"],
              ["resolved", "resolved"],
              ["removed", "removed"],
              ["any", "any"],
            ],
            state,
          ),
          select(
            "matched",
            "Matched to a torrent",
            [
              ["any", "any"],
              ["true", "matched"],
              ["false", "unmatched"],
            ],
            matched,
          ),
        ],
        "path or torrent name",
      )}
      ${dataTable(
        "Broken links, last seen first",
        ["Link", "State", "Reason", "Torrent name", "Matched torrent", "First seen", "Last seen", "Target"],
        rows,
      )}
      ${pager("/broken-links", { state, matched, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Broken links"), body);
  };
}
