import type { MiddlewareHandler } from "hono";

const encoder = new TextEncoder();

/** Compares two strings in time independent of where they differ (both are hashed first). */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(ha);
  const y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Guards invoking and mutating routes with `Authorization: Bearer <API_TOKEN>`. Without a configured
 * token these routes are switched off (503) rather than left open.
 */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!token) {
      return c.json({ error: "API_TOKEN is not set: invoking and mutating routes are disabled" }, 503);
    }
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1] || !(await safeEqual(match[1].trim(), token))) {
      c.header("WWW-Authenticate", 'Bearer realm="rdtm"');
      return c.json({ error: "missing or wrong bearer token" }, 401);
    }
    await next();
  };
}
