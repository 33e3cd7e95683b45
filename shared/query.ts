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

/** One page of a filtered table and the filter's total, for the list routes. */
export async function pagedRows(
  db: Db,
  q: { from: string; where: string[]; args: (string | number)[]; orderBy: string; limit: number; offset: number },
): Promise<{ total: number; rows: Row[] }> {
  const clause = q.where.length > 0 ? `WHERE ${q.where.join(" AND ")}` : "";
  const [count, page] = await Promise.all([
    db.execute({ sql: `SELECT count(*) AS n FROM ${q.from} ${clause}`, args: q.args }),
    db.execute({
      sql: `SELECT * FROM ${q.from} ${clause} ORDER BY ${q.orderBy} LIMIT ? OFFSET ?`,
      args: [...q.args, q.limit, q.offset],
    }),
  ]);
  return { total: Number(count.rows[0]?.n ?? 0), rows: page.rows };
}
