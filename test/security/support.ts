import { expect } from "vitest";
import type { Db } from "../../shared/db.ts";

const SOAK = process.env.RDTM_SOAK === "1";

/** Runs per property: ~200 in CI, many more with RDTM_SOAK=1. */
export const RUNS = SOAK ? 20_000 : 200;

/** Per-test timeout for property files: the default in CI, minutes when soaking. */
export const PROPERTY_TIMEOUT_MS = SOAK ? 15 * 60_000 : 30_000;

/** Budget of one call of a pure parser on inputs of a few KB; catastrophic backtracking blows far past it. */
export const CALL_BUDGET_MS = SOAK ? 2_000 : 500;

/**
 * Time-boxes a synchronous call. JavaScript cannot interrupt a running regex, so the box is checked
 * after the call: exponential backtracking on the generated inputs takes seconds, far beyond the budget.
 */
export function timed<T>(fn: () => T, budgetMs = CALL_BUDGET_MS): T {
  const started = performance.now();
  try {
    return fn();
  } finally {
    const took = performance.now() - started;
    expect(took, `call took ${Math.round(took)} ms`).toBeLessThan(budgetMs);
  }
}

/** The same box for an async call (the parsers behind a client). */
export async function timedAsync<T>(fn: () => Promise<T>, budgetMs = CALL_BUDGET_MS): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const took = performance.now() - started;
    expect(took, `call took ${Math.round(took)} ms`).toBeLessThan(budgetMs);
  }
}

/** Every row of every table, as one string: equal snapshots mean the request changed nothing. */
export async function dbSnapshot(db: Db): Promise<string> {
  const tables = await db.execute(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  const out: Record<string, unknown[]> = {};
  for (const t of tables.rows) {
    const name = String(t.name);
    const rows = await db.execute(`SELECT * FROM "${name}" ORDER BY rowid`);
    out[name] = rows.rows.map((r) => ({ ...r }));
  }
  return JSON.stringify(out);
}

/** True for an error a parser may throw on bad input: a named Error with a message, not a crash of its own. */
export function isCrash(err: unknown): boolean {
  return (
    !(err instanceof Error) ||
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof ReferenceError ||
    err instanceof SyntaxError ||
    err.message.trim() === ""
  );
}
