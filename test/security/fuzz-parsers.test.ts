// Property-based fuzzing of the pure parsers and decision functions: arbitrary input never crashes them
// (only their documented errors), never hangs them (each call time-boxed, plus pathological inputs), and
// their invariants hold. ~200 runs per property; RDTM_SOAK=1 runs many more.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it, vi } from "vitest";
import { withDotenv } from "../../shared/dotenv.ts";
import {
  buildMatchIndex,
  FUZZY_THRESHOLD,
  matchTorrent,
  normalizeName,
  type TorrentRef,
} from "../../shared/library/match.ts";
import { DEFAULT_MOUNT_DIRECTORIES, parseMountTarget } from "../../shared/library/zurg-path.ts";
import { classify, type Evidence, evidenceTexts, matches } from "../../shared/qbit/classify.ts";
import {
  buildRuleSet,
  DEFAULT_RULES,
  EVIDENCE_SOURCES,
  parseRulesFile,
  QBIT_ACTIONS,
  type QbitRule,
  type RuleSet,
} from "../../shared/qbit/rules.ts";
import { classifyRdError, type RdErrorClass } from "../../shared/rd/errors.ts";
import {
  advance,
  type Observation,
  REPAIR_STATES,
  type RepairPolicy,
  type RepairView,
  type Transition,
} from "../../shared/repair/machine.ts";
import { isCrash, PROPERTY_TIMEOUT_MS, RUNS, timed } from "./support.ts";

vi.setConfig({ testTimeout: PROPERTY_TIMEOUT_MS });

