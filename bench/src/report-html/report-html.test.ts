// The HTML report from result files: fio 3.33's own json+ output (a fixture written by
// fio), and a vfio-node comparison; the page is self-contained and carries the data it
// draws, so the tests read that data back out of the page.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cdfFromBins, environmentFromFioJson, sidesFromFioJson, type ReportData } from './data.js';
import { chartData, renderReportHtml } from './page.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

function embedded(html: string, id: string): unknown {
  const m = new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`, 's').exec(html);
  if (!m) throw new Error(`no #${id} in the page`);
  return JSON.parse(m[1]!);
}

describe('report data from fio json+', () => {
  const doc = fixture('fio-3.33-randread-libaio-qd8.jsonplus.json');

  it('reads fio\'s own json+: IOPS, bandwidth, percentiles keyed as plain percents, and every histogram bin in order', () => {
    const [side, ...rest] = sidesFromFioJson(doc, 'fio.json');
    expect(rest).toEqual([]);
    expect(side!.label).toBe('fio');
    expect(side!.read!.iops).toBeCloseTo(4179.59, 1);
    expect(side!.read!.clatPercentilesNs['99']).toBe(12124160);
    expect(side!.read!.clatBins).toHaveLength(239);
    const values = side!.read!.clatBins.map(([ns]) => ns);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(side!.read!.clatBins.reduce((a, [, c]) => a + c, 0)).toBe((doc as any).jobs[0].read.total_ios);
    expect(side!.write).toBeUndefined(); // a read job: no write side
    expect(side!.options.iodepth).toBe('8');
    expect(environmentFromFioJson(doc)['written by']).toBe('fio-3.33');
  });

  it('refuses a file that is not fio JSON, saying how to write one', () => {
    expect(() => sidesFromFioJson({ hello: 1 }, 'x.json')).toThrow(/x\.json is not fio JSON output.*--output-format=json/);
  });

  it('a CDF from bins ends at 1 and never decreases', () => {
    const cdf = cdfFromBins([[100, 1], [200, 2], [400, 1]]);
    expect(cdf).toEqual([[100, 0.25], [200, 0.75], [400, 1]]);
  });
});

