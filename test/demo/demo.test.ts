import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../shared/demo/index.ts";
import { tempDir } from "../helpers/processes.ts";

const FAILURES = ["dead", "error", "magnet_error", "virus", "waiting_files_selection", "magnet_conversion"];
// Logging in to qBittorrent is a POST that changes nothing on the service.
const isMutating = (r: { service: string; method: string; path: string }) =>
  !["GET", "HEAD"].includes(r.method) && !(r.service === "qbittorrent" && r.path === "/api/v2/auth/login");
const servers = () => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;

let demo: Demo | undefined;
afterAll(async () => {
  await demo?.stop();
});

describe("npm run demo (in process, dry-run)", () => {
  it("shows every feature at once, changes nothing on any service, and stops cleanly", async () => {
    const before = servers();
    const dir = join(tempDir("rdtm-demo-test-"), "demo");
    demo = await startDemo({ dir, port: 0, logLevel: "silent" });
    const { url, token } = demo;
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      return (await res.json()) as { total: number; items: Record<string, unknown>[] } & Record<string, unknown>;
    };

    for (const status of FAILURES)
      expect((await get(`/api/torrents?status=${status}`)).total, status).toBeGreaterThan(0);
    expect((await get("/api/repairs?state=queued")).total).toBeGreaterThan(20);
    const broken = await get("/api/broken-links");
    expect(broken.total).toBeGreaterThanOrEqual(10);
    expect(new Set(broken.items.map((l) => l.reason))).toEqual(new Set(["missing_torrent", "missing_file"]));
    expect(broken.items.every((l) => l.matchedTorrentId !== null)).toBe(true);
    expect(await get("/api/sweep")).toMatchObject({ status: "completed", guard: { tripped: false } });

    const planned = await get("/api/actions?state=planned&limit=500");
    const kinds = new Set(planned.items.map((a) => `${a.job}:${a.kind}`));
    for (const k of ["retry-drain:add_magnet", "retry-drain:delete_old_torrent", "retry-drain:select_files"])
      expect(kinds, k).toContain(k);
    expect([...kinds].some((k) => k.startsWith("qbit-check:"))).toBe(true);
    expect((await get("/api/actions?state=done")).total).toBe(0);

    const qbit = await get("/api/qbit");
    expect(Object.keys(qbit.byClass as object)).toEqual(
      expect.arrayContaining(["tracker", "stalled", "file", "ratio", "metadata", "connection", "authorization"]),
    );

    // The token printed is the one that opens the mutating routes.
    const denied = await fetch(`${url}/jobs/maintenance/run`, { method: "POST" });
    expect(denied.status).toBe(401);
    const env = await fetch(`${url}/api/scan/full/reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(env.status).toBe(202);
    expect(existsSync(join(dir, "demo.env"))).toBe(true);

    const requests = demo.requests();
    expect(new Set(requests.map((r) => r.service))).toEqual(
      new Set(["real-debrid", "sonarr", "radarr", "qbittorrent"]),
    );
    expect(requests.filter(isMutating)).toEqual([]);

    const urls = [url, demo.env.RD_API_URL, demo.env.SONARR_URL, demo.env.QBIT_URL];
    await demo.stop();
    demo = undefined;
    for (const u of urls) await expect(fetch(`${u}/`), u).rejects.toThrow();
    expect(servers()).toBe(before);
  });

  it("refuses to wipe a folder it did not make", async () => {
    await expect(startDemo({ dir: join(process.cwd(), "shared"), port: 0, logLevel: "silent" })).rejects.toThrow(
      /refusing to wipe/,
    );
  });
});

describe("npm run demo -- --real (in process)", () => {
  it("repairs cached torrents, runs the infringing flow on the 451 torrent, and acts only on the fakes", async () => {
    const dir = join(tempDir("rdtm-demo-real-"), "demo");
    demo = await startDemo({ dir, port: 0, real: true, logLevel: "silent" });
    const get = async (path: string) => (await (await fetch(`${demo?.url}${path}`)).json()) as Record<string, unknown>;

    expect((await get("/api/repairs?state=done")).total).toBeGreaterThanOrEqual(10);
    const failed = (await get("/api/permanent-failures")).items as { errorType: string; filename: string }[];
    expect(failed.map((f) => f.errorType).sort()).toEqual(["infringing", "virus", "virus"]);
    const done = (await get("/api/actions?state=done&limit=500")).items as { kind: string; target: string }[];
    const unlinked = done.filter((a) => a.kind === "unlink").map((a) => a.target);
    expect(unlinked.length).toBeGreaterThan(0);
    for (const path of unlinked) {
      expect(path.startsWith(join(dir, "library"))).toBe(true);
      expect(existsSync(path)).toBe(false);
    }
    expect(done.filter((a) => a.kind === "arr_command").length).toBe(2);

    const mutating = demo.requests().filter(isMutating);
    expect(mutating.some((r) => r.service === "real-debrid" && r.status === 451)).toBe(true);
    expect(mutating.some((r) => r.service === "sonarr" && r.path === "/api/v3/command")).toBe(true);
    await demo.stop();
    demo = undefined;
  });
});
