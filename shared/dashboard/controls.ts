import type { Hono, MiddlewareHandler } from "hono";
import { getRuntimeKey } from "hono/adapter";
import * as v from "valibot";
import type { AppDeps } from "../app.ts";
import { errorMessage } from "../errors.ts";
import { requestFullRescan } from "../rd/scan-progress.ts";
import { RepairConflict, retryRepair } from "../repair/api.ts";
import type { RunResult } from "../runner.ts";
import { cancelRepair } from "./cancel.ts";
import { type GuardDeps, localPath } from "./guard.ts";
import { duration, summaryText } from "./layout.ts";
import { type DashContext, type DashEnv, problemPage } from "./respond.ts";
import { type Flash, setFlash } from "./session.ts";

/** How long "Run now" waits for a quick job before answering "started" (the live list shows the rest). */
const QUICK_RUN_MS = 1_000;

const RepairId = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "a repair id"), v.transform(Number));
const Hash = v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{40}$/, "a 40-hex info hash"), v.toLowerCase());

/** The flash for a finished (or refused) run. */
export function runFlash(r: RunResult): Flash {
  const mode = r.dryRun ? "dry run" : "real";
  if (r.status === "skipped") return { kind: "error", text: `${r.job} did not start (${r.skipReason ?? "skipped"}).` };
  if (r.status === "succeeded") {
    const summary = summaryText(r.summary);
    return {
      kind: "ok",
      text: `${r.job} succeeded (${mode}) in ${duration(r.durationMs)}${summary ? `: ${summary}` : ""}.`,
    };
  }
  return { kind: "error", text: `${r.job} ${r.status} (${mode}): ${r.error ?? "no error recorded"}` };
}

/** Resolves to the run's result if it lands within `ms`, else null; the timer never outlives the race. */
async function within(p: Promise<RunResult>, ms: number): Promise<RunResult | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Mounts the POST controls (run a job, retry/cancel a repair, reset a failure, force a rescan) behind body limit, session and CSRF. */
export function mountControls(
  ui: Hono<DashEnv>,
  deps: GuardDeps & Pick<AppDeps, "runner" | "log">,
  guards: readonly [MiddlewareHandler, MiddlewareHandler<DashEnv>, MiddlewareHandler<DashEnv>],
): void {
  const { db, runner, now } = deps;
  const [limit, session, csrf] = guards;
  const log = deps.log.withTag("dashboard");

  /** Flash, then 303 back to the page the form came from. */
  const done = async (c: DashContext, flash: Flash, fallback: string) => {
    await setFlash(db, c.get("session").idHash, flash);
    const body = await c.req.parseBody();
    return c.redirect(localPath(body.back, fallback), 303);
  };
  const bad = (c: DashContext, field: string, problem: string) =>
    problemPage(c, deps.config, { title: "Bad request", path: c.req.path }, "Bad request", `${field}: ${problem}`, 400);
  const conflict = (err: unknown): Flash => {
    if (err instanceof RepairConflict) return { kind: "error", text: err.message };
    throw err;
  };

  ui.post("/run/:job", limit, session, csrf, async (c) => {
    const name = c.req.param("job") ?? "";
    if (!runner.jobs.some((j) => j.name === name)) {
      const frame = { title: "Unknown job", path: c.req.path };
      return problemPage(c, deps.config, frame, "Unknown job", `There is no job named ${name}.`, 404);
    }
    const mode = (await c.req.parseBody()).mode;
    if (mode !== "dry" && mode !== "real") return bad(c, "mode", "dry or real");
    const run = runner.run(name, { trigger: "http", dryRun: mode === "dry" });
    log.info("job started from the dashboard", { job: name, dryRun: mode === "dry" });
    run.catch((err: unknown) => log.error("run could not start", { job: name, error: errorMessage(err) }, err));
    // A Worker closes its database when the response is sent, so there the run is awaited; elsewhere the
    // page answers at once and the live list shows the result when it lands.
    const result = getRuntimeKey() === "workerd" ? await run : await within(run, QUICK_RUN_MS);
    const flash: Flash = result
      ? runFlash(result)
      : {
          kind: "ok",
          text: `${name} started (${mode === "dry" ? "dry run" : "real"}); its result appears when it lands.`,
        };
    return done(c, flash, "/");
  });

  ui.post("/repairs/:id/retry", limit, session, csrf, async (c) => {
    const id = v.safeParse(RepairId, c.req.param("id"));
    if (!id.success) return bad(c, "id", "a repair id");
    const flash = await retryRepair(db, id.output, now()).then(
      (r): Flash => ({ kind: "ok", text: `Repair ${id.output} is ${String(r.state)} and due now.` }),
      conflict,
    );
    if (flash.kind === "ok") log.info("repair retried from the dashboard", { repair: id.output });
    return done(c, flash, "/repairs");
  });

  ui.post("/repairs/:id/cancel", limit, session, csrf, async (c) => {
    const id = v.safeParse(RepairId, c.req.param("id"));
    if (!id.success) return bad(c, "id", "a repair id");
    const flash = await cancelRepair(db, id.output, now()).then(
      (): Flash => ({ kind: "ok", text: `Repair ${id.output} cancelled.` }),
      conflict,
    );
    if (flash.kind === "ok") log.info("repair cancelled from the dashboard", { repair: id.output });
    return done(c, flash, "/repairs");
  });

  ui.post("/failures/:hash/reset", limit, session, csrf, async (c) => {
    const hash = v.safeParse(Hash, c.req.param("hash"));
    if (!hash.success) return bad(c, "hash", "a 40-hex info hash");
    const rs = await db.execute({
      sql: "UPDATE permanent_failures SET reset_at = ? WHERE hash = ? AND reset_at IS NULL",
      args: [now(), hash.output],
    });
    if (rs.rowsAffected > 0) log.info("permanent failure reset from the dashboard", { hash: hash.output });
    const flash: Flash =
      rs.rowsAffected > 0
        ? { kind: "ok", text: `${hash.output} reset: the scans may queue it again.` }
        : { kind: "error", text: `No permanent failure to reset for ${hash.output}.` };
    return done(c, flash, "/failures");
  });

  ui.post("/rescan", limit, session, csrf, async (c) => {
    await requestFullRescan(db, now());
    log.info("full rescan requested from the dashboard");
    return done(c, { kind: "ok", text: "A new full scan starts at the next rd-full-scan-page run." }, "/");
  });
}
