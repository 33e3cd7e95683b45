import type { DebridProvider } from "../clients/debrid.ts";
import { RdError } from "../clients/real-debrid.ts";
import { errorMessage } from "../errors.ts";
import type { HealthProbe, ServiceHealth } from "../health.ts";

const TTL_MS = 5 * 60_000;
const FIRST_CHECK_TIMEOUT_MS = 3_000;

/** Token validity and premium state of the RD account, as `rdtm check` and /health show it. */
export async function checkRealDebrid(rd: DebridProvider, signal?: AbortSignal): Promise<ServiceHealth> {
  try {
    const user = await rd.getUser(signal);
    const premiumDaysLeft = Math.floor(user.premiumSecondsLeft / 86_400);
    const premium = user.type === "premium" && user.premiumSecondsLeft > 0;
    return {
      status: premium ? (premiumDaysLeft < 3 ? "degraded" : "up") : "degraded",
      username: user.username,
      premium,
      premiumDaysLeft,
      expiration: user.expiration ? new Date(user.expiration).toISOString() : null,
      ...(premium ? {} : { error: "the account is not premium: torrents cannot be added" }),
      ...(premium && premiumDaysLeft < 3 ? { warning: `premium ends in ${premiumDaysLeft} day(s)` } : {}),
    };
  } catch (err) {
    const auth = err instanceof RdError && (err.info.class === "auth" || err.info.class === "account");
    return {
      status: "down",
      tokenValid: auth ? false : undefined,
      error: auth ? `token rejected: ${errorMessage(err)}` : errorMessage(err),
    };
  }
}

/**
 * /health's view of RD: served from a cache refreshed every 5 minutes in the background, so health
 * checks (and their load) never spend the RD request budget or wait on RD, except for the very first.
 */
export function realDebridProbe(
  rd: DebridProvider | null,
  opts: { background: boolean } = { background: true },
): HealthProbe {
  let cached: { at: number; value: ServiceHealth } | undefined;
  let refreshing: Promise<ServiceHealth> | undefined;
  const refresh = () => {
    refreshing ??= (async () => {
      try {
        const value = rd
          ? await checkRealDebrid(rd, AbortSignal.timeout(15_000))
          : { status: "not_configured" as const };
        cached = { at: Date.now(), value: { ...value, checkedAt: new Date().toISOString() } };
        return cached.value;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };
  return async () => {
    if (!rd) return { status: "not_configured", detail: "RD_API_TOKEN is not set" };
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    if (cached && opts.background) {
      void refresh().catch(() => {});
      return cached.value;
    }
    const timeout = new Promise<ServiceHealth>((resolve) =>
      setTimeout(() => resolve({ status: "degraded", detail: "first check still running" }), FIRST_CHECK_TIMEOUT_MS),
    );
    return Promise.race([refresh(), timeout]);
  };
}