describe('a vfio-node comparison', () => {
  const doc = {
    'fio version': 'vfio-node-0.1.0',
    'global options': { ramp_time: '2' },
    jobs: [{
      jobname: 'randread-4k-qd32', 'job options': { rw: 'randread', bs: '4k', iodepth: '32' }, 'vfio-node': { target: '0000:00:03.0/1' },
      read: { iops: 30000, bw_bytes: 30000 * 4096, total_ios: 300000, lat_ns: { mean: 1000000 }, clat_ns: { percentile: { '50.000000': 900000, '99.000000': 3000000 }, bins: { '900000': 10, '3000000': 1 } } },
      write: { iops: 0, total_ios: 0 },
    }],
    'vfio-node compare': {
      peers: [
        { peer: 'vfio-node', label: 'vfio-node', command: [], read: { iops: 30000 } },
        { peer: 'kernel', label: 'kernel nvme + fio io_uring', command: ['fio', '--ioengine=io_uring'], read: { iops: 20000, bw_bytes: 20000 * 4096, ios: 200000, lat_mean_ns: 1500000, clat_p50_ns: 1400000, clat_p99_ns: 6000000 } },
        { peer: 'qemu', label: 'qemu-img bench', command: ['qemu-img', 'bench'], read: { iops: 10000 }, note: 'sequential only' },
      ],
    },
  };

  it('gives our side and one side per peer, the peers with their command and note, the ramp from the global options', () => {
    const sides = sidesFromFioJson(doc, 'main.json');
    expect(sides.map((s) => s.label)).toEqual(['vfio-node', 'kernel', 'qemu']);
    expect(sides[1]!.origin).toBe('kernel nvme + fio io_uring: fio --ioengine=io_uring');
    expect(sides[1]!.read!.clatPercentilesNs).toEqual({ '50': 1400000, '99': 6000000 });
    expect(sides[2]!.note).toBe('sequential only');
    expect(sides[0]!.rampMs).toBe(2000);
    expect(environmentFromFioJson(doc).device).toBe('0000:00:03.0/1');
  });

  it('labels each file\'s sides with the name given, so runs lie side by side', () => {
    expect(sidesFromFioJson(doc, 'a.json', 'before').map((s) => s.label)).toEqual(['before: vfio-node', 'before: kernel', 'before: qemu']);
  });

  it('renders one self-contained page: uPlot inlined, nothing fetched, the ratios against each peer, the data it draws', () => {
    const data: ReportData = { title: 'randread 4k QD32', generatedAt: '2026-12-03 06:30', sources: ['main.json'], sides: sidesFromFioJson(doc, 'main.json'), environment: environmentFromFioJson(doc) };
    const html = renderReportHtml(data);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('uPlot');
    // Self-contained: no element loads anything from a URL.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    // Two ratio columns, in each peer's row: 30000 / 20000 IOPS and 3 ms / 6 ms p99 against the kernel; 3x against qemu (no p99).
    expect(html).toContain('<th>IOPS ratio</th><th>p99 ratio</th></tr>');
    expect(html).toContain('<th scope="row">kernel</th><th scope="row">read</th><td>20.0k</td><td>78.1 MiB/s</td><td>1.50 ms</td><td>1.40 ms</td><td>6.00 ms</td><td>–</td><td>–</td><td>1.50x</td><td>0.50x</td></tr>');
    expect(html).toMatch(/<th scope="row">qemu<\/th>.*?<td>3\.00x<\/td><td>–<\/td><\/tr>/);
    // Our own row compares with nothing.
    expect(html).toMatch(/<th scope="row">vfio-node<\/th>.*?<td><\/td><td><\/td><\/tr>/);
    expect(html).toContain('prefers-color-scheme: dark');
    expect((embedded(html, 'report-data') as ReportData).sides).toHaveLength(3);
    const charts = embedded(html, 'chart-data') as ReturnType<typeof chartData>;
    // Only our side has bins: one latency curve, in µs, reaching p90 (1 nine) at the first bin (10 of 11 I/Os).
    expect(charts.latency.map((l) => l.label)).toEqual(['vfio-node read']);
    expect(charts.latency[0]!.points[0]![0]).toBe(900);
    expect(charts.latency[0]!.points[0]![1]).toBeCloseTo(-Math.log10(1 - 10 / 11), 6);
    // No logs: the time-series charts say how to get them.
    expect(charts.iops).toEqual([]);
    expect(html).toContain('--write_iops_log');
  });

  it('escapes what the results say (a job name cannot inject markup or end the data script)', () => {
    const evil = structuredClone(doc) as any;
    evil.jobs[0]['job options'].name = '</script><img src=x onerror=alert(1)>';
    const data: ReportData = { title: '<b>t</b>', generatedAt: 'now', sources: ['e.json'], sides: sidesFromFioJson(evil, 'e.json'), environment: {} };
    const html = renderReportHtml(data);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;b&gt;t&lt;/b&gt;');
    expect((embedded(html, 'report-data') as ReportData).sides[0]!.options.name).toBe('</script><img src=x onerror=alert(1)>');
  });

  it('draws IOPS and bandwidth over time per direction, one line per side with series, the kernel\'s bins beside ours, and names the peer without series', () => {
    const withSeries = structuredClone(doc) as any;
    withSeries.jobs[0]['vfio-node'].series = { interval_ms: 1000, ramp_ms: 2000, read: { iops: [[1000, 100], [2000, 200], [3000, 30000]], bw_bytes: [[1000, 409600], [2000, 819200], [3000, 30000 * 4096]] } };
    const kernel = withSeries['vfio-node compare'].peers[1];
    kernel.read.clat_bins = { '1000000': 90, '2000000': 9, '8000000': 1 };
    kernel.series = { interval_ms: 1000, ramp_ms: 2000, read: { iops: [[3000, 20000]], bw_bytes: [[3000, 20000 * 4096]] } };
    const sides = sidesFromFioJson(withSeries, 'main.json');
    expect(sides[0]!.read!.iopsSeries).toEqual([[1000, 100], [2000, 200], [3000, 30000]]);
    expect(sides[0]!.rampMs).toBe(2000);
    // The kernel's marked percentiles the compare object lacks come from its bins.
    expect(sides[1]!.read!.clatPercentilesNs).toEqual({ '50': 1400000, '99': 6000000, '99.9': 8000000, '99.99': 8000000 });
    const data: ReportData = { title: 't', generatedAt: 'now', sources: ['main.json'], sides, environment: {} };
    const charts = chartData(data);
    expect(charts.iops.map((s) => [s.label, s.dir])).toEqual([['vfio-node read', 'read'], ['kernel read', 'read']]);
    expect(charts.bw[1]!.points).toEqual([[3, (20000 * 4096) / 1048576]]);
    expect(charts.iops[0]!.rampS).toBe(2);
    expect(charts.latency.map((l) => l.label)).toEqual(['vfio-node read', 'kernel read']);
    expect(charts.noSeries).toEqual(['qemu']);
    const html = renderReportHtml(data);
    expect(html).toContain('id="iops-read-chart"');
    expect(html).toContain('id="bw-read-chart"');
    // A read job: no write charts.
    expect(html).not.toContain('id="iops-write-chart"');
    expect(html).toContain('No time series from this peer: qemu.');
  });

  it('a trimwrite job: trims get their row, their latency curve and their own IOPS and bandwidth charts beside the writes', () => {
    const tw = structuredClone(doc) as any;
    const job = tw.jobs[0];
    job.write = { ...job.read, iops: 900, total_ios: 9000 };
    job.trim = { ...job.read, iops: 901, total_ios: 9010 };
    job.read = { ...job.read, iops: 0, total_ios: 0 };
    job['vfio-node'].series = {
      interval_ms: 1000, ramp_ms: 0,
      write: { iops: [[1000, 900], [2000, 880]], bw_bytes: [[1000, 900 * 4096], [2000, 880 * 4096]] },
      trim: { iops: [[1000, 901], [2000, 879]], bw_bytes: [[1000, 901 * 4096], [2000, 879 * 4096]] },
    };
    delete tw['vfio-node compare'];
    const sides = sidesFromFioJson(tw, 'tw.json');
    expect(sides).toHaveLength(1);
    expect(sides[0]!.read).toBeUndefined();
    expect(sides[0]!.trim!.iops).toBe(901);
    expect(sides[0]!.trim!.iopsSeries).toEqual([[1000, 901], [2000, 879]]);
    const data: ReportData = { title: 't', generatedAt: 'now', sources: ['tw.json'], sides, environment: {} };
    const charts = chartData(data);
    expect(charts.iops.map((x) => [x.label, x.dir])).toEqual([['vfio-node write', 'write'], ['vfio-node trim', 'trim']]);
    expect(charts.bw.find((x) => x.dir === 'trim')!.points).toEqual([[1, (901 * 4096) / 1048576], [2, (879 * 4096) / 1048576]]);
    expect(charts.latency.map((l) => l.label)).toEqual(['vfio-node write', 'vfio-node trim']);
    const html = renderReportHtml(data);
    for (const id of ['iops-write-chart', 'iops-trim-chart', 'bw-write-chart', 'bw-trim-chart']) expect(html).toContain(`id="${id}"`);
    expect(html).not.toContain('id="iops-read-chart"');
    expect(html).toContain('<h3>Trims</h3>');
    expect(html).toMatch(/<th scope="row">vfio-node<\/th><th scope="row">trim<\/th><td>901<\/td>/);
  });
});


