import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "./log.ts";
import { appendLine, createRotatingFile } from "./log-file.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rdtm-log-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every file of the set, oldest first, as lines. */
function readSet(path: string, keep: number): string[][] {
  const names = [...Array(keep).keys()].map((i) => (i === 0 ? path : `${path}.${i}`)).reverse();
  return names.filter((n) => existsSync(n)).map((n) => readFileSync(n, "utf8").split("\n").slice(0, -1));
}

const line = (i: number) => JSON.stringify({ i, pad: "x".repeat(20) }); // 36 bytes + newline

describe("rotating log file", () => {
  it("rotates before a line would pass the limit, losing and splitting nothing", () => {
    const path = join(dir, "rdtm.log");
    const write = createRotatingFile(path, { maxBytes: 100, keep: 5 });
    for (let i = 0; i < 10; i++) write(line(i));
    const files = readSet(path, 5);
    expect(files.map((f) => f.length)).toEqual([2, 2, 2, 2, 2]);
    expect(files.flat().map((l) => JSON.parse(l).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const n of [path, `${path}.1`, `${path}.4`]) expect(statSync(n).size).toBeLessThanOrEqual(100);
  });

  it("keeps 5 files and drops the oldest", () => {
    const path = join(dir, "rdtm.log");
    const write = createRotatingFile(path, { maxBytes: 100, keep: 5 });
    for (let i = 0; i < 23; i++) write(line(i));
    expect(existsSync(`${path}.5`)).toBe(false);
    const kept = readSet(path, 5).flat();
    // 23 lines, 2 per file: the live file holds line 22, the four rotated ones 14..21.
    expect(kept.map((l) => JSON.parse(l).i)).toEqual([14, 15, 16, 17, 18, 19, 20, 21, 22]);
  });

  it("writes a line longer than the limit whole, in a file of its own", () => {
    const path = join(dir, "rdtm.log");
    const write = createRotatingFile(path, { maxBytes: 50, keep: 3 });
    write("short");
    write("y".repeat(120));
    write("after");
    expect(readSet(path, 3)).toEqual([["short"], ["y".repeat(120)], ["after"]]);
  });

  it("creates the directory", () => {
    const path = join(dir, "a", "b", "rdtm.log");
    createRotatingFile(path)("hello");
    expect(readFileSync(path, "utf8")).toBe("hello\n");
  });

  it("never throws on a failed write, and says so once on stderr", () => {
    const path = join(dir, "is-a-dir");
    mkdirSync(path);
    const stderr = vi.spyOn(console, "error").mockImplementation(() => {});
    const write = createRotatingFile(path);
    expect(() => {
      write("x");
      write("y");
    }).not.toThrow();
    expect(stderr).toHaveBeenCalledTimes(1);
    stderr.mockRestore();
  });

  it("keeps lines in order while node:fs loads where it cannot be had synchronously (Node < 20.16)", async () => {
    const path = join(dir, "rdtm.log");
    const builtin = vi.spyOn(process, "getBuiltinModule").mockReturnValue(undefined);
    const write = createRotatingFile(path);
    builtin.mockRestore();
    write("one");
    write("two");
    await vi.waitFor(() => expect(readFileSync(path, "utf8")).toBe("one\ntwo\n"));
    write("three");
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\nthree\n");
  });
});

describe("logger with a file", () => {
  it("appends every line as JSON, secrets masked as on stdout, whatever the stdout format", () => {
    const file = join(dir, "logs", "rdtm.log");
    const out: string[] = [];
    const log = createLogger({
      level: "info",
      format: "pretty",
      secrets: ["sup3r-s3cret-token"],
      write: (l) => out.push(l),
      file,
    });
    log.withTag("rd-quick-scan").info("calling with sup3r-s3cret-token", { apiKey: "abc", n: 1 });
    log.debug("below the level");
    const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("sup3r-s3cret-token");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      tag: "rd-quick-scan",
      msg: "calling with ***",
      apiKey: "***",
      n: 1,
    });
    expect(out[0]).toContain("calling with ***");
  });
});

describe("appendLine", () => {
  it("creates the directory and appends", async () => {
    const file = join(dir, "m", "metrics.jsonl");
    await appendLine(file, '{"a":1}');
    await appendLine(file, '{"a":2}\n');
    expect(readFileSync(file, "utf8")).toBe('{"a":1}\n{"a":2}\n');
  });
});
