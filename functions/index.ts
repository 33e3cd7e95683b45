import maintenance from "./maintenance.ts";
import qbitCheck from "./qbit-check.ts";
import rdFullScanPage from "./rd-full-scan-page.ts";
import rdQuickScan from "./rd-quick-scan.ts";
import retryDrain from "./retry-drain.ts";
import symlinkSweep from "./symlink-sweep.ts";

/** Every job, in one explicit list: schedules, HTTP routes, the Worker and the CLI all read it. */
export const JOBS = [rdQuickScan, rdFullScanPage, symlinkSweep, retryDrain, qbitCheck, maintenance] as const;

/** Name of a registered job. */
export type JobName = (typeof JOBS)[number]["name"];

/** Default cron of every job, keyed by name (SCHEDULE_<NAME> overrides these). */
export const DEFAULT_SCHEDULES: Record<JobName, string> = Object.fromEntries(
  JOBS.map((j) => [j.name, j.schedule]),
) as Record<JobName, string>;
