import type { Row } from "@libsql/client";
import * as v from "valibot";
import type { Db } from "./db.ts";

/** Milliseconds as ISO-8601 UTC (the API's time format), null stays null. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** `?limit=&offset=` for list routes: a whole number 1..max (default 50), and an offset (default 0). */
export function pageQuery(max: number) {
  return {
    limit: v.optional(
      v.pipe(v.string(), v.regex(/^\d+$/, "a whole number"), v.transform(Number), v.minValue(1), v.maxValue(max)),
      "50",
    ),
    offset: v.optional(
      v.pipe(v.string(), v.regex(/^\d+$/, "a whole number"), v.transform(Number), v.maxValue(1_000_000_000)),
      "0",
    ),
  };
}

/** A LIKE pattern matching `text` anywhere, its own % _ \ taken literally (use with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}

/**
 * Totals of recent queries, reused for a few seconds: counting a filter over 100k torrents reads the
 * whole table (10-20 ms on the server's only thread), the page itself ~1 ms. A list route under load
 * answers from the cache; a total may lag the table by `ttlMs`.
 */
export class CountCache {
  readonly #entries = new Map<string, { n: number; at: number }>();
  constructor(
    readonly ttlMs = 5_000,
    readonly max = 64,
  ) {}
  get(key: string, now: number): number | undefined {
    const e = this.#entries.get(key);
    return e && now - e.at < this.ttlMs ? e.n : undefined;
  }
  set(key: string, n: number, now: number): void {
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value ?? "");
    this.#entries.set(key, { n, at: now });
  }
}

/** One page of a filtered table and the filter's total, for the list routes. */
export async function pagedRows(
  db: Db,
  q: { from: string; where: string[]; args: (string | number)[]; orderBy: string; limit: number; offset: number },
  counts?: CountCache,
): Promise<{ total: number; rows: Row[] }> {
  const clause = q.where.length > 0 ? `WHERE ${q.where.join(" AND ")}` : "";
  const countSql = `SELECT count(*) AS n FROM ${q.from} ${clause}`;
  const key = `${countSql}\u0000${JSON.stringify(q.args)}`;
  const now = Date.now();
  const cached = counts?.get(key, now);
  const [count, page] = await Promise.all([
    cached !== undefined ? null : db.execute({ sql: countSql, args: q.args }),
    db.execute({
      sql: `SELECT * FROM ${q.from} ${clause} ORDER BY ${q.orderBy} LIMIT ? OFFSET ?`,
      args: [...q.args, q.limit, q.offset],
    }),
  ]);
  const total = cached ?? Number(count?.rows[0]?.n ?? 0);
  if (cached === undefined) counts?.set(key, total, now);
  return { total, rows: page.rows };
}
