import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../log.ts";
import { checkWebhookUrl, createNotifier, type NotifyEvent } from "./notify.ts";

const TOKEN = "SeCrEtToKeN_abc-123";
const DISCORD_PATH = `/api/webhooks/123456789012345678/${TOKEN}`;
const AT = Date.UTC(2025, 0, 2, 3, 4, 5);

interface Received {
  path: string;
  contentType: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: the JSON a webhook received, inspected field by field
  body: any;
}
type Respond = (n: number) => Response | Promise<Response>;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A loopback HTTP server standing in for Discord or a webhook receiver; answers 204 unless told otherwise. */
async function startServer(respond: Respond = () => new Response(null, { status: 204 })) {
  const received: Received[] = [];
  const app = new Hono();
  app.post("*", async (c) => {
    const n = received.length;
    received.push({ path: c.req.path, contentType: c.req.header("content-type"), body: await c.req.json() });
    return respond(n);
  });
  const server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  closers.push(close);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { received, origin, discordUrl: `${origin}${DISCORD_PATH}`, close };
}

function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l)) };
}

let seq = 0;
function makeEvent(partial: Partial<NotifyEvent> = {}): NotifyEvent {
  seq++;
  return { kind: "repair_failed", title: `Repair ${seq} failed`, detail: `torrent ${seq} is dead`, at: AT, ...partial };
}
const events = (n: number, partial: Partial<NotifyEvent> = {}) => Array.from({ length: n }, () => makeEvent(partial));
const json = (body: unknown, status: number) => Response.json(body, { status });

