import type { Row } from "@libsql/client";
import type { Hono, MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Db } from "../db.ts";
import { containsPattern, iso, pagedRows, pageQuery } from "../query.ts";
import { FINAL_STATES, REPAIR_STATES } from "./machine.ts";

const States = v.pipe(
  v.string(),
  v.regex(/^[a-z_]+(,[a-z_]+)*$/, "comma-separated states"),
  v.check(
    (s) => s.split(",").every((x) => (REPAIR_STATES as readonly string[]).includes(x)),
    `states are ${REPAIR_STATES.join(", ")}`,
  ),
);
const HashParam = v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{40}$/, "a 40-hex info hash"), v.toLowerCase());
const RepairsQuery = v.object({
  ...pageQuery(500),
  state: v.optional(States),
  hash: v.optional(HashParam),
});
const ActionsQuery = v.object({
  ...pageQuery(500),
  kind: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]+$/, "an action kind"))),
  state: v.optional(v.picklist(["planned", "pending", "done", "failed"])),
  job: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "a job name"))),
  repair: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "a repair id"), v.transform(Number))),
});
const Id = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "a repair id"), v.transform(Number));

const str = (x: unknown) => (x === null || x === undefined ? null : String(x));
const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));

/** A repair row as the API and the CLI show it. */
export function serializeRepair(r: Row) {
  return {
    id: Number(r.id),
    torrentId: str(r.torrent_id),
    hash: String(r.hash),
    filename: str(r.filename),
    reason: String(r.reason),
    priority: Number(r.priority),
    state: String(r.state),
    attempt: Number(r.attempt),
    nextAttemptAt: iso(Number(r.next_attempt_at)),
    newTorrentId: str(r.new_torrent_id),
    errorClass: str(r.error_class),
    lastError: str(r.last_error),
    deadlineAt: iso(num(r.deadline_at)),
    createdAt: iso(Number(r.created_at)),
    updatedAt: iso(Number(r.updated_at)),
    finishedAt: iso(num(r.finished_at)),
  };
}

function serializeAction(r: Row) {
  return {
    id: Number(r.id),
    runId: str(r.run_id),
    job: String(r.job),
    kind: String(r.kind),
    target: String(r.target),
    detail: r.detail === null ? null : (JSON.parse(String(r.detail)) as unknown),
    state: String(r.state),
    repairId: num(r.repair_id),
    createdAt: iso(Number(r.created_at)),
    updatedAt: iso(Number(r.updated_at)),
    error: str(r.error),
  };
}

/** Why a repair cannot be retried, as an HTTP answer. */
export class RepairConflict extends Error {
  override name = "RepairConflict";
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
  }
}

/**
 * Makes a repair due now. An open one keeps its progress; a failed or cancelled one starts over from
 * the beginning with its attempts reset, and its hash leaves the permanent failures (the user's reset).
 */
export async function retryRepair(db: Db, id: number, now: number): Promise<Row> {
  const rs = await db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id] });
  const row = rs.rows[0];
  if (!row) throw new RepairConflict(`no repair ${id}`, 404);
  const state = String(row.state) as (typeof REPAIR_STATES)[number];
  if (state === "done") throw new RepairConflict(`repair ${id} is done; nothing to retry`, 409);
  if (!FINAL_STATES.has(state)) {
    await db.execute({
      sql: "UPDATE repairs SET next_attempt_at = ?, updated_at = ? WHERE id = ?",
      args: [now, now, id],
    });
  } else {
    const open = await db.execute({
      sql: "SELECT id FROM repairs WHERE hash = ? AND state NOT IN ('done', 'failed', 'cancelled')",
      args: [String(row.hash)],
    });
    if (open.rows[0]) throw new RepairConflict(`repair ${String(open.rows[0].id)} is already open for this hash`, 409);
    await db.batch(
      [
        {
          sql: `UPDATE repairs SET state = 'queued', attempt = 0, transient = 0, next_attempt_at = ?, outcome = NULL,
                  error_class = NULL, last_error = NULL, new_torrent_id = NULL, select_ids = NULL, step_started_at = NULL,
                  deadline_at = NULL, arr_plan = NULL, planned_at = NULL, finished_at = NULL, updated_at = ?
                WHERE id = ?`,
          args: [now, now, id],
        },
        { sql: "UPDATE permanent_failures SET reset_at = ? WHERE hash = ?", args: [now, String(row.hash)] },
      ],
      "write",
    );
  }
  const after = await db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id] });
  return after.rows[0] as Row;
}

