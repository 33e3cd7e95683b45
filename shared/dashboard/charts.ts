// Inline SVG charts drawn on the server: no script, no external library, readable without colour (each
// chart has a caption and its numbers in a table under "Data").
import { html } from "hono/html";
import type { Html } from "./layout.ts";

/** One named row of values, one per label; null is "no data" (a gap in a line, no bar). */
export interface Series {
  name: string;
  values: (number | null)[];
}

const W = 480;
const H = 200;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;
const MAX_SERIES_CLASS = 5;

const f = (n: number) => (Math.round(n * 10) / 10).toString();
const value = (n: number | null | undefined) => (n === null || n === undefined ? "—" : f(n));
const numbers = (series: Series[]) => series.flatMap((s) => s.values.filter((x): x is number => x !== null));

/** A round number at or above `max`, so the top gridline reads well (1, 2, 5 × 10^n). */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 5, 10].find((m) => m * exp >= max) ?? 10;
  return step * exp;
}

/** Short number for axis labels: 950, 1.2k, 3.4M. */
export function shortNumber(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${f(n / 1e6)}M`;
  if (a >= 1e3) return `${f(n / 1e3)}k`;
  return f(n);
}

function yAxis(max: number, unit: string): Html {
  const ticks = [0, max / 2, max];
  return html`${ticks.map((t) => {
    const y = PAD.top + PLOT_H - (t / max) * PLOT_H;
    return html`<line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(y)}" y2="${f(y)}" opacity="0.3" />
      <text x="${PAD.left - 4}" y="${f(y + 4)}" text-anchor="end">${shortNumber(t)}${unit}</text>`;
  })}`;
}

function xLabels(labels: string[], xOf: (i: number) => number): Html {
  const every = Math.max(1, Math.ceil(labels.length / 6));
  return html`${labels.map((l, i) =>
    i % every === 0 ? html`<text x="${f(xOf(i))}" y="${H - 8}" text-anchor="middle">${l}</text>` : "",
  )}`;
}

function legend(series: Series[]): Html {
  if (series.length < 2) return html``;
  return html`<div class="legend" aria-hidden="true">
    ${series.map((s, i) => html`<span><span class="key s${i % MAX_SERIES_CLASS}"></span>${s.name}</span>`)}
  </div>`;
}

function dataTableOf(labels: string[], series: Series[], labelHead: string): Html {
  return html`<details>
    <summary>Data</summary>
    <div class="scroll">
      <table>
        <thead>
          <tr>
            <th scope="col">${labelHead}</th>
            ${series.map((s) => html`<th scope="col">${s.name}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${labels.map(
            (l, i) => html`<tr>
              <th scope="row">${l}</th>
              ${series.map((s) => html`<td class="num">${value(s.values[i])}</td>`)}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </details>`;
}

/** What every chart takes: an id (for aria), a caption, labels along x and the series. */
export interface ChartSpec {
  id: string;
  title: string;
  labels: string[];
  series: Series[];
  /** Unit appended to y-axis labels, e.g. " s". */
  unit?: string;
  /** Header of the label column in the data table. */
  labelHead?: string;
  /** Lines for measurements over time; bars (the default) for counts. */
  kind?: "bar" | "line";
}

function isEmpty(spec: ChartSpec): boolean {
  return spec.labels.length === 0 || numbers(spec.series).every((x) => x === 0);
}

function frame(spec: ChartSpec, shapes: Html, max: number, xOf: (i: number) => number): Html {
  return html`<figure aria-labelledby="${spec.id}-cap">
    <figcaption id="${spec.id}-cap">${spec.title}</figcaption>
    ${legend(spec.series)}
    <svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${spec.id}-cap">
      ${yAxis(max, spec.unit ?? "")}
      <line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + PLOT_H}" y2="${PAD.top + PLOT_H}" />
      ${xLabels(spec.labels, xOf)} ${shapes}
    </svg>
    ${dataTableOf(spec.labels, spec.series, spec.labelHead ?? "")}
  </figure>`;
}

function noData(spec: ChartSpec): Html {
  return html`<figure>
    <figcaption>${spec.title}</figcaption>
    <p class="muted">No data yet.</p>
  </figure>`;
}

/** The chart a spec asks for. */
export function chart(spec: ChartSpec): Html {
  return spec.kind === "line" ? lineChart(spec) : barChart(spec);
}

/** Grouped bars: one group per label, one bar per series. */
export function barChart(spec: ChartSpec): Html {
  if (isEmpty(spec)) return noData(spec);
  const max = niceMax(Math.max(...numbers(spec.series)));
  const groupW = PLOT_W / spec.labels.length;
  const barW = Math.max(1, (groupW * 0.8) / spec.series.length);
  const xOf = (i: number) => PAD.left + groupW * i + groupW / 2;
  const bars = spec.series.map((s, si) =>
    s.values.map((val, i) => {
      if (!val) return "";
      const h = (val / max) * PLOT_H;
      const x = PAD.left + groupW * i + groupW * 0.1 + barW * si;
      return html`<rect class="s${si % MAX_SERIES_CLASS}" x="${f(x)}" y="${f(PAD.top + PLOT_H - h)}" width="${f(barW)}"
        height="${f(h)}"><title>${s.name} ${spec.labels[i] ?? ""}: ${f(val)}</title></rect>`;
    }),
  );
  return frame(spec, html`${bars}`, max, xOf);
}

/** Runs of consecutive non-null points: a line breaks where there is no data. */
export function segments(values: (number | null)[]): [number, number][][] {
  const out: [number, number][][] = [];
  let current: [number, number][] = [];
  values.forEach((val, i) => {
    if (val === null) {
      if (current.length > 0) out.push(current);
      current = [];
    } else current.push([i, val]);
  });
  if (current.length > 0) out.push(current);
  return out;
}

/** Lines: one polyline per run of data of each series, a dot per point, evenly spaced labels. */
export function lineChart(spec: ChartSpec): Html {
  if (isEmpty(spec)) return noData(spec);
  const max = niceMax(Math.max(...numbers(spec.series)));
  const n = spec.labels.length;
  const xOf = (i: number) => PAD.left + (n === 1 ? PLOT_W / 2 : (PLOT_W * i) / (n - 1));
  const yOf = (val: number) => PAD.top + PLOT_H - (val / max) * PLOT_H;
  const lines = spec.series.map((s, si) => {
    const cls = `s${si % MAX_SERIES_CLASS}`;
    return segments(s.values).map((seg) => {
      const pts = seg.map(([i, val]) => `${f(xOf(i))},${f(yOf(val))}`).join(" ");
      return html`${seg.length > 1 ? html`<polyline class="${cls}" points="${pts}"><title>${s.name}</title></polyline>` : ""}
        ${seg.map(([i, val]) => html`<circle class="${cls}" cx="${f(xOf(i))}" cy="${f(yOf(val))}" r="3"><title>${s.name} ${spec.labels[i] ?? ""}: ${f(val)}</title></circle>`)}`;
    });
  });
  return frame(spec, html`${lines}`, max, xOf);
}
