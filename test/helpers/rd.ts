import { type Clients, noClients, RdCallStats } from "../../shared/clients/index.ts";
import { createRealDebridClient } from "../../shared/clients/real-debrid.ts";
import type { FakeRealDebrid } from "../fakes/real-debrid.ts";

/** Clients whose RD goes to the fake in process (no limiter: the fake's own limit still applies). */
export function clientsFor(fake: FakeRealDebrid, token = "fake-rd-token"): Clients {
  const rdCalls = new RdCallStats();
  const rd = createRealDebridClient({
    baseUrl: fake.baseUrl,
    token,
    limiter: null,
    fetch: fake.fetch as typeof fetch,
    sleep: async () => {},
    onCall: (c) => rdCalls.record(c),
  });
  return { ...noClients(), rd, rdCalls };
}
