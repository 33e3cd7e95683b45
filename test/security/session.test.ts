// The dashboard session: cookie flags, fixation, server-side logout and expiry, token rotation, CSRF
// bound to the session, and redirects that never leave the site.

import { afterEach, describe, expect, it } from "vitest";
import { sessionKey } from "../../shared/dashboard/session.ts";
import { H, harnesses, seed, TOKEN } from "../dashboard/harness.ts";
import { makeDb } from "../helpers/factories.ts";
import { dbSnapshot } from "./support.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

const cookieOf = (setCookie: string | null) => (setCookie ?? "").split(";")[0] ?? "";
const idOf = (cookie: string) => cookie.split("=")[1] ?? "";
const sessions = async (h: Awaited<ReturnType<typeof open>>) =>
  (await h.db.execute("SELECT id_hash, csrf, expires_at FROM dashboard_sessions")).rows;

describe("session cookie", () => {
  it("is HttpOnly, SameSite=Strict, Path=/, lives SESSION_HOURS, and carries 256 random bits", async () => {
    const h = await open({ env: { SESSION_HOURS: "2" } });
    const res = await h.post("/login", { token: TOKEN });
    const header = res.headers.get("set-cookie") ?? "";
    const attrs = header.split(";").map((a) => a.trim().toLowerCase());
    expect(attrs).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/", "max-age=7200"]));
    expect(attrs).not.toContain("secure");
    expect(attrs.some((a) => a.startsWith("domain="))).toBe(false);
    expect(idOf(cookieOf(header))).toMatch(/^[\w-]{43}$/);
    const again = await h.post("/login", { token: TOKEN });
    expect(idOf(cookieOf(again.headers.get("set-cookie")))).not.toBe(idOf(cookieOf(header)));
  });

  it("is Secure when the request came over https, directly or via x-forwarded-proto", async () => {
    const h = await open();
    const direct = await h.app.request("https://rdtm.example/login", {
      method: "POST",
      body: new URLSearchParams({ token: TOKEN }),
    });
    expect(direct.headers.get("set-cookie")).toMatch(/;\s*Secure/i);
    const proxied = await h.post("/login", { token: TOKEN }, undefined, { "x-forwarded-proto": "https, http" });
    expect(proxied.headers.get("set-cookie")).toMatch(/;\s*Secure/i);
    const plain = await h.post("/login", { token: TOKEN }, undefined, { "x-forwarded-proto": "http" });
    expect(plain.headers.get("set-cookie")).not.toMatch(/Secure/i);
  });

  it("is stored only as an HMAC keyed by API_TOKEN: nothing in the database is a usable cookie", async () => {
    const h = await open();
    const { cookie } = await h.login();
    const id = idOf(cookie);
    const dump = await dbSnapshot(h.db);
    expect(dump).not.toContain(id);
    const [row] = await sessions(h);
    expect(String(row?.id_hash)).toBe(await sessionKey(TOKEN, id));
    // A leaked database row used as the cookie does not log in.
    const leaked = await h.get("/", `rdtm_session=${String(row?.id_hash)}`);
    expect(leaked.status).toBe(303);
  });
});

describe("session fixation", () => {
  it("never adopts a cookie value the server did not issue: refused, cleared, and replaced at login", async () => {
    const h = await open();
    const planted = `rdtm_session=${"F".repeat(43)}`;
    const page = await h.get("/", planted);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/login");
    expect(page.headers.get("set-cookie")).toMatch(/^rdtm_session=;.*Max-Age=0/);
    const login = await h.post("/login", { token: TOKEN }, planted);
    const issued = idOf(cookieOf(login.headers.get("set-cookie")));
    expect(issued).not.toBe("F".repeat(43));
    expect(issued).toMatch(/^[\w-]{43}$/);
    // Logging in while carrying the planted value does not make that value a session.
    expect((await h.get("/", planted)).status).toBe(303);
    const keys = (await sessions(h)).map((r) => String(r.id_hash));
    expect(keys).not.toContain(await sessionKey(TOKEN, "F".repeat(43)));
  });

  it("logs every session out when API_TOKEN changes (the key of the stored HMAC)", async () => {
    const db = await makeDb();
    const before = await open({ db });
    const { cookie } = await before.login();
    expect((await before.get("/", cookie)).status).toBe(200);
    const rotated = await open({ db, env: { API_TOKEN: "rotated-token-0123456789abcdef" } });
    expect((await rotated.get("/", cookie)).status).toBe(303);
    closeAll();
    db.close();
  });
});

