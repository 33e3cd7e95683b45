import { defineJob } from "../shared/job.ts";
import { lastSharedThrottle } from "../shared/rd/budget.ts";
import { drainBatch, drainRepairs } from "../shared/repair/drain.ts";
import type { LinkFs } from "../shared/repair/links.ts";
import { repairPolicy } from "../shared/repair/policy.ts";

export default defineJob({
  name: "retry-drain",
  description: "Advances due repairs one persisted step each, by priority, within the shared RD budget",
  // Every 5 minutes, a minute after the sweep's slots (each job has its own cron for the Worker).
  schedule: "1-59/5 * * * *",
  async run(ctx) {
    const rd = ctx.clients.rd;
    if (!rd) return { skipped: "RD_API_TOKEN is not set" };
    const before = { total: ctx.clients.rdCalls.total, throttled: ctx.clients.rdCalls.throttled };
    const lastThrottleAt = async () => {
      const shared = await lastSharedThrottle(ctx.db);
      const local = ctx.clients.rdLimiter?.lastThrottleAt() ?? null;
      return Math.max(shared ?? 0, local ?? 0) || null;
    };
    const now = ctx.now();
    const batch = ctx.limit ?? drainBatch(ctx.config.REPAIR_BATCH_SIZE, await lastThrottleAt(), now);
    // The Worker has no filesystem: link removal waits for a Node run.
    const fs: LinkFs | null = ctx.host.runtime === "node" ? (await import("node:fs")).promises : null;
    const notifier = ctx.clients.notifier(ctx.log);
    const deps = {
      db: ctx.db,
      rd,
      policy: repairPolicy(ctx.config),
      now: ctx.now,
      runId: ctx.runId,
      job: ctx.job,
      log: ctx.log,
      signal: ctx.signal,
      lastThrottleAt,
      fs,
      libraryRoots: ctx.config.LIBRARY_ROOTS ?? [],
      arr: ctx.clients.arr,
      plex: ctx.clients.plex,
    };
    let steps = 0;
    try {
      const summary = await drainRepairs(deps, {
        batch,
        deadlineAt: now + ctx.config.REPAIR_RUN_SECONDS * 1000,
        dryRun: ctx.dryRun,
        ...(ctx.ids ? { ids: ctx.ids } : {}),
        onStep: () => ctx.progress({ steps: ++steps }),
        onEvent: (e) => notifier.add(e),
      });
      return { ...summary, ...ctx.clients.rdCalls.since(before) };
    } finally {
      // Notifications never hold up or fail a repair run: flush logs its own failures.
      const sent = await notifier.flush();
      if (sent.failed > 0) ctx.log.warn("Some notifications were not delivered.", sent);
    }
  },
});
