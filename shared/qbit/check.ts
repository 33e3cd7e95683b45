// qbit-check's decisions: join each *arr queue download with its qBittorrent torrent, gather the
// evidence, classify, count strikes, and act once the rule's strikes are reached.

import type { InStatement } from "@libsql/client";
import type { NotifyEvent } from "../clients/notify.ts";
import type { ArrClient, ArrQueueItem } from "../clients/servarr.ts";
import type { Db } from "../db.ts";
import type { Logger } from "../log.ts";
import { type ActDeps, act } from "./act.ts";
import { classify, type Evidence, exemption, isCandidate, nextStrike, type Strike } from "./classify.ts";
import type { Snapshot } from "./gather.ts";
import type { RuleSet } from "./rules.ts";

/** One download as the *arr queues it: a season pack is several records with one download id. */
export interface Download {
  arr: ArrClient;
  downloadId: string;
  title: string;
  records: ArrQueueItem[];
}

/** Counts for the run summary. */
export interface CheckSummary {
  downloads: number;
  candidates: number;
  classified: Record<string, number>;
  struck: number;
  acted: number;
  planned: number;
  exempt: number;
  skippedOutage: number;
  trackerRequests: number;
}

export interface CheckDeps extends ActDeps {
  db: Db;
  rules: RuleSet;
  log: Logger;
  now: number;
  signal: AbortSignal;
  onEvent: (e: NotifyEvent) => void;
}

/** Groups queue records into downloads (torrents only; usenet and unknown clients are not ours). */
export function downloadsOf(arr: ArrClient, items: readonly ArrQueueItem[]): Download[] {
  const by = new Map<string, Download>();
  for (const item of items) {
    if (item.protocol !== "torrent" || !item.downloadId) continue;
    const id = item.downloadId.toLowerCase();
    const d = by.get(id) ?? { arr, downloadId: id, title: item.title, records: [] };
    d.records.push(item);
    by.set(id, d);
  }
  return [...by.values()];
}

/** The *arr's own words about a download: its error and status messages (not titles: release names). */
export function arrTexts(d: Download): string[] {
  const out = new Set<string>();
  for (const r of d.records) {
    if (r.errorMessage) out.add(r.errorMessage);
    for (const m of r.statusMessages) for (const text of m.messages) if (text.trim()) out.add(text);
  }
  return [...out];
}

