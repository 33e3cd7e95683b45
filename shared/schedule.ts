import { Cron } from "croner";

/**
 * The schedule occurrence a trigger at `at` belongs to: the latest time the pattern matches at or
 * before `at`. Processes that fire late (a busy event loop, a slow Worker start) still agree on it.
 */
export function tickOf(pattern: string, at: number): number {
  const prev = new Cron(pattern, { paused: true }).previousRuns(1, new Date(at + 1));
  return prev[0]?.getTime() ?? at;
}

/** Next time the pattern fires after `from`, or null when it never does. */
export function nextRunOf(pattern: string | null, from: number): number | null {
  if (!pattern) return null;
  return new Cron(pattern, { paused: true }).nextRun(new Date(from))?.getTime() ?? null;
}

/** Whether a Workers cron event (5 fields, minute resolution) is this job's schedule. */
export function cronMatches(pattern: string | null, eventCron: string): boolean {
  if (!pattern) return false;
  return normalise(pattern) === normalise(eventCron);
}

function normalise(p: string): string {
  return p.trim().split(/\s+/).join(" ");
}
