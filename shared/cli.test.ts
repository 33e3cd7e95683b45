import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createFakeRealDebrid, makeAccount } from "../test/fakes/real-debrid.ts";
import { tempDir } from "../test/helpers/processes.ts";
import { type CliIo, CONFIRM_QUESTION, chooseRunMode, EXIT, MODE_QUESTION, main, renderBar, table } from "./cli.ts";

async function cli(args: string[], env: Record<string, string> = {}, io: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const drawn: string[] = [];
  const dir = tempDir();
  const code = await main(args, {
    env: { LIBSQL_URL: `file:${join(dir, "db.db")}`, BACKUP_DIR: join(dir, "backups"), LOG_LEVEL: "silent", ...env },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    write: (t) => drawn.push(t),
    tty: false,
    stopSignal: new Promise(() => {}),
    ...io,
  });
  return { code, out: out.join("\n"), err: err.join("\n"), drawn: drawn.join("") };
}

/** A library of `shows` folders with 3 links each, one link in every fifth folder broken. */
function library(shows: number): string {
  const root = join(tempDir(), "tv");
  for (let i = 0; i < shows; i++) {
    const folder = join(root, `Show ${i}`);
    mkdirSync(folder, { recursive: true });
    for (let e = 1; e <= 3; e++) {
      const target = join(folder, `.e${e}`);
      if (!(i % 5 === 0 && e === 3)) writeFileSync(target, "");
      symlinkSync(target, join(folder, `S01E0${e}.mkv`));
    }
  }
  return root;
}

/** An `ask` that answers in turn and records the questions. */
function answers(...list: string[]) {
  const asked: string[] = [];
  const ask = async (q: string) => {
    asked.push(q);
    return list.shift() ?? "";
  };
  return { asked, ask };
}

