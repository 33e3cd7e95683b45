// What is wrong with one download, from everything known about it: qBittorrent's state, its trackers'
// messages, the reasons qBittorrent logged, and what Sonarr/Radarr say about the queue item. Pure.

import { type EvidenceSource, type QbitRule, type RuleSet, regexOf } from "./rules.ts";

/** Everything gathered about one queue item. */
export interface Evidence {
  /** qBittorrent's state, or null when the torrent is not in qBittorrent. */
  state: string | null;
  category: string | null;
  tags: readonly string[];
  /** Trackers of the torrent (pseudo-trackers left out): qBit status 0-4 and message. */
  trackers: readonly { status: number; msg: string }[];
  /** Reasons qBittorrent logged for this torrent (file errors, "Torrent errored"). */
  log: readonly string[];
  /** The *arr's errorMessage and status messages for the queue item. */
  arr: readonly string[];
}

/** The class a download falls in, the rule that decided, and the text that matched. */
export interface Verdict {
  rule: QbitRule;
  source: EvidenceSource;
  text: string;
}

/** Why a download is left alone whatever it looks like. */
export type Exemption = "ignored_tag" | "ignored_category";

const TRACKER_WORKING = 2;
const TRACKER_NOT_WORKING = 4;

/** The texts each source contributes. */
export function evidenceTexts(e: Evidence): Record<EvidenceSource, string[]> {
  // A tracker message only counts when no tracker works: one tracker of several saying "unregistered"
  // while another serves the torrent is not a dead release.
  const anyWorking = e.trackers.some((t) => t.status === TRACKER_WORKING);
  const tracker = anyWorking
    ? []
    : e.trackers.filter((t) => t.status === TRACKER_NOT_WORKING && t.msg.trim() !== "").map((t) => t.msg);
  return {
    tracker,
    log: [...e.log],
    arr: [...e.arr],
    state: e.state === null ? [] : [`state:${e.state.toLowerCase()}`],
  };
}

/** Whether a download is exempt (ignored tag or category) before any rule is tried. */
export function exemption(e: Evidence, set: RuleSet): Exemption | null {
  if (e.tags.some((t) => set.ignoreTags.has(t))) return "ignored_tag";
  if (e.category !== null && set.byCategory.get(e.category) === null) return "ignored_category";
  return null;
}

/** The first rule (in order) whose pattern matches the evidence, or null: healthy as far as we can tell. */
export function classify(e: Evidence, set: RuleSet): Verdict | null {
  const rules = (e.category !== null ? set.byCategory.get(e.category) : undefined) ?? set.rules;
  const texts = evidenceTexts(e);
  for (const rule of rules) {
    for (const source of rule.sources) {
      for (const text of texts[source]) {
        if (rule.patterns.some((p) => matches(p, text))) return { rule, source, text };
      }
    }
  }
  return null;
}

/** Case-insensitive substring, or a /regex/. */
export function matches(pattern: string, text: string): boolean {
  const re = regexOf(pattern);
  return re ? re.test(text) : text.toLowerCase().includes(pattern.toLowerCase());
}

/** One item's strike record. */
export interface Strike {
  class: string;
  strikes: number;
  firstSeenAt: number;
  lastSeenAt: number;
}

/**
 * Strikes after a check: one more when the same class is seen again, back to one when the class
 * changes, and none (null) when the item looks healthy again. Harmless classes keep no strikes.
 */
export function nextStrike(prev: Strike | null, verdict: Verdict | null, now: number): Strike | null {
  if (!verdict || verdict.rule.action === "ignore") return null;
  if (prev && prev.class === verdict.rule.class) return { ...prev, strikes: prev.strikes + 1, lastSeenAt: now };
  return { class: verdict.rule.class, strikes: 1, firstSeenAt: now, lastSeenAt: now };
}

/**
 * A download is a candidate for a closer look (trackers, log) only if something already looks off: the
 * *arr has words about it or flags it, or qBittorrent's state is not a healthy one.
 */
export function isCandidate(
  torrent: { state: string; tracker: string } | null,
  arr: readonly string[],
  item: { status: string | null; trackedDownloadStatus: string | null },
): boolean {
  if (arr.length > 0) return true;
  if (item.trackedDownloadStatus === "warning" || item.trackedDownloadStatus === "error") return true;
  if (item.status === "failed" || item.status === "warning") return true;
  if (torrent === null) return false;
  // qBittorrent lists the tracker in use; none means no tracker works, which only its messages explain.
  return !HEALTHY_STATES.has(torrent.state) || torrent.tracker === "";
}

// Moving, seeding, queued by the user's own limits, or checking: nothing to look at.
const HEALTHY_STATES = new Set([
  "downloading",
  "forcedDL",
  "uploading",
  "forcedUP",
  "stalledUP",
  "queuedDL",
  "queuedUP",
  "checkingDL",
  "checkingUP",
  "checkingResumeData",
  "allocating",
  "moving",
  "pausedUP",
  "stoppedUP",
]);
