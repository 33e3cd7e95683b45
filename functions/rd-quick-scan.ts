import type { DebridTorrent } from "../shared/clients/debrid.ts";
import { defineJob } from "../shared/job.ts";
import { enqueueFailedTorrents, knownIds, upsertTorrents } from "../shared/rd/store.ts";

export default defineJob({
  name: "rd-quick-scan",
  description: "Reads the newest Real-Debrid torrents until it reaches known ones, and queues repairs for failures",
  schedule: "*/10 * * * *",
  async run(ctx) {
    const rd = ctx.clients.rd;
    if (!rd) return { skipped: "RD_API_TOKEN is not set" };
    const { QUICK_SCAN_PAGE_SIZE: size, QUICK_SCAN_MAX_PAGES: maxPages, STUCK_AFTER_MINUTES } = ctx.config;
    const before = { total: ctx.clients.rdCalls.total, throttled: ctx.clients.rdCalls.throttled };
    const listed: DebridTorrent[] = [];
    let total: number | null = null;
    let pages = 0;
    let reachedKnown = false;
    // Newest first: once a page holds a torrent we already know, everything newer is in hand.
    while (pages < (ctx.limit ?? maxPages)) {
      const page = await rd.listTorrents({ offset: pages * size, limit: size }, ctx.signal);
      pages++;
      total = page.total;
      listed.push(...page.items);
      const known = await knownIds(
        ctx.db,
        page.items.map((t) => t.id),
      );
      if (known.size > 0) reachedKnown = true;
      if (reachedKnown || page.items.length < size) break;
    }
    const now = ctx.now();
    const tx = await ctx.db.transaction("write");
    try {
      const { inserted, changed } = (await upsertTorrents(tx, listed, now, null)) ?? { inserted: 0, changed: 0 };
      const queued = await enqueueFailedTorrents(tx, now, now - STUCK_AFTER_MINUTES * 60_000);
      await tx.execute({
        sql: `INSERT INTO scan_progress (scan, status, total, seen, pages, started_at, updated_at, completed_at)
              VALUES ('quick', 'completed', ?, ?, ?, ?, ?, ?)
              ON CONFLICT (scan) DO UPDATE SET status = 'completed', total = excluded.total, seen = excluded.seen,
                pages = excluded.pages, started_at = excluded.started_at, updated_at = excluded.updated_at, completed_at = excluded.completed_at`,
        args: [total, listed.length, pages, now, now, now],
      });
      await tx.commit();
      return {
        pages,
        listed: listed.length,
        new: inserted,
        statusChanged: changed,
        queued,
        total,
        reachedKnown,
        ...ctx.clients.rdCalls.since(before),
      };
    } finally {
      tx.close();
    }
  },
});