describe("createNotifier", () => {
  it("does nothing without a URL", async () => {
    const calls: string[] = [];
    const fetch = async (input: RequestInfo | URL) => {
      calls.push(String(input));
      return new Response(null, { status: 204 });
    };
    const { log, lines } = capture();
    const n = createNotifier({ discordWebhookUrl: "", webhookUrl: undefined, fetch, log });
    n.add(makeEvent());
    expect(n.enabled).toBe(false);
    expect(n.pending()).toBe(0);
    expect(await n.flush()).toEqual({ sent: 0, failed: 0 });
    expect(calls).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("sends one embed per event, at most ten per message, then clears the queue", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent({ title: "Repair failed", detail: "no seeders", fields: { torrent: "abc", attempts: 3 } }));
    for (const e of events(24, { kind: "repair_done" })) n.add(e);
    expect(n.pending()).toBe(25);

    expect(await n.flush()).toEqual({ sent: 3, failed: 0 });
    expect(srv.received.map((r) => r.body.embeds.length)).toEqual([10, 10, 5]);
    expect(srv.received[0]).toMatchObject({ path: DISCORD_PATH, contentType: expect.stringMatching(/json/) });
    expect(srv.received[0]?.body.allowed_mentions).toEqual({ parse: [] });
    expect(srv.received[0]?.body.embeds[0]).toEqual({
      title: "Repair failed",
      description: "no seeders",
      timestamp: "2025-01-02T03:04:05.000Z",
      color: 0xe74c3c,
      fields: [
        { name: "torrent", value: "abc", inline: true },
        { name: "attempts", value: "3", inline: true },
      ],
    });
    expect(srv.received[0]?.body.embeds[1].color).toBe(0x2ecc71);

    expect(n.pending()).toBe(0);
    expect(await n.flush()).toEqual({ sent: 0, failed: 0 });
    expect(srv.received).toHaveLength(3);
  });

  it("keeps events added during a flush for the next one", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent());
    const flushing = n.flush();
    n.add(makeEvent());
    expect(n.pending()).toBe(1);
    await flushing;
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(srv.received).toHaveLength(2);
  });

  it("truncates to Discord's limits and keeps each message under 6,000 characters", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent({ title: "t".repeat(300), detail: "d".repeat(5000) }));
    for (const e of events(5, { detail: "x".repeat(1500) })) n.add(e);
    await n.flush();
    const first = srv.received[0]?.body.embeds[0];
    expect(first.title).toHaveLength(256);
    expect(first.description).toHaveLength(4096);
    expect(first.description.endsWith("…")).toBe(true);
    expect(srv.received.map((r) => r.body.embeds.length)).toEqual([2, 3, 1]);
    for (const r of srv.received) {
      // biome-ignore lint/suspicious/noExplicitAny: embeds as received
      const chars = r.body.embeds.reduce((s: number, e: any) => s + e.title.length + e.description.length, 0);
      expect(chars).toBeLessThanOrEqual(6000);
    }
  });

  it("summarises events past the thirtieth in one last message", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    for (const e of events(40, { kind: "repair_done", detail: "@everyone" })) n.add(e);
    for (const e of events(5)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 4, failed: 0 });
    expect(srv.received.map((r) => r.body.embeds?.length)).toEqual([10, 10, 10, undefined]);
    const last = srv.received[3]?.body;
    expect(last.content).toBe("…and 15 more (10 repair_done, 5 repair_failed)");
    expect(last.allowed_mentions).toEqual({ parse: [] });
  });

  it("never sends more than three messages of embeds, however long the events", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    for (const e of events(12, { detail: "x".repeat(2900) })) n.add(e);
    expect(await n.flush()).toEqual({ sent: 4, failed: 0 });
    expect(srv.received.map((r) => r.body.embeds?.length)).toEqual([2, 2, 2, undefined]);
    expect(srv.received[3]?.body.content).toBe("…and 6 more (6 repair_failed)");
  });

  it("holds at most 1,000 events between flushes and reports the rest as dropped", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    for (const e of events(1005)) n.add(e);
    expect(n.pending()).toBe(1000);
    await n.flush();
    expect(srv.received.at(-1)?.body.content).toBe("…and 975 more (970 repair_failed, 5 dropped)");
  });

  it("keeps only the kinds asked for", async () => {
    const srv = await startServer();
    const n = createNotifier({
      discordWebhookUrl: srv.discordUrl,
      log: capture().log,
      events: new Set(["mount_guard"]),
    });
    n.add(makeEvent({ kind: "repair_done" }));
    n.add(makeEvent({ kind: "mount_guard", title: "Mount is empty" }));
    n.add(makeEvent({ kind: "repair_failed" }));
    expect(n.pending()).toBe(1);
    await n.flush();
    expect(srv.received[0]?.body.embeds).toMatchObject([{ title: "Mount is empty", color: 0xe67e22 }]);
  });

  it("retries a 429 once after retry_after", async () => {
    const srv = await startServer((i) =>
      i === 0 ? json({ message: "rate limited", retry_after: 0.2 }, 429) : new Response(null, { status: 204 }),
    );
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent());
    const started = Date.now();
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(srv.received).toHaveLength(2);
  });

  it("retries a 429 only once", async () => {
    const srv = await startServer(() => json({ message: "rate limited", retry_after: 0.01 }, 429));
    const { log, records } = capture();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log });
    n.add(makeEvent());
    expect(await n.flush()).toEqual({ sent: 0, failed: 1 });
    expect(srv.received).toHaveLength(2);
    expect(records()[0]).toMatchObject({ level: "warn", status: 429, attempts: 2 });
  });

  it("does not wait out a long 429 and stops sending to the locked-out webhook", async () => {
    const srv = await startServer(() => json({ message: "rate limited", retry_after: 30 }, 429));
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    for (const e of events(25)) n.add(e);
    const started = Date.now();
    expect(await n.flush()).toEqual({ sent: 0, failed: 3 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(srv.received).toHaveLength(1);
  });

  describe.each([
    ["an HTTP 500 quoting the URL", "500", 3],
    ["a refused connection", "refused", 0],
    ["a timeout", "timeout", 1],
  ] as const)("on %s", (_, fault, requests) => {
    it("logs and counts the failure without throwing or revealing the webhook URL", async () => {
      const srv = await startServer((): Response | Promise<Response> => {
        if (fault === "timeout") return new Promise<Response>(() => {});
        return new Response(`upstream error for ${srv.discordUrl}`, { status: 500 });
      });
      if (fault === "refused") await srv.close();
      const { log, lines, records } = capture();
      const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log, timeoutMs: 100 });
      for (const e of events(25)) n.add(e);

      expect(await n.flush()).toEqual({ sent: 0, failed: 3 });
      expect(srv.received).toHaveLength(requests);
      const first = records()[0];
      expect(first).toMatchObject({ level: "warn", target: "discord", host: new URL(srv.origin).host });
      if (fault === "500")
        expect(first).toMatchObject({ status: 500, error: expect.stringContaining("upstream error") });
      if (fault === "refused") expect(first.error).toMatch(/ECONNREFUSED/);
      if (fault === "timeout") expect(first.error).toBe("no answer within 100 ms");
      for (const line of lines) {
        expect(line).not.toContain(TOKEN);
        expect(line).not.toContain("123456789012345678");
      }
    });
  });

  it("posts every event to a generic webhook in one request", async () => {
    const srv = await startServer(() => new Response("ok"));
    const n = createNotifier({ webhookUrl: `${srv.origin}/hook`, log: capture().log });
    n.add(makeEvent({ kind: "rate_limit_lockout", title: "RD lockout", detail: "429 x5", fields: { minutes: 10 } }));
    for (const e of events(44)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(srv.received).toHaveLength(1);
    expect(srv.received[0]).toMatchObject({ path: "/hook", contentType: expect.stringMatching(/^application\/json/) });
    const body = srv.received[0]?.body;
    expect(Object.keys(body).sort()).toEqual(["events", "source"]);
    expect(body.source).toBe("rdtm");
    expect(body.events).toHaveLength(45);
    expect(body.events[0]).toEqual({
      kind: "rate_limit_lockout",
      title: "RD lockout",
      detail: "429 x5",
      at: "2025-01-02T03:04:05.000Z",
      fields: { minutes: 10 },
    });
  });

  it("sends to both targets and adds up the results", async () => {
    const discord = await startServer();
    const hook = await startServer(() => new Response("no", { status: 503 }));
    const n = createNotifier({
      discordWebhookUrl: discord.discordUrl,
      webhookUrl: `${hook.origin}/x`,
      log: capture().log,
    });
    for (const e of events(11)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 2, failed: 1 });
    expect(discord.received).toHaveLength(2);
    expect(hook.received).toHaveLength(1);
  });

  it("sends nothing once the signal is aborted, and still does not throw", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    for (const e of events(12)) n.add(e);
    const ac = new AbortController();
    ac.abort(new Error("shutdown"));
    expect(await n.flush(ac.signal)).toEqual({ sent: 0, failed: 2 });
    expect(srv.received).toHaveLength(0);
  });

  it("stops waiting out a 429 when the signal aborts", async () => {
    const srv = await startServer(() => json({ message: "rate limited", retry_after: 4 }, 429));
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent());
    const started = Date.now();
    expect(await n.flush(AbortSignal.timeout(100))).toEqual({ sent: 0, failed: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(srv.received).toHaveLength(1);
  });

  it("accepts an event with an invalid time or no detail instead of failing", async () => {
    const srv = await startServer();
    const n = createNotifier({ discordWebhookUrl: srv.discordUrl, log: capture().log });
    n.add(makeEvent({ at: Number.NaN, detail: "" }));
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    const embed = srv.received[0]?.body.embeds[0];
    expect(embed.timestamp).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(embed).not.toHaveProperty("description");
  });
});

