import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { STRIKE_FILTERS, STRIKES_BY_CLASS, strikesPage } from "../../qbit/api.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { badge, countList, summaryText, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const Query = v.object({
  ...PAGE,
  ...STRIKE_FILTERS,
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

/** GET /qbit: downloads with strikes (by class, *arr instance, title or hash) and qbit-check's last actions. */
export function qbitPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const query = parseQuery(Query, c.req.query());
    const { limit, offset, arr, q } = query;
    const [page, byClass, arrs, actions] = await Promise.all([
      strikesPage(deps.db, query, { limit, offset }),
      deps.db.execute(STRIKES_BY_CLASS),
      deps.db.execute("SELECT DISTINCT arr FROM qbit_strikes ORDER BY arr"),
      deps.db.execute(
        "SELECT id, kind, target, state, detail, created_at, error FROM actions WHERE job = 'qbit-check' ORDER BY id DESC LIMIT 10",
      ),
    ]);
    const classes = byClass.rows.map((r) => String(r.class));
    if (query.class && !classes.includes(query.class)) classes.push(query.class);
    const arrList = arrs.rows.map((r) => String(r.arr));
    if (arr && !arrList.includes(arr)) arrList.push(arr);
    const rows = page.rows.map(
      (r) => html`<tr>
        <td class="wrap">${r.title === null ? String(r.download_id) : String(r.title)}</td>
        <td>${String(r.arr)}</td>
        <td>${String(r.class)}</td>
        <td>${String(r.action)}</td>
        <td class="num">${Number(r.strikes)} / ${Number(r.needed)}</td>
        <td class="wrap">${r.evidence === null ? "" : String(r.evidence)}</td>
        <td>${time(Number(r.first_seen_at))}</td>
        <td>${time(Number(r.last_seen_at))}</td>
        <td>${r.acted_at === null ? html`<span class="muted">not yet</span>` : time(Number(r.acted_at))}</td>
      </tr>`,
    );
    const actionRows = actions.rows.map(
      (r) => html`<tr>
        <td>${time(Number(r.created_at))}</td>
        <td>${String(r.kind)}</td>
        <td>${badge(String(r.state))}</td>
        <td class="wrap">${String(r.target)}</td>
        <td class="wrap">${summaryText(r.detail)}</td>
        <td class="wrap">${r.error === null ? "" : String(r.error)}</td>
      </tr>`,
    );
    const body = html`<h1>qBittorrent strikes</h1>
      <section class="card" aria-labelledby="by-class">
        <h2 id="by-class">Strikes by class</h2>
        ${countList("strikes", Object.fromEntries(byClass.rows.map((r) => [String(r.class), Number(r.n)])))}
      </section>
      <h2>Downloads with strikes</h2>
      ${filterForm(
        "/qbit",
        q,
        [
          select("class", "Class", [["", "any"], ...classes.map((k) => [k, k] as const)], query.class),
          select("arr", "Instance", [["", "any"], ...arrList.map((a) => [a, a] as const)], arr),
        ],
        "title or hash",
      )}
      ${dataTable(
        "Downloads with strikes, most strikes first",
        ["Download", "Instance", "Class", "Action", "Strikes", "Evidence", "First seen", "Last seen", "Acted"],
        rows,
      )}
      ${pager("/qbit", { class: query.class, arr, q }, page.total, limit, offset)}
      <h2>qbit-check's last actions</h2>
      ${dataTable("Last 10 actions", ["When", "Kind", "State", "Target", "Detail", "Error"], actionRows)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "qBittorrent"), body);
  };
}
