// The HTML report in a real browser (Debian's headless Chromium): `vfio-node report` draws
// pages from saved results, each is opened from its file in light and in dark mode, and
// every chart on it must have drawn (its canvas holds its axes in the page's text colour and
// each legend series' colour), with no console error, no uncaught exception and no request
// (the page is self-contained). Screenshots go to test-output/report/, and their paths are
// printed. The results:
// - fio 3.33's own json+ (bench/src/fixtures, written by fio in the lab);
// - vfio-node bench with --compare=kernel,qemu, from one lab run under TCG (fixtures/):
//   `vfio-node bench --name=randread-4k-qd8 --rw=randread --bs=4k --iodepth=8 --runtime=3
//   --time_based --compare=kernel,qemu --output-format=json+ --output=FILE`;
// - a trimwrite job on fio's null engine (fixtures/bench-null-trimwrite.json: `vfio-node bench
//   --name=tw --ioengine=null --rw=trimwrite --bs=4k --size=16m --time_based --runtime=3
//   --output-format=json+`, 2026-12-03): writes and trims, each over time;
// - the main job's results as `npm start` wrote them (fixtures/main-randread-4k-qd32-compare.json:
//   `vfio-node main --output=FILE` in the lab under TCG, 2026-12-03: four engines, time series);
// - both files side by side, each under a name.
// Where things are, at 1280 px wide: every text drawn on a chart (tick labels, axis titles, the
// percentile markers) apart from the others and inside its canvas, the summary's figures each
// on one line, no table wider than its box and the page no wider than the window (at 800 px too).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as report } from '../../packages/cli/src/commands/report.js';
import { launchChromium, openPage, type CanvasFacts, type PageFacts, type TextBox } from './inspect-page.js';
import { embeddedSeriesLabels, pageProblems } from './page-problems.js';

const OUT = fileURLToPath(new URL('../../test-output/report/', import.meta.url));
const FIO = fileURLToPath(new URL('../../bench/src/fixtures/fio-3.33-randread-libaio-qd8.jsonplus.json', import.meta.url));
const COMPARE = fileURLToPath(new URL('./fixtures/bench-randread-compare-kernel-qemu.json', import.meta.url));
const MAIN = fileURLToPath(new URL('./fixtures/main-randread-4k-qd32-compare.json', import.meta.url));
const TRIMWRITE = fileURLToPath(new URL('./fixtures/bench-null-trimwrite.json', import.meta.url));

interface Case {
  name: string;
  /** `vfio-node report` arguments, without --output. */
  args: string[];
  /** Series that a drawn chart's legend must show (the latency CDFs: only sides with json+ bins have one). */
  legend: string[];
  /** The sides of the summary table, in order. */
  sides: string[];
  /** The summary's rows (one per side and direction), when not one per side. */
  rows?: number;
}

const CASES: Case[] = [
  { name: 'fio-jsonplus', args: [FIO], legend: ['fio read'], sides: ['fio'] },
  { name: 'bench-compare', args: [COMPARE], legend: ['vfio-node read'], sides: ['vfio-node', 'kernel', 'qemu'] },
  { name: 'main-job', args: [MAIN], legend: ['vfio-node read', 'kernel read'], sides: ['vfio-node', 'vfio-runtime', 'kernel', 'qemu'] },
  // Writes and trims, each with its own over-time charts.
  { name: 'bench-trimwrite', args: [TRIMWRITE], legend: ['vfio-node write', 'vfio-node trim'], sides: ['vfio-node'], rows: 2 },
  {
    name: 'side-by-side',
    args: [`fio-libaio=${FIO}`, `lab=${COMPARE}`],
    legend: ['fio-libaio: fio read', 'lab: vfio-node read'],
    sides: ['fio-libaio: fio', 'lab: vfio-node', 'lab: kernel', 'lab: qemu'],
  },
];

let browser: Promise<Browser> | undefined;
// Launched by the first test that needs it, so that a missing Chromium fails every test by name.
const chromium = (): Promise<Browser> => (browser ??= launchChromium());

beforeAll(() => mkdirSync(OUT, { recursive: true }));
afterAll(async () => {
  const b = await browser?.catch(() => undefined);
  await b?.close();
});

const legends = (f: PageFacts): string[] => f.containers.flatMap((c) => c.series.filter((s) => s.color).map((s) => s.label));

