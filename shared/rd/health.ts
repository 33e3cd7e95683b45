import type { DebridProvider } from "../clients/debrid.ts";
import { RdError } from "../clients/real-debrid.ts";
import { errorMessage } from "../errors.ts";
import { cachedProbe, type HealthProbe, type ServiceHealth } from "../health.ts";

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

/** /health's view of RD, cached (see cachedProbe): health checks never spend the RD budget. */
export function realDebridProbe(
  rd: DebridProvider | null,
  opts: { background: boolean } = { background: true },
): HealthProbe {
  if (!rd) return async () => ({ status: "not_configured", detail: "RD_API_TOKEN is not set" });
  return cachedProbe(() => checkRealDebrid(rd, AbortSignal.timeout(15_000)), opts);
}
