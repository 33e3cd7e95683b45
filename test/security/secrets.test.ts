// Secrets in errors: an upstream failure whose text carries a configured secret (a proxy echoing the
// Authorization header, a URL with a token in it) must not reach an HTTP answer or a log line unmasked.
// Built the production way (createServices), so the logger's secret list is the real one.

import { afterEach, describe, expect, it, vi } from "vitest";
import rdQuickScan from "../../functions/rd-quick-scan.ts";
import { createApp } from "../../shared/app.ts";
import type { Db } from "../../shared/db.ts";
import { UpstreamError } from "../../shared/errors.ts";
import type { JobDefinition } from "../../shared/job.ts";
import { createServices, type Services } from "../../shared/services.ts";
import { makeJob } from "../helpers/factories.ts";

const SECRETS = {
  API_TOKEN: "api-token-SECRET-0123456789",
  RD_API_TOKEN: "RDTOKEN-SECRET-abcdef0123",
  PLEX_TOKEN: "PLEXTOKEN-SECRET-99",
  SONARR_API_KEY: "SONARRKEY-SECRET-0123456789",
  QBIT_PASSWORD: "QBITPASS-SECRET-42",
  DISCORD_WEBHOOK_URL: "https://discord.com/api/webhooks/123456/DISCORD-SECRET-token",
  WEBHOOK_URL: "https://hooks.example/WEBHOOK-SECRET-path",
  TELEGRAM_BOT_TOKEN: "123456:TELEGRAM-SECRET-abcdefghijklmnop",
  SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T000/B000/SLACKSECRETxyz",
};
const ENV = {
  LIBSQL_URL: ":memory:",
  LOG_FORMAT: "json",
  LOG_LEVEL: "debug",
  PLEX_URL: "http://plex.test:32400",
  SONARR_URL: "http://sonarr.test:8989",
  QBIT_URL: "http://qbit.test:8080",
  QBIT_USERNAME: "admin",
  TELEGRAM_CHAT_ID: "12345",
  ...SECRETS,
};
const AUTH = { authorization: `Bearer ${SECRETS.API_TOKEN}` };
// What a careless proxy or upstream might say: every secret, verbatim.
const ECHO = `upstream said: ${Object.values(SECRETS).join(" | ")}`;

let services: Services | undefined;
let lines: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  services?.db.close();
  services = undefined;
  lines = [];
});

/** Services built from ENV, with console output (where the production logger writes) captured. */
async function build(jobs: readonly JobDefinition[] = [rdQuickScan], fetch?: typeof globalThis.fetch) {
  vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  services = await createServices({
    env: ENV,
    host: { runtime: "node" },
    jobs,
    fetch: fetch ?? (async () => Response.json({ error: "network is off in this test" }, { status: 599 })),
  });
  return services;
}

const leaked = (text: string, names: readonly (keyof typeof SECRETS)[] = Object.keys(SECRETS) as never) =>
  names.filter((k) => text.includes(SECRETS[k]));

/** RD answering 401 with an error text that echoes every secret. */
const echoingRd: typeof globalThis.fetch = async () =>
  Response.json({ error: ECHO, error_code: 8 }, { status: 401, headers: { "content-type": "application/json" } });

describe("a generic failure while serving a request", () => {
  it("answers 500 'internal error' and logs the error with every secret masked", async () => {
    const s = await build();
    // The database fails with a message quoting secrets (e.g. a driver echoing a connection URL).
    const db = new Proxy(s.db, {
      get(target, prop, receiver) {
        if (prop === "execute") return async () => Promise.reject(new UpstreamError("sqld", ECHO));
        return Reflect.get(target, prop, receiver);
      },
    }) as Db;
    const app = createApp({ config: s.config, db, runner: s.runner, log: s.log, probes: {} });
    const res = await app.request("/api/scan");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal error" });
    const logged = lines.join("\n");
    expect(logged).toContain("request failed");
    expect(logged).toContain("***");
    expect(leaked(logged, ["API_TOKEN", "RD_API_TOKEN", "PLEX_TOKEN", "SONARR_API_KEY", "QBIT_PASSWORD"])).toEqual([]);
    expect(leaked(logged, ["DISCORD_WEBHOOK_URL", "WEBHOOK_URL"])).toEqual([]);
  });
});

describe("a job failing on an upstream that echoes secrets", () => {
  it("logs the failure with the API, RD, Plex, *arr, qBittorrent and webhook secrets masked", async () => {
    const s = await build([rdQuickScan], echoingRd);
    const res = await s.app.request("/jobs/rd-quick-scan/run", { method: "POST", headers: AUTH });
    expect(res.status).toBe(500);
    const logged = lines.join("\n");
    expect(logged).toContain("run failed");
    expect(
      leaked(logged, [
        "API_TOKEN",
        "RD_API_TOKEN",
        "PLEX_TOKEN",
        "SONARR_API_KEY",
        "QBIT_PASSWORD",
        "DISCORD_WEBHOOK_URL",
        "WEBHOOK_URL",
      ]),
    ).toEqual([]);
  });

  // Was a hole (found by this suite, now fixed): shared/services.ts gives the logger API_TOKEN, LIBSQL_AUTH_TOKEN,
  // RD_API_TOKEN, PLEX_TOKEN, DISCORD_WEBHOOK_URL, WEBHOOK_URL and the *arr/qBit keys, but not
  // TELEGRAM_BOT_TOKEN or SLACK_WEBHOOK_URL (both secret in CONFIG_VARS).
  it("logs the Telegram bot token and the Slack webhook URL masked too", async () => {
    const s = await build([rdQuickScan], echoingRd);
    await s.app.request("/jobs/rd-quick-scan/run", { method: "POST", headers: AUTH });
    expect(leaked(lines.join("\n"), ["TELEGRAM_BOT_TOKEN", "SLACK_WEBHOOK_URL"])).toEqual([]);
  });

  // Was a hole (found by this suite, now fixed): the runner stores errorMessage(err) verbatim; POST /jobs/:name/run
  // returns it in its 500 body and the unauthenticated GET /jobs shows it as lastRun.error, unmasked
  // (the dashboard masks the same text).
  it("keeps every secret out of the run's 500 body and out of the public GET /jobs", async () => {
    const s = await build([rdQuickScan], echoingRd);
    const res = await s.app.request("/jobs/rd-quick-scan/run", { method: "POST", headers: AUTH });
    expect(res.status).toBe(500);
    expect(leaked(await res.text())).toEqual([]);
    expect(leaked(await (await s.app.request("/jobs")).text())).toEqual([]);
  });

  it("the dashboard shows the same stored error with every secret masked", async () => {
    const failing = makeJob({
      name: "failing-job",
      run: async () => {
        throw new UpstreamError("real-debrid", ECHO);
      },
    });
    const s = await build([failing]);
    await s.runner.run("failing-job", { trigger: "test" });
    const login = await s.app.request("/login", {
      method: "POST",
      body: new URLSearchParams({ token: SECRETS.API_TOKEN }),
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const page = await s.app.request("/runs", { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("upstream said");
    expect(leaked(html)).toEqual([]);
  });
});
