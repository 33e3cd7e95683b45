import { describe, expect, it } from "vitest";
import { classify, type Evidence, exemption, isCandidate, matches, nextStrike } from "./classify.ts";
import { buildRuleSet, DEFAULT_RULES, parseRulesFile } from "./rules.ts";

const defaults = buildRuleSet(null);
function ev(partial: Partial<Evidence> = {}): Evidence {
  return { state: "downloading", category: "tv-sonarr", tags: [], trackers: [], log: [], arr: [], ...partial };
}
const notWorking = (msg: string) => ({ status: 4, msg });
const cls = (e: Evidence, set = defaults) => classify(e, set)?.rule.class ?? null;

describe("classify with the built-in rules (the seed's table)", () => {
  it.each([
    // connection
    [{ trackers: [notWorking("Connection timed out")] }, "connection"],
    [{ trackers: [notWorking("Host not found (authoritative)")] }, "connection"],
    [{ log: ["No route to host"] }, "connection"],
    // tracker
    [{ trackers: [notWorking("Unregistered torrent")] }, "tracker"],
    [{ trackers: [notWorking("torrent not registered with this tracker")] }, "tracker"],
    [{ arr: ["Tracker error: announce failed"] }, "tracker"],
    [{ trackers: [notWorking("Trumped by a better release")] }, "tracker"],
    // transient tracker trouble is never "tracker"
    [{ trackers: [notWorking("Tracker is down")] }, "tracker_transient"],
    [{ trackers: [notWorking("502 Bad Gateway")] }, "tracker_transient"],
    [{ trackers: [notWorking("Service Unavailable, try again later")] }, "tracker_transient"],
    [{ trackers: [notWorking("HTTP 504")] }, "tracker_transient"],
    // file
    [{ state: "error", log: ["No space left on device"] }, "file"],
    [{ state: "error", log: ["Permission denied"] }, "file"],
    [{ state: "missingFiles" }, "file"],
    [{ arr: ["The download is missing files"] }, "file"],
    // ratio
    [{ trackers: [notWorking("Ratio limit reached")] }, "ratio"],
    // authorization
    [{ trackers: [notWorking("Invalid passkey")] }, "authorization"],
    [{ trackers: [notWorking("Unauthorized: passkey not found")] }, "authorization"],
    // stalled, metadata, unexplained error
    [{ state: "stalledDL" }, "stalled"],
    [{ arr: ["The download is stalled with no connections"] }, "stalled"],
    [{ state: "metaDL" }, "metadata"],
    [{ state: "error" }, "client_error"],
    // healthy
    [{ state: "downloading" }, null],
    [{ state: "stalledUP" }, null],
    [{ state: "uploading", trackers: [{ status: 2, msg: "" }] }, null],
  ] as [Partial<Evidence>, string | null][])("%j → %s", (partial, expected) => {
    expect(cls(ev(partial))).toBe(expected);
  });

  it("ignores a tracker's complaint while another tracker of the torrent works", () => {
    expect(cls(ev({ trackers: [notWorking("Unregistered torrent"), { status: 2, msg: "" }] }))).toBeNull();
  });

  it("stops at the first rule: a dead tracker explains a stalled download", () => {
    expect(cls(ev({ state: "stalledDL", trackers: [notWorking("unregistered torrent")] }))).toBe("tracker");
  });

  it("keeps the seed's actions per class", () => {
    const action = Object.fromEntries(DEFAULT_RULES.map((r) => [r.class, r.action]));
    expect(action).toMatchObject({
      connection: "remove_blocklist_search",
      tracker: "blocklist_search",
      file: "remove_alert",
      ratio: "remove_search",
      authorization: "blocklist",
      tracker_transient: "ignore",
    });
  });
});

