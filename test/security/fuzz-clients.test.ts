// Response validation at the client boundary, fuzzed through the real clients with an injected fetch:
// whatever Real-Debrid, Sonarr/Radarr or qBittorrent answer (any status, any headers, any body), a call
// either returns data that keeps the documented shape or throws the client's documented error type,
// never a TypeError of its own, and never hangs.

import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { createQbitClient, QbitAuthError, QbitError } from "../../shared/clients/qbittorrent.ts";
import { createRealDebridClient, RdError } from "../../shared/clients/real-debrid.ts";
import { ArrError, createArrClient } from "../../shared/clients/servarr.ts";
import { MalformedResponseError } from "../../shared/validate.ts";
import { PROPERTY_TIMEOUT_MS, RUNS, timedAsync } from "./support.ts";

vi.setConfig({ testTimeout: PROPERTY_TIMEOUT_MS });

const HASH = "0123456789abcdef0123456789abcdef01234567";

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** A fetch that answers every request with `answer` (or fails like a dropped connection). */
function fetchOf(answer: Answer | "network"): typeof globalThis.fetch {
  return async () => {
    if (answer === "network") throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
    const nullBody = answer.status === 204 || answer.status === 304;
    return new Response(nullBody ? null : answer.body, { status: answer.status, headers: answer.headers });
  };
}

/** Messages that betray a crash inside the client rather than a reasoned refusal. */
const CRASH_TEXT =
  /Cannot read prop|is not a function|is not iterable|undefined is not|Cannot convert|Maximum call stack/;

function expectDocumented(err: unknown, types: (new (...args: never[]) => Error)[]) {
  expect(err).toBeInstanceOf(Error);
  const e = err as Error;
  expect(
    types.some((t) => e instanceof t),
    `${e.name}: ${e.message}`,
  ).toBe(true);
  expect(e.message).not.toMatch(CRASH_TEXT);
  expect(e.message.trim()).not.toBe("");
}

// Bodies: valid-looking structures with fields swapped for junk, any JSON, and plain text.
const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.constant({}),
);
/** A field that is sometimes junk; `clean` structures (half of them) keep every field well-typed, so the
 * accepting paths and their invariants are reached as often as the refusing ones. */
type Field = <T>(good: fc.Arbitrary<T>) => fc.Arbitrary<unknown>;
const dirty: Field = (good) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: junk });
const clean: Field = (good) => good;
const both = <T>(shape: (field: Field) => fc.Arbitrary<T>) => fc.oneof(shape(clean), shape(dirty));
const hex40 = fc.stringMatching(/^[0-9a-fA-F]{40}$/);
const isoDate = fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
const date = fc.oneof(isoDate, fc.constantFrom("not a date", ""));
const statusArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(200) },
  { weight: 1, arbitrary: fc.constantFrom(201, 202, 204, 400, 401, 403, 404, 429, 451, 500, 502, 503, 509) },
);
const headersArb = fc.record(
  {
    "content-type": fc.constantFrom("application/json", "text/plain", "text/html", ""),
    "x-total-count": fc.oneof(fc.nat().map(String), fc.string({ maxLength: 6 })),
    "retry-after": fc.oneof(fc.nat({ max: 100_000 }).map(String), fc.string({ maxLength: 10 })),
  },
  { requiredKeys: [] },
);
const answerOf = (structured: fc.Arbitrary<unknown>): fc.Arbitrary<Answer | "network"> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant("network" as const) },
    {
      weight: 12,
      arbitrary: fc.record({
        status: statusArb,
        body: fc.oneof(
          { weight: 6, arbitrary: structured.map((x) => JSON.stringify(x) ?? "") },
          { weight: 2, arbitrary: fc.jsonValue().map((x) => JSON.stringify(x)) },
          { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
          { weight: 1, arbitrary: fc.constantFrom("", "null", "[", "<html>502</html>", "1e999", '{"error":"x"}') },
        ),
        headers: headersArb,
      }),
    },
  );

