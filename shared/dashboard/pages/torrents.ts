import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { containsPattern, pagedRows } from "../../query.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { badge, bytes, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const Query = v.object({
  ...PAGE,
  status: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]+$/, "an RD status"))),
  gone: v.optional(v.picklist(["false", "true", "any"], "false, true or any"), "false"),
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

/** GET /torrents: the account's torrents, by status, gone or not, searched by name, hash or id. */
export function torrentsPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, status, gone, q } = parseQuery(Query, c.req.query());
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (gone === "false") where.push("gone_at IS NULL");
    if (gone === "true") where.push("gone_at IS NOT NULL");
    if (status) {
      where.push("status = ?");
      args.push(status);
    }
    if (q) {
      where.push("(filename LIKE ? ESCAPE '\\' OR hash = ? OR id = ?)");
      args.push(containsPattern(q), q.toLowerCase(), q);
    }
    const [page, statuses] = await Promise.all([
      pagedRows(deps.db, { from: "torrents", where, args, orderBy: "added_at DESC, id", limit, offset }),
      deps.db.execute("SELECT DISTINCT status FROM torrents ORDER BY status"),
    ]);
    const known = statuses.rows.map((r) => String(r.status));
    if (status && !known.includes(status)) known.push(status);
    const rows = page.rows.map(
      (r) => html`<tr>
        <td class="wrap">${String(r.filename)}</td>
        <td>${badge(String(r.status))}${r.gone_at === null ? "" : html` <span class="muted">(gone)</span>`}</td>
        <td class="num">${bytes(Number(r.bytes))}</td>
        <td class="num">${Math.round(Number(r.progress))}%</td>
        <td>${time(Number(r.added_at))}</td>
        <td>${time(Number(r.status_changed_at))}</td>
        <td><code>${String(r.id)}</code></td>
        <td><code>${String(r.hash)}</code></td>
        <td><a href="/repairs?q=${encodeURIComponent(String(r.hash))}">repairs</a></td>
      </tr>`,
    );
    const body = html`<h1>Torrents</h1>
      ${filterForm(
        "/torrents",
        q,
        [
          select("status", "Status", [["", "any"], ...known.map((s) => [s, s] as const)], status),
          select(
            "gone",
            "Gone from RD",
            [
              ["false", "present"],
              ["true", "gone"],
              ["any", "any"],
            ],
            gone,
          ),
        ],
        "name, hash or id",
      )}
      ${dataTable(
        "Torrents, newest first",
        ["Name", "Status", "Size", "Progress", "Added", "Status since", "RD id", "Hash", "Links"],
        rows,
      )}
      ${pager("/torrents", { status, gone, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Torrents"), body);
  };
}
