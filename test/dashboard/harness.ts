import { createApp } from "../../shared/app.ts";
import type { Config } from "../../shared/config.ts";
import type { Db } from "../../shared/db.ts";
import { databaseProbe } from "../../shared/health.ts";
import type { JobDefinition } from "../../shared/job.ts";
import { makeConfig, makeDb, makeJob, makeLog, makeRunner } from "../helpers/factories.ts";

/** The dashboard's login token in these tests. */
export const TOKEN = "dash-token-0123456789abcdef";
/** A fixed "now" for seeded rows (2024-05-10 12:00 UTC). */
export const NOW = Date.UTC(2024, 4, 10, 12);
export const DAY = 86_400_000;
/** Info hashes of the seeded rows. */
export const H = { queued: "a".repeat(40), failed: "b".repeat(40), done: "c".repeat(40), waiting: "d".repeat(40) };

export interface Page {
  status: number;
  text: string;
  headers: Headers;
}

/** An app from createApp plus the dashboard, over an in-memory database, with request helpers. */
export async function dashboardHarness(opts: { env?: Record<string, string>; jobs?: JobDefinition[]; db?: Db } = {}) {
  const db = opts.db ?? (await makeDb());
  const config: Config = makeConfig({ API_TOKEN: TOKEN, ...opts.env });
  const log = makeLog();
  const runner = makeRunner({ db, config, jobs: opts.jobs ?? [makeJob({ name: "quick-job" })] });
  const probes = { database: databaseProbe(db, ":memory:") };
  let skew = 0;
  const app = createApp({ config, db, runner, log, probes, now: () => Date.now() + skew });
  const dashboard = app.dashboard;

  const read = async (res: Response): Promise<Page> => ({
    status: res.status,
    text: await res.text(),
    headers: res.headers,
  });
  const get = async (path: string, cookie?: string, headers: Record<string, string> = {}) =>
    read(await app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } }));
  const post = async (
    path: string,
    fields: Record<string, string>,
    cookie?: string,
    headers: Record<string, string> = {},
  ) =>
    read(
      await app.request(path, {
        method: "POST",
        body: new URLSearchParams(fields),
        headers: { ...(cookie ? { cookie } : {}), ...headers },
      }),
    );

  /** Logs in and returns the cookie header and the session's CSRF token (read from a page). */
  const login = async () => {
    const res = await post("/login", { token: TOKEN });
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const page = await get("/failures", cookie);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!cookie || !csrf) throw new Error(`login failed: ${res.status}`);
    return { cookie, csrf };
  };

  return {
    db,
    app,
    config,
    log,
    runner,
    dashboard,
    get,
    post,
    login,
    /** Moves the dashboard's clock (sessions expire by it). */
    skew: (ms: number) => {
      skew += ms;
    },
    close: () => {
      dashboard.close();
      if (!opts.db) db.close();
    },
  };
}

/** Harnesses closed after each test: `const h = await open()` in a test, `closeAll` in afterEach. */
export function harnesses() {
  const list: Awaited<ReturnType<typeof dashboardHarness>>[] = [];
  return {
    open: async (opts?: Parameters<typeof dashboardHarness>[0]) => {
      const h = await dashboardHarness(opts);
      list.push(h);
      return h;
    },
    closeAll: () => {
      for (const h of list.splice(0)) h.close();
    },
  };
}

