import { describe, expect, it } from "vitest";
import { classifyRdError, isThrottlingPenalty } from "./errors.ts";
import { RD_STATUSES, statusGroup } from "./status.ts";

describe("classifyRdError", () => {
  it.each([
    // [status, code, class, retryable, throttle]
    [429, undefined, "rate_limited", true, true],
    [429, 34, "rate_limited", true, true],
    [503, 34, "rate_limited", true, true],
    [400, 5, "rate_limited", true, true],
    [509, undefined, "slots_full", true, false],
    [503, 21, "slots_full", true, false],
    [451, undefined, "infringing", false, false],
    [451, 35, "infringing", false, false],
    [401, undefined, "auth", false, false],
    [401, 8, "auth", false, false],
    [403, 14, "account", false, false],
    [403, undefined, "account", false, false],
    [403, 37, "disabled_endpoint", false, false],
    [404, 7, "not_found", false, false],
    [404, undefined, "not_found", false, false],
    [202, undefined, "already_done", false, false],
    [400, 1, "bad_request", false, false],
    [400, 2, "bad_request", false, false],
    [503, undefined, "unavailable", true, false],
    [500, -1, "unavailable", true, false],
    [502, undefined, "unavailable", true, false],
    [undefined, undefined, "unavailable", true, false],
    [503, 36, "fair_usage", true, false],
    [403, 23, "traffic_exhausted", true, false],
    [400, undefined, "bad_request", false, false],
    [418, 999, "bad_request", false, false],
  ] as const)("status %s code %s → %s", (status, code, cls, retryable, throttle) => {
    expect(classifyRdError({ status, code })).toEqual({ class: cls, retryable, throttle });
  });

  it("classifies every documented error code", () => {
    for (let code = -1; code <= 37; code++) {
      if (code === 0) continue;
      expect(classifyRdError({ code }).class, `code ${code}`).not.toBe("malformed");
    }
  });

  it("flags malformed success bodies", () => {
    expect(classifyRdError({ status: 200, malformed: true }).class).toBe("malformed");
  });
});

describe("isThrottlingPenalty", () => {
  it("treats 35 within 30 s of a 429/34 as throttling", () => {
    expect(isThrottlingPenalty(1_000, 31_000)).toBe(true);
    expect(isThrottlingPenalty(1_000, 31_001)).toBe(false);
    expect(isThrottlingPenalty(null, 5)).toBe(false);
  });
});

describe("statusGroup", () => {
  it.each([
    ["magnet_error", "failed"],
    ["error", "failed"],
    ["virus", "failed"],
    ["dead", "failed"],
    ["magnet_conversion", "waiting"],
    ["waiting_files_selection", "waiting"],
    ["queued", "waiting"],
    ["downloading", "active"],
    ["compressing", "active"],
    ["uploading", "active"],
    ["downloaded", "done"],
    ["teleporting", "unknown"],
  ])("%s is %s", (status, group) => {
    expect(statusGroup(status)).toBe(group);
  });

  it("covers all eleven documented statuses", () => {
    expect(RD_STATUSES).toHaveLength(11);
    for (const s of RD_STATUSES) expect(statusGroup(s)).not.toBe("unknown");
  });
});
