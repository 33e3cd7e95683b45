// Every mutating or invoking route, taken from the app's own route table so a new one cannot slip past:
// refused without credentials (401 on the API, a redirect or 403 on the dashboard), refused while
// API_TOKEN is unset (503), and in every refused case nothing changed in the database and no job ran.
// A positive control per route proves the refused requests were aimed at something that does act.

import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { safeEqual } from "../../shared/auth.ts";
import { sessionSchema } from "../../shared/dashboard/session.ts";
import type { OpenApiDocument } from "../../shared/openapi.ts";
import { H, harnesses, seed, TOKEN } from "../dashboard/harness.ts";
import { makeJob } from "../helpers/factories.ts";
import { dbSnapshot } from "./support.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const isApi = (path: string) => path.startsWith("/api/") || path.startsWith("/jobs/");
// The routes this file was written against; the sweep itself covers whatever the app registers.
const KNOWN = [
  "POST /jobs/:name/run",
  "POST /api/scan/full/reset",
  "POST /api/sweep/start",
  "POST /api/repairs/:id/retry",
  "POST /api/permanent-failures/:hash/reset",
  "POST /login",
  "POST /logout",
  "POST /run/:job",
  "POST /repairs/:id/retry",
  "POST /repairs/:id/cancel",
  "POST /failures/:hash/reset",
  "POST /rescan",
];
// Path parameters filled with rows the seed creates, so an unguarded route would really act on them.
const PARAMS: Record<string, string> = { name: "quick-job", job: "quick-job", id: "1", hash: H.failed };

/** A harness with one counting job and the dashboard's seed rows. */
async function setup(env: Record<string, string> = {}) {
  let runs = 0;
  const job = makeJob({
    name: "quick-job",
    run: async () => {
      runs++;
      return { ok: true };
    },
  });
  const h = await open({ env, jobs: [job] });
  await seed(h.db);
  await sessionSchema(h.db)();
  return { h, runs: () => runs };
}

/** Every mutating route the app registers, once each, as "METHOD /path". */
function mutatingRoutes(app: { routes: { method: string; path: string }[] }): string[] {
  const set = new Set(
    app.routes.filter((r) => MUTATING.has(r.method) && !r.path.includes("*")).map((r) => `${r.method} ${r.path}`),
  );
  return [...set].sort();
}

const fill = (path: string) => path.replace(/:(\w+)(\{[^}]*\})?/g, (_, p: string) => PARAMS[p] ?? "1");

async function routesOfApp(): Promise<string[]> {
  const { h } = await setup();
  return mutatingRoutes(h.app);
}
const ROUTES = await routesOfApp();
closeAll();
const API_ROUTES = ROUTES.filter((r) => isApi(r.split(" ")[1] ?? ""));
const DASH_ROUTES = ROUTES.filter((r) => !isApi(r.split(" ")[1] ?? "") && r !== "POST /login");

type Harness = Awaited<ReturnType<typeof setup>>["h"];

async function apiCall(h: Harness, route: string, headers: Record<string, string>, query = "") {
  const [method, path] = route.split(" ") as [string, string];
  return h.app.request(fill(path) + query, {
    method,
    body: "{}",
    headers: { "content-type": "application/json", ...headers },
  });
}

async function formCall(
  h: Harness,
  route: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const [method, path] = route.split(" ") as [string, string];
  return h.app.request(fill(path), {
    method,
    body: new URLSearchParams({ mode: "dry", back: "/", ...fields }),
    headers,
  });
}

describe("the route table", () => {
  it("still has every route this file was written for (any other mutating route is swept as well)", () => {
    // Anything outside /api and /jobs is swept as a dashboard route: it must want a session and CSRF.
    for (const r of KNOWN) expect(ROUTES).toContain(r);
    expect(API_ROUTES.length).toBeGreaterThanOrEqual(5);
    expect(DASH_ROUTES.length).toBeGreaterThanOrEqual(6);
  });

  it("documents every API route that acts as bearer-secured with a 401 answer", async () => {
    const { h } = await setup();
    const doc = (await (await h.app.request("/openapi.json")).json()) as OpenApiDocument;
    for (const route of API_ROUTES) {
      const [method, path] = route.split(" ") as [string, string];
      const op = doc.paths[path.replace(/:(\w+)/g, "{$1}")]?.[method.toLowerCase() as "post"];
      expect(op, route).toBeDefined();
      expect(op?.security, route).toEqual([{ bearer: [] }]);
      expect(Object.keys(op?.responses ?? {}), route).toContain("401");
    }
  });
});

