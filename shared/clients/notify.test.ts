import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import {
  createFakeChatHooks,
  type FakeChatHooks,
  parseTelegramHtml,
  slackMentions,
} from "../../test/fakes/chat-hooks.ts";
import { createLogger } from "../log.ts";
import { checkWebhookUrl, createNotifier, NOTIFY_EVENT_KINDS, type NotifyEvent } from "./notify.ts";

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

const telegramOf = (fake: FakeChatHooks, apiBase = fake.telegramApiBase) => ({
  botToken: fake.botToken,
  chatId: fake.chatId,
  apiBase,
});
type Chat = "telegram" | "slack";
/** A notifier with only the given chat channel, talking to the fake over its fetch. */
function chatNotifier(channel: Chat, fake: FakeChatHooks, log = capture().log) {
  const target = channel === "telegram" ? { telegram: telegramOf(fake) } : { slackWebhookUrl: fake.slackWebhookUrl };
  return createNotifier({ ...target, fetch: fake.fetch, log });
}
const sections = (m: FakeChatHooks["slack"][number] | undefined) => (m?.blocks ?? []).map((b) => b.text?.text ?? "");
/** Events per received message (0 for a summary): Telegram parts them by a blank line, Slack by section. */
const perMessage = (channel: Chat, fake: FakeChatHooks) =>
  channel === "telegram"
    ? fake.telegram.map((m) => (m.text.startsWith("…and") ? 0 : m.text.split("\n\n").length))
    : fake.slack.map((m) => m.blocks?.length ?? 0);
const lastText = (channel: Chat, fake: FakeChatHooks) =>
  (channel === "telegram" ? fake.telegram.at(-1)?.text : fake.slack.at(-1)?.text) ?? "";

describe("Telegram", () => {
  it("posts HTML to the bot's sendMessage without link previews", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("telegram", fake);
    n.add(makeEvent({ title: "Repair failed", detail: "no seeders", fields: { torrent: "abc", attempts: 3 } }));
    n.add(makeEvent({ kind: "repair_done", title: "Repaired", detail: "" }));
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(fake.telegram).toEqual([
      {
        chat_id: fake.chatId,
        text: "<b>Repair failed</b>\nno seeders\n<b>torrent</b>: abc\n<b>attempts</b>: 3\n\n<b>Repaired</b>",
        parse_mode: "HTML",
        disable_web_page_preview: true,
      },
    ]);
  });

  it("escapes &, < and > in titles, details and fields", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("telegram", fake);
    const raw = { title: "<b>Movie & Co</b>", detail: "a < b && c > d &amp; </i>", fields: { "<tag>": "x&y" } };
    n.add(makeEvent(raw));
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    const text = fake.telegram[0]?.text ?? "";
    expect(text).toBe(
      "<b>&lt;b&gt;Movie &amp; Co&lt;/b&gt;</b>\na &lt; b &amp;&amp; c &gt; d &amp;amp; &lt;/i&gt;\n" +
        "<b>&lt;tag&gt;</b>: x&amp;y",
    );
    expect(parseTelegramHtml(text)).toEqual({ text: `${raw.title}\n${raw.detail}\n<tag>: x&y` });
  });

  it("splits at 4,096 characters and shortens a long event without cutting an entity", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("telegram", fake);
    n.add(makeEvent({ detail: "&<>".repeat(5000) }));
    for (const e of events(5, { kind: "repair_done", detail: "x".repeat(1500) })) n.add(e);
    expect(await n.flush()).toEqual({ sent: 4, failed: 0 });
    expect(perMessage("telegram", fake)).toEqual([1, 2, 2, 0]);
    for (const m of fake.telegram) expect(m.text.length).toBeLessThanOrEqual(4096);
    const first = fake.telegram[0]?.text ?? "";
    expect(first.length).toBeGreaterThan(4000);
    expect(first).toMatch(/&gt;…$/);
    expect(lastText("telegram", fake)).toBe("…and 1 more (1 repair_done)");
  });

  it("uses api.telegram.org by default and never logs the bot token", async () => {
    // The fake answers only its own origin, so this request fails as an unknown host would.
    const fake = createFakeChatHooks();
    const { log, lines, records } = capture();
    const n = createNotifier({ telegram: { botToken: fake.botToken, chatId: fake.chatId }, fetch: fake.fetch, log });
    for (const e of events(25)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 0, failed: 3 });
    expect(records()[0]).toMatchObject({
      level: "warn",
      target: "telegram",
      host: "api.telegram.org",
      error: "getaddrinfo ENOTFOUND api.telegram.org",
    });
    expect(lines.join("\n")).not.toContain(fake.botToken.split(":")[1]);
  });

  it("counts a chat Telegram does not know as failed and logs Telegram's description", async () => {
    const fake = createFakeChatHooks();
    const { log, records } = capture();
    const n = createNotifier({ telegram: { ...telegramOf(fake), chatId: "-100999" }, fetch: fake.fetch, log });
    n.add(makeEvent());
    expect(await n.flush()).toEqual({ sent: 0, failed: 1 });
    expect(records()[0]).toMatchObject({ status: 400, error: "Bad Request: chat not found", attempts: 1 });
  });

  it("the fake refuses unescaped HTML and text past 4,096 characters, as Telegram does", async () => {
    const fake = createFakeChatHooks();
    const send = (text: string) =>
      fake.fetch(`${fake.telegramApiBase}/bot${fake.botToken}/sendMessage`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ chat_id: fake.chatId, text, parse_mode: "HTML" }),
      });
    for (const text of ["a < b", "Q&A", "<script>x</script>", "<b>open", "y".repeat(4097)])
      expect((await send(text)).status).toBe(400);
    expect((await send(`<b>ok</b> &lt;&amp;&gt; ${"y".repeat(4080)}`)).status).toBe(200);
  });
});

