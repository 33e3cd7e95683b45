import type { Handler } from "hono";
import { html } from "hono/html";
import { serializeProgress } from "../../api.ts";
import type { AppDeps } from "../../app.ts";
import { listJobs } from "../../jobs-view.ts";
import { readProgress } from "../../rd/scan-progress.ts";
import { frameOf, type GuardDeps } from "../guard.ts";
import { backField, badge, countList, csrfField, type Html, summaryText, time } from "../layout.ts";
import { type Counts, overviewCounts, type RunView, recentRuns } from "../queries.ts";
import { type DashEnv, sendPage } from "../respond.ts";
import { dataTable } from "../widgets.ts";

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** One entry of the live list: the same shape the script adds for `run` events. */
export function liveItem(r: RunView): Html {
  return html`<li data-id="${r.id}" data-job="${r.job}" data-status="${r.status}">
    <strong>${r.job}</strong> ${badge(r.status)} ${r.dryRun ? "dry run" : "real"} · ${time(r.endedAt ?? r.startedAt)}
    ${r.error ? html`<span class="wrap">${r.error}</span>` : html`<span class="muted">${summaryText(r.summary)}</span>`}
  </li>`;
}

function guardCard(counts: Counts, configured: boolean): Html {
  const body = counts.guard.tripped
    ? html`<p>${badge("holding")} since ${time(counts.guard.at)}: the sweep changes nothing.</p>
        <p>${counts.guard.reason ?? ""}</p>`
    : configured
      ? html`<p>${badge("clear")} The sweep may change the library.</p>`
      : html`<p class="muted">Not configured (LIBRARY_ROOTS is unset).</p>`;
  return html`<section class="card" aria-labelledby="guard"><h2 id="guard">Mount guard</h2>${body}</section>`;
}

type Job = Awaited<ReturnType<typeof listJobs>>[number];

function jobRow(j: Job, csrf: string): Html {
  const last = j.lastRun;
  return html`<tr data-job="${j.name}">
    <th scope="row">${j.name}</th>
    <td>${j.schedule ?? html`<span class="muted">off</span>`}</td>
    <td>${time(ms(j.nextRun))}</td>
    <td>${j.running ? html`${badge("running")} since ${time(ms(j.running.since))}` : html`<span class="muted">no</span>`}</td>
    <td>
      ${
        last
          ? html`${badge(last.status)} ${last.dryRun ? "dry run" : "real"} · ${time(ms(last.endedAt))}
            <div class="muted">${last.error ?? summaryText(last.summary)}</div>`
          : html`<span class="muted">never</span>`
      }
    </td>
    <td>
      <form method="post" action="/run/${j.name}" class="inline">
        ${csrfField(csrf)}${backField("/")}
        <label for="mode-${j.name}" class="muted">Mode</label>
        <select id="mode-${j.name}" name="mode">
          <option value="dry" selected>dry run</option>
          <option value="real">real</option>
        </select>
        <button type="submit">Run now</button>
      </form>
    </td>
  </tr>`;
}

/** GET /: counts, mount guard, scan progress, every job with its next and last run, and the live run list. */
export function overviewPage(deps: GuardDeps & Pick<AppDeps, "runner">): Handler<DashEnv> {
  return async (c) => {
    const [counts, jobs, full, runs] = await Promise.all([
      overviewCounts(deps.db),
      listJobs(deps),
      readProgress(deps.db, "full").then(serializeProgress),
      recentRuns(deps.db, 15),
    ]);
    const { csrf } = c.get("session");
    const body = html`<h1>Overview</h1>
      <div class="grid">
        <section class="card" aria-labelledby="rd"><h2 id="rd">Torrents by RD status</h2>${countList("torrents", counts.torrents)}</section>
        <section class="card" aria-labelledby="rp"><h2 id="rp">Repairs by state</h2>${countList("repairs", counts.repairs)}</section>
        <section class="card" aria-labelledby="bl">
          <h2 id="bl">Broken links</h2>
          ${countList("brokenLinks", counts.brokenLinks)}
        </section>
        <section class="card" aria-labelledby="qs"><h2 id="qs">qBit strikes</h2>${countList("strikes", counts.strikes)}</section>
        <section class="card" aria-labelledby="pf">
          <h2 id="pf">Permanent failures</h2>
          <p><span data-count="permanentFailures">${counts.permanentFailures}</span> not reset · <a href="/failures">review</a></p>
        </section>
        ${guardCard(counts, (deps.config.LIBRARY_ROOTS?.length ?? 0) > 0)}
        <section class="card" aria-labelledby="fs">
          <h2 id="fs">Full scan</h2>
          <p>
            ${badge(full.status)} generation ${full.generation}${full.percent === null ? "" : html`, ${full.percent}%`}
            (${full.seen}${full.total === null ? "" : html` of ${full.total}`} seen)
          </p>
          <p>Last completed: ${time(ms(full.completedAt))}</p>
          <form method="post" action="/rescan" class="inline">
            ${csrfField(csrf)}${backField("/")}<button type="submit" class="secondary">Force full rescan</button>
          </form>
        </section>
      </div>
      <h2>Jobs</h2>
      ${dataTable(
        "Every job: schedule, next and last run",
        ["Job", "Schedule", "Next run", "Running", "Last run", "Run now"],
        jobs.map((j) => jobRow(j, csrf)),
      )}
      <h2 id="recent">Recent runs</h2>
      <ul id="live" aria-live="polite" aria-labelledby="recent">
        ${runs.map(liveItem)}
      </ul>
      <p><a href="/runs">All runs</a></p>`;
    return sendPage(c, deps.config, await frameOf(c, deps, "Overview"), body);
  };
}
