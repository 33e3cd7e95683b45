/** What a Real-Debrid failure means for the caller. */
export type RdErrorClass =
  | "rate_limited" // 429, error_code 34 too_many_requests, 5 slow_down: back off, retry later
  | "slots_full" // 509, error_code 21: too many active downloads, retry later
  | "infringing" // 451, error_code 35 (unless throttling was seen just before, see isThrottlingPenalty)
  | "auth" // 401, bad/expired token, 2FA: nothing works until the user acts
  | "account" // 403 account locked/not activated/not premium, IP not allowed
  | "not_found" // 404, error_code 7: the torrent is gone
  | "already_done" // 202, error_code 31
  | "fair_usage" // error_code 36
  | "traffic_exhausted" // error_code 23
  | "disabled_endpoint" // error_code 37
  | "bad_request" // 400, codes 1, 2, 3, 4, 26-30: our request is wrong; retrying will not help
  | "unavailable" // 5xx, timeouts, resets, codes -1, 6, 16-20, 24, 25: transient on RD's side
  | "malformed"; // a 2xx whose body is not what RD documents

/** A classified failure: whether retrying later can help, and whether it signals throttling. */
export interface RdErrorInfo {
  class: RdErrorClass;
  retryable: boolean;
  throttle: boolean;
}

const BY_CODE: Record<number, RdErrorClass> = {
  [-1]: "unavailable",
  1: "bad_request",
  2: "bad_request",
  3: "bad_request",
  4: "bad_request",
  5: "rate_limited",
  6: "unavailable",
  7: "not_found",
  8: "auth",
  9: "account",
  10: "auth",
  11: "auth",
  12: "auth",
  13: "auth",
  14: "account",
  15: "account",
  16: "unavailable",
  17: "unavailable",
  18: "unavailable",
  19: "unavailable",
  20: "account",
  21: "slots_full",
  22: "account",
  23: "traffic_exhausted",
  24: "unavailable",
  25: "unavailable",
  26: "bad_request",
  27: "bad_request",
  28: "bad_request",
  29: "bad_request",
  30: "bad_request",
  31: "already_done",
  32: "bad_request",
  33: "already_done",
  34: "rate_limited",
  35: "infringing",
  36: "fair_usage",
  37: "disabled_endpoint",
};

const RETRYABLE = new Set<RdErrorClass>([
  "rate_limited",
  "slots_full",
  "unavailable",
  "fair_usage",
  "traffic_exhausted",
]);

/**
 * Classifies a failed RD call. RD's numeric code wins over the HTTP status (the doc says the code is
 * what applications should use); without a code the status decides; without a response it is a
 * network failure, which is transient.
 */
export function classifyRdError(e: {
  status?: number | undefined;
  code?: number | undefined;
  malformed?: boolean;
}): RdErrorInfo {
  const cls = classOf(e);
  return { class: cls, retryable: RETRYABLE.has(cls), throttle: cls === "rate_limited" };
}

function classOf(e: { status?: number | undefined; code?: number | undefined; malformed?: boolean }): RdErrorClass {
  if (e.malformed) return "malformed";
  if (e.code !== undefined && e.code in BY_CODE) return BY_CODE[e.code] ?? "unavailable";
  const s = e.status;
  if (s === undefined) return "unavailable";
  if (s === 429) return "rate_limited";
  if (s === 509) return "slots_full";
  if (s === 451) return "infringing";
  if (s === 401) return "auth";
  if (s === 403) return "account";
  if (s === 404) return "not_found";
  if (s === 202) return "already_done";
  if (s === 408 || s >= 500) return "unavailable";
  if (s >= 400) return "bad_request";
  return "malformed";
}

/** How long after a 429/34 an "infringing" answer is treated as throttling, not a verdict (DMM's rule). */
export const THROTTLE_PENALTY_WINDOW_MS = 30_000;

/**
 * During active throttling RD may answer 35 as a penalty escalation rather than a content block: an
 * infringing answer within 30 s of the last 429/34 counts as rate limiting.
 */
export function isThrottlingPenalty(lastThrottleAt: number | null, now: number): boolean {
  return lastThrottleAt !== null && now - lastThrottleAt <= THROTTLE_PENALTY_WINDOW_MS;
}
