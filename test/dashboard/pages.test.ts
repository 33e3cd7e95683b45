import { afterEach, describe, expect, it } from "vitest";
import { H, harnesses, NOW, seed } from "./harness.ts";

const { open, closeAll } = harnesses();
afterEach(closeAll);

/** A harness with every table seeded, its clock at the seed's NOW, logged in. */
async function seeded() {
  const h = await open();
  await seed(h.db);
  h.skew(NOW - Date.now());
  const { cookie, csrf } = await h.login();
  const page = async (path: string) => {
    const res = await h.get(path, cookie);
    return { ...res, rows: tableRows(res.text) };
  };
  return { h, cookie, csrf, page };
}

/** The body rows of the page's (first) table. */
function tableRows(text: string): string[] {
  const body = /<tbody[^>]*>([\s\S]*?)<\/tbody>/.exec(text)?.[1] ?? "";
  return (body.match(/<tr[\s\S]*?<\/tr>/g) ?? []).filter((r) => !r.includes("Nothing here."));
}

describe("dashboard pages", () => {
  it("overview: counts by RD status and repair state, broken links, strikes, guard, jobs and recent runs", async () => {
    const { page } = await seeded();
    const { status, text } = await page("/");
    expect(status).toBe(200);
    expect(text).toContain("<h1>Overview</h1>");
    expect(text).toContain('<dd data-count="torrents.dead">1</dd>');
    expect(text).not.toContain("torrents.Gone");
    expect(text).toContain('<dd data-count="repairs.failed">1</dd>');
    expect(text).toContain('<dd data-count="brokenLinks.broken">1</dd>');
    expect(text).toContain('<dd data-count="strikes.tracker">1</dd>');
    expect(text).toContain('<span data-count="permanentFailures">1</span>');
    expect(text).toContain("the mount is empty");
    expect(text).toMatch(
      /<form method="post" action="\/run\/quick-job"[\s\S]*?<select id="mode-quick-job" name="mode">/,
    );
    expect(text).toMatch(/<button type="submit">Run now<\/button>/);
    expect(text).toContain('<ul id="live" aria-live="polite"');
    expect(text).toMatch(
      /<li data-id="run-1" data-job="rd-quick-scan" data-status="succeeded">[\s\S]*seen=10, queued=2/,
    );
    expect(text).toContain('<a class="skip" href="#main">Skip to content</a>');
  });

  it("torrents: filters by status and gone, searches by name or hash, pages with limit/offset", async () => {
    const { page } = await seeded();
    expect((await page("/torrents")).rows).toHaveLength(3);
    const dead = await page("/torrents?status=dead&q=");
    expect(dead.rows).toHaveLength(1);
    expect(dead.rows[0]).toContain("Queued.Show.S01");
    expect(dead.text).toContain('<option value="dead" selected>');
    expect((await page("/torrents?gone=true")).rows.map((r) => /Gone\.Thing/.test(r))).toEqual([true]);
    expect((await page("/torrents?gone=any")).rows).toHaveLength(4);
    expect((await page("/torrents?q=movie")).rows[0]).toContain("Failed.Movie.2020");
    expect((await page(`/torrents?q=${H.done.toUpperCase()}`)).rows[0]).toContain("Done.Show.S02");
    expect((await page("/torrents?q=100%25")).rows).toHaveLength(0);
    const second = await page("/torrents?limit=1&offset=1");
    expect(second.rows).toHaveLength(1);
    expect(second.rows[0]).toContain("Failed.Movie.2020");
    expect(second.text).toContain("2–2 of 3");
    expect(second.text).toContain('href="/torrents?gone=false&amp;limit=1&amp;offset=0" rel="prev"');
    expect(second.text).toContain('href="/torrents?gone=false&amp;limit=1&amp;offset=2" rel="next"');
    expect(second.text).toMatch(/<label\s*>Search <input type="search" name="q"/);
  });

  it("repairs: by state (open too), by hash or name, with Retry and Cancel where they apply", async () => {
    const { page } = await seeded();
    expect((await page("/repairs")).rows).toHaveLength(4);
    const open = await page("/repairs?state=open");
    expect(open.rows.map((r) => /<td class="num">(\d+)<\/td>/.exec(r)?.[1])).toEqual(["1", "4"]);
    expect(open.rows[0]).toContain('action="/repairs/1/cancel"');
    expect(open.rows[1]).not.toContain("/cancel");
    const failed = await page(`/repairs?state=failed&q=${H.failed}`);
    expect(failed.rows).toHaveLength(1);
    expect(failed.rows[0]).toContain("not downloaded in time");
    expect(failed.rows[0]).toContain('action="/repairs/2/retry"');
    const done = await page("/repairs?state=done");
    expect(done.rows[0]).not.toContain("/retry");
    expect((await page("/repairs?q=waiting")).rows).toHaveLength(1);
  });

  it("failures, broken links, actions, runs and qBit pages filter their rows", async () => {
    const { page } = await seeded();
    const failures = await page("/failures");
    expect(failures.rows).toHaveLength(1);
    expect(failures.rows[0]).toContain(`action="/failures/${H.failed}/reset"`);
    expect((await page("/failures?reset=true")).rows).toHaveLength(0);

    expect((await page("/broken-links")).rows).toHaveLength(1);
    expect((await page("/broken-links?state=any")).rows).toHaveLength(2);
    expect((await page("/broken-links?state=any&matched=false")).rows[0]).toContain("/library/movies/Old/old.mkv");
    expect((await page("/broken-links?state=any&q=Queued Show")).rows).toHaveLength(1);

    expect((await page("/actions")).rows).toHaveLength(3);
    expect((await page("/actions?job=qbit-check")).rows).toHaveLength(1);
    const failedActions = await page("/actions?state=failed&repair=2");
    expect(failedActions.rows).toHaveLength(1);
    expect(failedActions.rows[0]).toContain("RD answered 503");
    expect((await page("/actions?q=magnet:")).rows).toHaveLength(1);

    const runs = await page("/runs");
    expect(runs.rows).toHaveLength(2);
    expect(runs.text).toContain('<tbody id="runs-body">');
    const failedRuns = await page("/runs?status=failed&job=retry-drain");
    expect(failedRuns.rows).toHaveLength(1);
    expect(failedRuns.rows[0]).toContain("RD said no");
    expect(failedRuns.rows[0]).toContain('data-status="failed"');
    expect(failedRuns.text).not.toContain('id="runs-body"');
    expect((await page("/runs?q=said")).rows).toHaveLength(1);

    expect((await page("/qbit")).rows).toHaveLength(2);
    const tracker = await page("/qbit?class=tracker&arr=sonarr");
    expect(tracker.rows).toHaveLength(1);
    expect(tracker.rows[0]).toContain("tracker: unregistered");
    expect(tracker.text).toContain("blocklist");
  });

  it("charts: SVG from metrics, runs, repairs and RD calls, 'No data yet' where nothing was recorded", async () => {
    const { page } = await seeded();
    const { status, text } = await page("/charts?days=7");
    expect(status).toBe(200);
    const figure = (id: string) =>
      new RegExp(`<figure aria-labelledby="${id}-cap">[\\s\\S]*?</figure>`).exec(text)?.[0];
    expect(figure("repairs")).toContain("<title>done 05-10: 1</title>");
    expect(figure("repairs")).toContain("<title>failed 05-09: 1</title>");
    expect(figure("scan")).toMatch(/<circle class="s0"[^>]*><title>full scan 05-08: 30<\/title>/);
    expect(figure("durations")).toContain("rd-quick-scan 05-09: 1.5");
    expect(figure("rd-429")).toContain("<title>throttled 05-09: 1</title>");
    expect(figure("queue")).toContain("<title>repairs queued: 1</title>");
    expect(text).toMatch(/<svg class="chart" viewBox="0 0 480 200" role="img"/);
    expect((await page("/charts?days=1")).text).toContain("No data yet.");
  });

  it("answers 400 naming the field for a bad query", async () => {
    const { page } = await seeded();
    const cases: [string, string][] = [
      ["/torrents?limit=0", "limit"],
      ["/torrents?limit=500", "limit"],
      ["/repairs?offset=-1", "offset"],
      ["/repairs?state=bogus", "state"],
      ["/broken-links?matched=maybe", "matched"],
      ["/actions?repair=x", "repair"],
      ["/runs?status=great", "status"],
      ["/qbit?class=Bad Class", "class"],
      ["/charts?days=365", "days"],
      [`/torrents?q=${"x".repeat(201)}`, "q"],
    ];
    for (const [path, field] of cases) {
      const res = await page(path);
      expect(res.status, path).toBe(400);
      expect(res.text, path).toContain(`The ${field} parameter is not valid`);
    }
  });
});
