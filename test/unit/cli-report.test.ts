// vfio-node report: saved results (fio's own json+, and a vfio-node comparison) into one
// HTML page; each bad input refused by name, nothing written for it.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run as report, writeReportPage } from '../../packages/cli/src/commands/report.js';

const FIXTURE = new URL('../../bench/src/fixtures/fio-3.33-randread-libaio-qd8.jsonplus.json', import.meta.url);

let out: string[];
let err: string[];
let dir: string;
beforeEach(() => {
  out = [];
  err = [];
  dir = mkdtempSync(join(tmpdir(), 'vfio-node-report-'));
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('vfio-node report', () => {
  it('writes the page next to the result by default and prints its path; the title says the job', async () => {
    const json = join(dir, 'fio-run.json');
    copyFileSync(FIXTURE, json);
    expect(await report([json])).toBe(0);
    const html = join(dir, 'fio-run.html');
    expect(out).toEqual([`Report: ${html}`]);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<title>vfio-node report: randread, bs=4k, iodepth=8</title>');
    expect(page).toContain('id="latency-chart"');
  });

  it('lays two files side by side under the names given', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    copyFileSync(FIXTURE, a);
    copyFileSync(FIXTURE, b);
    const html = join(dir, 'both.html');
    expect(await report(['--output', html, `before=${a}`, `after=${b}`])).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('before: fio');
    expect(page).toContain('after: fio');
    // Both have histograms: two latency curves.
    const charts = JSON.parse(/id="chart-data">(.*?)<\/script>/s.exec(page)![1]!);
    expect(charts.latency.map((l: { label: string }) => l.label)).toEqual(['before: fio read', 'after: fio read']);
  });

  it('refuses a missing file, a file that is not JSON and JSON that is not fio\'s, naming each, and writes nothing', async () => {
    const notJson = join(dir, 'x.json');
    writeFileSync(notJson, 'IOPS=5000');
    const notFio = join(dir, 'y.json');
    writeFileSync(notFio, '{"results": []}');
    const html = join(dir, 'out.html');
    expect(await report(['--output', html, join(dir, 'missing.json'), notJson, notFio])).toBe(1);
    expect(err).toEqual([
      `vfio-node report: ${join(dir, 'missing.json')}: no such file`,
      expect.stringMatching(new RegExp(`^vfio-node report: ${notJson}: not JSON .*--output-format=json`)),
      expect.stringMatching(new RegExp(`^vfio-node report: ${notFio} is not fio JSON output`)),
    ]);
    expect(existsSync(html)).toBe(false);
  });

  it('asks for a file when given none, and says where it cannot write', async () => {
    expect(await report([])).toBe(2);
    expect(err[0]).toContain('name at least one result file');
    const json = join(dir, 'r.json');
    copyFileSync(FIXTURE, json);
    expect(await report(['--output', join(dir, 'no/such/dir/r.html'), json])).toBe(1);
    expect(err[1]).toMatch(/cannot write .*no\/such\/dir\/r\.html.*choose another --output/);
  });

  it('npm start\'s page: beside the results with the same name, or null with the reason when they cannot be drawn', () => {
    const json = join(dir, 'main-20261203-070000.json');
    copyFileSync(FIXTURE, json);
    expect(writeReportPage(json)).toBe(join(dir, 'main-20261203-070000.html'));
    expect(readFileSync(join(dir, 'main-20261203-070000.html'), 'utf8')).toContain('<!doctype html>');
    const bad = join(dir, 'stopped.json');
    writeFileSync(bad, '{"jobs": []}');
    expect(writeReportPage(bad)).toBeNull();
    expect(err.at(-1)).toBe('vfio-node: no report page: the results hold no job with I/O to show');
  });

  it("draws a packet app's result file (net ... --output) beside a block result: a packets-per-second chart and table", async () => {
    const net = join(dir, 'count.json');
    const rates = [1, 2, 3].map((t) => ({ t, port: '0000:00:05.0', dir: 'rx', packets: 1000 * t, bytes: 64_000 * t, pps: 1000 * t, bps: 1000 * t * 88 * 8 }));
    writeFileSync(net, JSON.stringify({ 'vfio-node net': { version: 1, app: 'count', command: [], time: 'now', rates, summary: {} } }));
    const json = join(dir, 'fio-run.json');
    copyFileSync(FIXTURE, json);
    const html = join(dir, 'both.html');
    expect(await report([json, net, '--output', html])).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('id="pps-chart"');
    expect(page).toContain('count: count 0000:00:05.0 RX');
    expect(page).toContain('id="latency-chart"');
    // Alone, it makes a page of its own, titled after the app.
    expect(await report([net])).toBe(0);
    expect(readFileSync(join(dir, 'count.html'), 'utf8')).toContain('<title>vfio-node report: count</title>');
  });
});

