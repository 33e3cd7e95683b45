/** The eleven statuses RD documents for a torrent. */
export const RD_STATUSES = [
  "magnet_error",
  "magnet_conversion",
  "waiting_files_selection",
  "queued",
  "downloading",
  "downloaded",
  "error",
  "virus",
  "compressing",
  "uploading",
  "dead",
] as const;

/** One RD torrent status. */
export type RdStatus = (typeof RD_STATUSES)[number];

/** How RDTM groups statuses: what needs repair, what may be stuck, what is fine. */
export type StatusGroup = "failed" | "waiting" | "active" | "done" | "unknown";

const GROUP: Record<RdStatus, StatusGroup> = {
  magnet_error: "failed",
  error: "failed",
  virus: "failed",
  dead: "failed",
  magnet_conversion: "waiting",
  waiting_files_selection: "waiting",
  queued: "waiting",
  downloading: "active",
  compressing: "active",
  uploading: "active",
  downloaded: "done",
};

/** Group of a status; a status RD adds later is "unknown" and never triggers a repair. */
export function statusGroup(status: string): StatusGroup {
  return (GROUP as Record<string, StatusGroup>)[status] ?? "unknown";
}

/** Statuses in which a torrent that stays too long is stuck (it needs action, RD will not move it). */
export const STUCK_STATUSES: readonly string[] = ["magnet_conversion", "waiting_files_selection"];
