import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { pagedRows } from "../../query.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { badge, duration, type Html, summaryText, time } from "../layout.ts";
import { type RunView, runView } from "../queries.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable, filterForm, PAGE, pager, parseQuery, select } from "../widgets.ts";

const STATUSES = ["running", "succeeded", "failed", "aborted", "interrupted"] as const;
const TRIGGERS = ["cron", "http", "worker", "cli", "test"] as const;

const Query = v.object({
  ...PAGE,
  job: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "a job name"))),
  status: v.optional(v.picklist(STATUSES, `one of ${STATUSES.join(", ")}`)),
  trigger: v.optional(v.picklist(TRIGGERS, `one of ${TRIGGERS.join(", ")}`)),
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "at most 200 characters"))),
});

/** Column headers of the runs table; the live script fills new rows in the same order. */
export const RUN_COLUMNS = ["Started", "Job", "Trigger", "Mode", "Status", "Duration", "Summary", "Error"] as const;

/** One run as a table row, keyed by run id so live updates replace it in place. */
export function runRow(r: RunView): Html {
  return html`<tr id="run-${r.id}" data-job="${r.job}" data-status="${r.status}">
    <td>${time(r.startedAt)}</td>
    <td>${r.job}</td>
    <td>${r.trigger}</td>
    <td>${r.dryRun ? "dry run" : "real"}</td>
    <td>${badge(r.status)}</td>
    <td class="num">${r.endedAt === null ? "" : duration(r.endedAt - r.startedAt)}</td>
    <td class="wrap">${summaryText(r.summary)}</td>
    <td class="wrap">${r.error ?? ""}</td>
  </tr>`;
}

/** GET /runs: every job run, newest first, by job, status and trigger; new runs appear live. */
export function runsPage(deps: GuardDeps & { jobs: readonly string[] }): Handler<DashEnv> {
  return async (c) => {
    const { limit, offset, job, status, trigger, q } = parseQuery(Query, c.req.query());
    const where: string[] = [];
    const args: string[] = [];
    for (const [col, val] of [
      ["job", job],
      ["status", status],
      ["trigger", trigger],
    ] as const) {
      if (val === undefined) continue;
      where.push(`${col} = ?`);
      args.push(val);
    }
    if (q) {
      where.push("(id = ? OR instr(coalesce(error, ''), ?) > 0 OR instr(coalesce(summary, ''), ?) > 0)");
      args.push(q, q, q);
    }
    const page = await pagedRows(deps.db, {
      from: "job_runs",
      where,
      args,
      orderBy: "started_at DESC, id",
      limit,
      offset,
    });
    // Live rows are only added to the unfiltered first page, where a new run belongs at the top.
    const live = where.length === 0 && offset === 0;
    const body = html`<h1>Job runs</h1>
      ${filterForm(
        "/runs",
        q,
        [
          select("job", "Job", [["", "any"], ...deps.jobs.map((j) => [j, j] as const)], job),
          select("status", "Status", [["", "any"], ...STATUSES.map((s) => [s, s] as const)], status),
          select("trigger", "Trigger", [["", "any"], ...TRIGGERS.map((t) => [t, t] as const)], trigger),
        ],
        "run id, error or summary text",
      )}
      ${dataTable("Runs, newest first", RUN_COLUMNS, page.rows.map(runView).map(runRow), {
        bodyId: live ? "runs-body" : "runs-filtered",
      })}
      ${pager("/runs", { job, status, trigger, q }, page.total, limit, offset)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Job runs"), body);
  };
}
