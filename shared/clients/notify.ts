import { ofetch } from "ofetch";
import type { Logger } from "../log.ts";

/** Every event kind, in the order config documents them. */
export const NOTIFY_EVENT_KINDS = [
  "repair_failed",
  "repair_done",
  "mount_guard",
  "rate_limit_lockout",
  "download_problem",
] as const;

/** What happened; decides the embed colour and lets users choose what they hear about. */
export type NotifyEventKind = (typeof NOTIFY_EVENT_KINDS)[number];

/** One thing worth telling a person about; `at` is epoch milliseconds. */
export interface NotifyEvent {
  kind: NotifyEventKind;
  title: string;
  detail: string;
  at: number;
  fields?: Record<string, string | number>;
}

/** Collects events during a job run and sends them in one go; `sent`/`failed` count HTTP messages. */
export interface Notifier {
  readonly enabled: boolean;
  add(e: NotifyEvent): void;
  pending(): number;
  flush(signal?: AbortSignal): Promise<{ sent: number; failed: number }>;
}

/** Where notifications go; each channel may be given its own event kinds. */
export type NotifyChannel = "discord" | "webhook" | "telegram" | "slack";

/** Options of createNotifier; a channel without its URL (or Telegram without token and chat) is off. */
export interface NotifierOptions {
  discordWebhookUrl?: string | undefined;
  webhookUrl?: string | undefined;
  /** A Telegram bot posting to one chat; `apiBase` defaults to https://api.telegram.org. */
  telegram?: { botToken: string; chatId: string; apiBase?: string | undefined } | undefined;
  slackWebhookUrl?: string | undefined;
  fetch?: typeof fetch;
  log: Logger;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Kinds to keep; default all. */
  events?: ReadonlySet<NotifyEventKind> | undefined;
  /** Kinds per channel; a channel left out gets `events`. */
  channels?: Partial<Record<NotifyChannel, ReadonlySet<NotifyEventKind> | undefined>>;
}

type Body = Record<string, unknown>;
// "stop": the target is unreachable or locked out, so the rest of this flush is not tried.
type Outcome = "sent" | "failed" | "stop";

interface Channel {
  name: NotifyChannel;
  url: string;
  /** Kept out of logs besides the URL's path: the token a Discord or Slack URL ends in, Telegram's bot token. */
  secret?: string;
  wants(kind: NotifyEventKind): boolean;
  messages(events: readonly NotifyEvent[], omitted: number): Body[];
  /** Events for this channel lost to a full queue since the last flush. */
  dropped: number;
}

const COLOURS: Record<NotifyEventKind, number> = {
  repair_failed: 0xe74c3c,
  repair_done: 0x2ecc71,
  mount_guard: 0xe67e22,
  rate_limit_lockout: 0xf1c40f,
  download_problem: 0x3498db,
};
// Discord's documented limits (a message's embeds share one 6,000-character budget), except the field limits:
// tighter than Discord's (25 fields, 256/1024 chars) so fields alone never crowd out the description.
const DISCORD = { embeds: 10, message: 6000, content: 2000, title: 256, description: 4096 } as const;
const FIELD_LIMIT = { count: 10, name: 64, value: 256, chatChars: 1000 } as const;
// Telegram counts text after parsing entities, so measuring the HTML is on the safe side. Slack allows 50 blocks
// and 3,000 characters per section; ten sections of 3,000 stay far below its 40,000-character message text.
const TELEGRAM = { text: 4096, api: "https://api.telegram.org" } as const;
const SLACK = { section: 3000, text: 40_000 } as const;
// A channel flooded with hundreds of messages is read by nobody, and Discord, Telegram and Slack all allow about
// one message a second: past three messages of ten events (30 events at most) the rest is one summary line.
const EVENTS_PER_MESSAGE = 10;
const MAX_MESSAGES = 3;
// Bounds memory when a run produces events but never flushes.
const MAX_QUEUED = 1000;
const MAX_RETRY_WAIT_MS = 5000;
const NONE = { sent: 0, failed: 0 } as const;

