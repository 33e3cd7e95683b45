import type { Db } from "../db.ts";

/** A logged-in dashboard session as the routes see it. */
export interface Session {
  idHash: string;
  csrf: string;
  expiresAt: number;
  flash: Flash | null;
}

/** A one-shot message shown on the next page after a control redirected. */
export interface Flash {
  kind: "ok" | "error";
  text: string;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = "rdtm_session";

// Sessions live in the database so a restart, or another process on the same sqld, keeps people logged in.
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS dashboard_sessions (
     id_hash     TEXT PRIMARY KEY,
     csrf        TEXT NOT NULL,
     created_at  INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     flash       TEXT
   )`,
  "CREATE INDEX IF NOT EXISTS dashboard_sessions_expires ON dashboard_sessions (expires_at)",
];

/**
 * Creates the sessions table once per process; a failure is retried by the next caller instead of
 * sticking. It looks before it writes: the Worker mounts the dashboard per request, and a write
 * transaction each time would queue behind running jobs.
 */
export function sessionSchema(db: Db): () => Promise<void> {
  let done: Promise<void> | undefined;
  const ensure = async () => {
    const rs = await db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dashboard_sessions'");
    if (rs.rows.length === 0) await db.batch(SCHEMA, "write");
  };
  return () => {
    done ??= ensure().then(
      () => undefined,
      (err: unknown) => {
        done = undefined;
        throw err;
      },
    );
    return done;
  };
}

const encoder = new TextEncoder();

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** 32 random bytes, base64url: session ids and CSRF tokens. */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * The stored key of a session: an HMAC of its id keyed by API_TOKEN. A database leak gives no usable
 * cookie, and rotating API_TOKEN logs every session out.
 */
export async function sessionKey(apiToken: string, id: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(apiToken), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(`rdtm-dashboard-session:${id}`)));
}

/** Stores a new session (dropping expired ones) and returns the cookie value and CSRF token. */
export async function createSession(
  db: Db,
  apiToken: string,
  now: number,
  ttlMs: number,
): Promise<{ id: string; csrf: string }> {
  const id = randomToken();
  const csrf = randomToken();
  await db.batch(
    [
      { sql: "DELETE FROM dashboard_sessions WHERE expires_at <= ?", args: [now] },
      {
        sql: "INSERT INTO dashboard_sessions (id_hash, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)",
        args: [await sessionKey(apiToken, id), csrf, now, now + ttlMs],
      },
    ],
    "write",
  );
  return { id, csrf };
}

/** The live session behind a cookie value, or null when unknown or expired. */
export async function findSession(db: Db, apiToken: string, id: string, now: number): Promise<Session | null> {
  if (!/^[\w-]{20,100}$/.test(id)) return null;
  const rs = await db.execute({
    sql: "SELECT id_hash, csrf, expires_at, flash FROM dashboard_sessions WHERE id_hash = ? AND expires_at > ?",
    args: [await sessionKey(apiToken, id), now],
  });
  const r = rs.rows[0];
  if (!r) return null;
  return {
    idHash: String(r.id_hash),
    csrf: String(r.csrf),
    expiresAt: Number(r.expires_at),
    flash: r.flash === null ? null : parseFlash(String(r.flash)),
  };
}

// Stored as "<kind>:<text>": no JSON to fail on, and an unknown kind is simply not shown.
function parseFlash(stored: string): Flash | null {
  const i = stored.indexOf(":");
  const kind = stored.slice(0, i);
  return kind === "ok" || kind === "error" ? { kind, text: stored.slice(i + 1) } : null;
}

/** Leaves a message for the session's next page. */
export async function setFlash(db: Db, idHash: string, flash: Flash): Promise<void> {
  await db.execute({
    sql: "UPDATE dashboard_sessions SET flash = ? WHERE id_hash = ?",
    args: [`${flash.kind}:${flash.text}`, idHash],
  });
}

/** Marks the flash as shown. */
export async function clearFlash(db: Db, idHash: string): Promise<void> {
  await db.execute({ sql: "UPDATE dashboard_sessions SET flash = NULL WHERE id_hash = ?", args: [idHash] });
}

/** Ends a session (logout). */
export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.execute({ sql: "DELETE FROM dashboard_sessions WHERE id_hash = ?", args: [idHash] });
}
