import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonArrayError, readJsonArray } from "./json-array-stream.ts";

const RUNS = process.env.RDTM_SOAK ? 5_000 : 300;

/** The bytes of `text` as a stream cut at the given byte offsets (a cut may split a UTF-8 sequence). */
function streamOf(text: string, cuts: number[] = []): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) pieces.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  return new ReadableStream({
    pull(c) {
      const next = pieces.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
}

async function read(text: string, cuts: number[] = [], minRun = 1): Promise<unknown[]> {
  const out: unknown[] = [];
  const n = await readJsonArray(streamOf(text, cuts), (v, i) => out.push([i, v]), { minRun });
  expect(n).toBe(out.length);
  return out.map((x) => (x as [number, unknown])[1]);
}

// Strings made of the characters that trip a cutter: quotes, backslashes, braces, commas, non-ASCII.
const tricky = fc.string({ unit: fc.constantFrom('"', "\\", "}", "{", ",", "]", "[", " ", "a", "é", "😀", "\n") });
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    tricky,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(tricky, tie("v"), { maxKeys: 4 }),
  ),
})).v;

describe("readJsonArray", () => {
  it("yields exactly what JSON.parse does, for any array, formatting and chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(value, { maxLength: 30 }),
        fc.constantFrom(undefined, 1, "\t"),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(1, 16, 64, 1 << 20),
        async (arr, indent, cuts, minRun) => {
          const text = JSON.stringify(arr, null, indent);
          expect(await read(text, cuts, minRun)).toEqual(JSON.parse(text));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("rejects what JSON.parse rejects (or what is not an array), for damaged bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(value, { minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.constantFrom("truncate", "append", "drop-char"),
        fc.string({ minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (arr, at, how, extra, cuts) => {
          const good = JSON.stringify(arr);
          const k = at % good.length;
          const damaged =
            how === "truncate"
              ? good.slice(0, k)
              : how === "append"
                ? good + extra
                : good.slice(0, k) + good.slice(k + 1);
          // as bytes would carry it: a surrogate half left alone by the damage becomes U+FFFD
          const text = new TextDecoder().decode(new TextEncoder().encode(damaged));
          let expected: unknown;
          try {
            expected = JSON.parse(text);
          } catch {
            expected = undefined;
          }
          if (Array.isArray(expected)) expect(await read(text, cuts)).toEqual(expected);
          else await expect(read(text, cuts)).rejects.toBeInstanceOf(JsonArrayError);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("cuts a large array in runs, so elements arrive before the body ends", async () => {
    const items = Array.from({ length: 6000 }, (_, i) => ({ id: `t${i}`, name: `a},{"b":${i}},{x\\"y` }));
    const bytes = new TextEncoder().encode(JSON.stringify(items));
    let sent = 0;
    const seenAt: number[] = [];
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= bytes.length) return c.close();
        c.enqueue(bytes.subarray(sent, sent + 8192));
        sent += 8192;
      },
    });
    const n = await readJsonArray(body, (v, i) => {
      expect(v).toEqual(items[i]);
      seenAt.push(sent);
    });
    expect(n).toBe(6000);
    // the first element was handed on when about 32 KB (the minimum run) had arrived, not the whole body
    expect(seenAt[0]).toBeLessThan(64 * 1024);
    expect(bytes.length).toBeGreaterThan(200 * 1024);
  });

  it.each([
    ["", "got an empty body"],
    ['{"error":"bad_token","error_code":8}', 'expected a JSON array, got "{\\"error'],
    ["<html>502 Bad Gateway</html>", "expected a JSON array"],
    ["[1,]", "empty element"],
    ["[,1]", "empty element"],
    ["[1,,2]", "invalid JSON"],
    ["[1] [2]", "invalid JSON"],
    ["[1] x", "ends inside the array or after it"],
    ['[{"a":1},{"b"', "ends inside the array or after it"],
    ['[{"a":1}}', "ends inside the array or after it"],
    ['[{"a":1}},{"b":2}]', "invalid JSON"],
    ["\u00a0[1]", "expected a JSON array"],
    ["[1]\u00a0", "ends inside the array or after it"],
    ["[\u00a0]", "invalid JSON"],
    ["[\u2028]", "invalid JSON"],
  ])("rejects %j with a message that says what is wrong", async (text, message) => {
    await expect(read(text)).rejects.toThrow(message);
  });

  it("accepts an empty array with whitespace around it", async () => {
    expect(await read("  \n[ ]\n ")).toEqual([]);
  });

  it("stops the transfer when the consumer throws", async () => {
    let cancelled = false;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(new TextEncoder().encode(pulls === 1 ? "[1" : ",1"));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(
      readJsonArray(
        body,
        () => {
          throw new Error("stop");
        },
        { minRun: 1 },
      ),
    ).rejects.toThrow("stop");
    expect(cancelled).toBe(true);
  });
});
