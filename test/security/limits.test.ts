// Request bodies: JSON and form posts are capped at 16 KiB (413), checked before anything runs, also for a
// chunked body with no Content-Length over a real socket; the run route takes JSON only (415).

import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterEach, describe, expect, it } from "vitest";
import { harnesses, seed, TOKEN } from "../dashboard/harness.ts";
import { makeJob } from "../helpers/factories.ts";
import { dbSnapshot } from "./support.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

const LIMIT = 16 * 1024;
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function setup() {
  let runs = 0;
  const job = makeJob({
    name: "quick-job",
    run: async () => {
      runs++;
      return { ok: true };
    },
  });
  const h = await open({ jobs: [job] });
  await seed(h.db);
  return { h, runs: () => runs };
}

/** A JSON body of exactly `bytes` bytes that is otherwise valid for POST /jobs/:name/run. */
const jsonOf = (bytes: number) => {
  const head = '{"dryRun":true,"pad":"';
  return `${head}${"x".repeat(bytes - head.length - 2)}"}`;
};

/** A body streamed in chunks, so no Content-Length is known in advance. */
const streamOf = (text: string, chunk = 1024) => {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
};

describe("POST /jobs/:name/run body", () => {
  it("answers 413 to JSON over 16 KiB, with or without Content-Length, running nothing", async () => {
    const { h, runs } = await setup();
    const before = await dbSnapshot(h.db);
    const over = jsonOf(LIMIT + 1);
    const sized = await h.app.request("/jobs/quick-job/run", {
      method: "POST",
      body: over,
      headers: { ...AUTH, "content-type": "application/json", "content-length": String(over.length) },
    });
    expect(sized.status).toBe(413);
    expect((await sized.json()).error).toMatch(/larger than 16384 bytes/);
    const streamed = await h.app.request("/jobs/quick-job/run", {
      method: "POST",
      body: streamOf(jsonOf(10 * LIMIT)),
      headers: { ...AUTH, "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });

  it("reads a body at exactly the limit (the cap is not off by one) and refuses its unknown key with 400", async () => {
    const { h, runs } = await setup();
    const res = await h.app.request("/jobs/quick-job/run", {
      method: "POST",
      body: jsonOf(LIMIT),
      headers: { ...AUTH, "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("pad");
    expect(runs()).toBe(0);
  });

  it("checks the token before reading the body: no token and a huge body is a 401", async () => {
    const { h } = await setup();
    const res = await h.app.request("/jobs/quick-job/run", {
      method: "POST",
      body: jsonOf(4 * LIMIT),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(401);
  });

  it.each([
    ["text/plain", 415],
    ["application/x-www-form-urlencoded", 415],
    ["multipart/form-data; boundary=x", 415],
    ["application/jsonx", 415],
    ["text/json", 415],
    ["", 415],
    ["application/json", 200],
    ["application/json; charset=utf-8", 200],
    ["Application/JSON", 200],
    ["application/vnd.rdtm+json", 200],
  ])("a JSON body sent as %j → %i", async (type, status) => {
    const { h, runs } = await setup();
    const headers: Record<string, string> = { ...AUTH };
    if (type) headers["content-type"] = type;
    const res = await h.app.request("/jobs/quick-job/run", { method: "POST", body: '{"dryRun":true}', headers });
    expect(res.status).toBe(status);
    if (status === 415) expect((await res.json()).error).toBe("send the body as application/json");
    expect(runs()).toBe(status === 200 ? 1 : 0);
  });

  it("answers 400 (not 500) to malformed JSON and to JSON of the wrong shape", async () => {
    const { h, runs } = await setup();
    for (const body of ["{", "null", '"x"', '{"dryRun":"yes"}', '{"limit":0}', '{"__proto__":{"dryRun":false}}']) {
      const res = await h.app.request("/jobs/quick-job/run", {
        method: "POST",
        body,
        headers: { ...AUTH, "content-type": "application/json" },
      });
      expect(res.status, body).toBe(400);
    }
    expect(runs()).toBe(0);
  });
});

describe("dashboard forms", () => {
  it("answer 413 to a form over 16 KiB on /login, /logout and every control, changing nothing", async () => {
    const { h, runs } = await setup();
    const { cookie, csrf } = await h.login();
    const before = await dbSnapshot(h.db);
    const pad = "x".repeat(LIMIT);
    for (const path of ["/login", "/logout", "/run/quick-job", "/rescan", "/repairs/1/cancel"]) {
      const fields = { token: TOKEN, _csrf: csrf, mode: "dry", pad };
      const res = await h.post(path, fields, cookie);
      expect(res.status, path).toBe(413);
      const streamed = await h.app.request(path, {
        method: "POST",
        body: streamOf(new URLSearchParams(fields).toString()),
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        duplex: "half",
      } as RequestInit);
      expect(streamed.status, `${path} streamed`).toBe(413);
    }
    expect(await dbSnapshot(h.db)).toBe(before);
    expect(runs()).toBe(0);
  });
});

describe("over a real socket", () => {
  it("413s a chunked body with no Content-Length on the API and on a form", async () => {
    const { h, runs } = await setup();
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    // Resolves with the status once the answer is complete; the server may close before the upload ends.
    const send = (path: string, type: string, chunks: string[]) =>
      new Promise<number>((resolve, reject) => {
        let status = 0;
        const req = httpRequest(
          { host: "127.0.0.1", port, path, method: "POST", headers: { ...AUTH, "content-type": type } },
          (res) => {
            status = res.statusCode ?? 0;
            res.resume();
            res.on("end", () => resolve(status));
          },
        );
        req.on("error", (err) => (status ? resolve(status) : reject(err)));
        for (const c of chunks) req.write(c);
        req.end();
      });
    try {
      // Just over the limit: the whole upload is on the wire before the answer, so the server's early close
      // cannot reset the connection before the client reads the 413.
      const json = jsonOf(LIMIT + 1);
      const chunks = json.match(/[\s\S]{1,4096}/g) ?? [];
      expect(await send("/jobs/quick-job/run", "application/json", chunks)).toBe(413);
      const form = `token=${"x".repeat(LIMIT)}`;
      expect(await send("/login", "application/x-www-form-urlencoded", form.match(/[\s\S]{1,4096}/g) ?? [])).toBe(413);
      expect(await send("/jobs/quick-job/run", "application/json", ['{"dryRun":', "true}"])).toBe(200);
      expect(runs()).toBe(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
