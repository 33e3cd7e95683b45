import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULES, JOBS } from "../functions/index.ts";
import { CONFIG_VARS, parseConfig, scheduleVar } from "../shared/config.ts";

const root = new URL("../", import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), "utf8");
const allVars = () => [...Object.keys(CONFIG_VARS), ...JOBS.map((j) => scheduleVar(j.name))].sort();

describe("wrangler.toml", () => {
  const toml = read("wrangler.toml");

  it("has one cron per distinct job schedule, and nothing else", () => {
    const crons = /^crons\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
    const listed = [...crons.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    expect(listed).toEqual([...new Set(Object.values(DEFAULT_SCHEDULES))].sort());
  });

  it("keeps every job schedule to 5 fields so Workers cron triggers can carry it", () => {
    for (const j of JOBS) expect(j.schedule.trim().split(/\s+/)).toHaveLength(5);
  });

  it("points main at the Worker entry and loads .sql as text", () => {
    const main = /^main\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "";
    expect(existsSync(new URL(main, root))).toBe(true);
    expect(main).toBe("shared/worker.ts");
    expect(toml).toMatch(/type = "Text"\s*\nglobs = \["\*\*\/\*\.sql"\]/);
    expect(toml).toMatch(/compatibility_flags = \["nodejs_compat"\]/);
  });
});

describe(".dev.vars.example", () => {
  const text = read(".dev.vars.example");

  it("names every variable of the schema and no other", () => {
    const named = [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(named).toEqual(allVars());
  });

  it("parses as a valid configuration, with the schema's defaults", () => {
    const env = parseEnv(text) as Record<string, string>;
    const config = parseConfig(env, DEFAULT_SCHEDULES);
    for (const [key, spec] of Object.entries(CONFIG_VARS)) {
      if ("default" in spec && key in env) expect(env[key], key).toBe(spec.default);
    }
    expect(config.schedules).toEqual(DEFAULT_SCHEDULES);
  });
});

describe("README", () => {
  const readme = read("README.md");

  it("has a configuration table matching the schema (names and defaults)", () => {
    const section = readme.split("<!-- config-table:start")[1]?.split("<!-- config-table:end")[0] ?? "";
    const rows = [...section.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*(.+?)\s*\|/gm)].map(
      (m) => [m[1] ?? "", m[2] ?? ""] as const,
    );
    expect(rows.map(([k]) => k).sort()).toEqual(allVars());
    for (const [key, def] of rows) {
      const spec = (CONFIG_VARS as Record<string, { default?: string }>)[key];
      const job = JOBS.find((j) => scheduleVar(j.name) === key);
      const expected = spec ? spec.default : job?.schedule;
      expect(def, key).toBe(expected === undefined || expected === "" ? "—" : `\`${expected}\``);
    }
  });

  it("gives the run and test commands that .ci/run and package.json use", () => {
    expect(readme).toContain("npm install && npm start");
    expect(readme).toMatch(/```sh\nnpm test\n```/);
    expect(read(".ci/run")).toMatch(/^npm test$/m);
    const pkg = JSON.parse(read("package.json"));
    expect(pkg.scripts.test).toBe("bash scripts/test.sh");
    expect(pkg.type).toBe("module");
    for (const [name, version] of Object.entries({
      ...pkg.dependencies,
      ...pkg.devDependencies,
      ...pkg.optionalDependencies,
    })) {
      expect(version, `${name} is pinned`).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    }
  });
});

describe("docker", () => {
  it("compose runs the app and sqld, the app on sqld", () => {
    const compose = read("docker-compose.yml");
    expect(compose).toMatch(/image: ghcr\.io\/tursodatabase\/libsql-server:/);
    expect(compose).toMatch(/LIBSQL_URL: http:\/\/sqld:8080/);
    expect(compose).toMatch(/- \.\/data:\/app\/data/);
  });

  it("the image is Node 20 slim, drops root, has a health check on /health", () => {
    const dockerfile = read("Dockerfile");
    expect(dockerfile).toMatch(/^FROM node:20-slim/m);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/health/);
    expect(read("docker-entrypoint.sh")).toMatch(/setpriv --reuid="\$PUID" --regid="\$PGID"/);
  });
});

describe("node flags (scripts/node-flags.mjs)", () => {
  it("every way of running the service passes the same V8 options", async () => {
    const { NODE_FLAGS } = await import("../scripts/node-flags.mjs");
    const flags = NODE_FLAGS.join(" ");
    expect(flags).toMatch(/^--max-semi-space-size=\d+$/);
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toContain(`node ${flags} dist/cli.mjs serve`);
    expect(scripts.rdtm).toContain(`node ${flags} dist/cli.mjs`);
    expect(read("Dockerfile")).toMatch(new RegExp(`NODE_OPTIONS=${flags}\\b`));
    expect(read("bin/rdtm.mjs").split("\n")[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    expect(read("bench/run.mjs")).toContain("NODE_FLAGS");
  });
});