describe.each(CASES)('the report of $name in headless Chromium', ({ name, args, legend, sides, rows }) => {
  const html = join(OUT, `${name}.html`);
  beforeAll(async () => {
    expect(await report(['--output', html, ...args])).toBe(0);
  });

  it.each(['light', 'dark'] as const)('%s mode: every chart drew with its series, no console error, nothing fetched; screenshot saved', async (scheme) => {
    const png = join(OUT, `${name}-${scheme}.png`);
    const facts = await openPage(await chromium(), html, { colorScheme: scheme, screenshot: png });
    console.log(`screenshot: ${png}`);
    expect(pageProblems(facts, scheme)).toEqual([]);
    expect(facts.containers.filter((c) => c.state === 'drawn').length).toBeGreaterThan(0);
    expect(legends(facts)).toEqual(expect.arrayContaining(legend));
    // Every series the page carries data for is in some chart's legend.
    expect(legends(facts)).toEqual(expect.arrayContaining(embeddedSeriesLabels(readFileSync(html, 'utf8'))));
    expect(facts.tableSides).toEqual(sides);
    // The layout checks in pageProblems saw what they judge: the latency chart's texts, the summary's cells.
    const latency = facts.canvases.find((c) => c.owner === 'latency-chart')!;
    expect(latency.texts.map((t) => t.text)).toEqual(expect.arrayContaining(['p50', 'p99', 'p99.9', 'p99.99', '99%', '99.9%', '99.99%', 'percentile']));
    expect(facts.cells.filter((c) => c.table === 'summary').length).toBe((rows ?? sides.length) * 7 + (sides.length > 1 ? sides.length * 2 : 0));
  });
});

// The three defects of issue 15, measured where they were seen (the side-by-side page at 1280 px).
describe('the layout of a report page: 1280 px, and 800 px', () => {
  const html = join(OUT, 'layout.html');
  let facts: PageFacts;
  beforeAll(async () => {
    expect(await report(['--output', html, `fio-libaio=${FIO}`, `lab=${COMPARE}`])).toBe(0);
    facts = await openPage(await chromium(), html, { colorScheme: 'light', screenshot: join(OUT, 'layout.png'), width: 1280 });
  });
  const latency = (): CanvasFacts => facts.canvases.find((c) => c.owner === 'latency-chart')!;
  const apart = (a: TextBox, b: TextBox): boolean => a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;

  it('the percentile markers\' labels (p50 to p99.99) stay clear of the y axis\' tick labels', () => {
    const markers = latency().texts.filter((t) => /^p\d/.test(t.text));
    const yTicks = latency().texts.filter((t) => /%$/.test(t.text));
    expect(markers.map((t) => t.text)).toEqual(['p50', 'p99', 'p99.9', 'p99.99']);
    expect(yTicks.length).toBeGreaterThanOrEqual(4);
    for (const m of markers) for (const y of yTicks) expect(apart(m, y), `${m.text} against ${y.text}`).toBe(true);
  });

  it('the last x axis tick label ends inside the chart\'s canvas', () => {
    // The x tick labels: the bottom row of numbers.
    const numbers = latency().texts.filter((t) => /^\d[\d,]*$/.test(t.text));
    const row = Math.max(...numbers.map((t) => t.top));
    const xTicks = numbers.filter((t) => Math.abs(t.top - row) < 1).sort((a, b) => a.left - b.left);
    const last = xTicks.at(-1)!;
    expect(last.text).toBe('1,000,000');
    expect(last.right).toBeLessThanOrEqual(latency().cssWidth);
  });

  it('the ratio columns of the summary hold one line per cell, and the table fits the page', () => {
    // Every cell with a ratio in it ("8.92x"), whatever the columns: one line each.
    const withRatio = facts.cells.filter((c) => c.table === 'summary' && /\d\.\d\dx/.test(c.text));
    expect(withRatio.length).toBeGreaterThanOrEqual(3);
    expect(withRatio.filter((c) => c.lines !== 1)).toEqual([]);
    // Two ratio columns, one ratio per cell, in the row of the side it compares with.
    const ratios = facts.cells.filter((c) => c.table === 'summary' && c.column.endsWith('ratio'));
    expect(ratios.map((c) => [c.column, c.text])).toEqual([
      ['IOPS ratio', ''], ['p99 ratio', ''],
      ['IOPS ratio', '8.92x'], ['p99 ratio', '0.13x'],
      ['IOPS ratio', '2.44x'], ['p99 ratio', '0.17x'],
      ['IOPS ratio', '0.65x'], ['p99 ratio', '–'],
    ]);
    expect(ratios.filter((c) => c.text).every((c) => c.lines === 1)).toBe(true);
    // At 1280 px the summary needs no scrolling.
    expect(facts.overflowingTables).toEqual([]);
  });

  it('on a narrow window (800 px) the summary scrolls sideways in its own box and the page does not', async () => {
    const narrow = await openPage(await chromium(), html, { colorScheme: 'light', screenshot: join(OUT, 'layout-800.png'), width: 800 });
    expect(pageProblems(narrow, 'light')).toEqual([]);
    expect(narrow.overflowingTables).toEqual([{ table: 'summary', by: expect.any(Number), scrolls: true }]);
    expect(narrow.pageOverflow).toBe(0);
  });
});