/** Rows in every table the dashboard shows. */
export async function seed(db: Db): Promise<void> {
  const t = (id: string, hash: string, filename: string, status: string, added: number, gone: number | null) => ({
    sql: `INSERT INTO torrents (id, hash, filename, status, bytes, progress, links, added_at, first_seen_at, last_seen_at,
            status_changed_at, gone_at) VALUES (?, ?, ?, ?, 1073741824, 100, 1, ?, ?, ?, ?, ?)`,
    args: [id, hash, filename, status, added, added, NOW, added, gone],
  });
  const r = (
    id: number,
    hash: string,
    filename: string,
    state: string,
    extra: { finished?: number; newId?: string; error?: string } = {},
  ) => ({
    sql: `INSERT INTO repairs (id, torrent_id, hash, filename, reason, priority, state, attempt, next_attempt_at,
            error_class, last_error, new_torrent_id, created_at, updated_at, finished_at)
          VALUES (?, ?, ?, ?, 'dead', 1, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
    args: [
      id,
      `T${id}`,
      hash,
      filename,
      state,
      NOW,
      extra.error ? "uncached" : null,
      extra.error ?? null,
      extra.newId ?? null,
      NOW - DAY,
      NOW - id * 1000,
      extra.finished ?? null,
    ],
  });
  await db.batch(
    [
      t("T1", H.queued, "Queued.Show.S01", "dead", NOW - 3 * DAY, null),
      t("T2", H.failed, "Failed.Movie.2020", "magnet_error", NOW - 2 * DAY, null),
      t("T3", H.done, "Done.Show.S02", "downloaded", NOW - DAY, null),
      t("T4", "e".repeat(40), "Gone.Thing", "downloaded", NOW - 4 * DAY, NOW - DAY),
      r(1, H.queued, "Queued.Show.S01", "queued"),
      r(2, H.failed, "Failed.Movie.2020", "failed", { finished: NOW - DAY, error: "not downloaded in time" }),
      r(3, H.done, "Done.Show.S02", "done", { finished: NOW }),
      r(4, H.waiting, "Waiting.Show.S03", "waiting", { newId: "NEW4" }),
      {
        sql: `INSERT INTO permanent_failures (hash, torrent_id, filename, error_type, detail, processed, failed_at)
              VALUES (?, 'T2', 'Failed.Movie.2020', 'uncached', 'not downloaded in time', 1, ?)`,
        args: [H.failed, NOW - DAY],
      },
      {
        sql: `INSERT INTO broken_links (path, root, target, reason, torrent_name, matched_torrent_id, match_kind, state,
                generation, first_seen_at, last_seen_at, resolved_at) VALUES
              ('/library/shows/Queued Show/S01E01.mkv', '/library', '/mnt/zurg/__all__/Queued.Show.S01/e01.mkv',
               'missing_torrent', 'Queued.Show.S01', 'T1', 'exact', 'broken', 1, ?1, ?1, NULL),
              ('/library/movies/Old/old.mkv', '/library', '/mnt/zurg/__all__/Old/old.mkv', 'missing_file', 'Old', NULL,
               NULL, 'resolved', 1, ?1, ?1, ?1)`,
        args: [NOW - DAY],
      },
      {
        sql: `INSERT INTO actions (run_id, job, kind, target, detail, state, created_at, updated_at, repair_id, error) VALUES
              ('run-2', 'retry-drain', 'add_magnet', ?1, '{"magnet":"magnet:?xt=urn:btih:bbbb"}', 'done', ?2, ?2, 2, NULL),
              ('run-2', 'retry-drain', 'delete_new_torrent', ?1, NULL, 'failed', ?2, ?2, 2, 'RD answered 503'),
              ('run-q', 'qbit-check', 'blocklist', 'sonarr:abc', '{"class":"tracker"}', 'planned', ?2, ?2, NULL, NULL)`,
        args: [H.failed, NOW - DAY],
      },
      {
        sql: `INSERT INTO job_runs (id, job, trigger, dry_run, holder, status, started_at, ended_at, summary, error) VALUES
              ('run-1', 'rd-quick-scan', 'cron', 0, 'h', 'succeeded', ?1, ?2, '{"seen":10,"queued":2}', NULL),
              ('run-2', 'retry-drain', 'http', 1, 'h', 'failed', ?3, ?4, NULL, 'RD said no')`,
        args: [NOW - 60_000, NOW - 59_000, NOW - 2 * DAY, NOW - 2 * DAY + 5_000],
      },
      {
        sql: `INSERT INTO qbit_strikes (item_key, arr, download_id, queue_ids, title, class, action, strikes, needed, evidence,
                first_seen_at, last_seen_at) VALUES
              ('sonarr:abc', 'sonarr', 'abc', '[1]', 'Some.Show.S01E01', 'tracker', 'blocklist_search', 1, 2,
               'tracker: unregistered', ?1, ?1),
              ('radarr:def', 'radarr', 'def', '[2]', 'Some.Movie.2021', 'stalled', 'remove', 3, 6, NULL, ?1, ?1)`,
        args: [NOW - DAY],
      },
      {
        sql: `INSERT INTO metrics (at, type, name, value, tags) VALUES
              (?1, 'job', 'duration_ms', 1500, '{"job":"rd-quick-scan","status":"succeeded","trigger":"cron"}'),
              (?2, 'scan', 'full_duration_ms', 1800000, '{"generation":1}')`,
        args: [NOW - DAY, NOW - 2 * DAY],
      },
      {
        sql: `INSERT INTO attempts (repair_id, at, endpoint, status, error_code, latency_ms) VALUES
              (2, ?1, '/torrents/info', 200, NULL, 120), (2, ?1, '/torrents/addMagnet', 429, NULL, 80)`,
        args: [NOW - DAY],
      },
      { sql: "UPDATE sweep_state SET guard_reason = 'the mount is empty', guard_at = ? WHERE id = 1", args: [NOW] },
    ],
    "write",
  );
}
