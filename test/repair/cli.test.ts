import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, main } from "../../shared/cli.ts";
import { createFakeRealDebrid, type FakeRealDebrid, makeTorrent } from "../fakes/real-debrid.ts";
import { tempDir } from "../helpers/processes.ts";

let fake: FakeRealDebrid;
let server: { url: string; close(): Promise<void> };
let env: Record<string, string>;
beforeAll(async () => {
  fake = createFakeRealDebrid();
  server = await fake.listen();
  const dir = tempDir("rdtm-cli-repair-");
  env = {
    LIBSQL_URL: `file:${join(dir, "db.db")}`,
    LOG_LEVEL: "silent",
    RD_API_TOKEN: "fake-rd-token",
    RD_API_URL: server.url,
  };
});
afterAll(() => server.close());

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    env,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    tty: false,
    stopSignal: new Promise(() => {}),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("rdtm retries and rdtm repair", () => {
  it("refuses what is neither a torrent id nor a hash, and unknown torrents", async () => {
    expect(await cli(["repair"])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/exactly one/) });
    expect(await cli(["repair", "../etc"])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/neither/) });
    expect(await cli(["repair", "NOPE1", "--real"])).toMatchObject({
      code: EXIT.failed,
      err: expect.stringMatching(/no torrent 'NOPE1' known/),
    });
  });

  it("plans in dry run, then repairs for real, and lists what waits", async () => {
    const dead = makeTorrent({ id: "DEAD1", filename: "Movie.2020.1080p", status: "dead" });
    const stuck = makeTorrent({ id: "ERR1", filename: "Other.2021", status: "error" });
    fake.add(dead, stuck);
    fake.cached.add(dead.hash);
    expect((await cli(["run", "rd-quick-scan", "--real"])).code).toBe(EXIT.ok);

    const retries = JSON.parse((await cli(["retries", "--json"])).out);
    expect(retries.repairs.map((r: { torrentId: string }) => r.torrentId).sort()).toEqual(["DEAD1", "ERR1"]);
    expect((await cli(["retries"])).out).toMatch(/^Retries: 2 pending/);

    const planned = await cli(["repair", "DEAD1", "--dry-run"]);
    expect(planned).toMatchObject({ code: EXIT.ok, out: expect.stringMatching(/queued \(dry run/) });
    expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([]);

    const real = JSON.parse((await cli(["repair", dead.hash.toUpperCase(), "--real", "--json"])).out);
    expect(real.repair).toMatchObject({ torrentId: "DEAD1", state: "done" });
    expect(fake.torrents.filter((t) => t.hash === dead.hash).map((t) => t.id)).not.toContain("DEAD1");
    const left = JSON.parse((await cli(["retries", "--json"])).out);
    expect(left.repairs.map((r: { torrentId: string }) => r.torrentId)).toEqual(["ERR1"]);
  });
});
