import type { Hono, MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Db } from "../db.ts";
import type { HealthProbe } from "../health.ts";
import { containsPattern, iso, pagedRows, pageQuery } from "../query.ts";
import { readSweepState, requestSweep, type SweepState } from "./sweep-state.ts";

const BrokenLinksQuery = v.object({
  ...pageQuery(500),
  state: v.optional(v.picklist(["broken", "resolved", "removed", "any"]), "broken"),
  matched: v.optional(v.picklist(["true", "false", "any"]), "any"),
  q: v.optional(v.pipe(v.string(), v.maxLength(300))),
});

/** The sweep's state as the API and `rdtm sweep status` show it. */
export function serializeSweep(s: SweepState) {
  return {
    status: s.status,
    generation: s.generation,
    entries: s.entries,
    links: s.links,
    broken: s.broken,
    matched: s.matched,
    skipped: s.skipped,
    startedAt: iso(s.startedAt),
    updatedAt: iso(s.updatedAt),
    completedAt: iso(s.completedAt),
    guard: s.guardReason ? { tripped: true, reason: s.guardReason, at: iso(s.guardAt) } : { tripped: false },
  };
}

/** /health's view of the mount guard: down while it holds the sweep, with the reason. */
export function mountGuardProbe(db: Db, configured: boolean): HealthProbe {
  return async () => {
    if (!configured) return { status: "not_configured", detail: "LIBRARY_ROOTS is not set" };
    const s = await readSweepState(db);
    return s.guardReason
      ? { status: "down", reason: s.guardReason, since: iso(s.guardAt) }
      : { status: "up", lastSweep: iso(s.completedAt) };
  };
}

/** The WHERE of a broken-links query (API and dashboard): by state, matched or not, and text in path or torrent. */
export function brokenLinksFilter(f: { state: string; matched: string; q?: string | undefined }): {
  where: string[];
  args: string[];
} {
  const where: string[] = [];
  const args: string[] = [];
  if (f.state !== "any") {
    where.push("state = ?");
    args.push(f.state);
  }
  if (f.matched === "true") where.push("matched_torrent_id IS NOT NULL");
  if (f.matched === "false") where.push("matched_torrent_id IS NULL");
  if (f.q) {
    where.push("(path LIKE ? ESCAPE '\\' OR torrent_name LIKE ? ESCAPE '\\')");
    args.push(containsPattern(f.q), containsPattern(f.q));
  }
  return { where, args };
}

/** Mounts /api/broken-links, /api/sweep and POST /api/sweep/start (behind `auth`). */
export function mountLibraryApi(app: Hono, db: Db, auth: MiddlewareHandler): void {
  app.get("/api/sweep", async (c) => c.json(serializeSweep(await readSweepState(db))));

  app.post("/api/sweep/start", auth, async (c) => {
    await requestSweep(db, Date.now());
    return c.json(
      { message: "a new sweep starts at the next run", sweep: serializeSweep(await readSweepState(db)) },
      202,
    );
  });

  app.get("/api/broken-links", async (c) => {
    const parsed = v.safeParse(BrokenLinksQuery, c.req.query());
    if (!parsed.success) return c.json({ error: "invalid query", issues: v.flatten(parsed.issues).nested }, 400);
    const { limit, offset, ...filter } = parsed.output;
    const { total, rows } = await pagedRows(db, {
      from: "broken_links",
      ...brokenLinksFilter(filter),
      orderBy: "last_seen_at DESC, path",
      limit,
      offset,
    });
    return c.json({
      total,
      limit,
      offset,
      items: rows.map((r) => ({
        path: String(r.path),
        root: String(r.root),
        target: String(r.target),
        reason: String(r.reason),
        torrentName: r.torrent_name === null ? null : String(r.torrent_name),
        matchedTorrentId: r.matched_torrent_id === null ? null : String(r.matched_torrent_id),
        matchKind: r.match_kind === null ? null : String(r.match_kind),
        state: String(r.state),
        firstSeenAt: iso(Number(r.first_seen_at)),
        lastSeenAt: iso(Number(r.last_seen_at)),
        resolvedAt: iso(r.resolved_at === null ? null : Number(r.resolved_at)),
      })),
    });
  });
}
