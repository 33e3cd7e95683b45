import { afterEach, describe, expect, it } from "vitest";
import { makeDb } from "../helpers/factories.ts";
import { harnesses, seed, TOKEN } from "./harness.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

const PAGES = [
  "/",
  "/torrents",
  "/repairs",
  "/failures",
  "/broken-links",
  "/actions",
  "/runs",
  "/qbit",
  "/charts",
  "/config",
];

describe("dashboard login and sessions", () => {
  it("answers 503 with an explanation on every route while API_TOKEN is unset", async () => {
    const h = await open({ env: { API_TOKEN: "" } });
    for (const path of [...PAGES, "/login", "/events"]) {
      const res = await h.get(path);
      expect(res.status, path).toBe(503);
      expect(res.text).toContain("Set <code>API_TOKEN</code>");
    }
    expect((await h.post("/login", { token: "anything-at-all-here" })).status).toBe(503);
    expect((await h.post("/rescan", { _csrf: "x" })).status).toBe(503);
  });

  it("sends every page and /events to /login without a session, keeping where to go back", async () => {
    const h = await open();
    for (const path of PAGES) {
      const res = await h.get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toMatch(/^\/login/);
    }
    expect((await h.get("/repairs?state=failed")).headers.get("location")).toBe(
      "/login?next=%2Frepairs%3Fstate%3Dfailed",
    );
    expect((await h.get("/events")).headers.get("location")).toBe("/login");
    const bogus = await h.get("/", "rdtm_session=not-a-real-session-id-0123456789");
    expect(bogus.status).toBe(303);
  });

  it("shows a login form the browser test can drive", async () => {
    const h = await open();
    const res = await h.get("/login?next=/runs");
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/<label for="token">API token<\/label>/);
    expect(res.text).toMatch(/<input id="token" name="token" type="password"/);
    expect(res.text).toMatch(/<button type="submit">Log in<\/button>/);
    expect(res.text).toContain('name="next" value="/runs"');
    expect(res.text).toContain('<html lang="en">');
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  it("refuses a wrong token slowly, logs it without the value, and sets no cookie", async () => {
    const h = await open();
    const started = Date.now();
    const res = await h.post("/login", { token: "wrong-token-guess-123456" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(res.status).toBe(401);
    expect(res.text).toContain("Wrong token.");
    expect(res.headers.get("set-cookie")).toBeNull();
    const line = h.log.lines.find((l) => l.msg === "dashboard login failed");
    expect(line).toBeDefined();
    expect(JSON.stringify(h.log.lines)).not.toContain("wrong-token-guess-123456");
  });

  it("logs in with the token: HttpOnly, SameSite=Strict session cookie stored hashed in the database", async () => {
    const h = await open();
    const res = await h.post("/login", { token: TOKEN, next: "/repairs" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/repairs");
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^rdtm_session=[\w-]{43};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/");
    expect(cookie).toContain(`Max-Age=${h.config.SESSION_HOURS * 3600}`);
    expect(cookie).not.toContain("Secure");
    const id = cookie.split(";")[0]?.split("=")[1] ?? "";
    const rows = (await h.db.execute("SELECT id_hash, csrf FROM dashboard_sessions")).rows;
    expect(rows).toHaveLength(1);
    expect(String(rows[0]?.id_hash)).not.toContain(id);
    expect((await h.get("/", `rdtm_session=${id}`)).status).toBe(200);
  });

  it("marks the cookie Secure behind https and never redirects off-site after login", async () => {
    const h = await open();
    const res = await h.post("/login", { token: TOKEN, next: "//evil.example/x" }, undefined, {
      "x-forwarded-proto": "https",
    });
    expect(res.headers.get("set-cookie")).toContain("Secure");
    expect(res.headers.get("location")).toBe("/");
  });

  it("keeps sessions in the database: another app on it accepts the cookie; expiry and logout end them", async () => {
    const db = await makeDb();
    const h = await open({ db });
    const { cookie, csrf } = await h.login();
    const other = await open({ db });
    expect((await other.get("/runs", cookie)).status).toBe(200);
    h.skew(h.config.SESSION_HOURS * 3_600_000 + 1);
    expect((await h.get("/runs", cookie)).status).toBe(303);
    expect((await other.get("/runs", cookie)).status).toBe(200);
    const out = await other.post("/logout", { _csrf: csrf }, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login");
    expect((await other.get("/runs", cookie)).status).toBe(303);
    closeAll();
    db.close();
  });

  it("refuses a login posted from another site", async () => {
    const h = await open();
    const res = await h.post("/login", { token: TOKEN }, undefined, { origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});

describe("CSRF", () => {
  it("refuses a control without, or with a wrong, CSRF token, or sent cross-site", async () => {
    const h = await open();
    const { cookie, csrf } = await h.login();
    const state = async () =>
      String((await h.db.execute("SELECT status FROM scan_progress WHERE scan = 'full'")).rows[0]?.status ?? "none");
    expect((await h.post("/rescan", {}, cookie)).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: `${csrf}x` }, cookie)).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: csrf }, cookie, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: csrf }, cookie, { "sec-fetch-site": "same-site" })).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: csrf }, cookie, { origin: "http://evil.example" })).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: csrf }, cookie, { origin: "null" })).status).toBe(403);
    expect(await state()).toBe("none");
    // Another session's token is no good either.
    const second = await h.login();
    expect((await h.post("/rescan", { _csrf: second.csrf }, cookie)).status).toBe(403);
    expect((await h.post("/rescan", { _csrf: csrf })).status).toBe(303);
    expect(await state()).toBe("none");
    const ok = await h.post("/rescan", { _csrf: csrf }, cookie, {
      origin: "http://localhost",
      "sec-fetch-site": "same-origin",
    });
    expect(ok.status).toBe(303);
    expect(await state()).toBe("pending");
  });

  it("puts the session's CSRF token in every POST form", async () => {
    const h = await open();
    await seed(h.db);
    const { cookie, csrf } = await h.login();
    for (const path of ["/", "/repairs", "/failures"]) {
      const { text } = await h.get(path, cookie);
      const forms = text.match(/<form method="post"[\s\S]*?<\/form>/g) ?? [];
      expect(forms.length, path).toBeGreaterThan(1);
      for (const f of forms) expect(f).toContain(`name="_csrf" value="${csrf}"`);
    }
  });
});