describe.each(API_ROUTES)("API %s", (route) => {
  const wrong = [
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer wrong-token-0123456789abcdef" }],
    ["the token with its first character changed", { authorization: `Bearer X${TOKEN.slice(1)}` }],
    ["the token with its last character changed", { authorization: `Bearer ${TOKEN.slice(0, -1)}X` }],
    ["a prefix of the token", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["the token plus one character", { authorization: `Bearer ${TOKEN}x` }],
    ["an empty bearer", { authorization: "Bearer " }],
    ["the token as Basic credentials", { authorization: `Basic ${btoa(`rdtm:${TOKEN}`)}` }],
    ["the token without a scheme", { authorization: TOKEN }],
    ["the token in another header", { "x-api-token": TOKEN }],
  ] as const;

  it("answers 401 with a Bearer challenge to every wrong credential, changing nothing and running nothing", async () => {
    const { h, runs } = await setup();
    const before = await dbSnapshot(h.db);
    for (const [label, headers] of wrong) {
      const res = await apiCall(h, route, headers);
      expect(res.status, label).toBe(401);
      expect(res.headers.get("www-authenticate"), label).toMatch(/^Bearer /);
      expect(await res.json(), label).toEqual({ error: "missing or wrong bearer token" });
    }
    // Neither a token in the query string nor a logged-in dashboard session opens the API.
    expect((await apiCall(h, route, {}, `?token=${TOKEN}&api_token=${TOKEN}`)).status).toBe(401);
    const { cookie } = await h.login();
    const afterLogin = await dbSnapshot(h.db);
    expect((await apiCall(h, route, { cookie })).status).toBe(401);
    expect(await dbSnapshot(h.db)).toBe(afterLogin);
    expect(afterLogin.replace(/"dashboard_sessions":\[[^\]]*\]/, "")).toBe(
      before.replace(/"dashboard_sessions":\[[^\]]*\]/, ""),
    );
    expect(runs()).toBe(0);
  });

  it("answers 503 to everyone, even a bearer, while API_TOKEN is unset (empty counts as unset)", async () => {
    const { h, runs } = await setup({ API_TOKEN: "" });
    expect(h.config.API_TOKEN).toBeUndefined();
    const before = await dbSnapshot(h.db);
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer " }, { authorization: `Bearer ${TOKEN}` }];
    for (const headers of attempts) {
      const res = await apiCall(h, route, headers);
      expect(res.status).toBe(503);
      expect((await res.json()).error).toMatch(/API_TOKEN is not set/);
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });

  it("acts with the right token (positive control: the refused requests were aimed at a live route)", async () => {
    const { h, runs } = await setup();
    const before = await dbSnapshot(h.db);
    const res = await apiCall(h, route, { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBeLessThan(300);
    expect((await dbSnapshot(h.db)) !== before || runs() > 0).toBe(true);
  });
});

describe.each(DASH_ROUTES)("dashboard %s", (route) => {
  it("sends requests without a live session to /login, changing nothing", async () => {
    const { h, runs } = await setup();
    const before = await dbSnapshot(h.db);
    const attempts: [string, Record<string, string>][] = [
      ["no cookie", {}],
      ["the API bearer instead of a session", { authorization: `Bearer ${TOKEN}` }],
      ["a cookie the server never issued", { cookie: `rdtm_session=${"A".repeat(43)}` }],
      ["the token itself as the cookie", { cookie: `rdtm_session=${TOKEN}` }],
      ["a malformed cookie", { cookie: "rdtm_session=../../etc/passwd" }],
    ];
    for (const [label, headers] of attempts) {
      const res = await formCall(h, route, { _csrf: "x".repeat(43) }, headers);
      expect(res.status, label).toBe(303);
      expect(res.headers.get("location"), label).toMatch(/^\/login(\?|$)/);
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });

  it("refuses a live session without the right CSRF token or from another site with 403, changing nothing", async () => {
    const { h, runs } = await setup();
    const { cookie, csrf } = await h.login();
    const other = await h.login();
    const before = await dbSnapshot(h.db);
    const attempts: [string, Record<string, string>, Record<string, string>][] = [
      ["no _csrf", {}, {}],
      ["an empty _csrf", { _csrf: "" }, {}],
      ["a wrong _csrf", { _csrf: `${csrf.slice(0, -1)}${csrf.endsWith("A") ? "B" : "A"}` }, {}],
      ["another session's _csrf", { _csrf: other.csrf }, {}],
      ["the session id as _csrf", { _csrf: cookie.split("=")[1] ?? "" }, {}],
      ["a cross-site Origin", { _csrf: csrf }, { origin: "https://evil.example" }],
      ["an opaque Origin", { _csrf: csrf }, { origin: "null" }],
      ["Sec-Fetch-Site: cross-site", { _csrf: csrf }, { "sec-fetch-site": "cross-site" }],
      ["Sec-Fetch-Site: same-site (a sibling subdomain)", { _csrf: csrf }, { "sec-fetch-site": "same-site" }],
    ];
    for (const [label, fields, headers] of attempts) {
      const res = await formCall(h, route, fields, { cookie, ...headers });
      expect(res.status, label).toBe(403);
      expect(res.headers.get("set-cookie"), label).toBeNull();
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });

  it("answers 503 while API_TOKEN is unset, whatever the request carries", async () => {
    const { h, runs } = await setup({ API_TOKEN: "" });
    const before = await dbSnapshot(h.db);
    const attempts: Record<string, string>[] = [
      {},
      { cookie: `rdtm_session=${"A".repeat(43)}` },
      { authorization: `Bearer ${TOKEN}` },
    ];
    for (const headers of attempts) {
      expect((await formCall(h, route, { _csrf: "x" }, headers)).status).toBe(503);
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });

  it("acts with a session and its CSRF token (positive control)", async () => {
    const { h, runs } = await setup();
    const { cookie, csrf } = await h.login();
    const before = await dbSnapshot(h.db);
    const res = await formCall(h, route, { _csrf: csrf }, { cookie });
    expect(res.status).toBe(303);
    if (route !== "POST /logout") expect(res.headers.get("location")).not.toMatch(/^\/login/);
    expect((await dbSnapshot(h.db)) !== before || runs() > 0).toBe(true);
  });
});

describe("POST /login", () => {
  it("creates no session for a missing or wrong token, or for a right one posted from another site", async () => {
    const { h } = await setup();
    const before = await dbSnapshot(h.db);
    const attempts: [number, Record<string, string>, Record<string, string>][] = [
      [401, {}, {}],
      [401, { token: `${TOKEN.slice(0, -1)}X` }, {}],
      [403, { token: TOKEN }, { origin: "https://evil.example" }],
      [403, { token: TOKEN }, { "sec-fetch-site": "cross-site" }],
    ];
    for (const [status, fields, headers] of attempts) {
      const res = await h.app.request("/login", { method: "POST", body: new URLSearchParams(fields), headers });
      expect(res.status).toBe(status);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    const ok = await h.post("/login", { token: TOKEN });
    expect(ok.status).toBe(303);
    expect(await dbSnapshot(h.db)).not.toBe(before);
  });

  it("answers 503 and never logs anyone in while API_TOKEN is unset", async () => {
    const { h } = await setup({ API_TOKEN: "" });
    const before = await dbSnapshot(h.db);
    for (const token of ["", "undefined", TOKEN]) {
      const res = await h.post("/login", { token });
      expect(res.status).toBe(503);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    expect(await dbSnapshot(h.db)).toBe(before);
  });
});

describe("the bearer comparison", () => {
  it("accepts only the exact token, in whatever case the scheme is written", async () => {
    expect(await safeEqual(TOKEN, TOKEN)).toBe(true);
    for (const other of ["", `X${TOKEN.slice(1)}`, `${TOKEN.slice(0, -1)}X`, TOKEN.slice(0, -1), `${TOKEN}\0`]) {
      expect(await safeEqual(other, TOKEN)).toBe(false);
    }
    const { h } = await setup();
    const res = await h.app.request("/api/sweep/start", {
      method: "POST",
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(res.status).toBe(202);
  });

  it("hashes both sides every time, whatever their lengths, so the work does not depend on the input", async () => {
    const digest = vi.spyOn(crypto.subtle, "digest");
    try {
      for (const other of ["", "x", `X${TOKEN.slice(1)}`, `${TOKEN.slice(0, -1)}X`, TOKEN, "y".repeat(10_000)]) {
        digest.mockClear();
        await safeEqual(other, TOKEN);
        expect(digest).toHaveBeenCalledTimes(2);
        expect(digest.mock.calls.map((c) => c[0])).toEqual(["SHA-256", "SHA-256"]);
      }
    } finally {
      digest.mockRestore();
    }
  });

  it("compares fixed-length digests without an early exit, and every secret check goes through it (source)", () => {
    const auth = readFileSync(new URL("../../shared/auth.ts", import.meta.url), "utf8");
    const body = /export async function safeEqual[\s\S]*?\n}\n/.exec(auth)?.[0] ?? "";
    // Both inputs become SHA-256 digests (always 32 bytes), compared over their whole length.
    expect(body).toMatch(/digest\("SHA-256", encoder\.encode\(a\)\)/);
    expect(body).toMatch(/digest\("SHA-256", encoder\.encode\(b\)\)/);
    expect(body).toMatch(/timingSafeEqual\(|diff \|= \(x\[i\] \?\? 0\) \^ \(y\[i\] \?\? 0\)/);
    const loop = /for \([^)]*\)[^\n]*\n/.exec(body)?.[0] ?? "";
    expect(loop).not.toMatch(/return|break/);
    expect(body).not.toMatch(/a === b|a !== b|a\.length !== b\.length/);
    // The bearer, the login token and the CSRF token are all compared with safeEqual, never with ===.
    const login = readFileSync(new URL("../../shared/dashboard/login.ts", import.meta.url), "utf8");
    const guard = readFileSync(new URL("../../shared/dashboard/guard.ts", import.meta.url), "utf8");
    expect(auth).toMatch(/safeEqual\(match\[1\]\.trim\(\), token\)/);
    expect(login).toMatch(/safeEqual\(sent, token\)/);
    expect(guard).toMatch(/safeEqual\(sent, c\.get\("session"\)\.csrf\)/);
    for (const src of [auth, login, guard]) expect(src).not.toMatch(/(token|csrf)\s*[!=]==\s*(sent|token|csrf)/);
  });
});
