// The dashboard in real Chromium (Debian's, driven by playwright-core) over the demo: log in, see the
// overview populated, filter a table, run a job in dry-run and watch its result arrive live, pass an
// accessibility smoke check (axe-core: no serious or critical violation), at desktop and phone widths.
// Screenshots go to .tmp/screenshots/.

import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../shared/demo/index.ts";
import { tempDir } from "../helpers/processes.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(process.cwd(), ".tmp", "screenshots");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let demo: Demo;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startDemo({ dir: join(tempDir("rdtm-browser-"), "demo"), port: 0, logLevel: "warn" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As the machine's probe runs it: the closed network refuses Chromium's background connections.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

async function logIn(page: Page) {
  await page.goto(demo.url);
  await expect.poll(() => page.url()).toMatch(/\/login/);
  await page.getByLabel("API token").fill(demo.token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

/** Runs axe-core in the page; returns the serious and critical violations. */
async function axeProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<unknown> } }).axe;
    return (await axe.run(document, { resultTypes: ["violations"] })) as {
      violations: { id: string; impact: string | null; nodes: unknown[] }[];
    };
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
}

describe.skipIf(!existsSync(CHROMIUM))("the dashboard in Chromium", () => {
  it("logs in, shows the demo's overview, filters a table, runs a job live, passes axe", async () => {
    // bypassCSP only lets the test inject axe-core; the page's own policy forbids inline scripts.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      // The refused login answers 401 on /login on purpose; the console may report it late.
      const refused = new URL(m.location().url || demo.url).pathname === "/login" && m.text().includes("401");
      if (m.type() === "error" && !refused) errors.push(m.text());
    });

    // A wrong token is refused.
    await page.goto(`${demo.url}/login`);
    await page.getByLabel("API token").fill("not-the-token-at-all");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect.poll(() => page.url()).toMatch(/\/login/);

    await logIn(page);
    await expect(page.getByRole("heading", { level: 1, name: "Overview" }).isVisible()).resolves.toBe(true);
    const overview = await page.textContent("main");
    // Populated from the demo account: failure kinds, repairs, broken links, qBittorrent strikes.
    for (const word of ["dead", "magnet_error", "virus", "queued"]) expect(overview).toContain(word);
    await page.screenshot({ path: join(SHOTS, "overview.png"), fullPage: true });
    expect(await axeProblems(page)).toEqual([]);

    // Filter a table: the torrents page, searching one name.
    await page.goto(`${demo.url}/torrents`);
    const rowsBefore = await page.locator("tbody tr").count();
    expect(rowsBefore).toBeGreaterThan(5);
    const first = (await page.locator("tbody tr").first().locator("td").first().textContent())?.trim() ?? "";
    expect(first.length).toBeGreaterThan(3);
    await page.getByLabel("Search").fill(first);
    await page.getByLabel("Search").press("Enter");
    await page.waitForURL(/[?&]q=/);
    const rowsAfter = await page.locator("tbody tr").count();
    expect(rowsAfter).toBeGreaterThanOrEqual(1);
    expect(rowsAfter).toBeLessThan(rowsBefore);
    expect(await page.locator("tbody").textContent()).toContain(first);
    await page.screenshot({ path: join(SHOTS, "torrents-filtered.png"), fullPage: true });
    expect(await axeProblems(page)).toEqual([]);

    // Run a job in dry-run from the overview; its result arrives in the live list.
    await page.goto(demo.url);
    const row = page.locator('tr[data-job="maintenance"]');
    await row
      .locator("select")
      .selectOption({ label: "dry run" })
      .catch(async () => {
        await row.locator("select").selectOption("dry");
      });
    const since = await page.locator('#live li[data-job="maintenance"]').count();
    await row.getByRole("button", { name: "Run now" }).click();
    await page
      .locator('#live li[data-job="maintenance"][data-status="succeeded"]')
      .nth(since)
      .waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(SHOTS, "run-live.png"), fullPage: true });

    // The same pages at a phone's width: nothing scrolls sideways.
    const phone = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await logIn(phone);
    for (const path of ["/", "/repairs", "/broken-links", "/qbit"]) {
      await phone.goto(`${demo.url}${path}`);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, path).toBeLessThanOrEqual(1);
    }
    await phone.screenshot({ path: join(SHOTS, "phone-qbit.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 90_000);
});
