import type { Transaction } from "@libsql/client";
import type { Db } from "../db.ts";
import type { ScanCursor } from "./full-scan.ts";

/** The stored state of a scan (the full scan's cursor lives here between runs). */
export interface ScanProgress extends ScanCursor {
  scan: string;
  status: "idle" | "pending" | "running" | "completed" | "failed";
  total: number | null;
  seen: number;
  pages: number;
  startedAt: number | null;
  updatedAt: number | null;
  completedAt: number | null;
  lastError: string | null;
  verify: boolean;
}

const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));

/** Reads a scan's progress (a fresh idle one when it never ran). */
export async function readProgress(db: Db | Transaction, scan: string): Promise<ScanProgress> {
  const rs = await db.execute({ sql: "SELECT * FROM scan_progress WHERE scan = ?", args: [scan] });
  const r = rs.rows[0];
  if (!r) {
    return {
      scan,
      status: "idle",
      generation: 0,
      phase: "body",
      offsetHint: 0,
      cursorAdded: null,
      cursorIds: [],
      boundary: null,
      headTop: null,
      total: null,
      seen: 0,
      pages: 0,
      startedAt: null,
      updatedAt: null,
      completedAt: null,
      lastError: null,
      verify: false,
    };
  }
  return {
    scan,
    status: String(r.status) as ScanProgress["status"],
    generation: Number(r.generation),
    phase: r.phase === "head" ? "head" : "body",
    offsetHint: Number(r.offset_hint),
    cursorAdded: num(r.cursor_added),
    cursorIds: r.cursor_ids ? (JSON.parse(String(r.cursor_ids)) as string[]) : [],
    boundary: num(r.boundary),
    headTop: num(r.head_top),
    total: num(r.total),
    seen: Number(r.seen),
    pages: Number(r.pages),
    startedAt: num(r.started_at),
    updatedAt: num(r.updated_at),
    completedAt: num(r.completed_at),
    lastError: r.last_error === null ? null : String(r.last_error),
    verify: Number(r.verify) === 1,
  };
}

/** Writes a scan's progress (inside the transaction that wrote the page it describes). */
export async function writeProgress(db: Db | Transaction, p: ScanProgress): Promise<void> {
  await db.execute({
    sql: `INSERT INTO scan_progress (scan, generation, status, phase, offset_hint, cursor_added, cursor_ids, boundary, head_top,
            total, seen, pages, started_at, updated_at, completed_at, last_error, verify)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (scan) DO UPDATE SET generation = excluded.generation,
            -- a rescan asked for while this generation's run was in flight stays asked for
            status = CASE WHEN scan_progress.status = 'pending' AND scan_progress.generation = excluded.generation
                          THEN 'pending' ELSE excluded.status END,
            phase = excluded.phase,
            offset_hint = excluded.offset_hint, cursor_added = excluded.cursor_added, cursor_ids = excluded.cursor_ids,
            boundary = excluded.boundary, head_top = excluded.head_top,
            total = excluded.total, seen = excluded.seen, pages = excluded.pages, started_at = excluded.started_at,
            updated_at = excluded.updated_at, completed_at = excluded.completed_at, last_error = excluded.last_error,
            verify = excluded.verify`,
    args: [
      p.scan,
      p.generation,
      p.status,
      p.phase,
      p.offsetHint,
      p.cursorAdded,
      JSON.stringify(p.cursorIds),
      p.boundary,
      p.headTop,
      p.total,
      p.seen,
      p.pages,
      p.startedAt,
      p.updatedAt,
      p.completedAt,
      p.lastError,
      p.verify ? 1 : 0,
    ],
  });
}

/** Asks for a new full scan from the top at the next run (`rdtm scan reset`, POST /api/scan/full/reset). */
export async function requestFullRescan(db: Db, now: number): Promise<ScanProgress> {
  const p = await readProgress(db, "full");
  const next: ScanProgress = { ...p, status: "pending", updatedAt: now, lastError: null };
  await writeProgress(db, next);
  return next;
}
