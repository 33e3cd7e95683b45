import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createClient } from "@libsql/client";
import { type Db, isFileUrl } from "../db.ts";
import type { BackupResult } from "../job.ts";

const BACKUP_NAME = /^rdtm-\d{8}-\d{6}-\d{3}\.db$/;
const COPY_CHUNK = 500;

/** File name of a backup taken at `now`: sortable, UTC. */
export function backupName(now: number): string {
  const iso = new Date(now).toISOString(); // 2026-11-22T04:00:00.123Z
  return `rdtm-${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}-${iso.slice(20, 23)}.db`;
}

/**
 * Online backup into `dir`, then keeps the newest `keep` files. A file database is copied by
 * `VACUUM INTO` (consistent, compact, readers and writers keep going); an sqld database is copied
 * table by table over the connection into a local file, since VACUUM INTO would write on the server.
 */
export async function backupDatabase(
  db: Db,
  dbUrl: string,
  opts: { dir: string; keep: number; now: number },
): Promise<BackupResult> {
  await mkdir(opts.dir, { recursive: true });
  const file = resolve(opts.dir, backupName(opts.now));
  if (isFileUrl(dbUrl)) await db.execute({ sql: "VACUUM INTO ?", args: [file] });
  else await copyOver(db, file);
  const bytes = (await stat(file)).size;
  return { file, bytes, removed: await rotate(opts.dir, opts.keep) };
}

async function rotate(dir: string, keep: number): Promise<string[]> {
  const names = (await readdir(dir))
    .filter((n) => BACKUP_NAME.test(n))
    .sort()
    .reverse();
  const old = names.slice(keep);
  for (const n of old) await rm(join(dir, n), { force: true });
  return old;
}

async function copyOver(src: Db, file: string): Promise<void> {
  const dest = createClient({ url: `file:${file}` });
  try {
    const schema = await src.execute(
      "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END",
    );
    const tables = schema.rows.filter((r) => r.type === "table").map((r) => String(r.name));
    for (const r of schema.rows.filter((r) => r.type === "table")) await dest.execute(String(r.sql));
    for (const table of tables) await copyTable(src, dest, table);
    for (const r of schema.rows.filter((r) => r.type !== "table")) await dest.execute(String(r.sql));
  } finally {
    dest.close();
  }
}

async function copyTable(src: Db, dest: Db, table: string): Promise<void> {
  const q = `"${table.replace(/"/g, '""')}"`;
  for (let lastRowid = -Infinity; ; ) {
    const rs = await src.execute({
      sql: `SELECT rowid AS __rowid, * FROM ${q} WHERE rowid > ? ORDER BY rowid LIMIT ${COPY_CHUNK}`,
      args: [Number.isFinite(lastRowid) ? lastRowid : -9_007_199_254_740_991],
    });
    if (rs.rows.length === 0) return;
    const cols = rs.columns.filter((c) => c !== "__rowid");
    // rowids kept: they are identity here (the torrent_keys watermark counts on torrents' rowids)
    const insert = `INSERT INTO ${q} (rowid, ${cols.map((c) => `"${c.replace(/"/g, '""')}"`).join(", ")}) VALUES (?, ${cols.map(() => "?").join(", ")})`;
    await dest.batch(
      rs.rows.map((row) => ({ sql: insert, args: [row.__rowid ?? null, ...cols.map((c) => row[c] ?? null)] })),
      "write",
    );
    lastRowid = Number(rs.rows.at(-1)?.__rowid);
    if (rs.rows.length < COPY_CHUNK) return;
  }
}
