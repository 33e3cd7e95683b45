// Classification rules for stuck or failed downloads: built-in defaults from the seed's table, which a
// JSON rules file (QBIT_RULES_FILE) can override per class and per category. Pure: no I/O here.

import * as v from "valibot";

/** What a rule does once its strikes are reached. */
export const QBIT_ACTIONS = [
  "remove_blocklist_search", // remove from the client, blocklist the release, search that episode/movie again
  "blocklist_search", // blocklist + search; the download stays in the client (e.g. still seeding)
  "remove_search", // remove from the client, search again, no blocklist (the release is fine)
  "remove_alert", // remove and tell the user; the release is not at fault (disk full, permissions)
  "blocklist", // blocklist only, no new search
  "alert", // tell the user, touch nothing
  "ignore", // known-harmless (e.g. a tracker that is down for a while)
] as const;
export type QbitAction = (typeof QBIT_ACTIONS)[number];

/** Where a rule's patterns look. */
export const EVIDENCE_SOURCES = ["tracker", "log", "arr", "state"] as const;
export type EvidenceSource = (typeof EVIDENCE_SOURCES)[number];

/** One class of problem: what it looks like, what to do, after how many consecutive checks. */
export interface QbitRule {
  class: string;
  /** Case-insensitive substrings, or /regex/flags. */
  patterns: string[];
  sources: EvidenceSource[];
  action: QbitAction;
  strikes: number;
}

/**
 * The defaults, in evaluation order: the first rule matching any evidence wins. Transient tracker
 * trouble comes before "tracker" so a tracker that is down is never read as an unregistered torrent.
 */
export const DEFAULT_RULES: readonly QbitRule[] = [
  {
    class: "tracker_transient",
    patterns: [
      "tracker is down",
      "bad gateway",
      "gateway time",
      "service unavailable",
      "internal server error",
      "temporarily",
      "try again",
      "maintenance",
      "overloaded",
      "too many requests",
      "/\\b50[0-4]\\b/",
    ],
    sources: ["tracker"],
    action: "ignore",
    strikes: 1,
  },
  {
    class: "authorization",
    patterns: ["unauthorized", "invalid passkey", "passkey", "not authorized", "authentication", "banned"],
    sources: ["tracker", "log"],
    action: "blocklist",
    strikes: 2,
  },
  {
    class: "tracker",
    patterns: [
      "unregistered",
      "not registered",
      "torrent not found",
      "infohash not found",
      "torrent does not exist",
      "torrent has been deleted",
      "trumped",
      "nuked",
      "dupe",
      "announce failed",
      "tracker error",
    ],
    sources: ["tracker", "arr"],
    action: "blocklist_search",
    strikes: 2,
  },
  {
    class: "connection",
    patterns: [
      "timed out",
      "timeout",
      "name resolution",
      "no such host",
      "host not found",
      "could not resolve",
      "no route to host",
      "connection refused",
      "network is unreachable",
    ],
    sources: ["tracker", "log"],
    action: "remove_blocklist_search",
    strikes: 3,
  },
  {
    class: "file",
    patterns: [
      "no space left",
      "disk full",
      "not enough space",
      "permission denied",
      "read-only file system",
      "missing files",
      "missingfiles",
    ],
    sources: ["log", "arr", "state"],
    action: "remove_alert",
    strikes: 2,
  },
  {
    class: "ratio",
    patterns: ["ratio limit", "upload limit", "seeding time limit"],
    sources: ["tracker", "log", "arr"],
    action: "remove_search",
    strikes: 1,
  },
  {
    class: "metadata",
    patterns: ["state:metadl", "state:forcedmetadl", "downloading metadata"],
    sources: ["state", "arr"],
    action: "remove_blocklist_search",
    strikes: 6,
  },
  {
    class: "stalled",
    patterns: ["state:stalleddl", "stalled with no connections"],
    sources: ["state", "arr"],
    action: "remove_blocklist_search",
    strikes: 6,
  },
  {
    // qBittorrent says "error" but nothing says why: tell the user, remove nothing.
    class: "client_error",
    patterns: ["state:error"],
    sources: ["state"],
    action: "alert",
    strikes: 2,
  },
];

