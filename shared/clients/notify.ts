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

type Target = "discord" | "webhook";
type Body = Record<string, unknown>;
// "stop": the target is unreachable or locked out, so the rest of this flush is not tried.
type Outcome = "sent" | "failed" | "stop";
type Embed = ReturnType<typeof toEmbed>["embed"];

const COLOURS: Record<NotifyEventKind, number> = {
  repair_failed: 0xe74c3c,
  repair_done: 0x2ecc71,
  mount_guard: 0xe67e22,
  rate_limit_lockout: 0xf1c40f,
  download_problem: 0x3498db,
};
// Discord's documented limits (a message's embeds share one 6,000-character budget), except the field limits:
// tighter than Discord's (25 fields, 256/1024 chars) so fields alone never crowd out the description.
const LIMIT = { embeds: 10, message: 6000, content: 2000, title: 256, description: 4096 } as const;
const FIELD_LIMIT = { count: 10, name: 64, value: 256 } as const;
// A channel flooded with hundreds of embeds is read by nobody, and Discord allows a webhook about five requests
// per two seconds: past three messages of embeds (30 events at most) the rest is one summary line.
const MAX_EMBED_MESSAGES = 3;
// Bounds memory when a run produces events but never flushes.
const MAX_QUEUED = 1000;
const MAX_RETRY_WAIT_MS = 5000;
const NONE = { sent: 0, failed: 0 } as const;

/** A batching notifier for Discord and/or a generic JSON webhook (an empty URL disables it); flush never throws. */
export function createNotifier(opts: {
  discordWebhookUrl?: string | undefined;
  webhookUrl?: string | undefined;
  fetch?: typeof fetch;
  log: Logger;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Kinds to keep; default all. */
  events?: ReadonlySet<NotifyEventKind>;
}): Notifier {
  const discordUrl = opts.discordWebhookUrl?.trim() || undefined;
  const webhookUrl = opts.webhookUrl?.trim() || undefined;
  const enabled = discordUrl !== undefined || webhookUrl !== undefined;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const http = ofetch.create(
    // Statuses are answers to judge here, not exceptions; a JSON 429 body arrives parsed.
    { retry: 0, ignoreResponseError: true },
    opts.fetch ? { fetch: opts.fetch } : {},
  );
  let queue: NotifyEvent[] = [];
  let dropped = 0;

  /** Logs a failure with the target's host only: a Discord webhook URL carries its secret token. */
  function warn(target: Target, url: string, message: string, data: Record<string, unknown>): void {
    opts.log.warn(message, { target, host: hostOf(url), ...data });
  }

  async function deliver(target: Target, url: string, body: Body, signal?: AbortSignal): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let res: Awaited<ReturnType<typeof http.raw>>;
      try {
        const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
        res = await http.raw(url, { method: "POST", body, signal: both });
      } catch (err) {
        const reason = signal?.aborted
          ? "aborted"
          : timeout.aborted
            ? `no answer within ${timeoutMs} ms`
            : scrub(rootMessage(err), url);
        warn(target, url, "Notification not sent: target unreachable.", { error: reason });
        return "stop";
      }
      if (res.ok) return "sent";
      const limited = target === "discord" && res.status === 429;
      const waitMs = limited && attempt === 1 ? retryAfterMs(res) : undefined;
      if (waitMs !== undefined && waitMs <= MAX_RETRY_WAIT_MS && (await pause(waitMs, signal))) continue;
      const error = scrub(bodyText(res._data) ?? res.statusText, url);
      warn(target, url, "Notification rejected.", { status: res.status, error, attempts: attempt });
      // Still rate limited: more messages now would only prolong the lockout.
      return limited ? "stop" : "failed";
    }
  }

  /** Sends messages in order; after an unreachable target or a lockout the rest are counted failed, not tried. */
  async function deliverAll(target: Target, url: string, bodies: Body[], signal?: AbortSignal) {
    const tally = { sent: 0, failed: 0 };
    let skipped = 0;
    for (const [i, body] of bodies.entries()) {
      if (signal?.aborted) {
        skipped = bodies.length - i;
        break;
      }
      const outcome = await deliver(target, url, body, signal);
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
      warn(target, url, "Notifications skipped.", { messages: skipped, reason });
    }
    return tally;
  }

  return {
    enabled,
    add(e) {
      if (!enabled || (opts.events && !opts.events.has(e.kind))) return;
      if (queue.length >= MAX_QUEUED) {
        dropped++;
        return;
      }
      queue.push({ ...e, at: Number.isFinite(e.at) ? e.at : Date.now() });
    },
    pending: () => queue.length,
    async flush(signal) {
      if (queue.length === 0 && dropped === 0) return { ...NONE };
      const batch = queue;
      const omitted = dropped;
      queue = [];
      dropped = 0;
      const [discord, webhook] = await Promise.all([
        discordUrl ? deliverAll("discord", discordUrl, discordMessages(batch, omitted), signal) : NONE,
        webhookUrl ? deliverAll("webhook", webhookUrl, [webhookPayload(batch, omitted)], signal) : NONE,
      ]);
      return { sent: discord.sent + webhook.sent, failed: discord.failed + webhook.failed };
    },
  };
}

