import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../test/helpers/processes.ts";
import { EXIT, main, table } from "./cli.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const dir = tempDir();
  const code = await main(args, {
    env: { LIBSQL_URL: `file:${join(dir, "db.db")}`, BACKUP_DIR: join(dir, "backups"), LOG_LEVEL: "silent", ...env },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    tty: false,
    stopSignal: new Promise(() => {}),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
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
    expect(r.out).toMatch(/^torrents: none\nrepairs: none$/m);
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

  it("formats tables", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });
});
