// Crash injection on real processes: `rdtm run retry-drain` is killed -9 at each mutating step, once
// before the request reaches RD and once after RD carried it out but before the answer came back.
// After restarts, every repair must end with exactly one replacement torrent, the old one deleted
// once, and the journal must agree with what the fake RD saw.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDb } from "../../shared/db.ts";
import { createFakeRealDebrid, type FakeFile, makeTorrent } from "../fakes/real-debrid.ts";
import { eventually, runCli, spawnProc, tempDir } from "../helpers/processes.ts";

const CLI = join(process.cwd(), "dist/cli.mjs");
const FILES: FakeFile[] = [
  { id: 1, path: "/E01.mkv", bytes: 1_000, selected: 1 },
  { id: 2, path: "/E02.mkv", bytes: 1_000, selected: 1 },
  { id: 3, path: "/info.nfo", bytes: 10, selected: 0 },
];

const POINTS = [
  { step: "addMagnet", method: "POST", path: /^\/torrents\/addMagnet$/ },
  { step: "selectFiles", method: "POST", path: /^\/torrents\/selectFiles\// },
  { step: "delete old", method: "DELETE", path: /^\/torrents\/delete\/OLD/ },
] as const;
const CASES = POINTS.flatMap((p) => [
  { ...p, after: false, name: `${p.step}, before it reached RD` },
  { ...p, after: true, name: `${p.step}, after RD did it but before the answer` },
]);

describe("repairs survive kill -9 at every step", () => {
  it.each(CASES)(
    "killed at $name",
    async (c) => {
      const fake = createFakeRealDebrid({ rateLimitPerMinute: 0 });
      const olds = ["OLD1", "OLD2"].map((id, i) =>
        makeTorrent({ id, filename: `Show.${i}.S01`, status: "dead", files: FILES.map((f) => ({ ...f })) }),
      );
      fake.add(...olds);
      for (const t of olds) fake.cached.add(t.hash);
      const server = await fake.listen();
      const dir = tempDir("rdtm-crash-");
      const env = {
        LIBSQL_URL: `file:${join(dir, "rdtm.db")}`,
        RD_API_TOKEN: "fake-rd-token",
        RD_API_URL: server.url,
        LEASE_TTL_SECONDS: "2",
        DRY_RUN: "false",
      };
      const db = await openDb(env.LIBSQL_URL.replace("file:", "file:"));
      try {
        expect((await runCli(["run", "rd-quick-scan"], env, dir)).code).toBe(0);

        fake.inject({ fault: { kind: "hang", after: c.after }, method: c.method, path: c.path });
        const victim = spawnProc(process.execPath, [CLI, "run", "retry-drain"], { cwd: dir, env });
        await eventually(
          async () => (fake.requests.some((r) => r.hung) ? true : undefined),
          20_000,
          `the ${c.step} request`,
        );
        victim.kill("SIGKILL");
        await victim.exited;

        for (let i = 0; i < 40; i++) {
          const open = await db.execute(
            "SELECT count(*) AS n FROM repairs WHERE state NOT IN ('done','failed','cancelled')",
          );
          if (Number(open.rows[0]?.n) === 0) break;
          const r = await runCli(["run", "retry-drain"], env, dir);
          if (r.code === 4)
            await new Promise((res) => setTimeout(res, 400)); // the dead run's lease
          else expect(r.code, r.output).toBe(0);
        }

        const repairs = await db.execute("SELECT torrent_id, state, new_torrent_id FROM repairs ORDER BY id");
        expect(repairs.rows.map((r) => r.state)).toEqual(["done", "done"]);
        for (const old of olds) {
          // Exactly one replacement, downloaded, with the same files; the old one gone.
          const same = fake.torrents.filter((t) => t.hash === old.hash);
          expect(
            same.map((t) => t.status),
            old.id,
          ).toEqual(["downloaded"]);
          expect(same[0]?.id).not.toBe(old.id);
          expect(same[0]?.files.filter((f) => f.selected).map((f) => f.path)).toEqual(["/E01.mkv", "/E02.mkv"]);
          const row = repairs.rows.find((r) => r.torrent_id === old.id);
          expect(row?.new_torrent_id).toBe(same[0]?.id);
        }
        // The fake saw each effective mutation once per repair; the journal says the same.
        const effective = (method: string, re: RegExp, ok: number) =>
          fake.requests.filter((r) => r.method === method && re.test(r.path) && r.status === ok).length;
        expect(effective("POST", /addMagnet/, 201)).toBe(2);
        expect(effective("DELETE", /delete\/OLD/, 204)).toBe(2);
        expect(fake.requests.filter((r) => r.method === "DELETE" && !/OLD/.test(r.path))).toEqual([]);
        const journal = await db.execute(
          "SELECT kind, state, count(*) AS n FROM actions GROUP BY kind, state ORDER BY kind, state",
        );
        const done = Object.fromEntries(
          journal.rows.filter((r) => r.state === "done").map((r) => [String(r.kind), Number(r.n)]),
        );
        expect(done).toEqual({ add_magnet: 2, select_files: 2, delete_old_torrent: 2 });
        expect(journal.rows.filter((r) => r.state === "pending")).toEqual([]);
        const interrupted = await db.execute("SELECT count(*) AS n FROM job_runs WHERE status = 'interrupted'");
        expect(Number(interrupted.rows[0]?.n)).toBe(1);
      } finally {
        db.close();
        await server.close();
      }
    },
    60_000,
  );
});
