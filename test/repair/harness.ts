import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { JOBS } from "../../functions/index.ts";
import type { Clients } from "../../shared/clients/index.ts";
import { noClients, RdCallStats } from "../../shared/clients/index.ts";
import type { Notifier, NotifyEvent } from "../../shared/clients/notify.ts";
import { createRealDebridClient } from "../../shared/clients/real-debrid.ts";
import { createArrClient } from "../../shared/clients/servarr.ts";
import type { Db } from "../../shared/db.ts";
import { createRdLimiter } from "../../shared/rd/limiter.ts";
import { createFakeRealDebrid, type FakeRealDebrid, type FakeTorrent, makeTorrent } from "../fakes/real-debrid.ts";
import { createFakeArr, type FakeArr } from "../fakes/servarr.ts";
import { makeConfig, makeDb, makeRunner } from "../helpers/factories.ts";
import { tempDir } from "../helpers/processes.ts";

/** A virtual clock: sleeping moves it on at once, so backoffs and deadlines cost no real time. */
export function virtualClock(start = Date.now()) {
  const clock = {
    t: start,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
    advance(ms: number) {
      clock.t += ms;
    },
  };
  return clock;
}

/**
 * Everything a repair test needs: the fake RD behind the real client and the shared limiter, fake
 * Sonarr and Radarr, a library and a mount folder, and a runner over every job, all on one clock.
 */
export async function repairHarness(env: Record<string, string> = {}) {
  const clock = virtualClock();
  const db: Db = await makeDb();
  const fake: FakeRealDebrid = createFakeRealDebrid({ rateLimitPerMinute: 0, now: clock.now });
  const sonarr: FakeArr = createFakeArr("sonarr", { now: clock.now });
  const radarr: FakeArr = createFakeArr("radarr", { now: clock.now });
  const dir = tempDir("rdtm-repair-");
  const lib = join(dir, "library");
  const mount = join(dir, "mnt");
  // A mount with one healthy torrent, so the sweep's guard sees a live mount.
  mkdirSync(join(mount, "__all__", "Healthy.Torrent"), { recursive: true });
  writeFileSync(join(mount, "__all__", "Healthy.Torrent", "a.mkv"), "x");
  mkdirSync(lib, { recursive: true });
  const config = makeConfig({
    RD_API_TOKEN: "fake-rd-token",
    LIBRARY_ROOTS: lib,
    RD_MOUNT_PATH: mount,
    DRY_RUN: "false",
    MOUNT_GUARD_MIN_BROKEN: "1000",
    ...env,
  });
  const rdCalls = new RdCallStats();
  const rdLimiter = createRdLimiter({ limitPerMinute: 250, db, now: clock.now, sleep: clock.sleep });
  const rd = createRealDebridClient({
    baseUrl: fake.baseUrl,
    token: "fake-rd-token",
    limiter: rdLimiter,
    fetch: fake.fetch as typeof fetch,
    sleep: clock.sleep,
    onCall: (c) => rdCalls.record(c),
  });
  const arrClient = (f: FakeArr) =>
    createArrClient(
      { name: f.kind, kind: f.kind, url: f.baseUrl, apiKey: f.apiKey },
      { fetch: f.fetch as typeof fetch, retryDelayMs: 0 },
    );
  const events: NotifyEvent[] = [];
  const notifier = (): Notifier => ({
    enabled: true,
    add: (e) => events.push(e),
    pending: () => 0,
    flush: async () => ({ sent: 0, failed: 0 }),
  });
  const clients: Clients = {
    ...noClients(),
    rd,
    rdLimiter,
    rdCalls,
    arr: [arrClient(sonarr), arrClient(radarr)],
    plex: null,
    notifier,
  };
  const runner = makeRunner({ db, jobs: [...JOBS], config, clients, now: clock.now });

  const run = async (job: string, opts: { dryRun?: boolean } = {}) => {
    const r = await runner.run(job, { trigger: "test", dryRun: opts.dryRun ?? false });
    if (r.status !== "succeeded") throw new Error(`${job} ${r.status}: ${r.error ?? ""}`);
    return r.summary as Record<string, unknown>;
  };

  return {
    clock,
    config,
    runner,
    clients,
    db,
    fake,
    sonarr,
    radarr,
    lib,
    mount,
    events,
    run,
    /** Adds a torrent to the fake account (status and files as given) and returns it. */
    torrent(partial: Partial<FakeTorrent>): FakeTorrent {
      const t = makeTorrent({ added: new Date(clock.t - 86_400_000).toJSON(), ...partial });
      fake.add(t);
      return t;
    },
    /** A library symlink to `<mount>/__all__/<torrent>/<file>` (broken unless that file exists). */
    link(rel: string, torrent: string, file: string): string {
      const path = join(lib, rel);
      mkdirSync(dirname(path), { recursive: true });
      symlinkSync(join(mount, "__all__", torrent, file), path);
      return path;
    },
    rows: async (sql: string, args: (string | number)[] = []) => (await db.execute({ sql, args })).rows,
    /** RD requests that change something. */
    mutations: () => fake.requests.filter((r) => r.method !== "GET"),
    close: () => db.close(),
  };
}

export type RepairHarness = Awaited<ReturnType<typeof repairHarness>>;