// The checks themselves: pages that are broken on purpose must be reported, each fault by name.
describe('the browser checks catch a broken page', () => {
  it('a console error, an uncaught exception, a request, a blank container, an empty canvas, an empty SVG, a page that ignores dark mode', async () => {
    const html = join(OUT, 'control-broken.html');
    writeFileSync(html, `<!doctype html><html><head><meta charset="utf-8"><style>body { background: #fff; color: #222; }</style></head><body>
<div class="chart" id="nothing"></div>
<div class="chart" id="unpainted"><canvas width="300" height="100"></canvas></div>
<div class="chart" id="shapeless"><svg width="100" height="50"></svg></div>
<div class="chart" id="explained"><p class="empty">No samples.</p></div>
<img src="no-such-image.png" alt="">
<script>console.error('boom');</script>
<script>throw new Error('script failure');</script>
</body></html>`);
    const facts = await openPage(await chromium(), html, { colorScheme: 'dark', screenshot: join(OUT, 'control-broken.png') });
    const problems = pageProblems(facts, 'dark');
    expect(problems).toEqual(expect.arrayContaining([
      'the browser logged an error: console.error: boom',
      'the browser logged an error: uncaught: script failure',
      expect.stringMatching(/^the page requested file:.*no-such-image\.png/),
      'chart #nothing is blank: no canvas, no SVG and no note saying why',
      'a canvas in #unpainted is empty: not one pixel drawn',
      'an SVG in #shapeless is empty: no visible shape',
      'opened in dark mode, the page\'s background rgb(255, 255, 255) is light',
    ]));
    expect(problems.join('\n')).not.toContain('#explained');
  });

  it('two texts drawn over each other on a chart, a text cut off at its edge, a figure that wraps, a table wider than its box and the window', async () => {
    const html = join(OUT, 'control-layout.html');
    writeFileSync(html, `<!doctype html><html><head><meta charset="utf-8"><style>body { background: #fff; color: #222; margin: 0; width: 600px; } td { padding: 0 4px; }</style></head><body>
<div class="chart" id="crowded"><canvas width="300" height="100"></canvas></div>
<table class="summary"><thead><tr><th>side</th><th>IOPS ratio</th></tr></thead><tbody><tr><th>a</th><td style="width: 3em">IOPS 8.92x, p99 0.13x</td></tr></tbody></table>
<table class="kv" style="width: 1500px"><tbody><tr><td>wide</td></tr></tbody></table>
<script>
var c = document.querySelector('canvas').getContext('2d');
c.fillStyle = '#222'; c.font = '12px sans-serif';
c.fillText('99.99%', 10, 50); c.fillText('p99.99', 30, 50);
c.textAlign = 'center'; c.fillText('1,000,000', 300, 90);
c.fillRect(0, 0, 300, 2);
</script>
</body></html>`);
    const facts = await openPage(await chromium(), html, { colorScheme: 'light', screenshot: join(OUT, 'control-layout.png') });
    const problems = pageProblems(facts, 'light');
    expect(problems).toEqual(expect.arrayContaining([
      'chart #crowded: "99.99%" and "p99.99" overlap',
      expect.stringMatching(/^chart #crowded: "1,000,000" is cut off at the right edge \(\d+\.\d px beyond the canvas\)$/),
      expect.stringMatching(/^table\.summary: the cell "IOPS 8\.92x, p99 0\.13x" \(column "IOPS ratio"\) wraps onto [2-9] lines$/),
      expect.stringMatching(/^table\.kv is \d+ px wider than its box, which does not scroll$/),
      expect.stringMatching(/^the page is \d+ px wider than the window: it scrolls sideways$/),
    ]));
  });

  it('a series that is in the legend but drew no line (its data gutted from a real report page)', async () => {
    const original = join(OUT, 'control-gutted-original.html');
    expect(await report(['--output', original, `fio-libaio=${FIO}`, `lab=${COMPARE}`])).toBe(0);
    const good = readFileSync(original, 'utf8');
    const m = /(<script type="application\/json" id="chart-data">)(.*?)(<\/script>)/s.exec(good)!;
    const charts = JSON.parse(m[2]!) as { latency: { label: string; points: unknown[] }[] };
    const gutted = charts.latency.find((l) => l.label === 'lab: vfio-node read')!;
    gutted.points = [];
    const html = join(OUT, 'control-gutted.html');
    writeFileSync(html, good.replace(m[0], `${m[1]}${JSON.stringify(charts).replace(/</g, '\\u003c')}${m[3]}`));
    const facts = await openPage(await chromium(), html, { colorScheme: 'light', screenshot: join(OUT, 'control-gutted.png') });
    expect(pageProblems(facts, 'light')).toEqual([expect.stringMatching(/^chart #latency-chart: series "lab: vfio-node read" \(rgb\(224, 98, 42\)\) is in the legend but only \d+ pixels/)]);
  });
});
