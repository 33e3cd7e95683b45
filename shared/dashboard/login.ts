import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import { safeEqual } from "../auth.ts";
import type { Logger } from "../log.ts";
import {
  formLimit,
  type GuardDeps,
  isCrossSite,
  isHttps,
  localPath,
  requireCsrf,
  requireSession,
  tokenMissing,
} from "./guard.ts";
import { type DashEnv, problemPage, sendPage } from "./respond.ts";
import { createSession, deleteSession, findSession, SESSION_COOKIE } from "./session.ts";

const FAILURE_WINDOW_MS = 60_000;
const MAX_DELAY_MS = 3_000;

/**
 * Delay before answering a wrong token: 250 ms, doubling with each failure in the last minute, at most
 * 3 s. Guessing a 16+ character token stays hopeless, and one typo costs a quarter second.
 */
function failureDelay() {
  const failures: number[] = [];
  return () => {
    const now = Date.now();
    while (failures.length > 0 && (failures[0] ?? 0) < now - FAILURE_WINDOW_MS) failures.shift();
    const ms = Math.min(MAX_DELAY_MS, 250 * 2 ** Math.min(failures.length, 4));
    if (failures.length < 100) failures.push(now);
    return new Promise<void>((r) => setTimeout(r, ms));
  };
}

function loginForm(next: string, error: string | null) {
  return html`<h1>Log in</h1>
    ${error ? html`<p class="flash error" role="alert">${error}</p>` : ""}
    <form method="post" action="/login" class="stack">
      <input type="hidden" name="next" value="${next}" />
      <p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
      </p>
      <p><button type="submit">Log in</button></p>
    </form>
    <p class="muted">The token is the <code>API_TOKEN</code> RDTM was started with.</p>`;
}

/** Mounts GET/POST /login and POST /logout. */
export function mountLogin(ui: Hono<DashEnv>, deps: GuardDeps & { log: Logger }): void {
  const { config, db } = deps;
  const delay = failureDelay();
  const frame = (c: Context) => ({ title: "Log in", path: c.req.path });

  ui.get("/login", async (c) => {
    const token = config.API_TOKEN;
    if (!token) return tokenMissing(c, config);
    await deps.ready();
    const next = localPath(c.req.query("next"), "/");
    const id = getCookie(c, SESSION_COOKIE);
    if (id && (await findSession(db, token, id, deps.now()))) return c.redirect(next, 303);
    return sendPage(c, config, frame(c), loginForm(next, null));
  });

  ui.post("/login", formLimit, async (c) => {
    const token = config.API_TOKEN;
    if (!token) return tokenMissing(c, config);
    if (isCrossSite(c)) {
      return problemPage(c, config, frame(c), "Request refused", "This form was sent from another site.", 403);
    }
    await deps.ready();
    const body = await c.req.parseBody();
    const next = localPath(body.next, "/");
    const sent = typeof body.token === "string" ? body.token.trim() : "";
    if (!(await safeEqual(sent, token))) {
      await delay();
      // Never the submitted value: it may be a near miss of the real token.
      deps.log.warn("dashboard login failed", {
        from: c.req.header("x-forwarded-for") ?? c.req.header("x-real-ip") ?? "direct",
        userAgent: c.req.header("user-agent")?.slice(0, 120) ?? null,
      });
      return sendPage(c, config, frame(c), loginForm(next, "Wrong token."), 401);
    }
    const ttlMs = config.SESSION_HOURS * 3_600_000;
    const session = await createSession(db, token, deps.now(), ttlMs);
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: ttlMs / 1000,
      secure: isHttps(c),
    });
    deps.log.info("dashboard login");
    return c.redirect(next, 303);
  });

  ui.post("/logout", formLimit, requireSession(deps), requireCsrf(deps), async (c) => {
    await deleteSession(db, c.get("session").idHash);
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: isHttps(c) });
    return c.redirect("/login", 303);
  });
}