describe("Real-Debrid client", () => {
  const rdTorrent = both((field) =>
    fc.record(
      {
        id: field(fc.string({ minLength: 1, maxLength: 8 })),
        filename: field(fc.string({ maxLength: 20 })),
        original_filename: field(fc.string({ maxLength: 20 })),
        hash: field(hex40),
        bytes: field(fc.nat()),
        progress: field(fc.integer({ min: 0, max: 100 })),
        status: field(fc.constantFrom("downloaded", "dead", "magnet_error")),
        added: field(field === clean ? isoDate : date),
        ended: field(field === clean ? isoDate : date),
        links: field(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })),
        files: field(
          fc.array(
            fc.record({
              id: field(fc.nat()),
              path: field(fc.string()),
              bytes: field(fc.nat()),
              selected: field(fc.constantFrom(0, 1)),
            }),
            { maxLength: 3 },
          ),
        ),
        error: fc.string({ maxLength: 10 }),
        error_code: field(fc.integer({ min: -1, max: 40 })),
      },
      {
        requiredKeys:
          field === clean ? ["id", "filename", "hash", "bytes", "progress", "status", "added", "links", "files"] : [],
      },
    ),
  );
  const client = (answer: Answer | "network") =>
    createRealDebridClient({
      baseUrl: "https://rd.test/rest/1.0",
      token: "rd-token",
      limiter: null,
      fetch: fetchOf(answer),
      maxAttempts: 1,
      sleep: async () => {},
    });

  it("listTorrents returns well-formed torrents or throws RdError", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(fc.oneof(fc.array(rdTorrent, { maxLength: 4 }), rdTorrent)), async (answer) => {
        try {
          const page = await timedAsync(() => client(answer).listTorrents({ offset: 0, limit: 100 }));
          if (page.total !== null) expect(Number.isSafeInteger(page.total) && page.total >= 0).toBe(true);
          for (const t of page.items) {
            expect(t.hash).toMatch(/^[0-9a-f]{40}$/);
            expect(t.id).not.toBe("");
            expect(t.status).not.toBe("");
            expect(Number.isFinite(t.addedAt)).toBe(true);
            if (t.endedAt !== null) expect(Number.isFinite(t.endedAt)).toBe(true);
            expect(Number.isFinite(t.bytes) && Number.isFinite(t.progress)).toBe(true);
            expect(Number.isInteger(t.links) && t.links >= 0).toBe(true);
          }
        } catch (err) {
          expectDocumented(err, [RdError]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("getTorrent returns a well-formed torrent with its files or throws RdError", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(rdTorrent), async (answer) => {
        try {
          const t = await timedAsync(() => client(answer).getTorrent("ABC"));
          expect(t.hash).toMatch(/^[0-9a-fA-F]{40}$/);
          expect(Number.isFinite(t.addedAt)).toBe(true);
          expect(typeof t.originalFilename).toBe("string");
          for (const f of t.files) {
            expect(Number.isInteger(f.id)).toBe(true);
            expect(typeof f.selected).toBe("boolean");
            expect(Number.isFinite(f.bytes)).toBe(true);
          }
        } catch (err) {
          expectDocumented(err, [RdError]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("classifies every failure it throws (a known class, with the HTTP status when there was one)", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(rdTorrent), async (answer) => {
        const err = await client(answer)
          .getTorrent("ABC")
          .then(
            () => null,
            (e: unknown) => e,
          );
        if (err === null) return;
        expectDocumented(err, [RdError]);
        const e = err as RdError;
        expect(e.info.class).toMatch(/^[a-z_]+$/);
        if (answer !== "network" && answer.status >= 400) expect(e.status).toBe(answer.status);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("Sonarr/Radarr client", () => {
  const record = (field: Field) =>
    fc.record(
      {
        id: field(fc.nat({ max: 50 })),
        downloadId: field(fc.option(hex40, { nil: null })),
        title: field(fc.string({ maxLength: 10 })),
        status: field(fc.constantFrom("downloading", "completed", "warning")),
        trackedDownloadStatus: field(fc.constantFrom("ok", "warning", "error")),
        trackedDownloadState: field(fc.constantFrom("downloading", "importPending")),
        statusMessages: field(
          fc.array(
            fc.record({
              title: field(fc.string({ maxLength: 6 })),
              messages: field(fc.array(fc.string({ maxLength: 6 }))),
            }),
            { maxLength: 2 },
          ),
        ),
        errorMessage: field(fc.string({ maxLength: 10 })),
        protocol: field(fc.constantFrom("torrent", "usenet")),
        downloadClient: field(fc.string({ maxLength: 6 })),
        seriesId: field(fc.nat()),
        episodeId: field(fc.nat()),
        movieId: field(fc.nat()),
        size: field(fc.nat()),
        sizeleft: field(fc.nat()),
      },
      { requiredKeys: field === clean ? ["id", "title", "status", "protocol", "size", "sizeleft"] : [] },
    );
  const pageArb = both((field) =>
    fc.record(
      {
        page: field(fc.constantFrom(1, 1, 2)),
        pageSize: field(fc.constant(200)),
        totalRecords: field(fc.nat({ max: 1000 })),
        records: field(fc.array(record(field), { maxLength: 5 })),
        message: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: field === clean ? ["page", "pageSize", "totalRecords", "records"] : [] },
    ),
  );
  const client = (answer: Answer | "network", kind: "sonarr" | "radarr" = "sonarr") =>
    createArrClient(
      { name: kind, kind, url: `http://${kind}.test`, apiKey: "k".repeat(32) },
      { fetch: fetchOf(answer), retryDelayMs: 0 },
    );

  it("queueAll returns each record once, well-formed, or throws ArrError", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(pageArb), fc.constantFrom("sonarr", "radarr"), async (answer, kind) => {
        try {
          const items = await timedAsync(() => client(answer, kind as "sonarr").queueAll());
          expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
          for (const i of items) {
            expect(Number.isInteger(i.id)).toBe(true);
            expect(i.downloadId === null || typeof i.downloadId === "string").toBe(true);
            for (const m of i.statusMessages) {
              expect(typeof m.title).toBe("string");
              expect(m.messages.every((x) => typeof x === "string")).toBe(true);
            }
          }
        } catch (err) {
          expectDocumented(err, [ArrError]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("systemStatus and rootFolders answer or throw ArrError", async () => {
    const structured = fc.oneof(
      fc.record({ appName: dirty(fc.string()), version: dirty(fc.string()) }, { requiredKeys: [] }),
      fc.array(fc.record({ path: dirty(fc.string()) }, { requiredKeys: [] }), { maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(answerOf(structured), async (answer) => {
        const calls: (() => Promise<unknown>)[] = [
          () => client(answer).systemStatus(),
          () => client(answer).rootFolders(),
        ];
        for (const call of calls) {
          try {
            await timedAsync(call);
          } catch (err) {
            expectDocumented(err, [ArrError]);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("fails fast on a small error body full of '<' (bodyText is linear at the sizes it keeps)", async () => {
    const err = await timedAsync(() =>
      client({ status: 400, body: "<".repeat(2_000), headers: { "content-type": "text/html" } })
        .systemStatus()
        .catch((e: unknown) => e),
    );
    expectDocumented(err, [ArrError]);
  });

  // Was a hole (found by this suite, now fixed): bodyText() in shared/clients/servarr.ts runs /<[^>]*>/g over the whole
  // error body before keeping 200 characters; a body of n '<' costs O(n²) (30 KB ≈ 0.6-1.7 s, 100 KB ≈ 15 s
  // of a blocked event loop).
  it("fails fast on a 30 KB error body full of '<' from a misbehaving *arr or proxy", async () => {
    await timedAsync(
      () =>
        client({ status: 400, body: "<".repeat(30_000), headers: { "content-type": "text/html" } })
          .systemStatus()
          .catch(() => undefined),
      250,
    );
  });
});

describe("qBittorrent client", () => {
  const torrent = both((field) =>
    fc.record(
      {
        hash: field(hex40),
        name: field(fc.string({ maxLength: 10 })),
        state: field(fc.constantFrom("downloading", "stalledDL", "error", "missingFiles", "pausedUP")),
        category: field(fc.string({ maxLength: 5 })),
        tags: field(fc.oneof(fc.constantFrom("", "a, b", " ,x, ,", ",,,"), fc.string({ maxLength: 10 }))),
        progress: field(fc.double({ min: 0, max: 1, noNaN: true })),
        size: field(fc.nat()),
        amount_left: field(fc.nat()),
        save_path: field(fc.string({ maxLength: 10 })),
        content_path: field(fc.option(fc.string({ maxLength: 10 }), { nil: null })),
        tracker: field(fc.string({ maxLength: 10 })),
        private: field(fc.option(fc.boolean(), { nil: null })),
        added_on: field(fc.nat()),
        num_seeds: field(fc.nat()),
        num_leechs: field(fc.nat()),
        ratio: field(fc.double({ noNaN: true })),
        dlspeed: field(fc.nat()),
        eta: field(fc.integer()),
      },
      {
        requiredKeys:
          field === clean
            ? [
                "hash",
                "name",
                "state",
                "progress",
                "size",
                "amount_left",
                "save_path",
                "added_on",
                "num_seeds",
                "num_leechs",
                "ratio",
                "dlspeed",
                "eta",
              ]
            : [],
      },
    ),
  );
  const tracker = both((field) =>
    fc.record(
      {
        url: field(fc.oneof(fc.constantFrom("** [DHT] **", "** [PeX] **", "** [LSD] **"), fc.webUrl())),
        status: field(fc.integer({ min: 0, max: 6 })),
        msg: field(fc.string({ maxLength: 10 })),
        tier: field(fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant(""))),
      },
      { requiredKeys: field === clean ? ["url", "status", "tier"] : [] },
    ),
  );
  const logEntry = both((field) =>
    fc.record(
      {
        id: field(fc.nat()),
        timestamp: field(fc.nat()),
        type: field(fc.constantFrom(1, 2, 4, 8)),
        message: field(fc.string()),
      },
      { requiredKeys: field === clean ? ["id", "timestamp", "type", "message"] : [] },
    ),
  );
  const client = (answer: Answer | "network") =>
    createQbitClient({ name: "qbittorrent", url: "http://qbit.test:8080" }, { fetch: fetchOf(answer) });
  const DOCUMENTED = [MalformedResponseError, QbitError, QbitAuthError];

  it("torrents returns well-formed torrents or throws a documented error", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(fc.array(torrent, { maxLength: 4 })), async (answer) => {
        try {
          const list = await timedAsync(() => client(answer).torrents());
          for (const t of list) {
            expect(t.hash).toBe(t.hash.toLowerCase());
            for (const tag of t.tags) {
              expect(tag).toBe(tag.trim());
              expect(tag).not.toBe("");
              expect(tag).not.toContain(",");
            }
            expect(t.contentPath === null || t.contentPath !== "").toBe(true);
          }
        } catch (err) {
          expectDocumented(err, DOCUMENTED);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("trackers drops the DHT/PeX/LSD rows and answers or throws a documented error", async () => {
    await fc.assert(
      fc.asyncProperty(answerOf(fc.array(tracker, { maxLength: 5 })), async (answer) => {
        try {
          const list = await timedAsync(() => client(answer).trackers(HASH));
          for (const t of list) {
            expect(t.url).not.toMatch(/^\*\* \[.+\] \*\*$/);
            expect(Number.isInteger(t.status)).toBe(true);
            expect(typeof t.tier).toBe("number");
          }
        } catch (err) {
          expectDocumented(err, DOCUMENTED);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("log, properties and version answer or throw a documented error", async () => {
    const structured = fc.oneof(
      fc.array(logEntry, { maxLength: 4 }),
      fc.record({ save_path: dirty(fc.string()), is_private: dirty(fc.boolean()) }, { requiredKeys: [] }),
      fc.string({ maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(answerOf(structured), async (answer) => {
        const c = client(answer);
        const calls: (() => Promise<unknown>)[] = [() => c.log(null), () => c.properties(HASH), () => c.version()];
        for (const call of calls) {
          try {
            await timedAsync(call);
          } catch (err) {
            expectDocumented(err, DOCUMENTED);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses to put anything but info hashes into a hashes= list (qBit reads 'all' as every torrent)", async () => {
    const c = client({ status: 200, body: "[]", headers: { "content-type": "application/json" } });
    for (const bad of ["all", "", `${HASH}|all`, "../", `${HASH} `]) {
      await expect(c.deleteTorrents([bad], true)).rejects.toThrow(/not a torrent hash/);
      await expect(c.trackers(bad)).rejects.toThrow(/not a torrent hash/);
    }
  });
});
