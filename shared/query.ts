import * as v from "valibot";

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
