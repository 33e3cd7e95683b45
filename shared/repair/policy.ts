import type { Config } from "../config.ts";
import type { RepairPolicy } from "./machine.ts";

/** A new torrent that is not downloaded yet is looked at again after this long. */
export const POLL_MS = 60_000;

/** The repair machine's tunables from config. */
export function repairPolicy(config: Config): RepairPolicy {
  return {
    retryDelayMs: config.RETRY_DELAY_HOURS * 3_600_000,
    maxAttempts: config.MAX_RETRY_ATTEMPTS,
    waitDeadlineMs: config.REPAIR_WAIT_MINUTES * 60_000,
    pollMs: POLL_MS,
  };
}
