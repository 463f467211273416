// Our logs against lines fio 3.33 wrote for the same options (bench/src/fixtures/
// fio-3.33-*.log.txt, made on this machine's fio with the command in each file's first
// line): the same columns in the same order, the same file names, and the values fio's
// formulas give for known completions.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FioJobLogs, parseFioLog, type FioLogOptions } from './fio-logs.js';
import { FIO_IO_U_PLAT_NR, platValToIdx } from './histogram.js';

const fioLines = (name: string): string[] =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));

/** A line's shape: its column count and which columns are integers. */
const shape = (line: string) => line.split(', ').map((c) => (/^\d+$/.test(c) ? 'int' : c));

const opts = (o: Partial<FioLogOptions>): FioLogOptions => ({ avgMsec: 0, histMsec: 0, logOffset: false, perJobLogs: true, ...o });

describe('per-I/O logs (no log_avg_msec)', () => {
  it('write "time, value, ddir, bs, prio" as fio does: clat in ns, IOPS 1 per I/O, bandwidth bytes*10^6/clat_ns', () => {
    const logs = new FioJobLogs(opts({ latPrefix: 'b', iopsPrefix: 'b', bwPrefix: 'b' }), 1);
    logs.complete(2.7, 0, 4096, 8192, 2_265_758, 2_300_000);
    logs.complete(5.1, 1, 4096, 0, 100_000, 110_000, 10_000);
    logs.finish(6);
    const files = Object.fromEntries(logs.files().map((f) => [f.name, f.text.trim().split('\n')]));
    expect(Object.keys(files)).toEqual(['b_bw.1.log', 'b_iops.1.log', 'b_lat.1.log', 'b_clat.1.log', 'b_slat.1.log']);
    expect(files['b_clat.1.log']).toEqual(['2, 2265758, 0, 4096, 0', '5, 100000, 1, 4096, 0']);
    expect(files['b_lat.1.log']![0]).toBe('2, 2300000, 0, 4096, 0');
    expect(files['b_iops.1.log']).toEqual(['2, 1, 0, 4096, 0', '5, 1, 1, 4096, 0']);
    expect(files['b_bw.1.log']![0]).toBe(`2, ${Math.floor((4096 * 1e6) / 2_265_758)}, 0, 4096, 0`);
    // Only the write had a submission latency: fio writes slat lines for I/Os that have one.
    expect(files['b_slat.1.log']).toEqual(['5, 10000, 1, 4096, 0']);
    // The same shape as fio's own lines, clat and iops alike.
    const [fioClat, , , fioIops] = fioLines('fio-3.33-per-io.log.txt');
    expect(shape(files['b_clat.1.log']![0]!)).toEqual(shape(fioClat!));
    expect(shape(files['b_iops.1.log']![0]!)).toEqual(shape(fioIops!));
  });

  it('with log_offset=1 put the offset before the priority, six columns as fio', () => {
    const logs = new FioJobLogs(opts({ latPrefix: 'c', logOffset: true }), 1);
    logs.complete(4, 0, 4096, 249856, 4_526_375, 4_600_000);
    const clat = logs.files().find((f) => f.name === 'c_clat.1.log')!.text.trim();
    expect(clat).toBe('4, 4526375, 0, 4096, 249856, 0');
    expect(shape(clat)).toEqual(shape(fioLines('fio-3.33-log-offset.log.txt')[0]!));
  });
});

describe('averaged logs (log_avg_msec)', () => {
  it('write one line per direction per window, reads before writes, the window\'s rate, bs 0, as fio', () => {
    const logs = new FioJobLogs(opts({ iopsPrefix: 'g', bwPrefix: 'g', latPrefix: 'g', avgMsec: 100 }), 1);
    // 30 reads and 20 writes of 4 KiB in the first 100 ms, then 10 reads until 200 ms.
    for (let i = 0; i < 30; i++) logs.complete(i * 3, 0, 4096, 0, 1000 + i, 1100 + i);
    for (let i = 0; i < 20; i++) logs.complete(i * 4 + 1, 1, 4096, 0, 2000, 2100);
    logs.tick(100);
    for (let i = 0; i < 10; i++) logs.complete(100 + i * 9, 0, 4096, 0, 500, 600);
    logs.finish(200);
    const f = Object.fromEntries(logs.files().map((x) => [x.name, x.text.trim().split('\n')]));
    expect(f['g_iops.1.log']).toEqual(['100, 300, 0, 0, 0', '100, 200, 1, 0, 0', '200, 100, 0, 0, 0']);
    expect(f['g_bw.1.log']![0]).toBe(`100, ${Math.floor((30 * 4096 * 1000) / 100 / 1024)}, 0, 0, 0`);
    // The mean of 1000..1029 is 1014.5: fio rounds it up.
    expect(f['g_clat.1.log']![0]).toBe('100, 1015, 0, 0, 0');
    const fio = fioLines('fio-3.33-avg-iops.log.txt');
    expect(fio.map((l) => l.split(', ')[2])).toEqual(['0', '1', '0', '1']); // fio too: read, then write, each window
    expect(shape(f['g_iops.1.log']![0]!)).toEqual(shape(fio[0]!));
  });
});