/** Runs the decisions over a snapshot; writes strikes and acts (or plans, in a dry run). */
export async function check(deps: CheckDeps, snap: Snapshot): Promise<CheckSummary> {
  const s: CheckSummary = {
    downloads: 0,
    candidates: 0,
    classified: {},
    struck: 0,
    acted: 0,
    planned: 0,
    exempt: 0,
    skippedOutage: 0,
    trackerRequests: 0,
  };
  const qbitDown = snap.outages.some((o) => o.service.startsWith("qbittorrent"));
  const prev = await loadStrikes(deps.db);
  const seen = new Set<string>();
  const writes: InStatement[] = [];

  for (const { client: arr, items } of snap.queues) {
    for (const d of downloadsOf(arr, items)) {
      deps.signal.throwIfAborted();
      s.downloads++;
      const key = `${arr.instance.name}:${d.downloadId}`;
      seen.add(key);
      const found = snap.torrents.get(d.downloadId) ?? null;
      // The torrent may live on a qBittorrent that did not answer: no strike on a guess.
      if (!found && qbitDown) {
        s.skippedOutage++;
        continue;
      }
      const t = found?.torrent ?? null;
      const texts = arrTexts(d);
      const head = {
        status: d.records[0]?.status ?? null,
        trackedDownloadStatus: d.records[0]?.trackedDownloadStatus ?? null,
      };
      if (!isCandidate(t, texts, head) && !prev.has(key)) continue;
      s.candidates++;
      const trackers = found ? await found.client.trackers(d.downloadId, deps.signal) : [];
      if (found) s.trackerRequests++;
      const reason = found ? snap.reasons.get(`${found.client.instance.name}\u0000${found.torrent.name}`) : undefined;
      const evidence: Evidence = {
        state: t?.state ?? null,
        category: t?.category ?? null,
        tags: t?.tags ?? [],
        trackers,
        log: reason ? [reason] : [],
        arr: texts,
      };
      if (exemption(evidence, deps.rules)) {
        s.exempt++;
        writes.push({ sql: "DELETE FROM qbit_strikes WHERE item_key = ?", args: [key] });
        continue;
      }
      const verdict = classify(evidence, deps.rules);
      if (verdict) s.classified[verdict.rule.class] = (s.classified[verdict.rule.class] ?? 0) + 1;
      const before = prev.get(key) ?? null;
      const strike = nextStrike(before, verdict, deps.now);
      if (!strike || !verdict) {
        if (before) writes.push({ sql: "DELETE FROM qbit_strikes WHERE item_key = ?", args: [key] });
        continue;
      }
      s.struck++;
      const same = before?.class === strike.class;
      let actedAt = same ? (before?.actedAt ?? null) : null;
      let plannedAt = same ? (before?.plannedAt ?? null) : null;
      // Acted once per class; a dry run plans once (its journal would otherwise repeat every run).
      const due = strike.strikes >= verdict.rule.strikes && actedAt === null && !(deps.dryRun && plannedAt !== null);
      if (due) {
        const done = await act(deps, { download: d, torrent: found, verdict, strike });
        if (deps.dryRun) {
          s.planned += done;
          plannedAt = deps.now;
        } else {
          s.acted += done > 0 ? 1 : 0;
          actedAt = deps.now;
        }
      }
      writes.push(strikeUpsert(key, d, verdict.rule, strike, `${verdict.source}: ${verdict.text}`, actedAt, plannedAt));
    }
  }
  // Downloads that left a reachable queue have nothing left to strike.
  for (const { client } of snap.queues) {
    for (const key of prev.keys()) {
      if (key.startsWith(`${client.instance.name}:`) && !seen.has(key)) {
        writes.push({ sql: "DELETE FROM qbit_strikes WHERE item_key = ?", args: [key] });
      }
    }
  }
  if (writes.length > 0) await deps.db.batch(writes, "write");
  return s;
}

async function loadStrikes(
  db: Db,
): Promise<Map<string, Strike & { actedAt: number | null; plannedAt: number | null }>> {
  const rs = await db.execute(
    "SELECT item_key, class, strikes, first_seen_at, last_seen_at, acted_at, planned_at FROM qbit_strikes",
  );
  return new Map(
    rs.rows.map((r) => [
      String(r.item_key),
      {
        class: String(r.class),
        strikes: Number(r.strikes),
        firstSeenAt: Number(r.first_seen_at),
        lastSeenAt: Number(r.last_seen_at),
        actedAt: r.acted_at === null ? null : Number(r.acted_at),
        plannedAt: r.planned_at === null ? null : Number(r.planned_at),
      },
    ]),
  );
}

function strikeUpsert(
  key: string,
  d: Download,
  rule: { class: string; action: string; strikes: number },
  strike: Strike,
  evidence: string,
  actedAt: number | null,
  plannedAt: number | null,
): InStatement {
  return {
    sql: `INSERT INTO qbit_strikes (item_key, arr, download_id, queue_ids, title, class, action, strikes, needed, evidence, first_seen_at, last_seen_at, acted_at, planned_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (item_key) DO UPDATE SET queue_ids = excluded.queue_ids, title = excluded.title, class = excluded.class,
            action = excluded.action, strikes = excluded.strikes, needed = excluded.needed, evidence = excluded.evidence,
            first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at, acted_at = excluded.acted_at,
            planned_at = excluded.planned_at`,
    args: [
      key,
      d.arr.instance.name,
      d.downloadId,
      JSON.stringify(d.records.map((r) => r.id)),
      d.title,
      rule.class,
      rule.action,
      strike.strikes,
      rule.strikes,
      evidence.slice(0, 500),
      strike.firstSeenAt,
      strike.lastSeenAt,
      actedAt,
      plannedAt,
    ],
  };
}