/**
 * The repair of a torrent (by RD id or info hash) for `rdtm repair`: the open one, else the last one
 * retried, else a new manual repair. A hash RDTM has never seen is repaired by re-adding it.
 */
export async function repairFor(db: Db, ref: string, now: number): Promise<Row> {
  const isHash = /^[0-9a-fA-F]{40}$/.test(ref);
  const t = await db.execute({
    sql: isHash
      ? "SELECT id, hash, filename FROM torrents WHERE hash = ? ORDER BY added_at DESC LIMIT 1"
      : "SELECT id, hash, filename FROM torrents WHERE id = ?",
    args: [isHash ? ref.toLowerCase() : ref],
  });
  const torrent = t.rows[0];
  if (!torrent && !isHash)
    throw new RepairConflict(`no torrent '${ref}' known (run rd-quick-scan, or give its hash)`, 404);
  const hash = torrent ? String(torrent.hash) : ref.toLowerCase();
  const last = await db.execute({ sql: "SELECT * FROM repairs WHERE hash = ? ORDER BY id DESC LIMIT 1", args: [hash] });
  const row = last.rows[0];
  if (row && String(row.state) !== "done") return retryRepair(db, Number(row.id), now);
  const ins = await db.execute({
    sql: `INSERT INTO repairs (torrent_id, hash, filename, reason, priority, state, attempt, next_attempt_at, created_at, updated_at)
          VALUES (?, ?, ?, 'manual', 0, 'queued', 0, ?, ?, ?) RETURNING *`,
    args: [str(torrent?.id), hash, str(torrent?.filename), now, now, now],
  });
  await db.execute({ sql: "UPDATE permanent_failures SET reset_at = ? WHERE hash = ?", args: [now, hash] });
  return ins.rows[0] as Row;
}

/** The WHERE of a journal query (API and dashboard): by kind, state, job, repair, and text in target or detail. */
export function actionsFilter(f: {
  kind?: string | undefined;
  state?: string | undefined;
  job?: string | undefined;
  repair?: number | undefined;
  q?: string | undefined;
}): { where: string[]; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  for (const [col, val] of [
    ["kind", f.kind],
    ["state", f.state],
    ["job", f.job],
    ["repair_id", f.repair],
  ] as const) {
    if (val === undefined) continue;
    where.push(`${col} = ?`);
    args.push(val);
  }
  if (f.q) {
    where.push("(target LIKE ? ESCAPE '\\' OR detail LIKE ? ESCAPE '\\')");
    args.push(containsPattern(f.q), containsPattern(f.q));
  }
  return { where, args };
}

