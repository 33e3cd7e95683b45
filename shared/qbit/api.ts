import type { Hono } from "hono";
import * as v from "valibot";
import type { Db } from "../db.ts";
import { iso, pagedRows, pageQuery } from "../query.ts";

const StrikesQuery = v.object({
  ...pageQuery(500),
  class: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "a class name"))),
  arr: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "an instance name"))),
});

/** Mounts GET /api/qbit: current strikes by download (filter by class, instance) and qbit-check's actions. */
export function mountQbitApi(app: Hono, db: Db): void {
  app.get("/api/qbit", async (c) => {
    const parsed = v.safeParse(StrikesQuery, c.req.query());
    if (!parsed.success) return c.json({ error: "invalid query", issues: v.flatten(parsed.issues).nested }, 400);
    const { limit, offset } = parsed.output;
    const where: string[] = [];
    const args: string[] = [];
    if (parsed.output.class) {
      where.push("class = ?");
      args.push(parsed.output.class);
    }
    if (parsed.output.arr) {
      where.push("arr = ?");
      args.push(parsed.output.arr);
    }
    const [page, byClass, actions] = await Promise.all([
      pagedRows(db, {
        from: "qbit_strikes",
        where,
        args,
        orderBy: "strikes DESC, last_seen_at DESC, item_key",
        limit,
        offset,
      }),
      db.execute("SELECT class, count(*) AS n FROM qbit_strikes GROUP BY class ORDER BY class"),
      db.execute(
        "SELECT kind, target, state, detail, created_at, error FROM actions WHERE job = 'qbit-check' ORDER BY id DESC LIMIT 20",
      ),
    ]);
    return c.json({
      total: page.total,
      limit,
      offset,
      byClass: Object.fromEntries(byClass.rows.map((r) => [String(r.class), Number(r.n)])),
      items: page.rows.map((r) => ({
        arr: String(r.arr),
        downloadId: String(r.download_id),
        queueIds: JSON.parse(String(r.queue_ids)) as number[],
        title: r.title === null ? null : String(r.title),
        class: String(r.class),
        action: String(r.action),
        strikes: Number(r.strikes),
        needed: Number(r.needed),
        evidence: r.evidence === null ? null : String(r.evidence),
        firstSeenAt: iso(Number(r.first_seen_at)),
        lastSeenAt: iso(Number(r.last_seen_at)),
        actedAt: iso(r.acted_at === null ? null : Number(r.acted_at)),
      })),
      recentActions: actions.rows.map((r) => ({
        kind: String(r.kind),
        target: String(r.target),
        state: String(r.state),
        detail: r.detail === null ? null : (JSON.parse(String(r.detail)) as unknown),
        at: iso(Number(r.created_at)),
        error: r.error === null ? null : String(r.error),
      })),
    });
  });
}
