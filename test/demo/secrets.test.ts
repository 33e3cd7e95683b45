// No secret ever leaves RDTM: a demo run with every credential set (RD token, *arr keys, qBittorrent
// password, Plex token, webhook URLs, API_TOKEN), then every log line, every API answer and every
// dashboard page is searched for each secret value.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../shared/demo/index.ts";
import { tempDir } from "../helpers/processes.ts";

const WEBHOOKS = {
  DISCORD_WEBHOOK_URL: "https://discord.com/api/webhooks/1234567890/discordS3cretTokenValue_abcdef",
  WEBHOOK_URL: "http://127.0.0.1:9/hook?key=webhookS3cretValue123",
  SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T000/B000/slackS3cretValue123",
  TELEGRAM_BOT_TOKEN: "123456:telegramS3cretTokenValue_abcdefgh",
  TELEGRAM_CHAT_ID: "-100123",
};

let demo: Demo;
let dir: string;
beforeAll(async () => {
  dir = tempDir("rdtm-secrets-");
  demo = await startDemo({
    dir: join(dir, "demo"),
    port: 0,
    real: true,
    logLevel: "debug",
    env: { LOG_FILE: join(dir, "rdtm.log"), METRICS_FILE: join(dir, "metrics.jsonl"), ...WEBHOOKS },
  });
}, 120_000);
afterAll(async () => {
  await demo?.stop();
});

/** Every secret the demo runs with: the values of variables whose names say so, and the webhooks. */
function secrets(): string[] {
  const out = Object.entries(demo.env)
    .filter(([k]) => /TOKEN|API_KEY|PASSWORD|WEBHOOK_URL/.test(k))
    .map(([, v]) => v);
  // A webhook URL's secret part, on its own, must not leak either.
  out.push(
    "discordS3cretTokenValue_abcdef",
    "webhookS3cretValue123",
    "slackS3cretValue123",
    "telegramS3cretTokenValue_abcdefgh",
  );
  return [...new Set(out)].filter((s) => s.length >= 8);
}

describe("a demo run with every credential set", () => {
  it("shows no secret in any log line, API answer, metric or dashboard page", async () => {
    const found: string[] = [];
    const check = (where: string, text: string) => {
      for (const s of secrets()) if (text.includes(s)) found.push(`${where} contains ${s.slice(0, 4)}…`);
    };
    expect(secrets().length).toBeGreaterThanOrEqual(9);
    const auth = { authorization: `Bearer ${demo.token}` };
    const get = async (path: string) => {
      const res = await fetch(`${demo.url}${path}`, { headers: auth });
      return res.text();
    };
    const paths = [
      "/health",
      "/jobs",
      "/jobs/retry-drain",
      "/metrics",
      "/openapi.json",
      "/api/scan",
      "/api/torrents?limit=500",
      "/api/repairs?limit=500",
      "/api/actions?limit=500",
      "/api/permanent-failures",
      "/api/broken-links?state=any&limit=500",
      "/api/sweep",
      "/api/qbit",
    ];
    for (const p of paths) check(p, await get(p));
    const repairs = JSON.parse(await get("/api/repairs?limit=500")) as { items: { id: number }[] };
    for (const r of repairs.items.slice(0, 20)) check(`/api/repairs/${r.id}`, await get(`/api/repairs/${r.id}`));
    // A failing run's error text too: ask for an unknown job and a bad body.
    check(
      "POST bad body",
      await (
        await fetch(`${demo.url}/jobs/maintenance/run`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: "{",
        })
      ).text(),
    );
    // Every dashboard page, logged in.
    const login = await fetch(`${demo.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: demo.url },
      body: new URLSearchParams({ token: demo.token }),
      redirect: "manual",
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(cookie).toMatch(/=/);
    const pages = [
      "/",
      "/torrents",
      "/repairs",
      "/failures",
      "/broken-links",
      "/actions",
      "/runs",
      "/qbit",
      "/charts",
      "/config",
    ];
    for (const p of pages) {
      const res = await fetch(`${demo.url}${p}`, { headers: { cookie }, redirect: "manual" });
      expect(res.status, p).toBe(200);
      check(`page ${p}`, await res.text());
    }
    check("rdtm.log", readFileSync(join(dir, "rdtm.log"), "utf8"));
    check("metrics.jsonl", readFileSync(join(dir, "metrics.jsonl"), "utf8"));
    // The log file really holds the run (so the search above searched something).
    expect(readFileSync(join(dir, "rdtm.log"), "utf8")).toMatch(/"tag":"retry-drain"/);
    expect(found).toEqual([]);
  });
});
