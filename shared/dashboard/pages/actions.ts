import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { pagedRows } from "../../query.ts";
import { actionsFilter } from "../../repair/api.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { badge, summaryText, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const STATES = ["planned", "pending", "done", "failed"] as const;

const Query = v.object({
  ...PAGE,
  kind: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]+$/, "an action kind"))),
  state: v.optional(v.picklist(STATES, `one of ${STATES.join(", ")}`)),
  job: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "a job name"))),
  repair: v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/, "a repair id"), v.transform(Number))),
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

/** GET /actions: the journal of destructive actions, newest first, by kind, state, job or repair. */
export function actionsPage(deps: GuardDeps & { jobs: readonly string[] }): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, ...filter } = parseQuery(Query, c.req.query());
    const { kind, state, job, repair, q } = filter;
    const { where, args } = actionsFilter(filter);
    const [page, kinds] = await Promise.all([
      pagedRows(deps.db, { from: "actions", where, args, orderBy: "id DESC", limit, offset }),
      deps.db.execute("SELECT DISTINCT kind FROM actions ORDER BY kind"),
    ]);
    const kindList = kinds.rows.map((r) => String(r.kind));
    if (kind && !kindList.includes(kind)) kindList.push(kind);
    const rows = page.rows.map(
      (r) => html`<tr>
        <td class="num">${Number(r.id)}</td>
        <td>${time(Number(r.created_at))}</td>
        <td>${String(r.job)}</td>
        <td>${String(r.kind)}</td>
        <td>${badge(String(r.state))}</td>
        <td class="wrap">${String(r.target)}</td>
        <td>${r.repair_id === null ? "" : html`<a href="/actions?repair=${Number(r.repair_id)}">${Number(r.repair_id)}</a>`}</td>
        <td class="wrap">${summaryText(r.detail)}</td>
        <td class="wrap">${r.error === null ? "" : String(r.error)}</td>
      </tr>`,
    );
    const body = html`<h1>Actions journal</h1>
      ${filterForm(
        "/actions",
        q,
        [
          select("kind", "Kind", [["", "any"], ...kindList.map((k) => [k, k] as const)], kind),
          select("state", "State", [["", "any"], ...STATES.map((s) => [s, s] as const)], state),
          select("job", "Job", [["", "any"], ...deps.jobs.map((j) => [j, j] as const)], job),
          repair === undefined ? "" : html`<input type="hidden" name="repair" value="${repair}" />`,
        ],
        "target or detail",
      )}
      ${repair === undefined ? "" : html`<p>Only repair ${repair}. <a href="/actions">Show all</a></p>`}
      ${dataTable(
        "Actions, newest first",
        ["Id", "When", "Job", "Kind", "State", "Target", "Repair", "Detail", "Error"],
        rows,
      )}
      ${pager("/actions", { kind, state, job, repair, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Actions journal"), body);
  };
}
