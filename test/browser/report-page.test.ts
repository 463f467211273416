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
// - both files side by side, each under a name.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as report } from '../../packages/cli/src/commands/report.js';
import { launchChromium, openPage, type PageFacts } from './inspect-page.js';
import { embeddedSeriesLabels, pageProblems } from './page-problems.js';

const OUT = fileURLToPath(new URL('../../test-output/report/', import.meta.url));
const FIO = fileURLToPath(new URL('../../bench/src/fixtures/fio-3.33-randread-libaio-qd8.jsonplus.json', import.meta.url));
const COMPARE = fileURLToPath(new URL('./fixtures/bench-randread-compare-kernel-qemu.json', import.meta.url));

interface Case {
  name: string;
  /** `vfio-node report` arguments, without --output. */
  args: string[];
  /** Series that a drawn chart's legend must show (the latency CDFs: only sides with json+ bins have one). */
  legend: string[];
  /** The sides of the summary table, in order. */
  sides: string[];
}

const CASES: Case[] = [
  { name: 'fio-jsonplus', args: [FIO], legend: ['fio read'], sides: ['fio'] },
  { name: 'bench-compare', args: [COMPARE], legend: ['vfio-node read'], sides: ['vfio-node', 'kernel', 'qemu'] },
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

describe.each(CASES)('the report of $name in headless Chromium', ({ name, args, legend, sides }) => {
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