/** A batching notifier for Discord, a generic JSON webhook, Telegram and Slack; flush never throws. */
export function createNotifier(opts: NotifierOptions): Notifier {
  const channels = configuredChannels(opts);
  const enabled = channels.length > 0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const http = ofetch.create(
    // Statuses are answers to judge here, not exceptions; a JSON 429 body arrives parsed.
    { retry: 0, ignoreResponseError: true },
    opts.fetch ? { fetch: opts.fetch } : {},
  );
  let queue: NotifyEvent[] = [];

  /** Logs a failure with the target's host only: webhook URLs and Telegram's API path carry secret tokens. */
  function warn(ch: Channel, message: string, data: Record<string, unknown>): void {
    opts.log.warn(message, { target: ch.name, host: hostOf(ch.url), ...data });
  }

  async function deliver(ch: Channel, body: Body, signal?: AbortSignal): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let res: Awaited<ReturnType<typeof http.raw>>;
      try {
        const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
        res = await http.raw(ch.url, { method: "POST", body, signal: both });
      } catch (err) {
        const reason = signal?.aborted
          ? "aborted"
          : timeout.aborted
            ? `no answer within ${timeoutMs} ms`
            : scrub(rootMessage(err), ch);
        warn(ch, "Notification not sent: target unreachable.", { error: reason });
        return "stop";
      }
      if (res.ok) return "sent";
      // A generic webhook's 429 has no agreed meaning; the chat services' do.
      const limited = ch.name !== "webhook" && res.status === 429;
      const waitMs = limited && attempt === 1 ? retryAfterMs(res) : undefined;
      if (waitMs !== undefined && waitMs <= MAX_RETRY_WAIT_MS && (await pause(waitMs, signal))) continue;
      // Scrubbed before it is shortened, so that no part of a quoted secret survives.
      const error = scrub(bodyText(res._data) ?? res.statusText, ch).slice(0, 200);
      warn(ch, "Notification rejected.", { status: res.status, error, attempts: attempt });
      // Still rate limited: more messages now would only prolong the lockout.
      return limited ? "stop" : "failed";
    }
  }

  /** Sends messages in order; after an unreachable target or a lockout the rest are counted failed, not tried. */
  async function deliverAll(ch: Channel, bodies: Body[], signal?: AbortSignal) {
    const tally = { sent: 0, failed: 0 };
    let skipped = 0;
    for (const [i, body] of bodies.entries()) {
      if (signal?.aborted) {
        skipped = bodies.length - i;
        break;
      }
      const outcome = await deliver(ch, body, signal);
      if (outcome === "sent") tally.sent++;
      else tally.failed++;
      if (outcome === "stop") {
        skipped = bodies.length - i - 1;
        break;
      }
    }
    if (skipped > 0) {
      tally.failed += skipped;
      const reason = signal?.aborted ? "aborted" : "an earlier message failed";
      warn(ch, "Notifications skipped.", { messages: skipped, reason });
    }
    return tally;
  }

  return {
    enabled,
    add(e) {
      const to = channels.filter((ch) => ch.wants(e.kind));
      if (to.length === 0) return;
      if (queue.length >= MAX_QUEUED) {
        for (const ch of to) ch.dropped++;
        return;
      }
      queue.push({ ...e, at: Number.isFinite(e.at) ? e.at : Date.now() });
    },
    pending: () => queue.length,
    async flush(signal) {
      if (queue.length === 0 && channels.every((ch) => ch.dropped === 0)) return { ...NONE };
      const batch = queue;
      queue = [];
      const results = await Promise.all(
        channels.map((ch) => {
          const mine = batch.filter((e) => ch.wants(e.kind));
          const omitted = ch.dropped;
          ch.dropped = 0;
          return mine.length + omitted > 0 ? deliverAll(ch, ch.messages(mine, omitted), signal) : NONE;
        }),
      );
      return results.reduce((sum, r) => ({ sent: sum.sent + r.sent, failed: sum.failed + r.failed }), { ...NONE });
    },
  };
}