/** Mounts /api/repairs, /api/actions and /api/permanent-failures; mutating routes behind `auth`. */
export function mountRepairApi(app: Hono, db: Db, auth: MiddlewareHandler, now: () => number = Date.now): void {
  const bad = (issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]) => ({
    error: "invalid request",
    issues: v.flatten(issues).nested,
  });

  app.get("/api/repairs", async (c) => {
    const parsed = v.safeParse(RepairsQuery, c.req.query());
    if (!parsed.success) return c.json(bad(parsed.issues), 400);
    const { limit, offset, state, hash } = parsed.output;
    const states = state?.split(",") ?? [];
    const where: string[] = [];
    const args: string[] = [];
    if (states.length > 0) {
      where.push(`state IN (${states.map(() => "?").join(",")})`);
      args.push(...states);
    }
    if (hash) {
      where.push("hash = ?");
      args.push(hash);
    }
    const page = await pagedRows(db, {
      from: "repairs",
      where,
      args,
      orderBy: "priority, next_attempt_at, id",
      limit,
      offset,
    });
    return c.json({ total: page.total, limit, offset, items: page.rows.map(serializeRepair) });
  });

  app.get("/api/repairs/:id", async (c) => {
    const id = v.safeParse(Id, c.req.param("id"));
    if (!id.success) return c.json(bad(id.issues), 400);
    const [repair, actions, attempts] = await Promise.all([
      db.execute({ sql: "SELECT * FROM repairs WHERE id = ?", args: [id.output] }),
      db.execute({ sql: "SELECT * FROM actions WHERE repair_id = ? ORDER BY id", args: [id.output] }),
      db.execute({ sql: "SELECT * FROM attempts WHERE repair_id = ? ORDER BY id", args: [id.output] }),
    ]);
    const row = repair.rows[0];
    if (!row) return c.json({ error: `no repair ${id.output}` }, 404);
    return c.json({
      ...serializeRepair(row),
      actions: actions.rows.map(serializeAction),
      attempts: attempts.rows.map((a) => ({
        at: iso(Number(a.at)),
        endpoint: String(a.endpoint),
        status: num(a.status),
        errorCode: num(a.error_code),
        latencyMs: num(a.latency_ms),
        message: str(a.message),
      })),
    });
  });

  app.post("/api/repairs/:id/retry", auth, async (c) => {
    const id = v.safeParse(Id, c.req.param("id"));
    if (!id.success) return c.json(bad(id.issues), 400);
    try {
      return c.json(serializeRepair(await retryRepair(db, id.output, now())));
    } catch (err) {
      if (err instanceof RepairConflict) return c.json({ error: err.message }, err.status);
      throw err;
    }
  });

  app.get("/api/actions", async (c) => {
    const parsed = v.safeParse(ActionsQuery, c.req.query());
    if (!parsed.success) return c.json(bad(parsed.issues), 400);
    const { limit, offset, ...filter } = parsed.output;
    const page = await pagedRows(db, { from: "actions", ...actionsFilter(filter), orderBy: "id DESC", limit, offset });
    return c.json({ total: page.total, limit, offset, items: page.rows.map(serializeAction) });
  });

  app.get("/api/permanent-failures", async (c) => {
    const parsed = v.safeParse(v.object(pageQuery(500)), c.req.query());
    if (!parsed.success) return c.json(bad(parsed.issues), 400);
    const { limit, offset } = parsed.output;
    const page = await pagedRows(db, {
      from: "permanent_failures",
      where: ["reset_at IS NULL"],
      args: [],
      orderBy: "failed_at DESC",
      limit,
      offset,
    });
    return c.json({
      total: page.total,
      limit,
      offset,
      items: page.rows.map((r) => ({
        hash: String(r.hash),
        torrentId: str(r.torrent_id),
        filename: str(r.filename),
        errorType: String(r.error_type),
        detail: str(r.detail),
        processed: Number(r.processed) === 1,
        failedAt: iso(Number(r.failed_at)),
      })),
    });
  });

  app.post("/api/permanent-failures/:hash/reset", auth, async (c) => {
    const hash = v.safeParse(HashParam, c.req.param("hash"));
    if (!hash.success) return c.json(bad(hash.issues), 400);
    const rs = await db.execute({
      sql: "UPDATE permanent_failures SET reset_at = ? WHERE hash = ? AND reset_at IS NULL",
      args: [now(), hash.output],
    });
    if (rs.rowsAffected === 0) return c.json({ error: "no permanent failure for this hash" }, 404);
    return c.json({ hash: hash.output, reset: true });
  });
}
