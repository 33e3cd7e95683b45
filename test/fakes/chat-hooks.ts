import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { type Context, Hono } from "hono";

/** A sendMessage call Telegram accepted, as posted. */
export interface TelegramMessage {
  chat_id: string | number;
  text: string;
  parse_mode?: string;
  disable_web_page_preview?: boolean;
}

/** A mrkdwn or plain-text section block as Slack receives it. */
export interface SlackBlock {
  type: string;
  text?: { type: string; text: string };
}

/** A message a Slack incoming webhook accepted, as posted. */
export interface SlackMessage {
  text?: string;
  blocks?: SlackBlock[];
}

/** A one-shot answer for the next request to `service`. */
export interface ChatHookFault {
  service: "telegram" | "slack";
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface FakeChatHooks {
  app: Hono;
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** The notifier's `telegram.apiBase`. */
  telegramApiBase: string;
  botToken: string;
  chatId: string;
  slackWebhookUrl: string;
  telegram: TelegramMessage[];
  slack: SlackMessage[];
  requests: { service: "telegram" | "slack" | "other"; status: number }[];
  inject(fault: ChatHookFault): void;
  /** What each service answers when a client sends too much, `seconds` being its retry hint. */
  rateLimit(service: "telegram" | "slack", seconds: number): void;
  listen(): Promise<{ telegramApiBase: string; slackWebhookUrl: string; close(): Promise<void> }>;
}

const ORIGIN = "http://chat-hooks.fake";
const SLACK_PATH = "/services/T0FAKE0001/B0FAKE0001/sLaCkSeCrEt0123456789abc";
// Telegram measures text after parsing entities; Slack cuts text past 40,000 characters rather than refusing it.
const LIMIT = { telegram: 4096, slackBlocks: 50, slackSection: 3000, slackText: 40_000 } as const;
const TG_TAGS = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a"]);
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

/** Telegram's Bot API sendMessage and a Slack incoming webhook on one fake origin. */
export function createFakeChatHooks(opts: { botToken?: string; chatId?: string } = {}): FakeChatHooks {
  const faults: ChatHookFault[] = [];
  const app = new Hono();

  const tgError = (c: Context, status: 400 | 401 | 404, description: string) =>
    c.json({ ok: false, error_code: status, description }, status);

  app.post("/:bot/:method", async (c) => {
    const bot = c.req.param("bot");
    if (bot !== `bot${fake.botToken}`) return tgError(c, 401, "Unauthorized");
    if (c.req.param("method") !== "sendMessage") return tgError(c, 404, "Not Found");
    const body = (await c.req.json().catch(() => null)) as TelegramMessage | null;
    if (!body || String(body.chat_id) !== fake.chatId) return tgError(c, 400, "Bad Request: chat not found");
    if (typeof body.text !== "string" || body.text.trim() === "")
      return tgError(c, 400, "Bad Request: message text is empty");
    const parsed = body.parse_mode === "HTML" ? parseTelegramHtml(body.text) : { text: body.text };
    if ("error" in parsed) return tgError(c, 400, `Bad Request: can't parse entities: ${parsed.error}`);
    if (parsed.text.length > LIMIT.telegram) return tgError(c, 400, "Bad Request: message is too long");
    fake.telegram.push(body);
    const result = { message_id: fake.telegram.length, date: Math.floor(Date.now() / 1000), text: parsed.text };
    return c.json({ ok: true, result: { ...result, chat: { id: body.chat_id } } });
  });

  app.post("/services/:team/:bot/:secret", async (c) => {
    if (c.req.path !== SLACK_PATH) return c.text("no_service", 404);
    const body = (await c.req.json().catch(() => null)) as SlackMessage | null;
    if (!body || typeof body !== "object") return c.text("invalid_payload", 400);
    if (!body.text && !body.blocks) return c.text("no_text", 400);
    if (body.blocks !== undefined && !validBlocks(body.blocks)) return c.text("invalid_blocks", 400);
    fake.slack.push(body.text ? { ...body, text: body.text.slice(0, LIMIT.slackText) } : body);
    return c.text("ok");
  });

  const entry = new Hono();
  entry.all("*", async (c) => {
    const service = c.req.path.startsWith("/services/")
      ? "slack"
      : c.req.path.startsWith("/bot")
        ? "telegram"
        : "other";
    const i = faults.findIndex((f) => f.service === service);
    const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
    const res = fault
      ? new Response(fault.body ?? null, { status: fault.status, headers: fault.headers ?? {} })
      : await app.fetch(c.req.raw);
    fake.requests.push({ service, status: res.status });
    return res;
  });

  const fake: FakeChatHooks = {
    app: entry,
    telegramApiBase: ORIGIN,
    botToken: opts.botToken ?? "123456789:AAFakeBotTokenForTests_0123456789",
    chatId: opts.chatId ?? "-1001234567890",
    slackWebhookUrl: `${ORIGIN}${SLACK_PATH}`,
    telegram: [],
    slack: [],
    requests: [],
    async fetch(input, init) {
      const req = new Request(input, init);
      const host = new URL(req.url).host;
      // Anything but the fake's own origin fails as an unknown host would, so no test can reach the network.
      if (`http://${host}` !== ORIGIN) {
        const cause = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
        throw new TypeError("fetch failed", { cause });
      }
      if (req.signal.aborted) throw req.signal.reason;
      return entry.fetch(req);
    },
    inject(fault) {
      faults.push(fault);
    },
    rateLimit(service, seconds) {
      if (service === "slack")
        return faults.push({ service, status: 429, body: "rate_limited", headers: { "retry-after": String(seconds) } });
      const description = `Too Many Requests: retry after ${seconds}`;
      const body = JSON.stringify({ ok: false, error_code: 429, description, parameters: { retry_after: seconds } });
      faults.push({ service, status: 429, body, headers: { "content-type": "application/json" } });
    },
    async listen() {
      const server = createServer(getRequestListener(entry.fetch));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return {
        telegramApiBase: origin,
        slackWebhookUrl: `${origin}${SLACK_PATH}`,
        close: () =>
          new Promise<void>((resolve, reject) => {
            server.close((err) => (err ? reject(err) : resolve()));
            // Keep-alive sockets would otherwise hold close() open until they time out.
            server.closeAllConnections();
          }),
      };
    },
  };
  return fake;
}

/** Telegram's HTML parse mode: known tags, properly nested; every other <, > and & must be an entity. */
export function parseTelegramHtml(html: string): { text: string } | { error: string } {
  const open: string[] = [];
  let text = "";
  let last = 0;
  for (const m of html.matchAll(/<(\/?)([a-z-]+)(?:\s[^<>]*)?>|&(#\d+|#x[\da-f]+|[a-z]+);|[<>&]/gi)) {
    text += html.slice(last, m.index);
    last = m.index + m[0].length;
    const [token, closing, tag, entity] = m;
    if (tag !== undefined) {
      const name = tag.toLowerCase();
      if (!TG_TAGS.has(name)) return { error: `Unsupported start tag "${name}" at byte offset ${m.index}` };
      if (!closing) open.push(name);
      else if (open.pop() !== name) return { error: `Unmatched end tag at byte offset ${m.index}` };
    } else if (entity !== undefined) {
      const named = ENTITIES[entity.toLowerCase()];
      const hex = /^#x/i.test(entity);
      const code = entity.startsWith("#") ? Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10) : Number.NaN;
      if (named === undefined && Number.isNaN(code))
        return { error: `Unsupported HTML entity at byte offset ${m.index}` };
      text += named ?? String.fromCodePoint(code);
    } else {
      return { error: `Unexpected "${token}" at byte offset ${m.index}` };
    }
  }
  if (open.length > 0) return { error: `Can't find end tag corresponding to start tag "${open.at(-1)}"` };
  return { text: text + html.slice(last) };
}

function validBlocks(blocks: unknown): boolean {
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > LIMIT.slackBlocks) return false;
  return blocks.every((b: SlackBlock) => {
    if (b?.type === "divider") return true;
    const t = b?.text;
    return (
      b?.type === "section" &&
      (t?.type === "mrkdwn" || t?.type === "plain_text") &&
      typeof t.text === "string" &&
      t.text.length > 0 &&
      t.text.length <= LIMIT.slackSection
    );
  });
}

/** Slack control sequences that would notify people: <!channel>, <!here>, <!everyone>, <@U…>. */
export function slackMentions(text: string): string[] {
  return [...text.matchAll(/<(![a-z]+|@[A-Z0-9]+)(\|[^>]*)?>/g)].map((m) => m[0]);
}
