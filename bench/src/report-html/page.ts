// One self-contained HTML page from ReportData: a table (IOPS, bandwidth, latency and
// the ratios between sides), the completion-latency distribution of every side that has
// fio's histogram bins (json+), IOPS and bandwidth over time where logs were recorded,
// each side's options and where it ran. The charts are drawn by uPlot (MIT; about 50 KB,
// no dependencies, canvas, fast with many points, log axes), whose code and stylesheet
// are inlined: the page needs no network when it is opened. Light and dark follow the
// viewer's preference (prefers-color-scheme).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MARKED_PERCENTILES, cdfFromBins, ratio, type ReportDirection, type DirectionSummary, type ReportData, type ReportSide } from './data.js';
import { packetLineSummary } from './packets.js';

const require = createRequire(import.meta.url);

/** uPlot's code and stylesheet, read once from the installed package. */
function uplotAssets(): { js: string; css: string } {
  // A "</script" inside the code would end the element early: escape it (there is none in 1.6.32).
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8').replace(/<\/script/gi, '<\\/script');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  return { js, css };
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that is safe inside a <script> element (no "</script>", no U+2028/2029 surprises). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const fmtIops = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
const fmtBw = (b: number): string => `${(b / 1048576).toFixed(1)} MiB/s`;
const fmtNs = (ns: number | undefined): string => (ns === undefined ? '–' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);
const fmtRatio = (r: number | undefined): string => (r === undefined ? '–' : `${r.toFixed(2)}x`);

interface Row {
  side: ReportSide;
  dir: ReportDirection;
  d: DirectionSummary;
}

/** fio's directions in its order, with the over-time charts' headings. */
const DIRECTIONS: ReadonlyArray<readonly [ReportDirection, string]> = [['read', 'Reads'], ['write', 'Writes'], ['trim', 'Trims']];

function rows(data: ReportData): Row[] {
  const out: Row[] = [];
  for (const side of data.sides) for (const [dir] of DIRECTIONS) if (side[dir]) out.push({ side, dir, d: side[dir]! });
  return out;
}

/**
 * The summary: one row per side and direction. With several sides, two ratio columns
 * compare the first side with each other row (the first side's figure over the row's,
 * same direction): IOPS, and clat p99. Numbers never wrap (the CSS keeps each on one line);
 * the columns stay few whatever the number of sides.
 */
function summaryTable(data: ReportData): string {
  const all = rows(data);
  const first = data.sides[0];
  const compared = data.sides.length > 1;
  const head = ['side', 'dir', 'IOPS', 'bandwidth', 'lat mean', 'clat p50', 'clat p99', 'clat p99.9', 'clat p99.99', ...(compared ? ['IOPS ratio', 'p99 ratio'] : [])];
  const body = all.map(({ side, dir, d }) => {
    const base = first?.[dir];
    const mine = side === first;
    const cells = [
      esc(side.label), dir, fmtIops(d.iops), fmtBw(d.bwBytes), fmtNs(d.latMeanNs),
      ...MARKED_PERCENTILES.map((p) => fmtNs(d.clatPercentilesNs[p])),
      // The first side's own rows have nothing to compare with.
      ...(compared ? [mine || !base ? '' : fmtRatio(ratio(base.iops, d.iops)), mine || !base ? '' : fmtRatio(ratio(base.clatPercentilesNs['99'], d.clatPercentilesNs['99']))] : []),
    ];
    return `<tr>${cells.map((c, i) => (i < 2 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`;
  });
  // On a window too narrow for its one-line figures the table scrolls sideways on its own, not the page.
  return `<div class="scroll"><table class="summary"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`;
}

function optionsTables(data: ReportData): string {
  return data.sides
    .map((s) => {
      const opts = Object.entries(s.options).map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
      return `<details><summary>${esc(s.label)} <span class="muted">${esc(s.origin)}</span></summary>${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}<table class="kv">${opts || '<tr><td>no options recorded</td></tr>'}</table></details>`;
    })
    .join('');
}

function environmentTable(data: ReportData): string {
  const e = Object.entries(data.environment);
  if (!e.length) return '<p class="muted">The results record nothing about the machine.</p>';
  return `<table class="kv">${e.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

/** What the page's script draws: the series, precomputed here so the page stays simple. */
export interface ChartData {
  /** One CDF per side and direction with bins: label, then [µs, nines] points (nines = -log10(1 - fraction)). */
  latency: { label: string; points: [number, number][] }[];
  /** One IOPS series per side and direction with samples: label, direction (its chart), [s, IOPS]. */
  iops: TimeSeries[];
  /** One bandwidth series per side and direction with samples: label, direction, [s, MiB/s]. */
  bw: TimeSeries[];
  /** The sides with I/O but no time series (a peer that gives none), when other sides have some. */
  noSeries: string[];
  /** The packet apps' lines: label, [s, packets per second]. */
  pps: { label: string; points: [number, number][] }[];
}

/** One line of an over-time chart. */
export interface TimeSeries {
  /** Legend text: the side and the direction. */
  label: string;
  /** The chart it belongs to: reads, writes or trims. */
  dir: ReportDirection;
  /** [s since the job started, value]. */
  points: [number, number][];
  /** Where the side's ramp ends, s (0: no ramp). */
  rampS: number;
}

/** The chart series of a report (exported for tests). */
export function chartData(data: ReportData): ChartData {
  const latency: ChartData['latency'] = [];
  const iops: ChartData['iops'] = [];
  const bw: ChartData['bw'] = [];
  const withoutSeries = new Set<string>();
  for (const { side, dir, d } of rows(data)) {
    const label = `${side.label} ${dir}`;
    if (!d.iopsSeries.length && !d.bwSeries.length) withoutSeries.add(side.label);
    if (d.clatBins.length) {
      const total = d.clatBins.reduce((a, [, c]) => a + c, 0);
      // The last point (fraction 1) would be infinitely many nines: show it one step beyond what the sample count resolves.
      const cap = Math.log10(total) + 1;
      latency.push({ label, points: cdfFromBins(d.clatBins).map(([ns, f]) => [ns / 1000, f >= 1 ? cap : Math.min(cap, -Math.log10(1 - f))]) });
    }
    if (d.iopsSeries.length) iops.push({ label, dir, points: d.iopsSeries.map(([ms, v]) => [ms / 1000, v]), rampS: side.rampMs / 1000 });
    if (d.bwSeries.length) bw.push({ label, dir, points: d.bwSeries.map(([ms, v]) => [ms / 1000, v / 1048576]), rampS: side.rampMs / 1000 });
  }
  const noSeries = iops.length || bw.length ? [...withoutSeries] : [];
  const pps = (data.packets ?? []).map((l) => ({ label: l.label, points: l.pps }));
  return { latency, iops, bw, noSeries, pps };
}

// The page's own script: builds uPlot charts from the embedded data. Plain ES2017, no modules.
const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  var css = getComputedStyle(document.documentElement);
  var fg = css.getPropertyValue('--fg').trim(), grid = css.getPropertyValue('--grid').trim();
  var palette = ['#2f6fde', '#e0622a', '#2a9d5b', '#a347c2', '#c9a100', '#d43f6a', '#1b9aaa', '#7a7a7a'];
  function axis(label, extra) {
    var a = { label: label, stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  // Several series with their own x values, aligned on the union of x (uPlot wants one x array).
  function aligned(series) {
    var xs = [];
    series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); }); });
    xs = Array.from(new Set(xs)).sort(function (a, b) { return a - b; });
    var index = new Map(xs.map(function (x, i) { return [x, i]; }));
    var cols = series.map(function (s) {
      var col = new Array(xs.length).fill(null);
      s.points.forEach(function (p) { col[index.get(p[0])] = p[1]; });
      return col;
    });
    return [xs].concat(cols);
  }
  function width(el) { return Math.max(320, el.clientWidth - 8); }
  // Room right of the plot for half the last x tick label, which is centred on its tick
  // (uPlot's own padding, half a default y axis, is narrower than "1,000,000"). uPlot calls
  // this again once it has the tick labels, until the padding stops changing.
  var measure = document.createElement('canvas').getContext('2d');
  function rightPadding(u) {
    var ax = u.axes[0], last = (ax._values || []).filter(function (v) { return v != null; }).pop();
    if (last == null) return 16;
    measure.font = ax.font[0];
    return Math.max(16, Math.ceil(measure.measureText(String(last)).width / devicePixelRatio / 2) + 4);
  }
  function chart(id, series, xLabel, yLabel, opts) {
    var el = document.getElementById(id);
    if (!series.length) return;
    el.textContent = '';
    var u = new uPlot({
      width: width(el), height: 340,
      padding: [null, rightPadding, null, null],
      scales: opts.scales,
      // Room for the y label beside six-digit tick values.
      axes: [axis(xLabel, opts.xAxis || {}), axis(yLabel, Object.assign({ size: 80 }, opts.yAxis || {}))],
      series: [{ label: xLabel }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: palette[i % palette.length], width: 2, spanGaps: true, points: { show: false } };
      })),
      hooks: { draw: [function (u) { if (opts.draw) opts.draw(u); }] },
      legend: { live: true },
    }, aligned(series), el);
    window.addEventListener('resize', function () { u.setSize({ width: width(el), height: 340 }); });
  }
  // A marked level across the plot, its name above the line at the right end: the left end
  // is beside the y axis's tick labels, which sit at the same heights.
  function hline(u, y, text) {
    var ctx = u.ctx, py = u.valToPos(y, 'y', true), dpr = devicePixelRatio;
    if (py < u.bbox.top || py > u.bbox.top + u.bbox.height) return;
    ctx.save(); ctx.strokeStyle = grid; ctx.fillStyle = fg; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(u.bbox.left, py); ctx.lineTo(u.bbox.left + u.bbox.width, py); ctx.stroke();
    ctx.setLineDash([]); ctx.font = (12 * dpr) + 'px sans-serif'; ctx.textAlign = 'right';
    ctx.fillText(text, u.bbox.left + u.bbox.width - 6 * dpr, py - 4 * dpr);
    ctx.restore();
  }
  // A marked moment, its name right of the line, or left of it when it would leave the plot.
  function vline(u, x, text) {
    var ctx = u.ctx, px = u.valToPos(x, 'x', true), dpr = devicePixelRatio;
    ctx.save(); ctx.strokeStyle = fg; ctx.fillStyle = fg; ctx.setLineDash([2, 6]);
    ctx.beginPath(); ctx.moveTo(px, u.bbox.top); ctx.lineTo(px, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.setLineDash([]); ctx.font = (12 * dpr) + 'px sans-serif';
    var right = px + 4 * dpr + ctx.measureText(text).width <= u.bbox.left + u.bbox.width;
    ctx.textAlign = right ? 'left' : 'right';
    ctx.fillText(text, right ? px + 4 * dpr : px - 4 * dpr, u.bbox.top + 14 * dpr);
    ctx.restore();
  }
  var marks = [[50, Math.log10(2)], [99, 2], [99.9, 3], [99.99, 4]];
  chart('latency-chart', data.latency, 'completion latency (µs, log)', 'percentile', {
    scales: { x: { distr: 3, time: false }, y: { range: function (u, min, max) { return [0, Math.max(4.5, max)]; } } },
    yAxis: { values: function (u, ticks) { return ticks.map(function (t) { return t <= 0 ? '0' : Number((100 * (1 - Math.pow(10, -t))).toPrecision(Math.max(2, Math.ceil(t) + 1))) + '%'; }); } },
    draw: function (u) { marks.forEach(function (m) { hline(u, m[1], 'p' + m[0]); }); },
  });
  function ramp(series) { return series.reduce(function (a, s) { return Math.max(a, s.rampS); }, 0); }
  // One chart per direction (reads, writes, trims), one line per side; the end of the ramp marked.
  function overTime(kind, series, yLabel) {
    ['read', 'write', 'trim'].forEach(function (dir) {
      var mine = series.filter(function (s) { return s.dir === dir; });
      chart(kind + '-' + dir + '-chart', mine, 'time since the job started (s)', yLabel, { scales: { x: { time: false } }, draw: function (u) { var r = ramp(mine); if (r > 0) vline(u, r, 'end of ramp'); } });
    });
  }
  overTime('iops', data.iops, 'IOPS');
  overTime('bw', data.bw, 'bandwidth (MiB/s)');
  chart('pps-chart', data.pps, 'time since the app started (s)', 'packets per second', { scales: { x: { time: false } } });
})();
`;

const STYLE = `
:root { --bg: #ffffff; --fg: #1d2430; --muted: #5d6776; --grid: #d9dee6; --accent: #2f6fde; --row: #f4f6f9; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171c; --fg: #e6e9ee; --muted: #9aa4b2; --grid: #343a44; --accent: #7aa7ff; --row: #1c2027; } }
body { background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1.5rem; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h3 { font-size: 1rem; margin: 1rem 0 .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--grid); padding-bottom: .25rem; }
.muted, .note { color: var(--muted); } table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.summary { width: 100%; } th, td { padding: .3rem .6rem; text-align: right; border-bottom: 1px solid var(--grid); }
.scroll { overflow-x: auto; } table.summary td { white-space: nowrap; } table.summary thead th:nth-child(-n+2) { text-align: left; }
table.summary tbody tr:nth-child(odd) { background: var(--row); } th[scope=row], table.kv th { text-align: left; }
table.kv td { text-align: left; font-family: ui-monospace, monospace; font-size: .9em; }
.chart { min-height: 60px; margin: .5rem 0 1rem; } .empty { color: var(--muted); font-style: italic; }
details { margin: .4rem 0; } summary { cursor: pointer; }
.uplot, .u-legend { color: var(--fg); }
`;

/**
 * The over-time charts' places: one per direction that has series, and a line naming
 * every side without series (a peer that gives none), so no side is left out silently.
 */
function overTimeCharts(kind: 'iops' | 'bw', series: readonly TimeSeries[], noSeries: readonly string[]): string {
  if (!series.length) {
    return `<p class="empty">No per-interval samples in these results. vfio-node bench records them for every job (jobs[].vfio-node.series); fio's own JSON has none (fio writes them to log files: --write_iops_log, --write_bw_log).</p>`;
  }
  const dirs = DIRECTIONS.filter(([d]) => series.some((s) => s.dir === d));
  const charts = dirs.map(([d, heading]) => `<h3>${heading}</h3><div class="chart" id="${kind}-${d}-chart"></div>`).join('');
  const missing = noSeries.length ? `<p class="empty">No time series from this peer: ${noSeries.map(esc).join(', ')}.</p>` : '';
  return charts + missing;
}

const fmtBits = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(3)} Gbit/s` : `${(b / 1e6).toFixed(1)} Mbit/s`);

/** The packet apps' section: a packets-per-second chart and a table per port and direction. */
function packetSection(data: ReportData): string {
  const lines = data.packets ?? [];
  if (!lines.length) return '';
  const head = ['app, port, direction', 'seconds', 'frames', 'mean pps', 'peak pps', 'mean on the wire'];
  const body = lines.map((l) => {
    const s = packetLineSummary(l);
    const cells = [esc(l.label), String(l.pps.length), String(l.packets), fmtIops(s.meanPps), fmtIops(s.peakPps), fmtBits(s.meanBps)];
    return `<tr>${cells.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`;
  });
  return `<h2>Packets per second over time</h2>
<div class="chart" id="pps-chart"></div>
<table class="summary packets"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>
<p class="muted">One point per second as the app printed it; bits on the wire count each frame's FCS, preamble and gap (24 bytes).</p>`;
}

/** The block benchmark's sections (summary, latency, over time, options), when the files hold jobs. */
function blockSections(data: ReportData, charts: ChartData): string {
  if (!data.sides.length) return '';
  const empty = (what: string, how: string) => `<p class="empty">${esc(what)} ${esc(how)}</p>`;
  return `<h2>Summary</h2>
${summaryTable(data)}
${data.sides.length > 1 ? `<p class="muted">Ratios are ${esc(data.sides[0]!.label)}'s figure over the row's, in the same direction: above 1 means more IOPS, or more p99 latency, for ${esc(data.sides[0]!.label)}.</p>` : ''}
<h2>Completion latency</h2>
<div class="chart" id="latency-chart">${charts.latency.length ? '' : empty('No latency histogram in these results.', 'fio writes one with --output-format=json+ (vfio-node bench too).')}</div>
<h2>IOPS over time</h2>
<div id="iops-chart">${overTimeCharts('iops', charts.iops, charts.noSeries)}</div>
<h2>Bandwidth over time</h2>
<div id="bw-chart">${overTimeCharts('bw', charts.bw, charts.noSeries)}</div>
<h2>Jobs and their options</h2>
${optionsTables(data)}`;
}

/** The whole page, one string, nothing loaded from elsewhere. */
export function renderReportHtml(data: ReportData): string {
  const { js, css } = uplotAssets();
  const charts = chartData(data);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vfio-node report">
<title>${esc(data.title)}</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(data.title)}</h1>
<p class="muted">Made ${esc(data.generatedAt)} from ${data.sources.map((s) => `<code>${esc(s)}</code>`).join(', ')}.</p>
</header>
${blockSections(data, charts)}
${packetSection(data)}
<h2>Where it ran</h2>
${environmentTable(data)}
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script type="application/json" id="chart-data">${scriptJson(charts)}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