describe("rdtm CLI", () => {
  it.each([
    [["--help"]],
    [["run", "--help"]],
    [["status", "-h"]],
    [["serve", "--help"]],
    [["backup", "--help"]],
    [["migrate", "--help"]],
  ])("prints help for %j", async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/Usage: rdtm/);
  });

  it.each([
    [[], /Usage/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["run"], /give exactly one job name/],
    [["run", "a", "b"], /give exactly one job name/],
    [["run", "maintenance", "--dry-run", "--real"], /exclude each other/],
    [["run", "maintenance", "--limit", "0"], /--limit expects a whole number/],
    [["run", "maintenance", "--limit", "3x"], /--limit expects a whole number/],
    [["status", "--real"], /--real does not apply to 'status'/],
    [["run", "maintenance", "--bogus"], /Unknown option '--bogus'/],
    [["run", "nope"], /unknown job 'nope'/],
    [["scan"], /give the action: reset/],
    [["scan", "explode"], /unknown action 'explode'/],
    [["status", "--env-file", "/nonexistent/file"], /env file not found/],
  ])("exits 2 on usage errors: %j", async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err + r.out).toMatch(message);
  });

  it("exits 3 with every configuration problem listed", async () => {
    const r = await cli(["status"], { PORT: "x", DRY_RUN: "maybe" });
    expect(r.code).toBe(EXIT.config);
    expect(r.err).toMatch(/PORT: expected a whole number/);
    expect(r.err).toMatch(/DRY_RUN: expected true\/false/);
  });

  it("runs a job and prints the run as JSON", async () => {
    const r = await cli(["run", "maintenance", "--real", "--json"]);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ job: "maintenance", trigger: "cli", status: "succeeded", dryRun: false });
  });

  it("shows status as a table and as JSON", async () => {
    const r = await cli(["status"]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^JOB\s+SCHEDULE\s+NEXT RUN\s+NOW\s+LAST RUN\n/);
    expect(r.out).toMatch(/^maintenance\s+30 4 \* \* \*/m);
    expect(r.out).toMatch(/^full scan: idle/m);
    expect(r.out).toMatch(/^sweep: idle, generation 0/m);
    expect(r.out).toMatch(/^AREA\s+WHAT\s+COUNT\ntorrents\s+none\s+0\nrepairs\s+none\s+0\n/m);
    expect(r.out).toMatch(/^broken links\s+none\s+0\nqbit strikes\s+none\s+0\nmount guard\s+not configured$/m);
    const json = JSON.parse((await cli(["status", "--json"])).out);
    expect(json.jobs.map((j: { name: string }) => j.name)).toEqual([
      "rd-quick-scan",
      "rd-full-scan-page",
      "symlink-sweep",
      "retry-drain",
      "qbit-check",
      "maintenance",
    ]);
    expect(json.scan.full).toMatchObject({ status: "idle", generation: 0 });
    expect(json).toMatchObject({ brokenLinks: {}, qbitStrikes: {}, mountGuard: { status: "not_configured" } });
  });

  it("counts torrents, repairs, broken links, strikes and the guard in the status table", async () => {
    const roots = library(10);
    const env = { LIBRARY_ROOTS: roots };
    const dbEnv = { ...env, LIBSQL_URL: `file:${join(tempDir(), "db.db")}` };
    expect((await cli(["sweep", "run"], dbEnv)).code).toBe(EXIT.ok);
    const r = await cli(["status"], dbEnv);
    expect(r.out).toMatch(/^broken links\s+broken\s+2$/m);
    expect(r.out).toMatch(/^mount guard\s+ok$/m);
    expect(r.out).toMatch(/^sweep: completed, generation 1, 30 links, 2 broken$/m);
    expect(JSON.parse((await cli(["status", "--json"], dbEnv)).out).brokenLinks).toEqual({ broken: 2 });
  });

  it("migrates and backs up", async () => {
    expect((await cli(["migrate"])).out).toMatch(/applied migrations: 1|up to date/);
    const b = await cli(["backup", "--json"]);
    expect(b.code).toBe(EXIT.ok);
    expect(JSON.parse(b.out).file).toMatch(/rdtm-\d{8}-\d{6}-\d{3}\.db$/);
  });

  it("reads an env file, real variables winning", async () => {
    const dir = tempDir();
    const file = join(dir, "vars");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, "SCHEDULE_MAINTENANCE=0 1 * * *\nPORT=nope\n");
    const r = await cli(["status", "--json", "--env-file", file], { PORT: "9999" });
    expect(r.code).toBe(EXIT.ok);
    const jobs = JSON.parse(r.out).jobs as { name: string; schedule: string }[];
    expect(jobs.find((j) => j.name === "maintenance")?.schedule).toBe("0 1 * * *");
  });

  it("asks for the run mode on a terminal, real only after a typed yes", async () => {
    const io = { out: () => {}, err: () => {}, tty: true, stopSignal: new Promise<string>(() => {}) };
    const yes = answers("2", "yes");
    expect(await chooseRunMode({}, { ...io, env: {}, ask: yes.ask })).toEqual({ DRY_RUN: "false" });
    expect(yes.asked).toEqual([MODE_QUESTION, CONFIRM_QUESTION]);
    expect(MODE_QUESTION).toMatch(/1\) DRY-RUN \(analyse only, change nothing\)\n {2}2\) REAL \(repairs, deletions\)/);
    const no = answers("2", "no");
    expect(await chooseRunMode({}, { ...io, env: {}, ask: no.ask })).toEqual({ DRY_RUN: "true" });
    const one = answers("1");
    expect(await chooseRunMode({}, { ...io, env: {}, ask: one.ask })).toEqual({ DRY_RUN: "true" });
    expect(one.asked).toEqual([MODE_QUESTION]);
    const junk = answers("REAL");
    expect(await chooseRunMode({}, { ...io, env: {}, ask: junk.ask })).toEqual({ DRY_RUN: "true" });
  });

  it("never asks off a terminal, nor when DRY_RUN is set", async () => {
    const io = { out: () => {}, err: () => {}, stopSignal: new Promise<string>(() => {}), env: {} };
    const off = answers("2", "yes");
    expect(await chooseRunMode({ PORT: "1" }, { ...io, tty: false, ask: off.ask })).toEqual({ PORT: "1" });
    const set = answers("2", "yes");
    expect(await chooseRunMode({ DRY_RUN: "true" }, { ...io, tty: true, ask: set.ask })).toEqual({ DRY_RUN: "true" });
    expect([...off.asked, ...set.asked]).toEqual([]);
  });

  it("runs a whole sweep: plain final lines off a terminal, a redrawn bar on one", async () => {
    const env = { LIBRARY_ROOTS: library(60), SWEEP_RUN_ENTRIES: "100" };
    const plain = await cli(["sweep", "run"], env);
    expect(plain.code).toBe(EXIT.ok);
    expect(plain.out).toMatch(/^sweep: completed, generation 1/m);
    expect(plain.out).toMatch(/^entries \d+, links 180, broken 12, /m);
    expect(plain.out).toMatch(/^[2-9] run\(s\)$/m);
    expect(plain.out + plain.drawn).not.toMatch(/[█░\r]/);

    const tty = await cli(["sweep", "run"], env, { tty: true });
    expect(tty.code).toBe(EXIT.ok);
    expect(tty.drawn).toMatch(/\rsweep [█░]+ +entries \d+, links \d+, broken \d+/);
    expect(tty.drawn).toContain("broken 12\x1b[K");
    expect(tty.drawn.endsWith("\r\x1b[K")).toBe(true);
    expect(tty.out).not.toMatch(/[█░]/);
  });

  it("runs a whole full scan, page after page, with a bar of torrents seen", async () => {
    const rd = createFakeRealDebrid({ token: "cli-test-rd-token" });
    rd.add(...makeAccount(250));
    const server = await rd.listen();
    try {
      const env = { RD_API_TOKEN: "cli-test-rd-token", RD_API_URL: server.url, FULL_SCAN_PAGE_SIZE: "100" };
      const tty = await cli(["scan", "full"], env, { tty: true });
      expect(tty.code).toBe(EXIT.ok);
      expect(tty.out).toMatch(/^full scan completed: generation 1, 250 torrents in \d+ page\(s\)$/);
      expect(tty.drawn).toContain(`full scan ${"█".repeat(10)}${"░".repeat(14)}  40% page 1, 100 of 250`);
      const plain = await cli(["scan", "full", "--json"], env);
      expect(JSON.parse(plain.out)).toMatchObject({ full: { status: "completed", seen: 250 } });
      expect(plain.drawn).toBe("");
    } finally {
      await server.close();
    }
  });

  it("draws bars", () => {
    expect(renderBar(5, 10)).toBe(`${"█".repeat(12)}${"░".repeat(12)}  50%`);
    expect(renderBar(0, 0)).toMatch(/^████░{20} +$/);
    expect(renderBar(0, null, 7)).toMatch(/^░{7}████░{13} +$/);
  });

  it("formats tables", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });
});