describe("logout and expiry", () => {
  it("logout deletes the session server-side: a copy of the cookie kept by an attacker stops working", async () => {
    const h = await open();
    await seed(h.db);
    const { cookie, csrf } = await h.login();
    expect(await sessions(h)).toHaveLength(1);
    const out = await h.post("/logout", { _csrf: csrf }, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login");
    expect(out.headers.get("set-cookie")).toMatch(/^rdtm_session=;.*Max-Age=0/);
    expect(await sessions(h)).toHaveLength(0);
    const before = await dbSnapshot(h.db);
    expect((await h.get("/", cookie)).status).toBe(303);
    const replay = await h.post(`/failures/${H.failed}/reset`, { _csrf: csrf }, cookie);
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/login");
    expect(await dbSnapshot(h.db)).toBe(before);
  });

  it("an expired session opens nothing, GET or POST", async () => {
    const h = await open();
    await seed(h.db);
    const { cookie, csrf } = await h.login();
    h.skew(h.config.SESSION_HOURS * 3_600_000 + 1);
    const before = await dbSnapshot(h.db);
    expect((await h.get("/", cookie)).status).toBe(303);
    const res = await h.post("/rescan", { _csrf: csrf }, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    expect(await dbSnapshot(h.db)).toBe(before);
  });
});

describe("CSRF and origin checks", () => {
  it("accepts a same-origin form (Origin equal to Host, or to X-Forwarded-Host behind a proxy)", async () => {
    const h = await open();
    const { cookie, csrf } = await h.login();
    const same = await h.post("/rescan", { _csrf: csrf }, cookie, {
      origin: "http://rdtm.local:8787",
      host: "rdtm.local:8787",
      "sec-fetch-site": "same-origin",
    });
    expect(same.status).toBe(303);
    const proxied = await h.post("/rescan", { _csrf: csrf }, cookie, {
      origin: "https://rdtm.example",
      host: "rdtm:8787",
      "x-forwarded-host": "rdtm.example",
    });
    expect(proxied.status).toBe(303);
  });

  it("refuses an Origin that only looks like ours", async () => {
    const h = await open();
    const { cookie, csrf } = await h.login();
    for (const origin of [
      "http://rdtm.local:8787.evil.example",
      "http://evil.example",
      "http://rdtm.local:8788",
      "http://rdtm.local@evil.example:8787",
      "not a url",
    ]) {
      const res = await h.post("/rescan", { _csrf: csrf }, cookie, { origin, host: "rdtm.local:8787" });
      expect(res.status, origin).toBe(403);
    }
  });

  it("keeps the CSRF token out of the cookie and different from the session id", async () => {
    const h = await open();
    const res = await h.post("/login", { token: TOKEN });
    const header = res.headers.get("set-cookie") ?? "";
    const [row] = await sessions(h);
    expect(header).not.toContain(String(row?.csrf));
    expect(String(row?.csrf)).toMatch(/^[\w-]{43}$/);
    expect(String(row?.csrf)).not.toBe(idOf(cookieOf(header)));
  });
});

describe("redirects stay on the site", () => {
  const offsite = [
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\t/evil.example",
    " //evil.example",
    "/\r\nSet-Cookie:x=y",
  ];

  it.each(offsite)("login's next=%j falls back to /", async (next) => {
    const h = await open();
    const res = await h.post("/login", { token: TOKEN, next });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
  });

  it("a control's back field never sends the browser off-site", async () => {
    const h = await open();
    await seed(h.db);
    const { cookie, csrf } = await h.login();
    for (const back of offsite) {
      const res = await h.post("/rescan", { _csrf: csrf, back }, cookie);
      expect(res.status, back).toBe(303);
      expect(res.headers.get("location"), back).toBe("/");
    }
    const local = await h.post("/rescan", { _csrf: csrf, back: "/runs?job=x" }, cookie);
    expect(local.headers.get("location")).toBe("/runs?job=x");
  });
});
