import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { containsPattern, pagedRows } from "../../query.ts";
import { serializeRepair } from "../../repair/api.ts";
import { REPAIR_STATES } from "../../repair/machine.ts";
import { isCancellable } from "../cancel.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { backField, badge, csrfField, time } from "../layout.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { backOf, dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const OPEN = REPAIR_STATES.filter((s) => s !== "done" && s !== "failed" && s !== "cancelled");

const Query = v.object({
  ...PAGE,
  state: v.optional(v.picklist(["open", ...REPAIR_STATES], `open or one of ${REPAIR_STATES.join(", ")}`)),
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** GET /repairs: repairs by state, searched by hash, name or id, with Retry and Cancel. */
export function repairsPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, state, q } = parseQuery(Query, c.req.query());
    const where: string[] = [];
    const args: (string | number)[] = [];
    const states = state === "open" ? OPEN : state ? [state] : [];
    if (states.length > 0) {
      where.push(`state IN (${states.map(() => "?").join(",")})`);
      args.push(...states);
    }
    if (q) {
      where.push("(filename LIKE ? ESCAPE '\\' OR hash = ? OR torrent_id = ? OR CAST(id AS TEXT) = ?)");
      args.push(containsPattern(q), q.toLowerCase(), q, q);
    }
    const page = await pagedRows(deps.db, {
      from: "repairs",
      where,
      args,
      orderBy: "updated_at DESC, id DESC",
      limit,
      offset,
    });
    const { csrf } = c.get("session");
    const back = backOf(c.req.url);
    const rows = page.rows.map((row) => {
      const r = serializeRepair(row);
      const retry =
        r.state === "done"
          ? ""
          : html`<form method="post" action="/repairs/${r.id}/retry" class="inline">
              ${csrfField(csrf)}${backField(back)}<button type="submit" class="secondary" aria-label="Retry repair ${r.id}">Retry</button>
            </form>`;
      const cancel = isCancellable(row)
        ? html`<form method="post" action="/repairs/${r.id}/cancel" class="inline">
            ${csrfField(csrf)}${backField(back)}<button type="submit" class="secondary" aria-label="Cancel repair ${r.id}">Cancel</button>
          </form>`
        : "";
      return html`<tr>
        <td class="num">${r.id}</td>
        <td class="wrap">${r.filename ?? r.hash}</td>
        <td>${r.reason}</td>
        <td>${badge(r.state)}</td>
        <td class="num">${r.attempt}</td>
        <td>${r.finishedAt === null ? time(ms(r.nextAttemptAt)) : ""}</td>
        <td class="wrap">${r.errorClass ? html`<strong>${r.errorClass}</strong> ` : ""}${r.lastError ?? ""}</td>
        <td>${time(ms(r.updatedAt))}</td>
        <td>${retry} ${cancel} <a href="/actions?repair=${r.id}">journal</a></td>
      </tr>`;
    });
    const body = html`<h1>Repairs</h1>
      ${filterForm(
        "/repairs",
        q,
        [
          select(
            "state",
            "State",
            [["", "any"], ["open", "open"], ...REPAIR_STATES.map((s) => [s, s] as const)],
            state,
          ),
        ],
        "name, hash or id",
      )}
      ${dataTable(
        "Repairs, last changed first",
        ["Id", "Torrent", "Reason", "State", "Attempt", "Next attempt", "Last error", "Updated", "Controls"],
        rows,
      )}
      ${pager("/repairs", { state, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Repairs"), body);
  };
}
