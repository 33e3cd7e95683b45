import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, main } from "../../shared/cli.ts";
import { createFakeQbit, type FakeQbit, makeQbitTorrent } from "../fakes/qbittorrent.ts";
import { createFakeArr, type FakeArr, makeQueueRecord } from "../fakes/servarr.ts";
import { tempDir } from "../helpers/processes.ts";

let qbit: FakeQbit;
let sonarr: FakeArr;
const servers: { close(): Promise<void> }[] = [];
let env: Record<string, string>;
let dir: string;
beforeAll(async () => {
  qbit = createFakeQbit();
  sonarr = createFakeArr("sonarr", { apiKey: "0123456789abcdef0123" });
  const q = await qbit.listen();
  const s = await sonarr.listen();
  servers.push(q, s);
  dir = tempDir("rdtm-qbit-cli-");
  env = {
    LIBSQL_URL: `file:${join(dir, "db.db")}`,
    LOG_LEVEL: "silent",
    QBIT_URL: q.url,
    QBIT_USERNAME: qbit.username,
    QBIT_PASSWORD: qbit.password,
    SONARR_URL: s.url,
    SONARR_API_KEY: sonarr.apiKey,
  };
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function cli(args: string[], extra: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    env: { ...env, ...extra },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    tty: false,
    stopSignal: new Promise(() => {}),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("rdtm run qbit-check and rdtm check", () => {
  it("rdtm check reports each service the seed's way, and fails when one is down", async () => {
    const ok = JSON.parse((await cli(["check", "--json"])).out);
    expect(ok.services).toEqual({
      qbittorrent: { up: true, detail: expect.stringMatching(/^qBittorrent /) },
      sonarr: { up: true, detail: expect.stringMatching(/^Sonarr /) },
    });
    expect((await cli(["check"])).code).toBe(EXIT.ok);
    qbit.connectionStatus = "disconnected";
    const down = await cli(["check"]);
    expect(down.code).toBe(EXIT.failed);
    expect(down.out).toMatch(/qbittorrent: DOWN — qBittorrent .*disconnected/);
    qbit.connectionStatus = "connected";
  });

  it("--config takes the rules file, and a bad one is a configuration error naming it", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"classes":{"tracker":{"strikes":0}}}');
    const r = await cli(["run", "qbit-check", "--dry-run", "--config", bad]);
    expect(r.code).toBe(EXIT.config);
    expect(r.err).toMatch(/QBIT_RULES_FILE: .*bad\.json: classes\.tracker\.strikes/);
    expect((await cli(["run", "qbit-check", "--config", join(dir, "none.json")])).err).toMatch(
      /QBIT_RULES_FILE: .*ENOENT/,
    );

    const t = makeQbitTorrent({ state: "downloading", tracker: "" });
    qbit.torrents.push(t);
    qbit.trackers.set(t.hash, [{ url: "https://t/announce", status: 4, msg: "unregistered torrent", tier: 0 }]);
    sonarr.queue.push(makeQueueRecord({ id: 9, seriesId: 1, episodeId: 2, downloadId: t.hash.toUpperCase() }));
    const rules = join(dir, "rules.json");
    writeFileSync(rules, JSON.stringify({ classes: { tracker: { strikes: 1 } } }));
    const run = JSON.parse(
      (await cli(["run", "qbit-check", "--dry-run", "--verbose", "--config", rules, "--json"])).out,
    );
    expect(run).toMatchObject({
      status: "succeeded",
      dryRun: true,
      summary: { planned: 2, classified: { tracker: 1 } },
    });
    expect(sonarr.requests.filter((x) => x.method !== "GET")).toEqual([]);
  });
});