/** Text that looks like what these parsers meet, and text that does not. */
const anyText = (maxLength = 200) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.stringMatching(/^[A-Za-z0-9 ._\-[\]()【】'’]{0,80}$/),
  );

/** Pathological inputs for backtracking regexes (runs, unclosed brackets, separators, marks). */
const PATHOLOGICAL = (n: number) => [
  "(".repeat(n),
  "[".repeat(n),
  "【".repeat(n),
  `${" ".repeat(n)}x`,
  `${"._-".repeat(n / 3)}x`,
  `${"-a".repeat(n / 2)}!`,
  `${"a".repeat(n)}!`,
  `${"[a]".repeat(n / 3)}x`,
  `${"(a) ".repeat(n / 4)}x`,
  `${"www.a.com - ".repeat(n / 12)}x`,
  `${"a\u0301".repeat(n / 2)}`,
  `${"/".repeat(n)}`,
  `${"./".repeat(n / 2)}x`,
  `${"s01e01".repeat(n / 6)}`,
  `${".mkv".repeat(n / 4)}`,
  `${"h 26".repeat(n / 4)}`,
  `${"<".repeat(n)}`,
  `${"\\".repeat(n)}`,
];

describe("parseMountTarget", () => {
  const segment = fc.oneof(
    fc.constantFrom("", ".", "..", "...", "__all__", "torrents", "shows", ".hidden", "a b", "x\\y", "%2e%2e", "..."),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 6 }),
  );
  const pathArb = fc
    .tuple(fc.boolean(), fc.array(segment, { maxLength: 8 }), fc.boolean())
    .map(([abs, parts, trailing]) => `${abs ? "/" : ""}${parts.join("/")}${trailing ? "/" : ""}`);
  const dirsArb = fc.oneof(
    fc.constant(DEFAULT_MOUNT_DIRECTORIES),
    fc.subarray(["", "__all__", "torrents", "shows", "..", ".", "a/b", "x"]),
    fc.array(segment, { maxLength: 4 }),
  );
  // Random pairs, and targets built as mount/<directory>/<name>/<file> so the accepting branches are reached.
  const plainSegment = fc.oneof(
    fc.constantFrom("Show.S01", "a b", "x..y", "...", ".hidden"),
    fc.string({ minLength: 1, maxLength: 8 }),
  );
  const builtArb = fc
    .tuple(
      pathArb,
      dirsArb,
      fc.nat(),
      fc.array(plainSegment, { minLength: 1, maxLength: 4 }),
      fc.constantFrom("/", "//", "/./"),
    )
    .map(([mount, dirs, i, rest, sep]) => ({
      mount,
      dirs,
      target: [mount, dirs.length > 0 ? (dirs[i % dirs.length] ?? "") : "", ...rest].join(sep),
    }));
  const caseArb = fc.oneof(
    fc.tuple(pathArb, pathArb, dirsArb, fc.boolean()).map(([mount, rest, dirs, under]) => ({
      mount,
      target: under ? `${mount}/${rest}` : rest,
      dirs,
    })),
    builtArb,
  );

  it("never throws, and what it returns names a real folder below the mount, never '..' or a '/'", () => {
    fc.assert(
      fc.property(caseArb, ({ mount, target, dirs }) => {
        const r = timed(() => parseMountTarget(target, mount, dirs));
        if (r === null) return;
        expect(r.torrentName).not.toBe("");
        expect(r.torrentName).not.toContain("/");
        expect([".", ".."]).not.toContain(r.torrentName);
        expect(dirs).toContain(r.directory);
        expect(r.directory).not.toContain("/");
        if (r.file !== "") {
          for (const part of r.file.split("/")) expect(["", ".", ".."]).not.toContain(part);
        }
        // Lexically, the target is mount + directory + torrent + file, with nothing resolved away.
        const parts = (p: string) => p.split("/").filter((s) => s !== "" && s !== ".");
        expect(parts(target)).not.toContain("..");
        const rebuilt = [...parts(mount), ...(r.directory ? [r.directory] : []), r.torrentName, ...parts(r.file)];
        expect(parts(target)).toEqual(rebuilt);
        expect(target.startsWith("/")).toBe(mount.startsWith("/"));
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses every target with a '..' segment, wherever it is", () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), fc.array(segment, { maxLength: 5 }), (a, b) => {
        const target = ["/mnt/zurg/__all__", ...a, "..", ...b].join("/");
        expect(parseMountTarget(target, "/mnt/zurg")).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it("stays fast on pathological paths", () => {
    for (const p of PATHOLOGICAL(20_000)) {
      timed(() => parseMountTarget(`/mnt/zurg/__all__/${p}`, "/mnt/zurg"));
      timed(() => parseMountTarget(p, p, [p, ""]));
    }
  });
});

describe("normalizeName and matchTorrent", () => {
  const TAGS = ["1080p", "720p", "2160p", "WEB-DL", "WEBRip", "BluRay", "x264", "H.264", "x265", "HEVC", "PROPER"];
  const releaseArb = fc
    .tuple(
      fc.option(fc.constantFrom("[SubsPlease] ", "www.site.com - ", "【Group】"), { nil: "" }),
      fc.array(fc.constantFrom("The", "Show", "Spider-Man", "Grey's", "Anatomy", "Café", "Ünïcödé", "名前"), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.option(fc.constantFrom("S01E02", "S01", "1x02", "Season 2", "2019", "2020"), { nil: "" }),
      fc.subarray(TAGS, { maxLength: 4 }),
      fc.option(fc.constantFrom("-GROUP", "-NTb", "[rarbg]", "(2020)"), { nil: "" }),
      fc.option(fc.constantFrom(".mkv", ".mp4", ".srt", ".ts", ".mkv.rar"), { nil: "" }),
      fc.constantFrom(".", " ", "_", "-"),
    )
    .map(
      ([lead, title, ep, tags, group, ext, sep]) =>
        `${lead}${[...title, ep, ...tags].filter(Boolean).join(sep)}${group}${ext}`,
    );
  const nameArb = fc.oneof(releaseArb, anyText());

  it("normalizeName is idempotent and gives lower-case words separated by single spaces", () => {
    fc.assert(
      fc.property(nameArb, (name) => {
        const once = timed(() => normalizeName(name));
        expect(normalizeName(once)).toBe(once);
        expect(once).toBe(once.trim());
        expect(once).not.toContain("  ");
        expect(once).toMatch(/^[\p{L}\p{N} ]*$/u);
        expect(once.toLowerCase()).toBe(once);
      }),
      { numRuns: RUNS },
    );
  });

  it("matchTorrent never throws and only ever names a torrent it was given, at a level that holds", () => {
    const torrentsArb = fc.uniqueArray(
      fc.record({
        id: fc.string({ minLength: 1, maxLength: 6 }),
        filename: nameArb,
        originalFilename: fc.option(nameArb, { nil: null }),
      }),
      { selector: (t) => t.id, maxLength: 12 },
    );
    fc.assert(
      fc.property(torrentsArb, nameArb, fc.nat(), (torrents: TorrentRef[], other, pick) => {
        const index = timed(() => buildMatchIndex(torrents));
        // A random name, one of the torrents' own names, or one written differently (case, separators,
        // an extension, a dropped tag), which the normalized and fuzzy levels are for.
        const own = torrents.flatMap((t) => [t.filename, t.originalFilename ?? other]);
        const variants = own.flatMap((n) => [
          n.toUpperCase(),
          n.replace(/[ .]/g, "_"),
          `${n}.mkv`,
          n.replace(/(1080p|720p|x264|PROPER)/i, ""),
          n.replace(/-[A-Za-z]+(\.\w+)?$/, ""),
        ]);
        const names = [other, ...own, ...variants];
        const name = names[pick % names.length] ?? other;
        const r = timed(() => matchTorrent(index, name));
        // A filename exactly one torrent has always finds that torrent, exactly.
        const holders = torrents.filter((t) => t.filename === name);
        if (holders.length === 1) expect(r.match).toMatchObject({ torrent: holders[0], kind: "exact" });
        if (holders.length > 1) expect(r).toEqual({ match: null, reason: "ambiguous" });
        if (r.match === null) {
          expect(["none", "ambiguous"]).toContain(r.reason);
          return;
        }
        const { torrent, kind, score } = r.match;
        expect(torrents).toContain(torrent);
        if (kind === "exact") expect(torrent.filename).toBe(name);
        if (kind === "original") expect(torrent.originalFilename).toBe(name);
        if (kind === "normalized") {
          expect([torrent.filename, torrent.originalFilename ?? ""].map(normalizeName)).toContain(normalizeName(name));
        }
        if (kind === "fuzzy") {
          expect(score).toBeGreaterThanOrEqual(FUZZY_THRESHOLD);
          expect(score).toBeLessThanOrEqual(1);
        } else expect(score).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });

  it("stays fast on pathological names of 4 KB (longer than any path component or RD name seen)", () => {
    for (const p of PATHOLOGICAL(4_000)) {
      timed(() => normalizeName(p));
      const index = timed(() => buildMatchIndex([{ id: "1", filename: p, originalFilename: `${p}.mkv` }]));
      timed(() => matchTorrent(index, `${p}x`));
      timed(() => matchTorrent(index, p));
    }
  });
});

describe("classifyRdError", () => {
  const CLASSES: RdErrorClass[] = [
    "rate_limited",
    "slots_full",
    "infringing",
    "auth",
    "account",
    "not_found",
    "already_done",
    "fair_usage",
    "traffic_exhausted",
    "disabled_endpoint",
    "bad_request",
    "unavailable",
    "malformed",
  ];
  const RETRYABLE = new Set(["rate_limited", "slots_full", "unavailable", "fair_usage", "traffic_exhausted"]);
  const num = fc.oneof(
    fc.integer({ min: -100, max: 1000 }),
    fc.integer(),
    fc.double(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 34, 35, 7, 8, 21, 429, 451, 509),
  );

  it("always returns a known class, retryable exactly for the transient ones, throttle only for rate limits", () => {
    fc.assert(
      fc.property(fc.record({ status: num, code: num, malformed: fc.boolean() }, { requiredKeys: [] }), (input) => {
        const info = classifyRdError(input);
        expect(CLASSES).toContain(info.class);
        expect(info.retryable).toBe(RETRYABLE.has(info.class));
        expect(info.throttle).toBe(info.class === "rate_limited");
        if (input.malformed) expect(info.class).toBe("malformed");
        // A success status without an RD code is never read as a failure the caller could retry.
        if (!input.malformed && input.code === undefined && input.status !== undefined) {
          if (input.status >= 200 && input.status < 300 && input.status !== 202) expect(info.class).toBe("malformed");
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("repair machine: advance", () => {
  const ERROR_CLASSES = [
    "rate_limited",
    "slots_full",
    "infringing",
    "auth",
    "account",
    "not_found",
    "already_done",
    "fair_usage",
    "traffic_exhausted",
    "disabled_endpoint",
    "bad_request",
    "unavailable",
    "malformed",
    "arr",
    "filesystem",
  ] as const;
  const RD_STATUSES = [
    "downloaded",
    "waiting_files_selection",
    "magnet_conversion",
    "queued",
    "downloading",
    "compressing",
    "uploading",
    "magnet_error",
    "error",
    "virus",
    "dead",
  ];
  const NOW = 1_700_000_000_000;
  const statusArb = fc.oneof(fc.constantFrom(...RD_STATUSES), fc.constant(null), fc.string({ maxLength: 8 }));
  const viewArb: fc.Arbitrary<RepairView> = fc.record({
    state: fc.constantFrom(...REPAIR_STATES),
    reason: fc.oneof(fc.constantFrom("symlink_broken", "manual", "status:dead", "status:magnet_error"), fc.string()),
    attempt: fc.integer({ min: 0, max: 25 }),
    transient: fc.integer({ min: 0, max: 15 }),
    outcome: fc.option(
      fc.oneof(fc.constantFrom("virus", "uncached", "files_mismatch", "infringing", "status:dead"), fc.string()),
      { nil: null },
    ),
    newTorrentId: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: null }),
    deadlineAt: fc.option(fc.integer({ min: NOW - 10_000_000, max: NOW + 10_000_000 }), { nil: null }),
  });
  const obsArb: fc.Arbitrary<Observation> = fc.oneof(
    fc.record({ type: fc.constant("inspected" as const), status: statusArb }),
    fc.record({ type: fc.constant("added" as const), id: fc.string({ minLength: 1 }) }),
    fc.constant({ type: "not_added" as const }),
    fc.record({
      type: fc.constant("polled" as const),
      status: statusArb,
      filesMatch: fc.boolean(),
      selectable: fc.boolean(),
    }),
    fc.constant({ type: "step_done" as const }),
    fc.record({
      type: fc.constant("error" as const),
      error: fc.record({
        class: fc.constantFrom(...ERROR_CLASSES),
        message: fc.string({ maxLength: 30 }),
        status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
        code: fc.option(fc.integer({ min: -1, max: 40 }), { nil: undefined }),
      }),
      lastThrottleAt: fc.option(fc.integer({ min: NOW - 120_000, max: NOW }), { nil: null }),
    }),
  );
  const policyArb: fc.Arbitrary<RepairPolicy> = fc.record({
    retryDelayMs: fc.integer({ min: 1, max: 7 * 86_400_000 }),
    maxAttempts: fc.integer({ min: 1, max: 20 }),
    waitDeadlineMs: fc.integer({ min: 300_000, max: 7 * 86_400_000 }),
    pollMs: fc.integer({ min: 1_000, max: 3_600_000 }),
  });

  /** advance(), or null when the observation does not belong to the state (its documented Error). */
  function step(r: RepairView, obs: Observation, policy: RepairPolicy): Transition | null {
    try {
      return advance(r, obs, policy, NOW);
    } catch (err) {
      if (isCrash(err)) throw err;
      expect((err as Error).message).toMatch(/^repair in state \w+ cannot take observation \w+$/);
      return null;
    }
  }

  /** The only ways to the step that deletes the old torrent. */
  const mayDeleteOld = (r: RepairView, obs: Observation) =>
    (obs.type === "polled" && obs.status === "downloaded" && obs.filesMatch) ||
    (r.state === "queued" && obs.type === "inspected" && obs.status === "virus") ||
    (r.state === "discarding" && r.outcome === "virus");

  it("never crashes; moves to deleting_old only with a downloaded replacement with matching files (or RD's virus verdict)", () => {
    fc.assert(
      fc.property(viewArb, obsArb, policyArb, (r, obs, policy) => {
        const t = step(r, obs, policy);
        if (t === null) return;
        expect(REPAIR_STATES).toContain(t.state);
        if (t.state === "deleting_old" && r.state !== "deleting_old") expect(mayDeleteOld(r, obs)).toBe(true);
        expect(t.attempt).toBeGreaterThanOrEqual(r.attempt);
        expect(t.attempt).toBeLessThanOrEqual(r.attempt + 1);
        expect(t.nextAttemptAt).toBeGreaterThanOrEqual(NOW);
        if (t.permanent) expect(t.state).toBe("failed");
        // Only a failed call stops the run (auth, account, throttling); an observation never does.
        if (t.stopRun) expect(obs.type).toBe("error");
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it("from waiting, deleting_old needs exactly: polled, downloaded, files match", () => {
    fc.assert(
      fc.property(viewArb, obsArb, policyArb, (r0, obs, policy) => {
        const r = { ...r0, state: "waiting" as const, newTorrentId: r0.newTorrentId ?? "NEW" };
        const t = step(r, obs, policy);
        const proven = obs.type === "polled" && obs.status === "downloaded" && obs.filesMatch;
        expect(t?.state === "deleting_old").toBe(proven);
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it("never fails a repair while its replacement may still sit on RD: it is discarded first", () => {
    fc.assert(
      fc.property(
        viewArb,
        obsArb,
        policyArb,
        fc.constantFrom("added", "selecting", "waiting"),
        (r0, obs, policy, state) => {
          const r = { ...r0, state, newTorrentId: r0.newTorrentId ?? "NEW" } as RepairView;
          const t = step(r, obs, policy);
          if (t?.state !== "failed" && t?.state !== "queued") return;
          // Only when RD says the replacement is gone may the repair leave it behind.
          const gone =
            (obs.type === "polled" && obs.status === null) || (obs.type === "error" && obs.error.class === "not_found");
          expect(gone).toBe(true);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });
});

describe("withDotenv", () => {
  const dir = mkdtempSync(join(tmpdir(), "rdtm-security-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lineArb = fc.oneof(
    fc.tuple(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), anyText(40)).map(([k, val]) => `${k}=${val}`),
    fc.tuple(fc.stringMatching(/^[A-Z_]{1,6}$/), anyText(20)).map(([k, val]) => `export ${k}="${val}"`),
    fc.tuple(fc.stringMatching(/^[A-Z_]{1,6}$/), anyText(20)).map(([k, val]) => `${k}='${val}`),
    fc.constantFrom("# comment", "", "=", "==", "A", "B=`x", 'C="unterminated', "D=$" + "{E}", "\r"),
    anyText(60),
  );

  it("reads any file without throwing, and real environment variables always win", () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(lineArb, { maxLength: 12 }),
        fc.dictionary(fc.stringMatching(/^[A-Z_]{1,6}$/), fc.option(fc.string({ maxLength: 10 }), { nil: undefined }), {
          maxKeys: 5,
        }),
        (lines, env) => {
          const path = join(dir, `env-${n++}`);
          writeFileSync(path, lines.join("\n"));
          const out = timed(() => withDotenv(env, path));
          for (const [k, val] of Object.entries(env)) if (val !== undefined) expect(out[k]).toBe(val);
          for (const val of Object.values(out)) expect(typeof val).toBe("string");
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("leaves the environment alone when the file is missing", () => {
    const env = { A: "1", B: undefined };
    expect(withDotenv(env, join(dir, "does-not-exist"))).toBe(env);
  });
});

describe("qBittorrent rules file and classification", () => {
  const KNOWN_CLASSES = DEFAULT_RULES.map((r) => r.class);
  const patternArb = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom("/\\b50[0-4]\\b/", "/unreg/i", "/(/", "/x/gg", "/a/q", "//", "/", "/a|b/", "/^$/m", ""),
    fc.stringMatching(/^\/[a-z.*+?|()[\]\\]{0,8}\/[a-z]{0,2}$/),
  );
  const overrideArb = fc.record(
    {
      patterns: fc.array(patternArb, { maxLength: 3 }),
      sources: fc.array(fc.oneof(fc.constantFrom(...EVIDENCE_SOURCES), fc.string({ maxLength: 5 })), { maxLength: 3 }),
      action: fc.oneof(fc.constantFrom(...QBIT_ACTIONS), fc.string({ maxLength: 5 })),
      strikes: fc.oneof(fc.integer({ min: -2, max: 1002 }), fc.double(), fc.string({ maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const classNameArb = fc.oneof(fc.constantFrom(...KNOWN_CLASSES), fc.stringMatching(/^[a-z_]{1,8}$/), fc.string());
  const fileArb = fc.record(
    {
      classes: fc.dictionary(classNameArb, overrideArb, { maxKeys: 3 }),
      rules: fc.array(
        fc.record(
          {
            class: classNameArb,
            patterns: fc.array(patternArb, { maxLength: 3 }),
            sources: fc.array(fc.constantFrom(...EVIDENCE_SOURCES), { maxLength: 3 }),
            action: fc.oneof(fc.constantFrom(...QBIT_ACTIONS), fc.string({ maxLength: 4 })),
            strikes: fc.integer({ min: 0, max: 5 }),
          },
          { requiredKeys: ["class", "patterns", "action"] },
        ),
        { maxLength: 3 },
      ),
      categories: fc.dictionary(
        fc.string({ maxLength: 6 }),
        fc.record(
          { ignore: fc.boolean(), classes: fc.dictionary(classNameArb, overrideArb, { maxKeys: 2 }) },
          { requiredKeys: [] },
        ),
        { maxKeys: 3 },
      ),
      ignoreTags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
      ignoreCategories: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
      extra: fc.string(),
    },
    { requiredKeys: [] },
  );
  // Files that should parse: every value well-formed (the accepting path and its invariants).
  const goodPattern = fc.oneof(
    fc.string({ minLength: 1, maxLength: 10 }).filter((p) => !p.startsWith("/")),
    fc.constantFrom("/\\b50[0-4]\\b/", "/unreg/i", "/a|b/", "/^x$/m"),
  );
  const goodOverride = fc.record(
    {
      patterns: fc.array(goodPattern, { maxLength: 3 }),
      sources: fc.uniqueArray(fc.constantFrom(...EVIDENCE_SOURCES)),
      action: fc.constantFrom(...QBIT_ACTIONS),
      strikes: fc.integer({ min: 1, max: 1000 }),
    },
    { requiredKeys: [] },
  );
  const goodClasses = fc.dictionary(fc.constantFrom(...KNOWN_CLASSES), goodOverride, { maxKeys: 3 });
  const validFileArb = fc.record(
    {
      classes: goodClasses,
      rules: fc.array(
        fc.record({
          class: fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/),
          patterns: fc.array(goodPattern, { minLength: 1, maxLength: 3 }),
          action: fc.constantFrom(...QBIT_ACTIONS),
        }),
        { maxLength: 3 },
      ),
      categories: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 6 }),
        fc.record({ ignore: fc.boolean(), classes: goodClasses }, { requiredKeys: [] }),
        { maxKeys: 3 },
      ),
      ignoreTags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    },
    { requiredKeys: [] },
  );
  const textArb = fc.oneof(
    anyText(300),
    fc.jsonValue().map((j) => JSON.stringify(j)),
    fileArb.map((f) => JSON.stringify(f)),
    validFileArb.map((f) => JSON.stringify(f)),
    validFileArb.map((f) => JSON.stringify(f)),
  );

  // An override may empty a built-in class's patterns (the class then never matches); a new rule may not.
  function expectValidRule(r: QbitRule) {
    expect(r.class).toMatch(/^[a-z][a-z0-9_]*$/);
    if (!KNOWN_CLASSES.includes(r.class)) expect(r.patterns.length).toBeGreaterThan(0);
    for (const p of r.patterns) expect(p).not.toBe("");
    for (const s of r.sources) expect(EVIDENCE_SOURCES).toContain(s);
    expect(QBIT_ACTIONS).toContain(r.action);
    expect(Number.isInteger(r.strikes) && r.strikes >= 1 && r.strikes <= 1000).toBe(true);
  }

  it("parseRulesFile returns a valid rule set or an Error naming the file, never a crash", () => {
    fc.assert(
      fc.property(textArb, (text) => {
        let set: RuleSet;
        try {
          set = timed(() => parseRulesFile(text, "rules.json"));
        } catch (err) {
          if (isCrash(err)) throw err;
          expect((err as Error).message).toMatch(/^rules\.json: [\s\S]+$/);
          return;
        }
        for (const r of set.rules) expectValidRule(r);
        for (const c of KNOWN_CLASSES) expect(set.rules.map((r) => r.class)).toContain(c);
        for (const list of set.byCategory.values()) for (const r of list ?? []) expectValidRule(r);
      }),
      { numRuns: RUNS },
    );
  });

  const evidenceArb: fc.Arbitrary<Evidence> = fc.record({
    state: fc.option(
      fc.oneof(fc.constantFrom("error", "missingFiles", "stalledDL", "metaDL", "downloading", "pausedUP"), fc.string()),
      { nil: null },
    ),
    category: fc.option(fc.oneof(fc.constantFrom("tv", "movies"), fc.string({ maxLength: 5 })), { nil: null }),
    tags: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    trackers: fc.array(
      fc.record({
        status: fc.integer({ min: -1, max: 7 }),
        msg: fc.oneof(
          fc.constantFrom("Unregistered torrent", "tracker is down", "502 Bad Gateway", "invalid passkey", ""),
          anyText(100),
        ),
      }),
      { maxLength: 4 },
    ),
    log: fc.array(anyText(100), { maxLength: 3 }),
    arr: fc.array(fc.oneof(fc.constantFrom("No space left on device", "Stalled with no connections"), anyText(100)), {
      maxLength: 3,
    }),
  });
  // Fuzzed rule sets from valid files (the file parser above covers invalid ones).
  const ruleSetArb = fc.oneof(
    fc.constant(buildRuleSet(null)),
    textArb.map((t) => {
      try {
        return parseRulesFile(t, "rules.json");
      } catch {
        return buildRuleSet(null);
      }
    }),
  );

  it("classify returns null or a verdict the evidence really supports, under any rule set", () => {
    fc.assert(
      fc.property(evidenceArb, ruleSetArb, (e, set) => {
        const v = timed(() => classify(e, set));
        if (v === null) return;
        const rules = (e.category !== null ? set.byCategory.get(e.category) : undefined) ?? set.rules;
        expect(rules).toContain(v.rule);
        expect(v.rule.sources).toContain(v.source);
        expect(evidenceTexts(e)[v.source]).toContain(v.text);
        expect(v.rule.patterns.some((p) => matches(p, v.text))).toBe(true);
        // An earlier rule in the list would have won.
        for (const r of rules.slice(0, rules.indexOf(v.rule))) {
          for (const s of r.sources) {
            for (const text of evidenceTexts(e)[s]) expect(r.patterns.some((p) => matches(p, text))).toBe(false);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("the built-in rules stay fast on long, pathological tracker, log and *arr messages", () => {
    const set = buildRuleSet(null);
    for (const p of PATHOLOGICAL(100_000)) {
      const e: Evidence = {
        state: p.slice(0, 1000),
        category: null,
        tags: [],
        trackers: [{ status: 4, msg: p }],
        log: [p],
        arr: [p],
      };
      timed(() => classify(e, set));
      timed(() => {
        try {
          parseRulesFile(p, "rules.json");
        } catch (err) {
          if (isCrash(err)) throw err;
        }
      });
    }
  });
});