describe("checkWebhookUrl", () => {
  it.each([
    ["https://discord.com/api/webhooks/123456/abc-DEF_ghi", "discord"],
    ["https://discordapp.com/api/webhooks/1/x", "discord"],
    ["https://ptb.discord.com/api/webhooks/1/x/", "discord"],
    ["https://canary.discord.com/api/webhooks/1/x?thread_id=5", "discord"],
    ["https://Discord.com/api/webhooks/1/x", "discord"],
    ["http://ntfy:8080/hook", "webhook"],
    ["https://hooks.example.com/x?key=1", "webhook"],
  ] as const)("accepts %s as %s", (url, kind) => {
    expect(checkWebhookUrl(url, kind)).toBeUndefined();
  });

  it.each([
    ["not a url", "discord", /not a valid URL/],
    ["", "webhook", /not a valid URL/],
    ["http://discord.com/api/webhooks/1/secret", "discord", /https/],
    ["https://evil.example/api/webhooks/1/secret", "discord", /discord\.com webhook/],
    ["https://discord.com.evil.example/api/webhooks/1/secret", "discord", /discord\.com webhook/],
    ["https://discord.com:8443/api/webhooks/1/secret", "discord", /discord\.com webhook/],
    ["https://discord.com/api/webhooks/1", "discord", /webhooks\/<id>\/<token>/],
    ["https://discord.com/api/webhooks/abc/secret", "discord", /webhooks\/<id>\/<token>/],
    ["https://discord.com/api/webhooks/1/secret/slack", "discord", /webhooks\/<id>\/<token>/],
    ["https://discord.com/channels/1/2", "discord", /webhooks\/<id>\/<token>/],
    ["https://user:secret@discord.com/api/webhooks/1/x", "discord", /credentials/],
    ["http://user:secret@hooks.local/x", "webhook", /credentials/],
    ["ftp://hooks.local/secret", "webhook", /http/],
    ["file:///etc/secret", "webhook", /http/],
    ["javascript:alert('secret')", "webhook", /http/],
  ] as const)("rejects %s as %s", (url, kind, message) => {
    const problem = checkWebhookUrl(url, kind);
    expect(problem).toMatch(message);
    expect(problem).not.toContain("secret");
  });
});