function configuredChannels(opts: NotifierOptions): Channel[] {
  const channel = (name: NotifyChannel, url: string, messages: Channel["messages"], secret?: string): Channel => {
    const only = opts.channels?.[name] ?? opts.events;
    // A short last path segment ("hook") is no token, and masking it would garble messages.
    const masked = secret && secret.length >= 8 ? { secret } : {};
    return { name, url, messages, dropped: 0, wants: (kind) => !only || only.has(kind), ...masked };
  };
  const out: Channel[] = [];
  const discordUrl = opts.discordWebhookUrl?.trim();
  if (discordUrl) out.push(channel("discord", discordUrl, discordMessages, lastSegment(discordUrl)));
  const webhookUrl = opts.webhookUrl?.trim();
  if (webhookUrl) out.push(channel("webhook", webhookUrl, (events, omitted) => [webhookPayload(events, omitted)]));
  const token = opts.telegram?.botToken.trim();
  const chatId = opts.telegram?.chatId.trim();
  if (token && chatId) {
    const base = (opts.telegram?.apiBase?.trim() || TELEGRAM.api).replace(/\/+$/, "");
    const messages = (events: readonly NotifyEvent[], omitted: number) => telegramMessages(chatId, events, omitted);
    out.push(channel("telegram", `${base}/bot${token}/sendMessage`, messages, token));
  }
  const slackUrl = opts.slackWebhookUrl?.trim();
  if (slackUrl) out.push(channel("slack", slackUrl, slackMessages, lastSegment(slackUrl)));
  return out;
}

/** Groups items into at most MAX_MESSAGES messages by count and size; `rest` are the events that did not fit. */
function pack<T>(
  events: readonly NotifyEvent[],
  render: (e: NotifyEvent) => { item: T; size: number },
  limit: { count: number; chars: number },
): { groups: T[][]; rest: readonly NotifyEvent[] } {
  const groups: T[][] = [];
  let group: T[] = [];
  let chars = 0;
  let shown = 0;
  for (const e of events) {
    const { item, size } = render(e);
    if (group.length === limit.count || (group.length > 0 && chars + size > limit.chars)) {
      groups.push(group);
      group = [];
      chars = 0;
      if (groups.length === MAX_MESSAGES) break;
    }
    group.push(item);
    chars += size;
    shown++;
  }
  if (group.length > 0) groups.push(group);
  return { groups, rest: events.slice(shown) };
}

/** "…and N more (2 repair_done, 1 dropped)" for what did not fit in this flush, or undefined. */
function overflowLine(rest: readonly NotifyEvent[], omitted: number): string | undefined {
  if (rest.length + omitted === 0) return undefined;
  const byKind = new Map<string, number>();
  for (const e of rest) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + 1);
  if (omitted > 0) byKind.set("dropped", omitted);
  const counts = [...byKind].map(([kind, n]) => `${n} ${kind}`).join(", ");
  return `…and ${rest.length + omitted} more (${counts})`;
}

/** Discord bodies: embeds packed by count and size into MAX_MESSAGES, then one "…and N more" message. */
function discordMessages(events: readonly NotifyEvent[], omitted: number): Body[] {
  // Event text may contain "@everyone" or a user mention; nothing we send should ping anyone.
  const allowed_mentions = { parse: [] };
  const { groups, rest } = pack(events, toEmbed, { count: DISCORD.embeds, chars: DISCORD.message });
  const bodies: Body[] = groups.map((embeds) => ({ embeds, allowed_mentions }));
  const more = overflowLine(rest, omitted);
  if (more) bodies.push({ content: truncate(more, DISCORD.content), allowed_mentions });
  return bodies;
}

