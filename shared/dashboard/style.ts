/**
 * The dashboard's only stylesheet, inlined by the layout (no external assets: the page must work
 * offline). Colours keep at least 4.5:1 contrast in both schemes; wide tables scroll on a phone.
 */
export const STYLE = `
:root { --bg: #fff; --fg: #1a1a1a; --muted: #555; --line: #ccc; --accent: #0b57d0; --good: #146c2e; --bad: #b3261e;
  --neutral: #444; --panel: #f4f4f4; --focus: #b35c00; --fifth: #7b3fa0; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #ececec; --muted: #b0b0b0; --line: #444; --accent: #8ab4f8; --good: #7fd48f;
    --bad: #ff8a80; --neutral: #cfcfcf; --panel: #1f1f1f; --focus: #ffb74d; --fifth: #d7aefb; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; z-index: 10; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .5rem 1rem;
  border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; }
nav { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; flex: 1; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem .75rem; list-style: none; margin: 0; padding: 0; flex: 1; }
nav a { display: inline-block; padding: .25rem 0; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: none; border-bottom: 2px solid currentColor; }
main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.flash { padding: .5rem .75rem; border-left: 4px solid var(--good); background: var(--panel); }
.flash.error { border-color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .75rem; background: var(--bg); }
.card h2 { margin-top: 0; font-size: 1.05rem; }
dl.counts { margin: 0; display: grid; grid-template-columns: 1fr auto; gap: .15rem .75rem; }
dl.counts div { display: contents; }
dl.counts dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { min-width: 14rem; word-break: break-word; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 4px; border: 1px solid currentColor; font-size: .85rem; }
.badge.good { color: var(--good); } .badge.bad { color: var(--bad); } .badge.neutral { color: var(--neutral); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; margin-bottom: .75rem; }
form.filters label, form.stack label { display: flex; flex-direction: column; font-size: .9rem; }
form.inline { display: inline-flex; gap: .35rem; align-items: center; margin: 0; }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--muted); border-radius: 4px;
  background: var(--bg); color: var(--fg); }
button { background: var(--accent); color: var(--bg); border-color: var(--accent); cursor: pointer; }
button.secondary { background: var(--bg); color: var(--accent); }
.pager { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: .75rem 0; }
#live { list-style: none; padding: 0; margin: 0; }
#live li { padding: .25rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
figure { margin: 0 0 1.5rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg.chart { width: 100%; max-width: 48rem; height: auto; display: block; }
svg.chart text { fill: var(--fg); font-size: 13px; }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .s0 { fill: var(--good); stroke: var(--good); }
svg.chart .s1 { fill: var(--bad); stroke: var(--bad); }
svg.chart .s2 { fill: var(--accent); stroke: var(--accent); }
svg.chart .s3 { fill: var(--focus); stroke: var(--focus); }
svg.chart .s4 { fill: var(--fifth); stroke: var(--fifth); }
svg.chart polyline[class] { fill: none; stroke-width: 2; }
.legend { display: flex; flex-wrap: wrap; gap: .75rem; font-size: .9rem; margin: .25rem 0; }
.legend .key { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.legend .s0 { background: var(--good); } .legend .s1 { background: var(--bad); }
.legend .s2 { background: var(--accent); } .legend .s3 { background: var(--focus); }
.legend .s4 { background: var(--fifth); }
@media (max-width: 40rem) { main { padding: .5rem; } th, td { padding: .3rem; } }
`;