/** Discord bodies: embeds packed by count and size into MAX_EMBED_MESSAGES, then one "…and N more" message. */
function discordMessages(events: readonly NotifyEvent[], omitted: number): Body[] {
  // Event text may contain "@everyone" or a user mention; nothing we send should ping anyone.
  const allowed_mentions = { parse: [] };
  const messages: Body[] = [];
  let embeds: Embed[] = [];
  let chars = 0;
  let shown = 0;
  for (const e of events) {
    const { embed, size } = toEmbed(e);
    if (embeds.length === LIMIT.embeds || (embeds.length > 0 && chars + size > LIMIT.message)) {
      messages.push({ embeds, allowed_mentions });
      embeds = [];
      chars = 0;
      if (messages.length === MAX_EMBED_MESSAGES) break;
    }
    embeds.push(embed);
    chars += size;
    shown++;
  }
  if (embeds.length > 0) messages.push({ embeds, allowed_mentions });
  const rest = events.slice(shown);
  if (rest.length + omitted > 0) {
    const byKind = new Map<string, number>();
    for (const e of rest) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + 1);
    if (omitted > 0) byKind.set("dropped", omitted);
    const counts = [...byKind].map(([kind, n]) => `${n} ${kind}`).join(", ");
    const content = truncate(`…and ${rest.length + omitted} more (${counts})`, LIMIT.content);
    messages.push({ content, allowed_mentions });
  }
  return messages;
}

function toEmbed(e: NotifyEvent) {
  const title = truncate(e.title || e.kind, LIMIT.title);
  const fields = Object.entries(e.fields ?? {})
    .slice(0, FIELD_LIMIT.count)
    // Discord rejects empty field names and values.
    .map(([name, value]) => ({
      name: truncate(name || "-", FIELD_LIMIT.name),
      value: truncate(String(value) || "-", FIELD_LIMIT.value),
      inline: true,
    }));
  const fieldChars = fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const description = truncate(e.detail, Math.min(LIMIT.description, LIMIT.message - title.length - fieldChars));
  const timestamp = new Date(e.at).toISOString();
  // An empty description is left out rather than sent, which Discord would refuse.
  const embed = { title, ...(description ? { description } : {}), timestamp, color: COLOURS[e.kind], fields };
  return { embed, size: title.length + description.length + fieldChars };
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

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : "(invalid URL)";
}

/** Removes the URL, and anything after its host, from a message that might quote it. */
function scrub(text: string, url: string): string {
  const out = text.split(url).join(hostOf(url));
  const path = URL.canParse(url) ? new URL(url).pathname : "";
  return path.length > 1 ? out.split(path).join("/***") : out;
}

function retryAfterMs(res: { _data?: unknown; headers: Headers }): number | undefined {
  const fromBody = (res._data as { retry_after?: unknown } | null | undefined)?.retry_after;
  const seconds = typeof fromBody === "number" ? fromBody : Number(res.headers.get("retry-after") ?? Number.NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

function bodyText(body: unknown): string | undefined {
  const message = typeof body === "string" ? body : (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" && message.trim() !== "" ? message.trim().slice(0, 200) : undefined;
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
