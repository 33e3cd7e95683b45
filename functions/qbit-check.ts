import { defineJob } from "../shared/job.ts";
import { check } from "../shared/qbit/check.ts";
import { gather } from "../shared/qbit/gather.ts";

export default defineJob({
  name: "qbit-check",
  description:
    "Classifies stuck and failed qBittorrent downloads of the Sonarr/Radarr queues; after its strikes, removes, blocklists and searches again",
  // Every 5 minutes, two minutes after the sweep's slots (each job has its own cron for the Worker).
  schedule: "2-59/5 * * * *",
  async run(ctx) {
    const { qbit, arr } = ctx.clients;
    if (qbit.length === 0 || arr.length === 0) {
      return { skipped: qbit.length === 0 ? "no qBittorrent configured" : "no Sonarr/Radarr configured" };
    }
    const now = ctx.now();
    const snap = await gather(ctx.db, qbit, arr, now, ctx.signal);
    for (const o of snap.outages) ctx.log.warn("Service unreachable: its downloads get no strikes this run.", { ...o });
    const notifier = ctx.clients.notifier(ctx.log);
    try {
      const summary = await check(
        {
          db: ctx.db,
          rules: ctx.clients.qbitRules,
          log: ctx.log,
          now,
          signal: ctx.signal,
          dryRun: ctx.dryRun,
          runId: ctx.runId,
          job: ctx.job,
          deletePrivate: ctx.config.QBIT_DELETE_PRIVATE,
          onEvent: (e) => notifier.add(e),
        },
        snap,
      );
      return {
        ...summary,
        torrents: snap.torrents.size,
        outages: snap.outages.map((o) => o.service),
      };
    } finally {
      await notifier.flush();
    }
  },
});
