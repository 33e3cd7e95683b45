import type { Db } from "../db.ts";

// One-second buckets: counting whole buckets over-counts by up to one bucket, so the limit holds in every
// 60 s window at the price of a 61 s effective window (5 s buckets cost 8% of the throughput, measured).
const BUCKET_MS = 1_000;
const WINDOW_MS = 60_000;
// Buckets counted for a window: enough whole buckets to cover the last 60 s from any instant inside the
// current bucket.
const SPAN = WINDOW_MS / BUCKET_MS + 1;

/**
 * Reserves one request in the budget every process on this database shares, in one statement.
 * Returns 0 when reserved, else how long to wait (for the shared pause or for room in the window).
 */
export async function reserveShared(db: Db, now: number, limitPerMinute: number): Promise<number> {
  const bucket = Math.floor(now / BUCKET_MS);
  const [insert, state] = await db.batch(
    [
      {
        sql: `INSERT INTO rd_budget (bucket, count)
              SELECT ?, 1 WHERE (SELECT pause_until FROM rd_limiter WHERE id = 1) <= ?
                AND (SELECT coalesce(sum(count), 0) FROM rd_budget WHERE bucket >= ?) < ?
              ON CONFLICT (bucket) DO UPDATE SET count = count + 1`,
        args: [bucket, now, bucket - SPAN + 1, limitPerMinute],
      },
      {
        sql: `SELECT (SELECT pause_until FROM rd_limiter WHERE id = 1) AS pause_until,
                     (SELECT min(bucket) FROM rd_budget WHERE bucket >= ?) AS oldest`,
        args: [bucket - SPAN + 1],
      },
      { sql: "DELETE FROM rd_budget WHERE bucket < ?", args: [bucket - 2 * SPAN] },
    ],
    "write",
  );
  if (insert?.rowsAffected === 1) return 0;
  const row = state?.rows[0];
  const pause = Number(row?.pause_until ?? 0) - now;
  if (pause > 0) return pause;
  // Room appears when the oldest counted bucket leaves the span.
  const oldest = Number(row?.oldest ?? bucket);
  return Math.max(50, (oldest + SPAN) * BUCKET_MS - now);
}

/** Shares a throttle with every process: all of them pause until `until`. */
export async function recordSharedThrottle(db: Db, now: number, until: number): Promise<void> {
  await db.execute({
    sql: "UPDATE rd_limiter SET pause_until = max(pause_until, ?), last_throttle_at = ? WHERE id = 1",
    args: [until, now],
  });
}

/** When any process last saw RD throttle (429/34/5), for the infringing-vs-throttling rule. */
export async function lastSharedThrottle(db: Db): Promise<number | null> {
  const rs = await db.execute("SELECT last_throttle_at FROM rd_limiter WHERE id = 1");
  const v = rs.rows[0]?.last_throttle_at;
  return v === null || v === undefined ? null : Number(v);
}