describe("a packet app's result file", () => {
  const doc = {
    'vfio-node net': {
      version: 1, app: 'count', command: ['vfio-node', 'net', 'count', '0000:00:05.0'], time: '2026-12-03T10:00:00.000Z',
      rates: [
        { t: 1, port: '0000:00:05.0', dir: 'rx', packets: 90000, bytes: 5_400_000, pps: 90000, bps: 60_480_000 },
        { t: 2.01, port: '0000:00:05.0', dir: 'rx', packets: 110000, bytes: 6_600_000, pps: 108911, bps: 73_180_000 },
      ],
      summary: { app: 'count', packets: 200000 },
    },
  };

  it('gives a line per port and direction, with its packets per second over time and a summary', async () => {
    const { isPacketResult, packetLinesFromJson, packetLineSummary } = await import('./packets.js');
    expect(isPacketResult(doc)).toBe(true);
    expect(isPacketResult({ jobs: [] })).toBe(false);
    const [line, ...rest] = packetLinesFromJson(doc, 'count.json');
    expect(rest).toEqual([]);
    expect(line!.label).toBe('count 0000:00:05.0 RX');
    expect(line!.pps).toEqual([[1, 90000], [2.01, 108911]]);
    expect(line!.packets).toBe(200000);
    expect(packetLineSummary(line!)).toEqual({ meanPps: 99455.5, peakPps: 108911, meanBps: 66_830_000 });
    expect(() => packetLinesFromJson({ 'vfio-node net': { app: 'pktgen', rates: [] } }, 'short.json')).toThrow(/short\.json: the packet app recorded no per-second rate/);
  });

  it('renders a packets-per-second chart and a table, and no block-benchmark sections when there is no job', async () => {
    const { packetLinesFromJson } = await import('./packets.js');
    const data: ReportData = { title: 'count', generatedAt: 'now', sources: ['count.json'], sides: [], environment: {}, packets: packetLinesFromJson(doc, 'count.json') };
    const html = renderReportHtml(data);
    expect(html).toContain('id="pps-chart"');
    expect(html).toContain('<th scope="row">count 0000:00:05.0 RX</th><td>2</td><td>200000</td><td>99.5k</td><td>108.9k</td><td>66.8 Mbit/s</td>');
    expect(html).not.toContain('id="latency-chart"');
    const charts = embedded(html, 'chart-data') as ReturnType<typeof chartData>;
    expect(charts.pps).toEqual([{ label: 'count 0000:00:05.0 RX', points: [[1, 90000], [2.01, 108911]] }]);
  });
});
