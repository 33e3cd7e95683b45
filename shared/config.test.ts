import { describe, expect, it } from "vitest";
import { CONFIG_VARS, parseConfig, redactConfig, SECRET_VARS, scheduleVar } from "./config.ts";
import { ConfigError } from "./errors.ts";

const JOBS = { maintenance: "30 4 * * *", "rd-quick-scan": "*/10 * * * *" };

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env, JOBS);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("Sonarr/Radarr instances", () => {
  const KEY = "0123456789abcdef0123";
  it("reads the first instance and numbered ones, with the key from the env or a config.xml", () => {
    const c = parseConfig(
      {
        SONARR_URL: "http://sonarr:8989/",
        SONARR_API_KEY: KEY,
        SONARR_2_URL: "http://sonarr4k:8989",
        SONARR_2_CONFIG_XML: "/config/sonarr4k/config.xml",
        RADARR_URL: "http://radarr:7878",
        RADARR_API_KEY: KEY,
      },
      JOBS,
    );
    expect(c.arr).toEqual([
      { name: "radarr", kind: "radarr", url: "http://radarr:7878", apiKey: KEY },
      { name: "sonarr", kind: "sonarr", url: "http://sonarr:8989", apiKey: KEY },
      { name: "sonarr-2", kind: "sonarr", url: "http://sonarr4k:8989", configXml: "/config/sonarr4k/config.xml" },
    ]);
  });

  it("lists each problem with its variable, and never prints a key", () => {
    const problems = problemsOf({
      SONARR_URL: "sonarr:8989",
      SONARR_API_KEY: KEY,
      SONARR_3_URL: "http://s3",
      RADARR_2_API_KEY: "secret-but-short",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^RADARR_2_API_KEY: set without RADARR_2_URL/),
      expect.stringMatching(/^SONARR_URL: expected an http\(s\) URL/),
      expect.stringMatching(/^SONARR_3_API_KEY: set it or SONARR_3_CONFIG_XML/),
    ]);
    expect(problems.join("\n")).not.toContain("secret-but-short");
  });
});