describe('the completion-latency histogram log (write_hist_log)', () => {
  it('writes "time, ddir, bs" and fio\'s 1856 bins with the interval\'s counts, as fio\'s line has', () => {
    const logs = new FioJobLogs(opts({ histPrefix: 'h', histMsec: 200 }), 1);
    for (let i = 0; i < 5; i++) logs.complete(10 + i, 0, 4096, 0, 150_000, 150_500);
    logs.tick(205); // the loop's tick between batches closes the interval
    logs.complete(250, 0, 4096, 0, 3_000_000, 3_000_500);
    logs.finish(300);
    const lines = logs.files()[0]!.text.trim().split('\n');
    expect(logs.files()[0]!.name).toBe('h_clat_hist.1.log');
    expect(lines).toHaveLength(2);
    const first = lines[0]!.split(', ').map(Number);
    const fio = fioLines('fio-3.33-clat-hist.log.txt')[0]!.split(', ');
    expect(first.length).toBe(fio.length);
    expect(first.length).toBe(3 + FIO_IO_U_PLAT_NR);
    expect(first.slice(0, 3)).toEqual([205, 0, 4096]);
    // The first interval holds the five 150 µs completions, in their bin; the second only the 3 ms one.
    expect(first[3 + platValToIdx(150_000)]).toBe(5);
    expect(first.slice(3).reduce((a, b) => a + b, 0)).toBe(5);
    const second = lines[1]!.split(', ').map(Number);
    expect(second.slice(3).reduce((a, b) => a + b, 0)).toBe(1);
    expect(second[3 + platValToIdx(3_000_000)]).toBe(1);
  });
});

describe('trims (fio\'s DDIR_TRIM: direction 2 in every log)', () => {
  it('per-I/O lines of a randtrim job are fio 3.33\'s own lines, given the same completions (bw from the clat, as fio)', () => {
    // fio's iops, clat and bw logs of 4 trims of 8 KiB (null engine), 4 lines each.
    const fio = fioLines('fio-3.33-randtrim-per-io.log.txt');
    expect(fio).toHaveLength(12);
    const [iops, clat, bw] = [fio.slice(0, 4), fio.slice(4, 8), fio.slice(8)];
    const logs = new FioJobLogs(opts({ iopsPrefix: 't', latPrefix: 't', bwPrefix: 't' }), 1);
    // The same completions: fio's times and clat, a lat longer than the clat (it must not be what bw uses).
    for (const line of clat) {
      const [t, ns] = line.split(', ').map(Number);
      logs.complete(t!, 2, 8192, 0, ns!, ns! + 700);
    }
    logs.finish(1);
    const f = Object.fromEntries(logs.files().map((x) => [x.name, x.text.trim().split('\n')]));
    expect(f['t_iops.1.log']).toEqual(iops);
    expect(f['t_clat.1.log']).toEqual(clat);
    expect(f['t_bw.1.log']).toEqual(bw);
  });

  it('averaged lines of a trimwrite job: per window the write, then the trim, as fio 3.33 writes them', () => {
    const fio = fioLines('fio-3.33-trimwrite-avg.log.txt').slice(0, 8);
    const logs = new FioJobLogs(opts({ iopsPrefix: 'a', bwPrefix: 'a', avgMsec: 500 }), 1);
    // trimwrite: each block trimmed, then written; 50 pairs in each 500 ms window.
    for (let w = 0; w < 4; w++) {
      for (let i = 0; i < 50; i++) {
        const t = w * 500 + i * 10;
        logs.complete(t, 2, 4096, 0, 300, 400);
        logs.complete(t + 1, 1, 4096, 0, 500, 600);
      }
      if (w < 3) logs.tick((w + 1) * 500);
    }
    logs.finish(2000);
    const ours = logs.files().find((x) => x.name === 'a_iops.1.log')!.text.trim().split('\n');
    const cols = (lines: string[]) => lines.map((l) => l.split(', ').filter((_, i) => i !== 1).join(', '));
    // Time, direction, bs 0, prio: column for column fio's, the write before the trim.
    expect(cols(ours)).toEqual(cols(fio));
    expect(ours.map(shape)).toEqual(fio.map(shape));
    // 50 I/Os in 500 ms of each direction.
    expect(ours.map((l) => l.split(', ')[1])).toEqual(Array(8).fill('100'));
    const bw = logs.files().find((x) => x.name === 'a_bw.1.log')!.text.trim().split('\n');
    expect(bw[1]).toBe(`500, ${Math.floor((50 * 4096 * 1000) / 500 / 1024)}, 2, 0, 0`);
  });

  it('reads fio\'s own trimwrite log back into write and trim series, nothing in read', () => {
    const fio = fioLines('fio-3.33-trimwrite-avg.log.txt');
    const iops = parseFioLog(fio.slice(0, 8).join('\n'));
    expect(iops.read).toEqual([]);
    expect(iops.write).toEqual([[500, 742678], [1000, 706838], [1500, 764673], [2000, 1077884]]);
    expect(iops.trim).toEqual([[500, 742678], [1000, 706838], [1500, 764675], [2000, 1077882]]);
    // A direction fio does not have is left out.
    expect(parseFioLog('5, 10, 3, 0, 0\n')).toEqual({ read: [], write: [], trim: [] });
  });
});

describe('names and reading back', () => {
  it('leaves the job number out with per_job_logs=0, and writes nothing for logs not asked for', () => {
    const logs = new FioJobLogs(opts({ bwPrefix: 'x', perJobLogs: false }), 3);
    expect(logs.files().map((f) => f.name)).toEqual(['x_bw.log']);
    expect(new FioJobLogs(opts({}), 1).enabled).toBe(false);
  });

  it('reads fio\'s own averaged IOPS log into read and write series', () => {
    const text = fioLines('fio-3.33-avg-iops.log.txt').join('\n');
    expect(parseFioLog(text)).toEqual({ read: [[147, 3074], [248, 1603]], write: [[147, 3306], [248, 1702]], trim: [] });
  });
});
