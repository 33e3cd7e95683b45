import { describe, expect, it } from "vitest";
import { dayRange } from "./chart-data.ts";
import { barChart, lineChart, niceMax, segments, shortNumber } from "./charts.ts";

describe("chart helpers", () => {
  it.each([
    [0, 1],
    [-3, 1],
    [1, 1],
    [3, 5],
    [7, 10],
    [12, 20],
    [450, 500],
    [501, 1000],
    [0.3, 0.5],
  ])("niceMax(%s) = %s", (max, nice) => expect(niceMax(max)).toBeCloseTo(nice));

  it.each([
    [950, "950"],
    [1234, "1.2k"],
    [3_400_000, "3.4M"],
    [0.25, "0.3"],
  ])("shortNumber(%s) = %s", (n, text) => expect(shortNumber(n)).toBe(text));

  it("splits a series into runs of data at each gap", () => {
    expect(segments([1, 2, null, 3, null, null, 4, 5])).toEqual([
      [
        [0, 1],
        [1, 2],
      ],
      [[3, 3]],
      [
        [6, 4],
        [7, 5],
      ],
    ]);
    expect(segments([null, null])).toEqual([]);
  });

  it("labels UTC days ending today", () => {
    const r = dayRange(Date.UTC(2024, 0, 2, 23, 59), 3);
    expect(r.labels).toEqual(["12-31", "01-01", "01-02"]);
    expect(r.days[2]).toBe(Math.floor(Date.UTC(2024, 0, 2) / 86_400_000));
  });
});

describe("SVG charts", () => {
  const spec = { id: "t", title: "Things <per> day", labels: ["a", "b"], series: [{ name: "n", values: [2, 4] }] };

  it("draws one bar per value, scaled to a round maximum, with an accessible name and a data table", async () => {
    const svg = String(await barChart(spec));
    const heights = [...svg.matchAll(/height="([\d.]+)"><title>/g)].map((m) => Number(m[1]));
    // 4 rounds up to 5: bars of 2/5 and 4/5 of the 160 px plot.
    expect(heights).toEqual([64, 128]);
    expect(svg).toContain('role="img" aria-labelledby="t-cap"');
    expect(svg).toContain("Things &lt;per&gt; day");
    expect(svg).toMatch(/<th scope="row">b<\/th>\s*<td class="num">4<\/td>/);
  });

  it("says there is no data instead of drawing an empty chart", async () => {
    for (const values of [
      [0, 0],
      [null, null],
    ]) {
      const text = String(await lineChart({ ...spec, series: [{ name: "n", values }] }));
      expect(text).toContain("No data yet.");
      expect(text).not.toContain("<svg");
    }
  });

  it("breaks a line where a day has no data", async () => {
    const text = String(
      await lineChart({ ...spec, labels: ["a", "b", "c", "d"], series: [{ name: "n", values: [1, 2, null, 3] }] }),
    );
    expect(text.match(/<polyline/g)).toHaveLength(1);
    expect(text.match(/<circle/g)).toHaveLength(3);
    expect(text).toContain('<td class="num">—</td>');
  });
});
