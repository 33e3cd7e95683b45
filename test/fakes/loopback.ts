import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";

/** A fake served over a socket: its URL on 127.0.0.1 and a close() that does not wait for keep-alives. */
export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler (a Hono app's) on 127.0.0.1 at a free port; `path` is appended to the URL. */
export async function listenLoopback(handler: Parameters<typeof getRequestListener>[0], path = ""): Promise<Listening> {
  const server = createServer(getRequestListener(handler));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

/**
 * An in-process fetch that reaches only the fake at `origin`: any other host fails as an unknown host
 * would, so no test can reach the network.
 */
export function fetchOnly(
  origin: string,
  handler: (req: Request) => Response | Promise<Response>,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const req = new Request(input, init);
    const host = new URL(req.url).host;
    if (`http://${host}` !== origin) {
      const cause = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
      throw new TypeError("fetch failed", { cause });
    }
    if (req.signal.aborted) throw req.signal.reason;
    return handler(req);
  };
}
