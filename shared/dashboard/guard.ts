import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie } from "hono/cookie";
import { html } from "hono/html";
import { safeEqual } from "../auth.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import type { Frame } from "./layout.ts";
import { type DashEnv, problemPage, sendPage } from "./respond.ts";
import { clearFlash, findSession, SESSION_COOKIE } from "./session.ts";

/** What the guards need. */
export interface GuardDeps {
  config: Config;
  db: Db;
  now: () => number;
  ready: () => Promise<void>;
}

const MAX_FORM_BYTES = 16 * 1024;

/** Caps a dashboard form's body (they are a few short fields). */
export const formLimit: MiddlewareHandler = bodyLimit({
  maxSize: MAX_FORM_BYTES,
  onError: (c) => c.text(`form larger than ${MAX_FORM_BYTES} bytes`, 413),
});

/** True when the browser reached us over https (directly, or through a proxy that says so). */
export function isHttps(c: Context): boolean {
  const forwarded = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  if (forwarded) return forwarded === "https";
  return new URL(c.req.url).protocol === "https:";
}

/** A same-site path to send the browser back to; anything else (other hosts, `//x`, odd characters) is refused. */
export function localPath(value: unknown, fallback: string): string {
  return typeof value === "string" && value.length <= 1000 && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : fallback;
}

/**
 * A request sent by another site: `Sec-Fetch-Site` says so, or `Origin` names another host (or is
 * opaque). Both are optional: old browsers and non-browsers send neither, and the CSRF token still holds.
 */
export function isCrossSite(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return true;
  const origin = c.req.header("origin");
  if (!origin) return false;
  if (!URL.canParse(origin)) return true;
  const host = c.req.header("x-forwarded-host") ?? c.req.header("host") ?? new URL(c.req.url).host;
  return new URL(origin).host !== host.split(",")[0]?.trim();
}

/** The explanation shown instead of the dashboard while API_TOKEN is unset: never open without auth. */
export function tokenMissing(c: Context, config: Config): Promise<Response> {
  return sendPage(
    c,
    config,
    { title: "Dashboard disabled", path: c.req.path },
    html`<h1>Dashboard disabled</h1>
      <p>
        The dashboard needs a login, and the login is the <code>API_TOKEN</code>. Set <code>API_TOKEN</code> (at least
        16 characters, e.g. <code>openssl rand -hex 32</code>) in the environment and restart RDTM.
      </p>`,
    503,
  );
}

/** Page frame of a logged-in request: the flash is shown once, then cleared. */
export async function frameOf(c: Context<DashEnv>, deps: GuardDeps, title: string): Promise<Frame> {
  const s = c.get("session");
  if (s.flash) await clearFlash(deps.db, s.idHash);
  return { title, path: c.req.path, csrf: s.csrf, flash: s.flash, now: deps.now() };
}

/** Lets a request through only with a live session; otherwise 303 to /login (503 without API_TOKEN). */
export function requireSession(deps: GuardDeps): MiddlewareHandler<DashEnv> {
  return async (c, next) => {
    const token = deps.config.API_TOKEN;
    if (!token) return tokenMissing(c, deps.config);
    await deps.ready();
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? await findSession(deps.db, token, id, deps.now()) : null;
    if (!session) {
      if (id) deleteCookie(c, SESSION_COOKIE, { path: "/" });
      const url = new URL(c.req.url);
      const next = c.req.method === "GET" && url.pathname !== "/events" ? url.pathname + url.search : "/";
      return c.redirect(next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`, 303);
    }
    c.set("session", session);
    await next();
  };
}

/** For POSTs after requireSession: same-site only, and the form's `_csrf` must match the session's. */
export function requireCsrf(deps: GuardDeps): MiddlewareHandler<DashEnv> {
  return async (c, next) => {
    const refuse = (detail: string) =>
      problemPage(c, deps.config, { title: "Refused", path: c.req.path }, "Request refused", detail, 403);
    if (isCrossSite(c)) return refuse("This form was sent from another site.");
    const body = await c.req.parseBody();
    const sent = body._csrf;
    if (typeof sent !== "string" || !(await safeEqual(sent, c.get("session").csrf))) {
      return refuse("This form has expired or is not from this dashboard. Reload the page and try again.");
    }
    await next();
  };
}
