import { FetchError, ofetch } from "ofetch";
import * as v from "valibot";
import { UpstreamError } from "../errors.ts";
import { parseResponse } from "../validate.ts";

/** The client `createPlexClient` returns. */
export type PlexClient = ReturnType<typeof createPlexClient>;

const SERVICE = "plex";
const SECTIONS = "/library/sections";
// Only what the lookup reads; Plex leaves Directory out entirely when the server has no libraries.
const Sections = v.object({
  MediaContainer: v.object({
    Directory: v.optional(
      v.array(v.object({ key: v.string(), Location: v.optional(v.array(v.object({ path: v.string() })), []) })),
      [],
    ),
  }),
});

/** Plex Media Server client for partial library refreshes (token in X-Plex-Token, JSON answers). */
export function createPlexClient(opts: { url: string; token: string; fetch?: typeof fetch; timeoutMs?: number }) {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const api = ofetch.create(
    {
      baseURL: opts.url.replace(/\/+$/, ""),
      headers: { Accept: "application/json", "X-Plex-Token": opts.token },
      retry: 0,
      // Bad JSON (or the XML an old server sends) stays text, so it fails the schema with a readable message.
      parseResponse: (text: string) => {
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      },
    },
    opts.fetch ? { fetch: opts.fetch } : {},
  );

  async function get(endpoint: string, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await api(endpoint, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // The path only: the refresh query names a library folder, which is noise in an error message.
      const where = `GET ${endpoint.split("?")[0]}`;
      if (timeout.aborted)
        throw new UpstreamError(SERVICE, `${where}: no answer within ${timeoutMs} ms`, { cause: err });
      const status = err instanceof FetchError ? err.response?.status : undefined;
      if (status === 401)
        throw new UpstreamError(SERVICE, `token rejected (HTTP 401 on ${where})`, { status, cause: err });
      if (status !== undefined) throw new UpstreamError(SERVICE, `${where}: HTTP ${status}`, { status, cause: err });
      throw new UpstreamError(SERVICE, `${where}: ${rootMessage(err)}`, { cause: err });
    }
  }

  return {
    /** Asks the library section holding `folder` to rescan just that folder; null when no section holds it. */
    async refreshPath(folder: string, signal?: AbortSignal): Promise<{ sectionId: string } | null> {
      if (!isAbsolute(folder)) throw new Error(`refreshPath needs an absolute folder, got ${JSON.stringify(folder)}`);
      const body = parseResponse(Sections, await get(SECTIONS, signal), { service: SERVICE, endpoint: SECTIONS });
      const sectionId = sectionFor(body.MediaContainer.Directory, folder);
      if (sectionId === undefined) return null;
      await get(`${SECTIONS}/${encodeURIComponent(sectionId)}/refresh?path=${encodeURIComponent(folder)}`, signal);
      return { sectionId };
    },
  };
}

/** The key of the section with the deepest location containing `folder` (or equal to it); boundaries respected. */
export function sectionFor(
  sections: readonly { key: string; Location: readonly { path: string }[] }[],
  folder: string,
): string | undefined {
  const target = trimSeparators(folder);
  let best: string | undefined;
  let bestLength = -1;
  for (const section of sections) {
    for (const { path } of section.Location) {
      const dir = trimSeparators(path);
      if (dir.length <= bestLength || !target.startsWith(dir)) continue;
      // "/tv/Show" must not claim "/tv/Show 2": the match has to end at a separator or at the end.
      const next = target[dir.length];
      if (next === undefined || next === "/" || next === "\\") {
        best = section.key;
        bestLength = dir.length;
      }
    }
  }
  return best;
}

function trimSeparators(path: string): string {
  return path.replace(/[\\/]+$/, "");
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** The innermost message: "connect ECONNREFUSED 127.0.0.1:32400" rather than ofetch's and undici's wrappers. */
function rootMessage(err: unknown): string {
  let e = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
