import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createGzip, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeFetch } from "./node-fetch.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A node server on loopback; counts the connections it accepted. */
async function serve(handler: Handler) {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => handler(req, res, body));
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

describe("createNodeFetch", () => {
  it("sends method, query, headers and a form body; reads status, headers and JSON", async () => {
    let seen: { method?: string; url?: string; auth?: string; type?: string; body?: string } = {};
    const s = await serve((req, res, body) => {
      seen = {
        method: req.method,
        url: req.url,
        auth: req.headers.authorization,
        type: req.headers["content-type"],
        body,
      };
      res.writeHead(201, { "content-type": "application/json", "x-total-count": "42" });
      res.end(JSON.stringify({ id: "ABC" }));
    });
    const f = createNodeFetch();
    const res = await f(`${s.url}/torrents/addMagnet?x=1`, {
      method: "POST",
      headers: { Authorization: "Bearer t" },
      body: new URLSearchParams({ magnet: "magnet:?xt=urn:btih:aa" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-total-count")).toBe("42");
    expect(await res.json()).toEqual({ id: "ABC" });
    expect(seen).toEqual({
      method: "POST",
      url: "/torrents/addMagnet?x=1",
      auth: "Bearer t",
      type: "application/x-www-form-urlencoded;charset=UTF-8",
      body: "magnet=magnet%3A%3Fxt%3Durn%3Abtih%3Aaa",
    });
  });

  it("answers 204 with a null body and passes error statuses through", async () => {
    const s = await serve((req, res) => {
      if (req.url === "/empty") res.writeHead(204).end();
      else res.writeHead(429, { "retry-after": "7", "content-type": "application/json" }).end('{"error_code":34}');
    });
    const f = createNodeFetch();
    const empty = await f(`${s.url}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const limited = await f(`${s.url}/limited`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toEqual({ error_code: 34 });
  });

  it("decodes a gzip body and drops the encoding headers, as fetch does", async () => {
    const text = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ i })));
    const s = await serve((req, res) => {
      expect(req.headers["accept-encoding"]).toContain("gzip");
      const z = gzipSync(text);
      res.writeHead(200, { "content-encoding": "gzip", "content-length": String(z.length) }).end(z);
    });
    const res = await createNodeFetch()(s.url);
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.text()).toBe(text);
  });

  it("reuses one keep-alive connection for calls in sequence", async () => {
    const s = await serve((_req, res) => res.end("ok"));
    const f = createNodeFetch();
    for (let i = 0; i < 5; i++) expect(await (await f(s.url)).text()).toBe("ok");
    expect(s.connections()).toBe(1);
  });

  it("follows a redirect on a read", async () => {
    const s = await serve((req, res) => {
      if (req.url === "/old") res.writeHead(302, { location: "/new" }).end();
      else res.end(`at ${req.url}`);
    });
    expect(await (await createNodeFetch()(`${s.url}/old`)).text()).toBe("at /new");
  });

  it("rejects with the signal's reason, before the answer and in the middle of the body", async () => {
    const s = await serve((req, res) => {
      if (req.url === "/slow") return; // never answers
      res.writeHead(200);
      res.write("[1,");
      // the rest never comes
    });
    const f = createNodeFetch();
    const early = new AbortController();
    const pending = f(`${s.url}/slow`, { signal: early.signal });
    setTimeout(() => early.abort(new DOMException("timeout: no answer within 50 ms", "TimeoutError")), 50);
    await expect(pending).rejects.toThrow("timeout: no answer within 50 ms");

    const late = new AbortController();
    const res = await f(`${s.url}/partial`, { signal: late.signal });
    const reading = res.text();
    late.abort(new Error("run cancelled"));
    await expect(reading).rejects.toThrow("run cancelled");
  });

  it("reports network failures as fetch does: TypeError 'fetch failed' with the cause", async () => {
    const s = await serve((_req, res) => res.end());
    const port = new URL(s.url).port;
    for (const c of servers.splice(0)) c.close();
    const err = await createNodeFetch()(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as TypeError).message).toBe("fetch failed");
    expect(((err as TypeError).cause as { code?: string }).code).toBe("ECONNREFUSED");
  });

  it("fails the body read when the connection drops mid-body", async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write("[1,2,");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const res = await createNodeFetch()(s.url);
    await expect(res.text()).rejects.toThrow();
  });

  it("hands bodies it cannot send (FormData) to the global fetch", async () => {
    let type = "";
    const s = await serve((req, res) => {
      type = req.headers["content-type"] ?? "";
      res.end("ok");
    });
    const form = new FormData();
    form.set("a", "1");
    expect(await (await createNodeFetch()(s.url, { method: "POST", body: form })).text()).toBe("ok");
    expect(type).toMatch(/^multipart\/form-data; boundary=/);
  });

  it("releases the connection when a gzip body is cancelled or aborted part-way", async () => {
    let closed = 0;
    const s = await serve((_req, res) => {
      res.socket?.once("close", () => closed++);
      res.writeHead(200, { "content-encoding": "gzip" });
      const z = createGzip();
      z.pipe(res);
      // a large body, written as fast as the client takes it
      let i = 0;
      const more = () => {
        while (i < 200_000) if (!z.write(`{"i":${i++}},`)) return void z.once("drain", more);
        z.end("0]");
      };
      z.write("[");
      more();
    });
    const f = createNodeFetch();
    const cancelled = await f(s.url);
    const reader = (cancelled.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    const ctl = new AbortController();
    const aborted = await f(s.url, { signal: ctl.signal });
    const reading = aborted.text();
    ctl.abort(new Error("stop"));
    await expect(reading).rejects.toThrow("stop");
    const until = Date.now() + 3_000;
    while (closed < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(2);
  });

  it("does not send credentials to another origin on a redirect", async () => {
    const seen: Record<string, string | undefined> = {};
    const target = await serve((req, res) => {
      seen.auth = req.headers.authorization;
      res.end("there");
    });
    const other = target.url.replace("127.0.0.1", "localhost");
    const s = await serve((req, res) => {
      if (req.url === "/same") return void res.writeHead(302, { location: "/here" }).end();
      if (req.url === "/here") {
        seen.sameAuth = req.headers.authorization;
        return void res.end("here");
      }
      res.writeHead(302, { location: `${other}/x` }).end();
    });
    const f = createNodeFetch();
    expect(await (await f(`${s.url}/same`, { headers: { Authorization: "Bearer secret" } })).text()).toBe("here");
    expect(seen.sameAuth).toBe("Bearer secret");
    expect(await (await f(`${s.url}/away`, { headers: { Authorization: "Bearer secret" } })).text()).toBe("there");
    expect(seen.auth).toBeUndefined();
  });

  it("fails like fetch on a status outside 200-599, and closes the connection", async () => {
    let closed = false;
    const s = await serve((_req, res) => {
      res.socket?.once("close", () => {
        closed = true;
      });
      res.writeHead(600).end("odd");
    });
    const err = await createNodeFetch()(s.url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(String((err as TypeError).cause)).toMatch(/invalid HTTP status 600/);
    const until = Date.now() + 2_000;
    while (!closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
  });
});
