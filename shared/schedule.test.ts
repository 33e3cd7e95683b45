import { describe, expect, it } from "vitest";
import { cronMatches, nextRunOf, tickOf } from "./schedule.ts";

const t = (iso: string) => Date.parse(iso);

describe("tickOf", () => {
  it.each([
    ["*/5 * * * * *", "2026-01-01T00:00:07.300Z", "2026-01-01T00:00:05.000Z"],
    ["*/5 * * * * *", "2026-01-01T00:00:05.000Z", "2026-01-01T00:00:05.000Z"],
    ["30 4 * * *", "2026-01-01T04:30:00.012Z", "2026-01-01T04:30:00.000Z"],
    // a process firing a whole 40 s late still agrees on the occurrence
    ["* * * * *", "2026-01-01T10:00:40.000Z", "2026-01-01T10:00:00.000Z"],
  ])("%s at %s belongs to %s", (pattern, at, tick) => {
    expect(tickOf(pattern, t(at))).toBe(t(tick));
  });
});

describe("nextRunOf", () => {
  it("gives the next occurrence, or null when off", () => {
    expect(nextRunOf("30 4 * * *", t("2026-01-01T05:00:00Z"))).toBe(t("2026-01-02T04:30:00Z"));
    expect(nextRunOf(null, 0)).toBeNull();
  });
});

describe("cronMatches", () => {
  it("compares patterns ignoring spacing", () => {
    expect(cronMatches("*/10  * * * *", "*/10 * * * *")).toBe(true);
    expect(cronMatches("*/10 * * * *", "*/5 * * * *")).toBe(false);
    expect(cronMatches(null, "* * * * *")).toBe(false);
  });
});