describe("rules file", () => {
  it("overrides a class, adds a rule before the built-ins, and overrides per category", () => {
    const set = parseRulesFile(
      JSON.stringify({
        classes: { tracker: { strikes: 5, action: "blocklist" } },
        rules: [{ class: "hnr", patterns: ["/hit.?and.?run/"], action: "alert" }],
        categories: { "radarr-4k": { classes: { tracker: { action: "alert" } } }, manual: { ignore: true } },
        ignoreTags: ["keep"],
      }),
      "rules.json",
    );
    const tracker = classify(ev({ trackers: [notWorking("Unregistered torrent")] }), set);
    expect(tracker?.rule).toMatchObject({ class: "tracker", strikes: 5, action: "blocklist" });
    expect(classify(ev({ category: "radarr-4k", trackers: [notWorking("unregistered")] }), set)?.rule.action).toBe(
      "alert",
    );
    expect(cls(ev({ trackers: [notWorking("Hit and Run warning")] }), set)).toBe("hnr");
    expect(exemption(ev({ category: "manual" }), set)).toBe("ignored_category");
    expect(exemption(ev({ tags: ["keep", "x"] }), set)).toBe("ignored_tag");
    expect(exemption(ev(), set)).toBeNull();
  });

  it.each([
    ["{", /rules\.json: not valid JSON/],
    ['{"classes":{"tracker":{"strikes":0}}}', /classes\.tracker\.strikes: /],
    ['{"classes":{"nope":{"strikes":2}}}', /classes\.nope: no built-in class/],
    ['{"rules":[{"class":"x","patterns":["/(/"],"action":"alert"}]}', /rules\.0\.patterns\.0: an invalid \/regex\//],
    ['{"rules":[{"class":"x","patterns":["a"],"action":"explode"}]}', /rules\.0\.action/],
    ['{"colour":"red"}', /colour/],
  ])("refuses %s with a message naming the place", (text, message) => {
    expect(() => parseRulesFile(text, "rules.json")).toThrow(message);
  });
});

describe("strikes", () => {
  const verdict = (c: string) =>
    classify(ev(c === "tracker" ? { trackers: [notWorking("unregistered")] } : { state: "stalledDL" }), defaults);
  it("counts consecutive checks of one class, restarts on a new class, clears on recovery", () => {
    let s = nextStrike(null, verdict("tracker"), 1);
    s = nextStrike(s, verdict("tracker"), 2);
    expect(s).toEqual({ class: "tracker", strikes: 2, firstSeenAt: 1, lastSeenAt: 2 });
    s = nextStrike(s, verdict("stalled"), 3);
    expect(s).toEqual({ class: "stalled", strikes: 1, firstSeenAt: 3, lastSeenAt: 3 });
    expect(nextStrike(s, null, 4)).toBeNull();
  });
  it("keeps no strikes for harmless classes (a tracker that is down)", () => {
    expect(nextStrike(null, classify(ev({ trackers: [notWorking("Tracker is down")] }), defaults), 1)).toBeNull();
  });
});

describe("helpers", () => {
  it("matches substrings case-insensitively and /regex/ patterns", () => {
    expect(matches("unregistered", "Torrent UNREGISTERED")).toBe(true);
    expect(matches("/^tracker (is )?down$/", "Tracker down")).toBe(true);
    expect(matches("/^down$/", "tracker down")).toBe(false);
  });
  it("looks closer only at items that look off", () => {
    const ok = { status: "downloading", trackedDownloadStatus: "ok" };
    const t = (state: string, tracker = "https://t/announce") => ({ state, tracker });
    expect(isCandidate(t("downloading"), [], ok)).toBe(false);
    expect(isCandidate(t("stalledDL"), [], ok)).toBe(true);
    expect(isCandidate(t("downloading", ""), [], ok)).toBe(true);
    expect(isCandidate(t("downloading"), ["Tracker error"], ok)).toBe(true);
    expect(isCandidate(null, [], { status: "warning", trackedDownloadStatus: "warning" })).toBe(true);
    expect(isCandidate(null, [], ok)).toBe(false);
    expect(isCandidate(t("downloading"), [], { status: "failed", trackedDownloadStatus: null })).toBe(true);
  });
});
