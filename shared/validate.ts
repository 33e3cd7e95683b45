import * as v from "valibot";

/** A response that does not have the shape the service documents; names the offending field. */
export class MalformedResponseError extends Error {
  override name = "MalformedResponseError";
  constructor(
    readonly service: string,
    readonly endpoint: string,
    readonly problems: string[],
  ) {
    super(`${service} ${endpoint}: unexpected response: ${problems.slice(0, 3).join("; ")}`);
  }
}

/** `items[12].hash: expected 40 hex characters (got "xyz")`, one line per issue. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], root = "response"): string[] {
  return issues.map((issue) => {
    const path = (issue.path ?? [])
      .map((p) => (typeof p.key === "number" ? `[${p.key}]` : `.${String(p.key)}`))
      .join("");
    const got = issue.input === undefined ? "missing" : `got ${JSON.stringify(issue.input)?.slice(0, 60)}`;
    return `${root}${path}: ${issue.expected ? `expected ${issue.expected}` : issue.message} (${got})`;
  });
}

/** Parses an upstream body at the boundary; a wrong shape throws MalformedResponseError. */
export function parseResponse<S extends v.GenericSchema>(
  schema: S,
  data: unknown,
  where: { service: string; endpoint: string },
): v.InferOutput<S> {
  const r = v.safeParse(schema, data);
  if (r.success) return r.output;
  throw new MalformedResponseError(where.service, where.endpoint, describeIssues(r.issues));
}