describe("parseConfig", () => {
  it("gives every documented default on an empty environment", () => {
    const c = parseConfig({}, JOBS);
    expect(c).toMatchObject({
      LIBSQL_URL: "file:data/rdtm.db",
      PORT: 8787,
      HOST: "0.0.0.0",
      DRY_RUN: true,
      LOG_LEVEL: "info",
      HISTORY_RETENTION_DAYS: 30,
      METRICS_RETENTION_DAYS: 90,
      BACKUP_KEEP: 7,
      LEASE_TTL_SECONDS: 60,
    });
    expect(c.API_TOKEN).toBeUndefined();
    expect(c.schedules).toEqual(JOBS);
  });

  it("parses typed values", () => {
    const c = parseConfig(
      { PORT: " 9000 ", DRY_RUN: "no", LIBSQL_URL: "http://sqld:8080", API_TOKEN: "x".repeat(16) },
      JOBS,
    );
    expect(c.PORT).toBe(9000);
    expect(c.DRY_RUN).toBe(false);
    expect(c.LIBSQL_URL).toBe("http://sqld:8080");
  });

  it.each(Object.entries(CONFIG_VARS))("refuses a wrong %s with a message naming it", (key, spec) => {
    const problems = problemsOf({ [key]: spec.invalidSample });
    expect(problems.length).toBeGreaterThanOrEqual(1);
    expect(
      problems.some((p) => p.startsWith(`${key}: `)),
      problems.join("; "),
    ).toBe(true);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf({
      PORT: "http",
      DRY_RUN: "perhaps",
      LOG_LEVEL: "x",
      SCHEDULE_MAINTENANCE: "61 * * * *",
    });
    expect(problems.map((p) => p.split(":")[0])).toEqual(["PORT", "DRY_RUN", "LOG_LEVEL", "SCHEDULE_MAINTENANCE"]);
  });

  it("takes schedule overrides, 'off' and refuses unknown jobs", () => {
    const c = parseConfig({ SCHEDULE_RD_QUICK_SCAN: "*/2 * * * * *", SCHEDULE_MAINTENANCE: "off" }, JOBS);
    expect(c.schedules).toEqual({ maintenance: null, "rd-quick-scan": "*/2 * * * * *" });
    expect(problemsOf({ SCHEDULE_NOPE: "* * * * *" })[0]).toMatch(/^SCHEDULE_NOPE: no job by that name/);
    expect(scheduleVar("rd-full-scan-page")).toBe("SCHEDULE_RD_FULL_SCAN_PAGE");
  });

  it("never prints a secret value, even a wrong one", () => {
    const secret = "tooShort";
    const err = (() => {
      try {
        parseConfig({ API_TOKEN: secret }, JOBS);
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err?.message).toMatch(/API_TOKEN: must be at least 16 characters/);
    expect(err?.message).not.toContain(secret);
    expect(SECRET_VARS).toEqual(
      new Set([
        "LIBSQL_AUTH_TOKEN",
        "API_TOKEN",
        "RD_API_TOKEN",
        "DISCORD_WEBHOOK_URL",
        "WEBHOOK_URL",
        "TELEGRAM_BOT_TOKEN",
        "SLACK_WEBHOOK_URL",
        "PLEX_TOKEN",
        "QBIT_PASSWORD",
        "QBIT_API_KEY",
        "SONARR_API_KEY",
        "RADARR_API_KEY",
      ]),
    );
  });

  it("refuses webhook URLs that are not what they claim, without printing them", () => {
    const hook = "https://discord.com/api/webhooks/123/s3cr3t-token-value";
    expect(() => parseConfig({ DISCORD_WEBHOOK_URL: hook }, JOBS)).not.toThrow();
    for (const [key, bad] of [
      ["DISCORD_WEBHOOK_URL", "http://discord.com/api/webhooks/123/s3cr3t-token-value"],
      ["DISCORD_WEBHOOK_URL", "https://evil.example/api/webhooks/123/s3cr3t-token-value"],
      ["WEBHOOK_URL", "https://user:s3cr3t-token-value@hooks.example/x"],
      ["WEBHOOK_URL", "file:///s3cr3t-token-value"],
    ] as const) {
      const err = (() => {
        try {
          parseConfig({ [key]: bad }, JOBS);
        } catch (e) {
          return e as ConfigError;
        }
      })();
      expect(err?.message, bad).toMatch(new RegExp(`^.*${key}: `, "m"));
      expect(err?.message).not.toContain("s3cr3t");
    }
    expect(parseConfig({ NOTIFY_EVENTS: "repair_failed, mount_guard" }, JOBS).NOTIFY_EVENTS).toEqual(
      new Set(["repair_failed", "mount_guard"]),
    );
    expect(() => parseConfig({ NOTIFY_EVENTS: "repair_started" }, JOBS)).toThrow(/NOTIFY_EVENTS: expected/);
  });

  it("collects qBittorrent instances, numbered ones too, and names what is wrong", () => {
    const c = parseConfig(
      {
        QBIT_URL: "http://qbittorrent:8080/",
        QBIT_USERNAME: "admin",
        QBIT_PASSWORD: "s3cret-pass",
        QBIT_2_URL: "http://qbit2:8081",
        QBIT_2_API_KEY: "qbt_0123456789abcdef",
      },
      JOBS,
    );
    expect(c.qbit).toEqual([
      { name: "qbittorrent", url: "http://qbittorrent:8080", username: "admin", password: "s3cret-pass" },
      { name: "qbittorrent-2", url: "http://qbit2:8081", apiKey: "qbt_0123456789abcdef" },
    ]);
    expect(JSON.stringify(redactConfig(c))).not.toMatch(/s3cret-pass|qbt_0123456789abcdef/);
    const err = (() => {
      try {
        parseConfig(
          {
            QBIT_USERNAME: "x",
            QBIT_3_URL: "nope",
            QBIT_4_PASSWORD: "p",
            QBIT_1_URL: "http://a",
            QBIT_5_URL: "http://b",
            QBIT_5_USERNAME: "u",
          },
          JOBS,
        );
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err?.problems).toEqual(
      expect.arrayContaining([
        "QBIT_USERNAME: set without QBIT_URL",
        expect.stringMatching(/^QBIT_3_URL: /),
        "QBIT_4_PASSWORD: set without QBIT_4_URL",
        "QBIT_1_URL: instance numbers go from 2 to 99",
        "QBIT_5_PASSWORD: give both the user and the password",
      ]),
    );
  });

  it("masks secrets when the config is shown", () => {
    const c = parseConfig({ API_TOKEN: "a-very-secret-token-123" }, JOBS);
    expect(JSON.stringify(redactConfig(c))).not.toContain("a-very-secret-token-123");
    expect(redactConfig(c).API_TOKEN).toBe("***");
  });
});