function toEmbed(e: NotifyEvent) {
  const title = truncate(e.title || e.kind, DISCORD.title);
  const fields = Object.entries(e.fields ?? {})
    .slice(0, FIELD_LIMIT.count)
    // Discord rejects empty field names and values.
    .map(([name, value]) => ({
      name: truncate(name || "-", FIELD_LIMIT.name),
      value: truncate(String(value) || "-", FIELD_LIMIT.value),
      inline: true,
    }));
  const fieldChars = fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const description = truncate(e.detail, Math.min(DISCORD.description, DISCORD.message - title.length - fieldChars));
  const timestamp = new Date(e.at).toISOString();
  // An empty description is left out rather than sent, which Discord would refuse.
  const item = { title, ...(description ? { description } : {}), timestamp, color: COLOURS[e.kind], fields };
  return { item, size: title.length + description.length + fieldChars };
}

/** Telegram bodies: events as HTML blocks, up to ten per message within 4,096 characters, then a summary. */
function telegramMessages(chatId: string, events: readonly NotifyEvent[], omitted: number): Body[] {
  const body = (text: string) => ({ chat_id: chatId, text, parse_mode: "HTML", disable_web_page_preview: true });
  // Blocks are joined by a blank line: counting it in every block keeps the joined text within the limit.
  const render = (e: NotifyEvent) => {
    const item = chatText(e, (s) => `<b>${s}</b>`, TELEGRAM.text);
    return { item, size: item.length + 2 };
  };
  const { groups, rest } = pack(events, render, { count: EVENTS_PER_MESSAGE, chars: TELEGRAM.text + 2 });
  const bodies: Body[] = groups.map((blocks) => body(blocks.join("\n\n")));
  const more = overflowLine(rest, omitted);
  if (more) bodies.push(body(escapeText(more)));
  return bodies;
}

/** Slack bodies: one mrkdwn section per event, ten per message, titles as the notification text, then a summary. */
function slackMessages(events: readonly NotifyEvent[], omitted: number): Body[] {
  const render = (e: NotifyEvent) => {
    const text = chatText(e, (s) => `*${s}*`, SLACK.section);
    return { item: { text, title: fitEscaped(e.title || e.kind, DISCORD.title) }, size: text.length };
  };
  const { groups, rest } = pack(events, render, { count: EVENTS_PER_MESSAGE, chars: SLACK.text });
  const bodies: Body[] = groups.map((items) => ({
    text: items.map((i) => i.title).join("\n"),
    blocks: items.map((i) => ({ type: "section", text: { type: "mrkdwn", text: i.text } })),
  }));
  const more = overflowLine(rest, omitted);
  if (more) bodies.push({ text: escapeText(more) });
  return bodies;
}

/** One event as escaped chat text of at most `max` characters: bold title, detail, then "name: value" lines. */
function chatText(e: NotifyEvent, bold: (s: string) => string, max: number): string {
  const title = bold(fitEscaped(e.title || e.kind, DISCORD.title));
  const fields: string[] = [];
  let fieldChars = 0;
  for (const [name, value] of Object.entries(e.fields ?? {}).slice(0, FIELD_LIMIT.count)) {
    const line = `${bold(fitEscaped(name || "-", FIELD_LIMIT.name))}: ${fitEscaped(String(value), FIELD_LIMIT.value)}`;
    if (fieldChars + line.length + 1 > FIELD_LIMIT.chatChars) break;
    fields.push(line);
    fieldChars += line.length + 1;
  }
  const detail = fitEscaped(e.detail.trim(), max - title.length - fieldChars - 1);
  return [title, ...(detail ? [detail] : []), ...fields].join("\n");
}

/** Both Telegram's HTML and Slack's mrkdwn want exactly these three characters escaped. */
function escapeText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Escapes `text`, shortened first so that the escaped result fits `max` and no entity is cut in half. */
function fitEscaped(text: string, max: number): string {
  const all = escapeText(text);
  if (all.length <= max || max <= 0) return max > 0 ? all : "";
  let out = "";
  // By code point, so that no emoji is split either.
  for (const char of text) {
    const piece = escapeText(char);
    if (out.length + piece.length > max - 1) break;
    out += piece;
  }
  return `${out}…`;
}

