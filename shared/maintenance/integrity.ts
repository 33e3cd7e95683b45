import { LibsqlError } from "@libsql/client";
import type { Db } from "../db.ts";

/** Result of SQLite's integrity check: ok, or the first problems it reported. */
export interface IntegrityResult {
  ok: boolean;
  problems: string[];
}

/**
 * Runs `PRAGMA integrity_check`, keeping at most `maxProblems` messages. Damage bad enough makes the
 * check itself fail with SQLITE_CORRUPT / SQLITE_NOTADB: that is a failed check too, not a crash.
 */
export async function checkIntegrity(db: Db, maxProblems = 20): Promise<IntegrityResult> {
  try {
    const rs = await db.execute(`PRAGMA integrity_check(${Math.max(1, Math.trunc(maxProblems))})`);
    const lines = rs.rows.map((r) => String(r[0]));
    const ok = lines.length === 1 && lines[0] === "ok";
    return { ok, problems: ok ? [] : lines };
  } catch (err) {
    if (err instanceof LibsqlError && /CORRUPT|NOTADB/.test(err.code)) return { ok: false, problems: [err.message] };
    throw err;
  }
}