const Pattern = v.pipe(
  v.string(),
  v.minLength(1, "a pattern may not be empty"),
  v.check((p) => regexOf(p) !== undefined || !/^\/.*\/[a-z]*$/.test(p), "an invalid /regex/"),
);
const RuleOverride = v.strictObject({
  patterns: v.optional(v.array(Pattern)),
  sources: v.optional(v.array(v.picklist(EVIDENCE_SOURCES))),
  action: v.optional(v.picklist(QBIT_ACTIONS)),
  strikes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
});
const ClassName = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "class names are lower_snake_case"));
const NewRule = v.strictObject({
  class: ClassName,
  patterns: v.pipe(v.array(Pattern), v.minLength(1)),
  sources: v.optional(v.array(v.picklist(EVIDENCE_SOURCES)), ["tracker", "log", "arr"]),
  action: v.picklist(QBIT_ACTIONS),
  strikes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)), 3),
});

/** The rules file: overrides of built-in classes, extra rules, per-category overrides and ignores. */
export const RulesFile = v.strictObject({
  /** Per built-in class: replace patterns/sources/action/strikes. */
  classes: v.optional(v.record(ClassName, RuleOverride), {}),
  /** Extra rules, evaluated before the built-in ones. */
  rules: v.optional(v.array(NewRule), []),
  /** Per qBittorrent category: class overrides, or `ignore: true` to leave the category alone. */
  categories: v.optional(
    v.record(
      v.pipe(v.string(), v.minLength(1)),
      v.strictObject({ ignore: v.optional(v.boolean()), classes: v.optional(v.record(ClassName, RuleOverride)) }),
    ),
    {},
  ),
  ignoreTags: v.optional(v.array(v.string()), []),
  ignoreCategories: v.optional(v.array(v.string()), []),
});
export type RulesFileInput = v.InferInput<typeof RulesFile>;

/** The rules in force: the ordered list, and per category its own list or null (ignored). */
export interface RuleSet {
  rules: readonly QbitRule[];
  byCategory: ReadonlyMap<string, readonly QbitRule[] | null>;
  ignoreTags: ReadonlySet<string>;
}

/** Builds the rule set from a parsed rules file (or the defaults when there is none). */
export function buildRuleSet(
  file: v.InferOutput<typeof RulesFile> | null,
  extra: { ignoreTags?: readonly string[]; ignoreCategories?: readonly string[] } = {},
): RuleSet {
  const f = file ?? { classes: {}, rules: [], categories: {}, ignoreTags: [], ignoreCategories: [] };
  const known = new Set(DEFAULT_RULES.map((r) => r.class));
  for (const name of Object.keys(f.classes)) {
    if (!known.has(name)) throw new Error(`classes.${name}: no built-in class by that name (${[...known].join(", ")})`);
  }
  const apply = (base: readonly QbitRule[], overrides: Record<string, v.InferOutput<typeof RuleOverride>>) =>
    base.map((r) => ({ ...r, ...dropUndefined(overrides[r.class] ?? {}) }));
  const rules = [...f.rules.map((r) => ({ ...r }) as QbitRule), ...apply(DEFAULT_RULES, f.classes)];
  const byCategory = new Map<string, readonly QbitRule[] | null>();
  for (const c of [...f.ignoreCategories, ...(extra.ignoreCategories ?? [])]) byCategory.set(c, null);
  for (const [cat, o] of Object.entries(f.categories)) {
    byCategory.set(cat, o.ignore ? null : apply(rules, o.classes ?? {}));
  }
  return { rules, byCategory, ignoreTags: new Set([...f.ignoreTags, ...(extra.ignoreTags ?? [])]) };
}

/** Parses a rules file's text; every problem is named by its JSON path. */
export function parseRulesFile(text: string, source: string): RuleSet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = v.safeParse(RulesFile, json);
  if (!r.success) {
    const lines = r.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`);
    throw new Error(`${source}: ${lines.join("; ")}`);
  }
  try {
    return buildRuleSet(r.output);
  } catch (err) {
    throw new Error(`${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A /regex/flags pattern compiled, or undefined when the text is a plain substring or invalid. */
export function regexOf(pattern: string): RegExp | undefined {
  const m = /^\/(.*)\/([a-z]*)$/.exec(pattern);
  if (!m) return undefined;
  try {
    return new RegExp(m[1] ?? "", (m[2] ?? "").includes("i") ? m[2] : `${m[2] ?? ""}i`);
  } catch {
    return undefined;
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}
