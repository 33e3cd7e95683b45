/**
 * The dashboard's only script, served as /dashboard.js (same origin, so the CSP needs no inline script).
 * Everything works without it; with it, times show in local time and /events updates the overview's
 * counts, the live run list (#live) and the runs table in place. DOM is built with textContent only.
 */
export const LIVE_SCRIPT = `"use strict";
(() => {
  const localTime = (el) => {
    const d = new Date(el.dateTime);
    if (Number.isNaN(d.getTime())) return;
    el.title = el.textContent;
    el.textContent = d.toLocaleString();
  };
  document.querySelectorAll("time[datetime]").forEach(localTime);

  const live = document.getElementById("live");
  const runs = document.getElementById("runs-body");
  const counted = document.querySelectorAll("[data-count]");
  if ((!live && !runs && counted.length === 0) || !("EventSource" in window)) return;

  const since = document.body.dataset.since;
  const events = new EventSource("/events" + (since ? "?since=" + encodeURIComponent(since) : ""));
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const tone = (s) => (/^(succeeded|done)$/.test(s) ? "good" : /^(failed|aborted|interrupted)$/.test(s) ? "bad" : "neutral");
  const badge = (s) => el("span", "badge " + tone(s), s);
  const when = (ms) => {
    const t = el("time");
    t.dateTime = new Date(ms).toISOString();
    t.textContent = t.dateTime;
    localTime(t);
    return t;
  };
  const summary = (s) => {
    if (s === null || s === undefined) return "";
    if (typeof s !== "object" || Array.isArray(s)) return JSON.stringify(s);
    return Object.entries(s)
      .map(([k, v]) => k + "=" + (v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)))
      .join(", ");
  };
  const duration = (ms) => {
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
    return Math.floor(ms / 3600000) + " h " + Math.round((ms % 3600000) / 60000) + " min";
  };
  const byId = (parent, sel, id) => Array.from(parent.querySelectorAll(sel)).find((n) => n.dataset.id === id);

  const showInList = (r) => {
    let li = byId(live, "li", r.id);
    const fresh = !li;
    if (fresh) li = el("li");
    li.dataset.id = r.id;
    li.dataset.job = r.job;
    li.dataset.status = r.status;
    const detail = r.error ? el("span", "wrap", r.error) : el("span", "muted", summary(r.summary));
    li.replaceChildren(
      el("strong", "", r.job), " ", badge(r.status), " " + (r.dryRun ? "dry run" : "real") + " · ",
      when(r.endedAt ?? r.startedAt), " ", detail,
    );
    if (fresh) live.prepend(li);
    while (live.children.length > 25) live.lastElementChild.remove();
  };

  const showInTable = (r) => {
    let tr = document.getElementById("run-" + r.id);
    const fresh = !tr;
    if (fresh) {
      tr = el("tr");
      tr.id = "run-" + r.id;
    }
    tr.dataset.job = r.job;
    tr.dataset.status = r.status;
    const cell = (content, cls) => {
      const td = el("td", cls || "");
      td.append(content);
      return td;
    };
    tr.replaceChildren(
      cell(when(r.startedAt)), cell(r.job), cell(r.trigger), cell(r.dryRun ? "dry run" : "real"),
      cell(badge(r.status)), cell(r.endedAt === null ? "" : duration(r.endedAt - r.startedAt), "num"),
      cell(summary(r.summary), "wrap"), cell(r.error || "", "wrap"),
    );
    if (fresh) {
      const empty = runs.querySelector("td[colspan]");
      if (empty) empty.parentElement.remove();
      runs.prepend(tr);
    }
  };

  events.addEventListener("run", (e) => {
    const r = JSON.parse(e.data);
    if (live) showInList(r);
    if (runs) showInTable(r);
  });

  events.addEventListener("counts", (e) => {
    const c = JSON.parse(e.data);
    const flat = { permanentFailures: c.permanentFailures };
    for (const group of ["torrents", "repairs", "brokenLinks", "strikes"]) {
      for (const [k, n] of Object.entries(c[group] || {})) flat[group + "." + k] = n;
    }
    document.querySelectorAll("[data-count]").forEach((node) => {
      node.textContent = String(flat[node.dataset.count] ?? 0);
    });
  });
})();
`;