describe("secrets", () => {
  const SECRETS = {
    RD_API_TOKEN: "rd-secret-token-0123456789",
    LIBSQL_AUTH_TOKEN: "libsql-secret-jwt-0123456789",
    PLEX_TOKEN: "plex-secret-0123",
    DISCORD_WEBHOOK_URL: "https://discord.com/api/webhooks/123456/discord-secret-hook",
    WEBHOOK_URL: "https://hooks.example.test/generic-secret-hook",
    SONARR_API_KEY: "sonarr-secret-key-0123456789",
    QBIT_PASSWORD: "qbit-secret-password",
    QBIT_API_KEY: "qbit-secret-api-key-0123456789",
  };
  const ENV = {
    ...SECRETS,
    PLEX_URL: "http://plex.test:32400",
    SONARR_URL: "http://sonarr.test:8989",
    QBIT_URL: "http://qbit.test:8080",
    QBIT_USERNAME: "admin",
  };

  it("never renders a token, key, password or webhook URL on any page, even one copied into a stored error", async () => {
    const h = await open({ env: ENV });
    await seed(h.db);
    await h.db.execute({
      sql: `INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at, ended_at, error)
            VALUES ('leak', 'rd-quick-scan', 'cron', 0, 'h', 'failed', ?, ?, ?)`,
      args: [Date.now(), Date.now(), `GET /torrents?auth_token=${SECRETS.RD_API_TOKEN} failed & <b>x</b>`],
    });
    const { cookie } = await h.login();
    const pages = await Promise.all(
      [...PAGES, "/runs?status=failed", "/login"].map(async (p) => [p, (await h.get(p, cookie)).text] as const),
    );
    for (const [path, text] of pages) {
      for (const secret of [TOKEN, ...Object.values(SECRETS)])
        expect(text, `${path} shows a secret`).not.toContain(secret);
    }
    const runs = pages.find(([p]) => p === "/runs?status=failed")?.[1] ?? "";
    expect(runs).toContain("auth_token=*** failed &amp; &lt;b&gt;x&lt;/b&gt;");
    const config = pages.find(([p]) => p === "/config")?.[1] ?? "";
    expect(config).toContain("RD_API_TOKEN");
    expect(config).toContain("***");
  });
});
