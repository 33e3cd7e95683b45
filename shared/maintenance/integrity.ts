import type { Db } from "../db.ts";

/** Result of SQLite's integrity check: ok, or the first problems it reported. */
export interface IntegrityResult {
  ok: boolean;
  problems: string[];
}

/** Runs `PRAGMA integrity_check`, keeping at most `maxProblems` messages. */
export async function checkIntegrity(db: Db, maxProblems = 20): Promise<IntegrityResult> {
  const rs = await db.execute(`PRAGMA integrity_check(${Math.max(1, Math.trunc(maxProblems))})`);
  const lines = rs.rows.map((r) => String(r[0]));
  const ok = lines.length === 1 && lines[0] === "ok";
  return { ok, problems: ok ? [] : lines };
}
