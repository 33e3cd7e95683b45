// Reads a large JSON array from a response body element by element. An RD listing page of 5,000
// torrents is ~2 MB of text and three times that once parsed; held whole (text, tree, validated copy)
// it was most of a full scan's memory. Here the text is consumed as it arrives and each element is
// handed on as soon as it is complete, so only the caller's compact records outlive a chunk.

/** A body that is not one well-formed JSON array; the message says where it went wrong. */
export class JsonArrayError extends Error {
  override name = "JsonArrayError";
  constructor(
    message: string,
    /** The body held nothing but whitespace (callers may read that as an empty list). */
    readonly empty = false,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
// JSON's own whitespace only: \s would also pass U+00A0, U+2028 and the like, which JSON.parse refuses.
const NOT_WHITESPACE = /[^ \t\n\r]/;
const TRAILING_WHITESPACE = /[ \t\n\r]+$/;

/**
 * Streams the elements of the JSON array in `body` to `onItem` (with their index) and returns how
 * many there were. Elements are cut at top-level commas and parsed in runs, one native JSON.parse
 * per chunk. Anything but exactly one array (an object, a truncated body, text after the closing
 * bracket, an empty element) is a JsonArrayError; `onItem` may throw to stop the read.
 */
export async function readJsonArray(
  body: ReadableStream<Uint8Array>,
  onItem: (value: unknown, index: number) => void,
  opts: { minRun?: number } = {},
): Promise<number> {
  // Not fatal: a stray invalid byte in one torrent's name becomes U+FFFD there, as text() would do.
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const scan = new ArrayScanner(onItem, opts.minRun ?? MIN_RUN);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      scan.push(decoder.decode(value, { stream: true }));
    }
    scan.push(decoder.decode());
    return scan.finish();
  } finally {
    // Stops the transfer if we gave up early (a bad element, or onItem threw).
    await reader.cancel().catch(() => {});
  }
}

/** How much text to gather before cutting: one JSON.parse per run keeps the per-call cost negligible. */
const MIN_RUN = 32 * 1024;

/**
 * The cutting state between chunks. `buf` always starts at an element boundary (just after "[" or a
 * top-level comma). The fast way to cut: take the last "}" that a comma follows and parse up to it;
 * if that parses, it was a top-level boundary (text cut inside a string or a nested value never
 * parses). Otherwise a character scan finds the last top-level comma.
 */
class ArrayScanner {
  private buf = "";
  private started = false;
  /** A top-level comma has been consumed, so an element must follow. */
  private needElement = false;
  private count = 0;
  // The character scan, resumable: next index of `buf`, nesting below the array, inside a string,
  // last top-level comma found (-1 for none). Reset whenever `buf` is cut.
  private pos = 0;
  private depth = 0;
  private inString = false;
  private lastComma = -1;

  constructor(
    private readonly onItem: (value: unknown, index: number) => void,
    private readonly minRun: number,
  ) {}

  push(text: string): void {
    if (text === "") return;
    this.buf += text;
    if (!this.started && !this.start()) return;
    if (this.buf.length < this.minRun) return;
    if (!this.cutFast()) this.cutByScan();
  }

  /** The body ended: what is left must be the last elements and the closing bracket. */
  finish(): number {
    if (!this.started) throw new JsonArrayError("expected a JSON array, got an empty body", true);
    const rest = this.buf.replace(TRAILING_WHITESPACE, "");
    if (!rest.endsWith("]"))
      throw new JsonArrayError(`the body ends inside the array or after it (after ${this.count} elements)`);
    this.emit(rest.slice(0, -1), false);
    this.buf = "";
    return this.count;
  }

  /** Skips leading whitespace and requires "[". False while only whitespace has arrived. */
  private start(): boolean {
    const at = this.buf.search(NOT_WHITESPACE);
    if (at < 0) {
      this.buf = "";
      return false;
    }
    if (this.buf.charCodeAt(at) !== OPEN_BRACKET)
      throw new JsonArrayError(`expected a JSON array, got ${JSON.stringify(this.buf.slice(at, at + 40))}`);
    this.buf = this.buf.slice(at + 1);
    this.started = true;
    return true;
  }

  private cutFast(): boolean {
    const buf = this.buf;
    let brace = buf.lastIndexOf("}");
    // The last element is usually incomplete; its own "}"s (nested values) are tried and passed over.
    for (let tries = 0; brace >= 0 && tries < 4; tries++, brace = buf.lastIndexOf("}", brace - 1)) {
      let comma = brace + 1;
      while (comma < buf.length && isWhitespace(buf.charCodeAt(comma))) comma++;
      if (buf.charCodeAt(comma) !== COMMA) continue;
      let values: unknown[];
      try {
        values = JSON.parse(`[${buf.slice(0, brace + 1)}]`) as unknown[];
      } catch {
        return false;
      }
      this.deliver(values, true);
      this.cut(comma);
      return true;
    }
    return false;
  }

  private cutByScan(): void {
    this.scan();
    if (this.lastComma < 0) return;
    const comma = this.lastComma;
    this.emit(this.buf.slice(0, comma), true);
    this.cut(comma);
  }

  /** Drops `buf` up to and including the top-level comma at `comma`. */
  private cut(comma: number): void {
    this.buf = this.buf.slice(comma + 1);
    this.pos = 0;
    this.depth = 0;
    this.inString = false;
    this.lastComma = -1;
  }

  /**
   * Advances over the text not yet looked at. Inside strings it jumps from quote to quote; a quote
   * preceded by an odd run of backslashes is escaped (the run cannot reach before `buf`, which starts
   * outside any string).
   */
  private scan(): void {
    const buf = this.buf;
    const n = buf.length;
    let i = this.pos;
    let depth = this.depth;
    let inString = this.inString;
    let lastComma = this.lastComma;
    while (i < n) {
      if (inString) {
        const q = buf.indexOf('"', i);
        if (q < 0) {
          i = n;
          break;
        }
        i = q + 1;
        let slashes = 0;
        while (buf.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) inString = false;
        continue;
      }
      const c = buf.charCodeAt(i);
      if (c === QUOTE) inString = true;
      else if (c === COMMA) {
        if (depth === 0) lastComma = i;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        // The array's own "]" (or a stray closer): finish() judges what is left.
        if (depth === 0) break;
        depth--;
      }
      i++;
    }
    this.pos = i;
    this.depth = depth;
    this.inString = inString;
    this.lastComma = lastComma;
  }

  /** Parses a run of whole elements; `beforeComma` says another element must follow it. */
  private emit(run: string, beforeComma: boolean): void {
    if (!NOT_WHITESPACE.test(run)) {
      if (beforeComma || this.needElement) throw new JsonArrayError(`empty element at index ${this.count}`);
      return;
    }
    let values: unknown[];
    try {
      values = JSON.parse(`[${run}]`) as unknown[];
    } catch (err) {
      throw new JsonArrayError(
        `invalid JSON in elements from index ${this.count}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.deliver(values, beforeComma);
  }

  private deliver(values: unknown[], beforeComma: boolean): void {
    for (const value of values) this.onItem(value, this.count++);
    this.needElement = beforeComma;
  }
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
