import { LibsqlError } from "@libsql/client";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppDeps } from "../app.ts";
import { isDatabaseUnavailable } from "../db.ts";
import { errorMessage } from "../errors.ts";
import { mountControls } from "./controls.ts";
import { LiveStreams, mountEvents } from "./events.ts";
import { formLimit, type GuardDeps, requireCsrf, requireSession } from "./guard.ts";
import { mountLogin } from "./login.ts";
import { actionsPage } from "./pages/actions.ts";
import { brokenLinksPage } from "./pages/broken-links.ts";
import { chartsPage } from "./pages/charts.ts";
import { configPage } from "./pages/config.ts";
import { failuresPage } from "./pages/failures.ts";
import { overviewPage } from "./pages/overview.ts";
import { qbitPage } from "./pages/qbit.ts";
import { repairsPage } from "./pages/repairs.ts";
import { runsPage } from "./pages/runs.ts";
import { torrentsPage } from "./pages/torrents.ts";
import { type DashEnv, problemPage } from "./respond.ts";
import { LIVE_SCRIPT } from "./script.ts";
import { sessionSchema } from "./session.ts";
import { BadQueryError } from "./widgets.ts";

/** What mountDashboard hands back: a way to end the live streams at shutdown. */
export interface Dashboard {
  /** Ends every open /events stream (a Node server closing waits for its connections). */
  close(): void;
}

/**
 * Mounts the web dashboard on `app`: /login, /logout, the pages (/, /torrents, /repairs, /failures,
 * /broken-links, /actions, /runs, /qbit, /charts, /config), the POST controls, /events (SSE) and
 * /dashboard.js. Creates its sessions table at mount.
 */
export function mountDashboard(app: Hono, deps: AppDeps & { now?: () => number }): Dashboard {
  const { config, db, runner, log } = deps;
  const now = deps.now ?? Date.now;
  const ready = sessionSchema(db);
  // Created now so the first login does not pay for it. A failure is retried by the first request (and a
  // CLI command that closes the database at once makes one), so it is not worth a warning.
  ready().catch((err: unknown) => log.debug("dashboard sessions table not created yet", { error: errorMessage(err) }));
  const g: GuardDeps = { config, db, now, ready };
  const jobs = runner.jobs.map((j) => j.name);
  const live = new LiveStreams();
  const ui = new Hono<DashEnv>();
  const session = requireSession(g);

  mountLogin(ui, { ...g, log });
  ui.get("/dashboard.js", (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(LIVE_SCRIPT);
  });
  ui.get("/", session, overviewPage({ ...g, runner }));
  ui.get("/torrents", session, torrentsPage(g));
  ui.get("/repairs", session, repairsPage(g));
  ui.get("/failures", session, failuresPage(g));
  ui.get("/broken-links", session, brokenLinksPage(g));
  ui.get("/actions", session, actionsPage({ ...g, jobs }));
  ui.get("/runs", session, runsPage({ ...g, jobs }));
  ui.get("/qbit", session, qbitPage(g));
  ui.get("/charts", session, chartsPage(g));
  ui.get("/config", session, configPage(g));
  mountControls(ui, { ...g, runner, log }, [formLimit, session, requireCsrf(g)]);
  mountEvents(ui, { config, db, log, now }, session, live);

  ui.onError((err, c) => {
    const frame = { title: "Error", path: c.req.path, csrf: c.var.session?.csrf };
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof BadQueryError) {
      return problemPage(
        c,
        config,
        frame,
        "Bad request",
        `The ${err.field} parameter is not valid: ${err.problem}.`,
        400,
      );
    }
    if (isDatabaseUnavailable(err) || err instanceof LibsqlError) {
      log.error("database error while serving the dashboard", { path: c.req.path, error: errorMessage(err) });
      return problemPage(c, config, frame, "Database unavailable", "Try again in a moment.", 503);
    }
    log.error("dashboard request failed", { path: c.req.path, error: errorMessage(err) }, err);
    return problemPage(c, config, frame, "Something went wrong", "The error was logged.", 500);
  });

  // After every route is on `ui`: route() copies them, each wrapped in ui's error handler.
  app.route("/", ui);
  return { close: () => live.close() };
}
