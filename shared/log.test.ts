import { describe, expect, it } from "vitest";
import { createLogger, redactObject } from "./log.ts";

function capture(format: "json" | "pretty", secrets: string[] = []) {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format, secrets, write: (l) => lines.push(l) });
  return { log, lines };
}

describe("logger", () => {
  it("writes one JSON object per line with time, level, tag, message and data", () => {
    const { log, lines } = capture("json");
    log.withTag("rd-quick-scan").info("page done", { offset: 0, next: 500 });
    const rec = JSON.parse(lines[0] ?? "");
    expect(rec).toMatchObject({ level: "info", tag: "rd-quick-scan", msg: "page done", offset: 0, next: 500 });
    expect(rec.time).toMatch(/Z$/);
  });

  it("keeps the error with its stack", () => {
    const { log, lines } = capture("json");
    log.error("failed", { job: "x" }, new Error("boom"));
    expect(JSON.parse(lines[0] ?? "").err).toMatchObject({ name: "Error", message: "boom" });
  });

  it("masks secret values anywhere and secret-looking keys", () => {
    const { log, lines } = capture("json", ["sup3r-s3cret-token"]);
    log.info("calling with sup3r-s3cret-token", { url: "http://x?t=sup3r-s3cret-token", apiKey: "abc", password: "p" });
    expect(lines[0]).not.toContain("sup3r-s3cret-token");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ apiKey: "***", password: "***", msg: "calling with ***" });
  });

  it("keeps counts under secret-looking keys readable (a class named authorization is not a secret)", () => {
    const { log, lines } = capture("json");
    log.info("run finished", { classified: { authorization: 2, tracker: 1 }, authorization: "Bearer x" });
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      classified: { authorization: 2, tracker: 1 },
      authorization: "***",
    });
  });

  it("writes short readable lines for a terminal", () => {
    const { log, lines } = capture("pretty");
    log.withTag("maintenance").warn("slow", { ms: 12 });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}\[maintenance\] slow ms=12$/);
  });

  it("respects the level", () => {
    const { log, lines } = capture("json");
    log.debug("hidden");
    expect(lines).toHaveLength(0);
  });

  it("redacts nested objects", () => {
    expect(redactObject({ a: { token: "t", b: 1 } })).toEqual({ a: { token: "***", b: 1 } });
  });
});
