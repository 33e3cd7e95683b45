import { JobFailedError } from "../shared/errors.ts";
import { defineJob } from "../shared/job.ts";
import { checkIntegrity } from "../shared/maintenance/integrity.ts";
import { pruneHistory } from "../shared/maintenance/retention.ts";

export default defineJob({
  name: "maintenance",
  description: "Checks database integrity, prunes old history and metrics, and takes a rotated backup",
  schedule: "30 4 * * *",
  timeoutMs: 30 * 60_000,
  async run(ctx) {
    const { config, db, dryRun } = ctx;
    // A damaged database must not be backed up over the good backups, nor pruned: stop here.
    const integrity = await checkIntegrity(db);
    if (!integrity.ok) {
      throw new JobFailedError(`database integrity check failed: ${integrity.problems.slice(0, 3).join("; ")}`, {
        integrity,
      });
    }
    ctx.signal.throwIfAborted();
    const pruned = await pruneHistory(
      db,
      { now: ctx.now(), historyDays: config.HISTORY_RETENTION_DAYS, metricsDays: config.METRICS_RETENTION_DAYS },
      dryRun,
    );
    ctx.signal.throwIfAborted();
    // Backups are RDTM's own files and never touch the user's data, so dry-run takes them too.
    const backup = ctx.host.backupDatabase
      ? await ctx.host.backupDatabase(db, { dir: config.BACKUP_DIR, keep: config.BACKUP_KEEP, now: ctx.now() })
      : { skipped: "no filesystem in this runtime" };
    return { integrity: "ok", [dryRun ? "wouldPrune" : "pruned"]: pruned, backup };
  },
});
