import type { Handler } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { chartSpecs } from "../chart-data.ts";
import { chart } from "../charts.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { parseQuery, select } from "../widgets.ts";

const Query = v.object({
  days: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, "a whole number"),
      v.transform(Number),
      v.minValue(1, "at least 1"),
      v.maxValue(90, "at most 90"),
    ),
    "14",
  ),
});

/** GET /charts: repairs and failures per day, durations, RD latency and throttling, queue sizes. */
export function chartsPage(deps: GuardDeps): Handler<DashEnv> {
  return async (c) => {
    const { days } = parseQuery(Query, c.req.query());
    const specs = await chartSpecs(deps.db, deps.now(), days);
    const choices = [7, 14, 30, 90].map((d) => [String(d), `${d} days`] as const);
    const body = html`<h1>Charts</h1>
      <form method="get" action="/charts" class="filters">
        ${select("days", "Period", choices, String(days))}
        <button type="submit">Show</button>
      </form>
      ${specs.map(chart)}`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Charts"), body);
  };
}
