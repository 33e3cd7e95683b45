import type { Row } from "@libsql/client";
import type { Db } from "../db.ts";
import { RepairConflict } from "../repair/api.ts";

// Only before a replacement torrent can exist: queued (also when deferred to a later attempt) or adding
// with no addMagnet in flight. Past that, cancelling would orphan a torrent on RD; the pipeline's own
// clean-up (discarding) is the way out.
const CANCELLABLE =
  "state IN ('queued', 'adding') AND step_started_at IS NULL AND new_torrent_id IS NULL AND outcome IS NULL";

/** Whether the dashboard offers Cancel for this repair row. */
export function isCancellable(r: Row): boolean {
  const state = String(r.state);
  return (
    (state === "queued" || state === "adding") &&
    r.step_started_at === null &&
    r.new_torrent_id === null &&
    (r.outcome ?? null) === null
  );
}

/** Cancels a repair that has no replacement torrent in flight; RepairConflict (404/409) otherwise. */
export async function cancelRepair(db: Db, id: number, now: number): Promise<void> {
  const rs = await db.execute({
    sql: `UPDATE repairs SET state = 'cancelled', finished_at = ?, updated_at = ?, last_error = 'cancelled from the dashboard'
          WHERE id = ? AND ${CANCELLABLE}`,
    args: [now, now, id],
  });
  if (rs.rowsAffected > 0) return;
  const row = (await db.execute({ sql: "SELECT state FROM repairs WHERE id = ?", args: [id] })).rows[0];
  if (!row) throw new RepairConflict(`no repair ${id}`, 404);
  throw new RepairConflict(
    `repair ${id} is ${String(row.state)} and may have a replacement torrent in flight; it cannot be cancelled now`,
    409,
  );
}
