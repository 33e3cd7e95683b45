import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../../shared/db.ts";
import { readProgress } from "../../shared/rd/scan-progress.ts";
import { createFakeRealDebrid, makeAccount } from "../fakes/real-debrid.ts";
import { eventually, runCli, spawnProc, tempDir } from "../helpers/processes.ts";

const fake = createFakeRealDebrid({ rateLimitPerMinute: 0 });
let server: { url: string; close(): Promise<void> };
beforeAll(async () => {
  fake.add(...makeAccount(3_000));
  server = await fake.listen();
});
afterAll(() => server?.close());

const envFor = (dir: string) => ({
  LIBSQL_URL: `file:${join(dir, "rdtm.db")}`,
  RD_API_TOKEN: "fake-rd-token",
  RD_API_URL: server.url,
  FULL_SCAN_PAGE_SIZE: "500",
  LEASE_TTL_SECONDS: "2",
});

describe("RD jobs as real processes", () => {
  it("rdtm check reports the account", async () => {
    const dir = tempDir();
    const r = await runCli(["check"], envFor(dir), dir);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(new RegExp(`Real-Debrid: ${fake.user.username} — premium, \\d+ day\\(s\\) left`));
    expect(r.output).toMatch(/active torrents: \d+ of 25/);
    const bad = await runCli(["check"], { ...envFor(dir), RD_API_TOKEN: "wrong-token-xyz" }, dir);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/token rejected/);
  });

  it("a process killed -9 in the middle of a page resumes from the stored cursor: nothing missed or doubled", async () => {
    const dir = tempDir();
    const env = envFor(dir);
    for (let i = 0; i < 2; i++) expect((await runCli(["run", "rd-full-scan-page", "--json"], env, dir)).code).toBe(0);
    const db = await openDb(env.LIBSQL_URL);
    try {
      const before = await readProgress(db, "full");
      // the next page answers slowly; kill the process while it waits for it
      fake.inject({ fault: { kind: "delay", ms: 5_000 }, path: /^\/torrents$/ });
      const victim = spawnProc(process.execPath, [join(process.cwd(), "dist/cli.mjs"), "run", "rd-full-scan-page"], {
        cwd: dir,
        env,
      });
      // its run row appears before it asks for the page, which the fake holds for 5 s
      await eventually(
        async () => {
          const rs = await db.execute("SELECT count(*) AS n FROM job_runs WHERE status = 'running'");
          return Number(rs.rows[0]?.n) > 0 ? true : undefined;
        },
        10_000,
        "the victim's run",
      );
      await new Promise((r) => setTimeout(r, 300));
      victim.kill("SIGKILL");
      await victim.exited;
      expect(await readProgress(db, "full")).toEqual(before);

      let skipped = 0;
      for (let i = 0; i < 60; i++) {
        const r = await runCli(["run", "rd-full-scan-page", "--json"], env, dir);
        if (r.code === 4) {
          skipped++; // the dead run's lease has not expired yet
          await new Promise((res) => setTimeout(res, 300));
          continue;
        }
        expect(r.code, r.output).toBe(0);
        if ((await readProgress(db, "full")).status === "completed") break;
      }
      expect(skipped).toBeGreaterThan(0);
      const ids = (await db.execute("SELECT id FROM torrents WHERE gone_at IS NULL")).rows.map((r) => String(r.id));
      expect(ids).toHaveLength(3_000);
      expect(new Set(ids)).toEqual(new Set(fake.torrents.map((t) => t.id)));
      const dead = await db.execute("SELECT count(*) AS n FROM job_runs WHERE status = 'interrupted'");
      expect(dead.rows[0]?.n).toBe(1);
    } finally {
      db.close();
    }
  }, 90_000);
});