function webhookPayload(events: readonly NotifyEvent[], omitted: number) {
  const payload = {
    source: "rdtm",
    events: events.map(({ kind, title, detail, at, fields }) => ({
      kind,
      title,
      detail,
      at: new Date(at).toISOString(),
      fields,
    })),
  };
  return omitted > 0 ? { ...payload, omitted } : payload;
}

const DISCORD_HOSTS = new Set(["discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"]);

/** Why a configured webhook URL is unusable, or undefined; messages never repeat the URL (it holds a token). */
export function checkWebhookUrl(url: string, kind: "discord" | "webhook" | "slack"): string | undefined {
  if (!URL.canParse(url)) return "is not a valid URL";
  const u = new URL(url);
  if (kind !== "webhook" && u.protocol !== "https:") return "must be an https:// URL";
  if (u.protocol !== "https:" && u.protocol !== "http:") return "must be an http:// or https:// URL";
  if (u.username !== "" || u.password !== "") return "must not contain credentials (user:password@)";
  if (kind === "webhook") return undefined;
  if (kind === "slack") {
    if (u.hostname !== "hooks.slack.com" || u.port !== "") return "must be a hooks.slack.com webhook URL";
    if (!/^\/services\/[\w]+\/[\w]+\/[\w]+\/?$/.test(u.pathname))
      return "must look like https://hooks.slack.com/services/<T…>/<B…>/<secret>";
    return undefined;
  }
  if (!DISCORD_HOSTS.has(u.hostname) || u.port !== "") return "must be a discord.com webhook URL";
  if (!/^\/api\/webhooks\/\d+\/[\w-]+\/?$/.test(u.pathname))
    return "must look like https://discord.com/api/webhooks/<id>/<token>";
  return undefined;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  // Never leave half a surrogate pair (an emoji) before the ellipsis.
  return `${/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
}

/** The token at the end of a Discord or Slack webhook URL. */
function lastSegment(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).pathname.split("/").filter(Boolean).at(-1) : undefined;
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : "(invalid URL)";
}

/** Removes the URL, anything after its host, and the channel's secret from a message that might quote them. */
function scrub(text: string, ch: Channel): string {
  let out = text.split(ch.url).join(hostOf(ch.url));
  const path = URL.canParse(ch.url) ? new URL(ch.url).pathname : "";
  if (path.length > 1) out = out.split(path).join("/***");
  return ch.secret ? out.split(ch.secret).join("***") : out;
}

/** Discord's `retry_after` and Telegram's `parameters.retry_after` (seconds), else a Retry-After header (Slack). */
function retryAfterMs(res: { _data?: unknown; headers: Headers }): number | undefined {
  const body = res._data as { retry_after?: unknown; parameters?: { retry_after?: unknown } } | null | undefined;
  const fromBody = body?.retry_after ?? body?.parameters?.retry_after;
  const seconds = typeof fromBody === "number" ? fromBody : Number(res.headers.get("retry-after") ?? Number.NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

/** A plain-text answer (Slack's "invalid_payload"), Discord's `message` or Telegram's `description`. */
function bodyText(body: unknown): string | undefined {
  const json = body as { message?: unknown; description?: unknown } | null | undefined;
  const message = typeof body === "string" ? body : (json?.message ?? json?.description);
  return typeof message === "string" && message.trim() !== "" ? message.trim() : undefined;
}

/** The innermost useful message: "connect ECONNREFUSED 127.0.0.1:9" rather than the fetch wrappers'. */
function rootMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (e.message) message = e.message;
    else if (typeof code === "string") message = code;
  }
  return message;
}

/** Resolves true after `ms`, false at once if the signal aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const end = (elapsed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(elapsed);
    };
    const onAbort = () => end(false);
    const timer = setTimeout(() => end(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