describe("Slack", () => {
  it("posts mrkdwn sections with the titles as notification text", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("slack", fake);
    n.add(makeEvent({ title: "Repair failed", detail: "no seeders", fields: { torrent: "abc" } }));
    n.add(makeEvent({ kind: "mount_guard", title: "Mount is empty", detail: "" }));
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(fake.slack).toEqual([
      {
        text: "Repair failed\nMount is empty",
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: "*Repair failed*\nno seeders\n*torrent*: abc" } },
          { type: "section", text: { type: "mrkdwn", text: "*Mount is empty*" } },
        ],
      },
    ]);
  });

  it("escapes &, < and > so that event text cannot ping or link", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("slack", fake);
    n.add(makeEvent({ title: "<!channel> Tom & Jerry", detail: "<@U024BE7LH> <https://evil.example|click>" }));
    await n.flush();
    const [section] = sections(fake.slack[0]);
    expect(section).toBe("*&lt;!channel&gt; Tom &amp; Jerry*\n&lt;@U024BE7LH&gt; &lt;https://evil.example|click&gt;");
    expect(fake.slack[0]?.text).toBe("&lt;!channel&gt; Tom &amp; Jerry");
    expect(slackMentions(JSON.stringify(fake.slack))).toEqual([]);
  });

  it("keeps a section within 3,000 characters and a message within ten events", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier("slack", fake);
    n.add(makeEvent({ detail: "<".repeat(5000) }));
    for (const e of events(24)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 3, failed: 0 });
    expect(perMessage("slack", fake)).toEqual([10, 10, 5]);
    const first = sections(fake.slack[0])[0] ?? "";
    expect(first.length).toBeLessThanOrEqual(3000);
    expect(first).toMatch(/&lt;…$/);
  });
});

