import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterEach, describe, expect, it } from "vitest";
import type { Db } from "../../shared/db.ts";
import { makeDb, makeJob } from "../helpers/factories.ts";
import { harnesses } from "./harness.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

interface SseEvent {
  event: string;
  data: string;
}

/** Reads an SSE body event by event; `next` gives up after `ms`. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const raw: string[] = [];
  async function next(ms: number): Promise<SseEvent | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split("\n");
        const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
        if (!event) continue;
        const data = lines
          .filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6))
          .join("\n");
        return { event, data };
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), left)),
      ]);
      if (chunk === "timeout") return null;
      if (chunk.done) return null;
      const text = decoder.decode(chunk.value, { stream: true });
      raw.push(text);
      buffer += text;
    }
  }
  /** Waits for the first event matching `test`. */
  async function until(test: (e: SseEvent) => boolean, ms: number): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = await next(deadline - Date.now());
      if (!e) throw new Error(`no matching event within ${ms} ms; got: ${raw.join("")}`);
      if (test(e)) return e;
    }
  }
  /** True once the stream has ended (read returns done), within `ms`. */
  async function ended(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), left)),
      ]);
      if (chunk === "timeout") return false;
      if (chunk.done) return true;
    }
  }
  return { next, until, ended, raw, cancel: () => reader.cancel() };
}

/** A database whose execute() calls are counted. */
function counting(db: Db): { db: Db; calls: () => number } {
  let n = 0;
  const proxy = new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "execute") {
        return (...args: Parameters<Db["execute"]>) => {
          n++;
          return target.execute(...args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: proxy, calls: () => n };
}

describe("GET /events", () => {
  it("streams counts at once, then a run event when a job run finishes", async () => {
    const h = await open({ jobs: [makeJob({ name: "quick-job", run: async () => ({ checked: 7 }) })] });
    const { cookie } = await h.login();
    const res = await h.app.request("/events", { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = sseReader(res.body as ReadableStream<Uint8Array>);
    const counts = await sse.until((e) => e.event === "counts", 5_000);
    expect(JSON.parse(counts.data)).toMatchObject({ torrents: {}, repairs: {}, permanentFailures: 0 });
    expect(sse.raw.join("")).toContain(": connected");

    const result = await h.runner.run("quick-job", { trigger: "http", dryRun: true });
    const run = await sse.until((e) => e.event === "run" && JSON.parse(e.data).status === "succeeded", 10_000);
    expect(JSON.parse(run.data)).toMatchObject({
      id: result.id,
      job: "quick-job",
      status: "succeeded",
      trigger: "http",
      dryRun: true,
      summary: { checked: 7 },
      error: null,
    });
    await sse.cancel();
  });

  it("replays runs since the page was rendered (?since=)", async () => {
    const h = await open();
    const { cookie } = await h.login();
    const renderedAt = Date.now() - 1;
    await h.runner.run("quick-job", { trigger: "http", dryRun: false });
    const res = await h.app.request(`/events?since=${renderedAt}`, { headers: { cookie } });
    const sse = sseReader(res.body as ReadableStream<Uint8Array>);
    const run = await sse.until((e) => e.event === "run", 5_000);
    expect(JSON.parse(run.data)).toMatchObject({ job: "quick-job", status: "succeeded", dryRun: false });
    await sse.cancel();
  });

  it("stops polling when the client goes away, and close() ends open streams", async () => {
    const base = await makeDb();
    const { db, calls } = counting(base);
    const h = await open({ db });
    const { cookie } = await h.login();
    const res = await h.app.request("/events", { headers: { cookie } });
    const sse = sseReader(res.body as ReadableStream<Uint8Array>);
    await sse.until((e) => e.event === "counts", 5_000);
    await sse.cancel();
    await new Promise((r) => setTimeout(r, 1_700));
    const after = calls();
    await new Promise((r) => setTimeout(r, 3_200));
    expect(calls()).toBe(after);

    const second = sseReader(
      (await h.app.request("/events", { headers: { cookie } })).body as ReadableStream<Uint8Array>,
    );
    await second.until((e) => e.event === "counts", 5_000);
    h.dashboard.close();
    expect(await second.ended(3_000)).toBe(true);
    closeAll();
    base.close();
  });

  it("lets a Node server stop while a browser holds a stream open", async () => {
    const h = await open();
    const { cookie } = await h.login();
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/events`, { headers: { cookie } });
    const sse = sseReader(res.body as ReadableStream<Uint8Array>);
    await sse.until((e) => e.event === "counts", 5_000);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    // The stream notices within one poll and the socket closes with it (no keep-alive wait).
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await sse.ended(1_000)).toBe(true);
  });

  it("masks secrets in run events", async () => {
    const secret = "rd-secret-token-0123456789";
    const h = await open({
      env: { RD_API_TOKEN: secret },
      jobs: [
        makeJob({
          name: "leaky-job",
          run: async () => {
            throw new Error(`GET /user?auth_token=${secret} answered 401`);
          },
        }),
      ],
    });
    const { cookie } = await h.login();
    const sse = sseReader((await h.app.request("/events", { headers: { cookie } })).body as ReadableStream<Uint8Array>);
    await sse.until((e) => e.event === "counts", 5_000);
    await h.runner.run("leaky-job", { trigger: "http" });
    const run = await sse.until((e) => e.event === "run" && JSON.parse(e.data).status === "failed", 10_000);
    expect(JSON.parse(run.data).error).toBe("GET /user?auth_token=*** answered 401");
    expect(sse.raw.join("")).not.toContain(secret);
    await sse.cancel();
  });
});
