import type { Hono, MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Db } from "./db.ts";
import { CountCache, containsPattern, iso, pagedRows, pageQuery } from "./query.ts";
import { readProgress, requestFullRescan, type ScanProgress } from "./rd/scan-progress.ts";

const TorrentsQuery = v.object({
  ...pageQuery(500),
  status: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]+(,[a-z_]+)*$/, "comma-separated statuses"))),
  q: v.optional(v.pipe(v.string(), v.maxLength(200))),
  gone: v.optional(v.picklist(["true", "false", "any"]), "false"),
});

/** Scan progress as the API and `rdtm status` show it. */
export function serializeProgress(p: ScanProgress) {
  return {
    status: p.status,
    generation: p.generation,
    phase: p.status === "running" ? p.phase : null,
    seen: p.seen,
    total: p.total,
    percent: p.status === "running" && p.total ? Math.min(100, Math.round((p.seen / p.total) * 1000) / 10) : null,
    pages: p.pages,
    startedAt: iso(p.startedAt),
    updatedAt: iso(p.updatedAt),
    completedAt: iso(p.completedAt),
    verifyNext: p.verify,
    lastError: p.lastError,
  };
}

/** Counts of torrents by status (gone ones apart) and of repairs by state. */
export async function accountCounts(db: Db) {
  const [byStatus, repairs] = await Promise.all([
    db.execute("SELECT status, count(*) AS n FROM torrents WHERE gone_at IS NULL GROUP BY status ORDER BY status"),
    db.execute("SELECT state, count(*) AS n FROM repairs GROUP BY state ORDER BY state"),
  ]);
  return {
    torrents: Object.fromEntries(byStatus.rows.map((r) => [String(r.status), Number(r.n)])),
    repairs: Object.fromEntries(repairs.rows.map((r) => [String(r.state), Number(r.n)])),
  };
}

/** Mounts the read API and its mutating routes (behind `auth`). */
export function mountApi(app: Hono, db: Db, auth: MiddlewareHandler): void {
  // The torrents table is the big one: its filter totals are reused for a few seconds.
  const torrentCounts = new CountCache();
  app.get("/api/scan", async (c) => {
    const [full, quick, counts] = await Promise.all([
      readProgress(db, "full"),
      readProgress(db, "quick"),
      accountCounts(db),
    ]);
    return c.json({ full: serializeProgress(full), quick: serializeProgress(quick), ...counts });
  });

  app.post("/api/scan/full/reset", auth, async (c) => {
    const p = await requestFullRescan(db, Date.now());
    return c.json({ message: "a new full scan starts at the next run", full: serializeProgress(p) }, 202);
  });

  app.get("/api/torrents", async (c) => {
    const parsed = v.safeParse(TorrentsQuery, c.req.query());
    if (!parsed.success) return c.json({ error: "invalid query", issues: v.flatten(parsed.issues).nested }, 400);
    const { limit, offset, status, q, gone } = parsed.output;
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (gone === "false") where.push("gone_at IS NULL");
    if (gone === "true") where.push("gone_at IS NOT NULL");
    if (status) {
      const list = status.split(",");
      where.push(`status IN (${list.map(() => "?").join(",")})`);
      args.push(...list);
    }
    if (q) {
      where.push("(filename LIKE ? ESCAPE '\\' OR hash = ? OR id = ?)");
      args.push(containsPattern(q), q.toLowerCase(), q);
    }
    const { total, rows } = await pagedRows(
      db,
      { from: "torrents", where, args, orderBy: "added_at DESC, id", limit, offset },
      torrentCounts,
    );
    return c.json({
      total,
      limit,
      offset,
      items: rows.map((r) => ({
        id: String(r.id),
        hash: String(r.hash),
        filename: String(r.filename),
        status: String(r.status),
        bytes: Number(r.bytes),
        progress: Number(r.progress),
        links: Number(r.links),
        addedAt: iso(Number(r.added_at)),
        lastSeenAt: iso(Number(r.last_seen_at)),
        statusChangedAt: iso(Number(r.status_changed_at)),
        goneAt: iso(r.gone_at === null ? null : Number(r.gone_at)),
      })),
    });
  });
}
