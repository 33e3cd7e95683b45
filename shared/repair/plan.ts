// Dry run: the whole machine walked read-only. Every step a repair would take is journaled as
// `planned`; nothing is sent that changes RD, Sonarr/Radarr, Plex or the library.

import { magnetFor } from "../clients/real-debrid.ts";
import { planArr, removableLinks } from "./links.ts";
import { infoOrNull, type StepDeps, selectedPaths } from "./steps.ts";
import { type ActionEntry, actionInsert, type Repair } from "./store.ts";

/** Journals what repair `r` would do from its current state; returns how many actions it planned. */
export async function planRepair(deps: StepDeps, r: Repair, runId: string, job: string): Promise<number> {
  const entries: ActionEntry[] = [];
  const plan = (kind: string, target: string, detail?: Record<string, unknown>) =>
    entries.push({ runId, job, kind, target, repairId: r.id, ...(detail ? { detail } : {}) });
  const replace = (oldFiles: readonly string[] | null, oldExists: boolean) => {
    plan("select_files", r.newTorrentId ?? "(new torrent)", { paths: oldFiles?.length ? oldFiles : "all" });
    if (oldExists && r.torrentId) {
      plan("delete_old_torrent", r.torrentId, {
        hash: r.hash,
        after: "the new torrent is downloaded with the same files",
      });
    }
  };

  switch (r.state) {
    case "queued":
    case "adding": {
      const old = r.torrentId ? await infoOrNull(deps.rd, r.torrentId) : null;
      const status = old?.status ?? null;
      if (status === "virus") {
        plan("delete_old_torrent", r.torrentId ?? r.hash, { hash: r.hash, why: "virus" });
      } else if (status === null && r.reason !== "symlink_broken" && r.reason !== "manual") {
        plan("cancel_repair", r.hash, { why: "torrent gone from RD" });
      } else if (status === "downloaded" && r.reason.startsWith("status:")) {
        plan("finish_repair", r.hash, { why: "recovered by itself" });
      } else {
        plan("add_magnet", r.hash, { magnet: magnetFor(r.hash, r.filename ?? r.hash), replaces: r.torrentId });
        replace(old ? selectedPaths(old) : r.oldFiles, old !== null);
      }
      break;
    }
    case "added":
    case "selecting":
    case "waiting":
      replace(r.oldFiles, r.torrentId !== null);
      break;
    case "deleting_old":
      plan("delete_old_torrent", r.torrentId ?? r.hash, { hash: r.hash, why: r.outcome ?? "repaired" });
      break;
    case "discarding":
      plan("delete_new_torrent", r.newTorrentId ?? r.hash, { hash: r.hash, why: r.outcome });
      break;
    case "unlinking":
    case "rearr": {
      const links = r.state === "unlinking" ? await removableLinks(deps, r) : undefined;
      for (const path of links ?? []) plan("unlink", path, { reason: "infringing" });
      for (const item of r.arrPlan ?? (await planArr(deps, r, links))) plan("arr_command", item.key, { ...item });
      break;
    }
    default:
      break;
  }
  const now = deps.now();
  await deps.db.batch(
    [
      ...entries.map((e) => actionInsert(e, "planned", now)),
      { sql: "UPDATE repairs SET planned_at = ? WHERE id = ?", args: [now, r.id] },
    ],
    "write",
  );
  return entries.length;
}