describe.each<Chat>(["telegram", "slack"])("%s, like Discord,", (channel) => {
  it("summarises events past the thirtieth in one last message", async () => {
    const fake = createFakeChatHooks();
    const n = chatNotifier(channel, fake);
    for (const e of events(40, { kind: "repair_done" })) n.add(e);
    for (const e of events(5)) n.add(e);
    expect(await n.flush()).toEqual({ sent: 4, failed: 0 });
    expect(perMessage(channel, fake)).toEqual([10, 10, 10, 0]);
    expect(lastText(channel, fake)).toBe("…and 15 more (10 repair_done, 5 repair_failed)");
  });

  it("retries a 429 once after the wait the service asks for", async () => {
    const fake = createFakeChatHooks();
    fake.rateLimit(channel, 1);
    const n = chatNotifier(channel, fake);
    n.add(makeEvent());
    const started = Date.now();
    expect(await n.flush()).toEqual({ sent: 1, failed: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it("does not wait out a long 429 and stops sending for this flush", async () => {
    const fake = createFakeChatHooks();
    fake.rateLimit(channel, 30);
    const { log, records } = capture();
    const n = chatNotifier(channel, fake, log);
    for (const e of events(25)) n.add(e);
    const started = Date.now();
    expect(await n.flush()).toEqual({ sent: 0, failed: 3 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake.requests).toHaveLength(1);
    expect(records()[0]).toMatchObject({ target: channel, status: 429, attempts: 1 });
  });

  it.each(["an HTTP 500 quoting the URL and secret", "an unreachable host"])(
    "counts %s as failed without throwing or logging the secret",
    async (fault) => {
      const fake = createFakeChatHooks();
      const telegram = channel === "telegram";
      const url = telegram ? `${fake.telegramApiBase}/bot${fake.botToken}/sendMessage` : fake.slackWebhookUrl;
      const secret = telegram ? fake.botToken : (fake.slackWebhookUrl.split("/").at(-1) ?? "");
      const quote = `${url} (secret ${secret})`;
      fake.inject({ service: channel, status: 500, body: `upstream error for ${quote}` });
      const refuse = () => Promise.reject(new TypeError("fetch failed", { cause: new Error(`refused ${quote}`) }));
      const { log, lines, records } = capture();
      const target = telegram ? { telegram: telegramOf(fake) } : { slackWebhookUrl: fake.slackWebhookUrl };
      const n = createNotifier({ ...target, fetch: fault.startsWith("an HTTP") ? fake.fetch : refuse, log });
      for (const e of events(12)) n.add(e);

      // A rejected message does not stop the next one; an unreachable host does.
      const expected = fault.startsWith("an HTTP") ? { sent: 1, failed: 1 } : { sent: 0, failed: 2 };
      expect(await n.flush()).toEqual(expected);
      expect(records()[0]).toMatchObject({ level: "warn", target: channel, host: "chat-hooks.fake" });
      expect(records()[0].error).toMatch(/^(upstream error for|refused) chat-hooks\.fake \(secret \*\*\*\)$/);
      for (const line of lines) {
        expect(line).not.toContain(secret);
        expect(line).not.toContain(secret.split(":").at(-1));
      }
    },
  );
});

describe("per-channel events", () => {
  it("sends each channel only its kinds, with `events` as the default, over loopback", async () => {
    const discord = await startServer();
    const fake = createFakeChatHooks();
    const chat = await fake.listen();
    closers.push(chat.close);
    const n = createNotifier({
      discordWebhookUrl: discord.discordUrl,
      telegram: telegramOf(fake, chat.telegramApiBase),
      slackWebhookUrl: chat.slackWebhookUrl,
      log: capture().log,
      events: new Set(["repair_failed", "repair_done"]),
      channels: { discord: new Set(["repair_failed"]), slack: new Set(NOTIFY_EVENT_KINDS) },
    });
    for (const kind of NOTIFY_EVENT_KINDS) n.add(makeEvent({ kind, title: kind, detail: "" }));
    expect(n.pending()).toBe(5);

    expect(await n.flush()).toEqual({ sent: 3, failed: 0 });
    expect(discord.received.map((r) => r.body.embeds.map((e: { title: string }) => e.title))).toEqual([
      ["repair_failed"],
    ]);
    expect(fake.telegram.map((m) => m.text)).toEqual(["<b>repair_failed</b>\n\n<b>repair_done</b>"]);
    expect(fake.slack[0]?.text).toBe(NOTIFY_EVENT_KINDS.join("\n"));
  });

  it("queues nothing no channel wants, and reports dropped events only where they were wanted", async () => {
    const fake = createFakeChatHooks();
    const n = createNotifier({
      telegram: telegramOf(fake),
      slackWebhookUrl: fake.slackWebhookUrl,
      fetch: fake.fetch,
      log: capture().log,
      channels: { telegram: new Set(["repair_failed"]), slack: new Set(["mount_guard", "repair_done"]) },
    });
    n.add(makeEvent({ kind: "download_problem" }));
    expect(n.pending()).toBe(0);
    for (const e of events(1000, { kind: "repair_done" })) n.add(e);
    n.add(makeEvent({ kind: "repair_failed" }));
    n.add(makeEvent({ kind: "mount_guard" }));
    expect(await n.flush()).toEqual({ sent: 5, failed: 0 });
    expect(fake.telegram.map((m) => m.text)).toEqual(["…and 1 more (1 dropped)"]);
    expect(fake.slack.at(-1)?.text).toBe("…and 971 more (970 repair_done, 1 dropped)");
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
