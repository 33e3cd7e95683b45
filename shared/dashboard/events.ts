import type { Hono, MiddlewareHandler } from "hono";
import { streamSSE } from "hono/streaming";
import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import { overviewCounts, runsTouchedSince } from "./queries.ts";
import { type DashEnv, maskSecrets, secretValues } from "./respond.ts";

/** How often each stream looks at the database. */
export const POLL_MS = 1_500;
// Counts group 100k torrents: recomputed when a run changed something, else every 4th poll (6 s).
const COUNTS_EVERY = 4;
// A comment line every 15 s keeps proxies from closing an idle stream.
const HEARTBEAT_EVERY = 10;
// How far back each poll looks again, so a run row written by a slightly late clock is not missed.
const OVERLAP_MS = 10_000;
const MAX_FAILED_POLLS = 5;
const MAX_BACKLOG_MS = 3_600_000;

/** The open live streams, so shutdown can end them. */
export class LiveStreams {
  readonly #open = new Set<AbortController>();
  /** Registers a stream; its controller aborts on close(). */
  add(stop: AbortController): () => void {
    this.#open.add(stop);
    return () => this.#open.delete(stop);
  }
  /** Ends every open stream (a server waiting for its connections to end can then stop). */
  close(): void {
    for (const s of this.#open) s.abort();
    this.#open.clear();
  }
  /** How many streams are open. */
  get size(): number {
    return this.#open.size;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; the timer never keeps the process alive. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    (timer as { unref?: () => void }).unref?.();
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The Node http server behind this request, when there is one: it stops listening when shutdown begins. */
function nodeServer(env: unknown): { listening: boolean } | undefined {
  return (env as { incoming?: { socket?: { server?: { listening: boolean } } } } | undefined)?.incoming?.socket?.server;
}

/**
 * Mounts GET /events (behind `session`): Server-Sent Events `run` (a job run started or changed status,
 * data = RunView as JSON) and `counts` (the overview's numbers when they change), plus a heartbeat comment.
 * `?since=<ms>` replays runs touched since the page was rendered.
 */
export function mountEvents(
  ui: Hono<DashEnv>,
  deps: { config: Config; db: Db; log: Logger; now: () => number },
  session: MiddlewareHandler<DashEnv>,
  live: LiveStreams,
): void {
  const { db } = deps;
  const log = deps.log.withTag("dashboard");
  const secrets = secretValues(deps.config);
  const data = (x: unknown) => maskSecrets(JSON.stringify(x), secrets);

  ui.get("/events", session, (c) => {
    const now = deps.now();
    const asked = c.req.query("since");
    let since = asked && /^\d{1,16}$/.test(asked) ? Math.min(now, Math.max(now - MAX_BACKLOG_MS, Number(asked))) : now;
    const server = nodeServer(c.env);
    const res = streamSSE(c, async (stream) => {
      const stop = new AbortController();
      const forget = live.add(stop);
      stream.onAbort(() => stop.abort());
      const known = new Map<string, string>();
      let lastCounts = "";
      let failed = 0;
      try {
        await stream.write(": connected\nretry: 3000\n\n");
        for (let tick = 0; !stop.signal.aborted && !stream.aborted; tick++) {
          if (server && !server.listening) break;
          try {
            const pollAt = deps.now();
            const runs = await runsTouchedSince(db, since);
            let changed = false;
            for (const r of runs.reverse()) {
              const signature = `${r.status}|${r.endedAt}`;
              if (known.get(r.id) === signature) continue;
              known.set(r.id, signature);
              changed = true;
              await stream.writeSSE({ event: "run", data: data(r) });
            }
            const seen = new Set(runs.map((r) => r.id));
            for (const id of known.keys()) if (!seen.has(id)) known.delete(id);
            since = Math.max(since, pollAt - OVERLAP_MS);
            if (tick === 0 || changed || tick % COUNTS_EVERY === 0) {
              const counts = data(await overviewCounts(db));
              if (counts !== lastCounts) {
                lastCounts = counts;
                await stream.writeSSE({ event: "counts", data: counts });
              }
            }
            if (tick % HEARTBEAT_EVERY === HEARTBEAT_EVERY - 1) await stream.write(": heartbeat\n\n");
            failed = 0;
          } catch (err) {
            if (failed === 0) log.warn("live stream could not read the database", { error: errorMessage(err) });
            // The browser reconnects by itself; a database that stays away ends the stream.
            if (++failed >= MAX_FAILED_POLLS) break;
          }
          await pause(POLL_MS, stop.signal);
        }
      } finally {
        forget();
      }
    });
    // Once the stream ends (shutdown), the socket closes too instead of idling in keep-alive.
    res.headers.set("Connection", "close");
    res.headers.set("X-Accel-Buffering", "no");
    return res;
  });
}
