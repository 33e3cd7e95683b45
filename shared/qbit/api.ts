import type { Hono } from "hono";
import * as v from "valibot";
import type { Db } from "../db.ts";
import { containsPattern, iso, pagedRows, pageQuery } from "../query.ts";

/** The strike filters of GET /api/qbit and of the dashboard's /qbit page. */
export const STRIKE_FILTERS = {
  class: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "a class name"))),
  arr: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "an instance name"))),
};

const StrikesQuery = v.object({ ...pageQuery(500), ...STRIKE_FILTERS });

/** Strike counts by class, over every download (the filters' choices). */
export const STRIKES_BY_CLASS = "SELECT class, count(*) AS n FROM qbit_strikes GROUP BY class ORDER BY class";

/** One page of strikes, most struck first, by class, *arr instance and (the dashboard's) title or hash. */
export function strikesPage(
  db: Db,
  f: { class?: string | undefined; arr?: string | undefined; q?: string | undefined },
  page: { limit: number; offset: number },
) {
  const where: string[] = [];
  const args: string[] = [];
  if (f.class) {
    where.push("class = ?");
    args.push(f.class);
  }
  if (f.arr) {
    where.push("arr = ?");
    args.push(f.arr);
  }
  if (f.q) {
    where.push("(title LIKE ? ESCAPE '\\' OR download_id = ?)");
    args.push(containsPattern(f.q), f.q.toLowerCase());
  }
  return pagedRows(db, {
    from: "qbit_strikes",
    where,
    args,
    orderBy: "strikes DESC, last_seen_at DESC, item_key",
    ...page,
  });
}

/** Mounts GET /api/qbit: current strikes by download (filter by class, instance) and qbit-check's actions. */
export function mountQbitApi(app: Hono, db: Db): void {
  app.get("/api/qbit", async (c) => {
    const parsed = v.safeParse(StrikesQuery, c.req.query());
    if (!parsed.success) return c.json({ error: "invalid query", issues: v.flatten(parsed.issues).nested }, 400);
    const { limit, offset } = parsed.output;
    const [page, byClass, actions] = await Promise.all([
      strikesPage(db, parsed.output, { limit, offset }),
      db.execute(STRIKES_BY_CLASS),
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
