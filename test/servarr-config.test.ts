import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../shared/errors.ts";
import { createServices } from "../shared/services.ts";
import { createFakeArr } from "./fakes/servarr.ts";
import { runCli, tempDir } from "./helpers/processes.ts";

const KEY = "fake-arr-key-0123456789";

describe("Sonarr/Radarr from configuration", () => {
  it("reads the API key from a mounted config.xml and shows the instance in /health", async () => {
    const fake = createFakeArr("sonarr", { apiKey: KEY });
    const dir = tempDir();
    const xml = join(dir, "config.xml");
    writeFileSync(xml, `<Config>\n  <Port>8989</Port>\n  <ApiKey>${KEY}</ApiKey>\n</Config>\n`);
    const s = await createServices({
      env: { LIBSQL_URL: ":memory:", SONARR_URL: fake.baseUrl, SONARR_CONFIG_XML: xml, LOG_LEVEL: "silent" },
      host: { runtime: "node" },
      fetch: fake.fetch as typeof fetch,
    });
    try {
      expect(s.clients.arr.map((c) => c.instance)).toEqual([
        { name: "sonarr", kind: "sonarr", url: fake.baseUrl, apiKey: KEY },
      ]);
      const health = await (await s.app.request("/health")).json();
      expect(health.services.sonarr).toMatchObject({ status: "up", app: "Sonarr" });
    } finally {
      s.db.close();
    }
  });

  it("reports a wrong key as the instance being down (health degraded, not unhealthy)", async () => {
    const fake = createFakeArr("radarr", { apiKey: KEY });
    const s = await createServices({
      env: {
        LIBSQL_URL: ":memory:",
        RADARR_URL: fake.baseUrl,
        RADARR_API_KEY: "wrong-key-0123456789",
        LOG_LEVEL: "silent",
      },
      host: { runtime: "node" },
      fetch: fake.fetch as typeof fetch,
    });
    try {
      const res = await s.app.request("/health");
      expect(res.status).toBe(200);
      const health = await res.json();
      expect(health.status).toBe("degraded");
      expect(health.services.radarr).toMatchObject({ status: "down" });
      expect(health.services.radarr.error).toMatch(/API key rejected/);
    } finally {
      s.db.close();
    }
  });

  it("refuses to start when a config.xml cannot be read or has no key, naming the variable", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "empty.xml"), "<Config><Port>1</Port></Config>");
    const err = await createServices({
      env: {
        LIBSQL_URL: ":memory:",
        SONARR_URL: "http://sonarr:8989",
        SONARR_CONFIG_XML: join(dir, "missing.xml"),
        SONARR_2_URL: "http://sonarr2:8989",
        SONARR_2_CONFIG_XML: join(dir, "empty.xml"),
      },
      host: { runtime: "node" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      expect.stringMatching(/^SONARR_CONFIG_XML: cannot read the API key from .*missing\.xml/),
      expect.stringMatching(/^SONARR_2_CONFIG_XML: cannot read the API key from .*empty\.xml/),
    ]);
    const cli = await runCli(
      ["status"],
      { LIBSQL_URL: `file:${join(dir, "x.db")}`, SONARR_URL: "http://s", SONARR_CONFIG_XML: join(dir, "missing.xml") },
      dir,
    );
    expect(cli.code).toBe(3);
  });
});
