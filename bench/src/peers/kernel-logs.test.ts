import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobFile, resolveJobs } from '../jobfile.js';
import { kernelSeries } from './kernel-logs.js';

// The kernel peer's series from fio 3.33's own log files (written by this machine's fio).

const fioLines = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));

describe('kernelSeries', () => {
  it('reads the trims of fio\'s trimwrite logs (direction 2) into a trim series, the writes into a write series', () => {
    const lines = fioLines('fio-3.33-trimwrite-avg.log.txt');
    const files = new Map([[join('/scratch', 'kernel_iops.1.log'), lines.slice(0, 8).join('\n')], [join('/scratch', 'kernel_bw.1.log'), lines.slice(8).join('\n')]]);
    const o = resolveJobs(parseJobFile('[a]\nrw=trimwrite\nbs=4k\nlog_avg_msec=500\n')).jobs[0]!.options;
    const s = kernelSeries(o, '/scratch', (p) => files.get(p), [false, true, true])!;
    expect(s.intervalMs).toBe(500);
    expect(s.read).toBeUndefined();
    expect(s.write!.iops).toEqual([[500, 742678], [1000, 706838], [1500, 764673], [2000, 1077884]]);
    expect(s.trim!.iops).toEqual([[500, 742678], [1000, 706838], [1500, 764675], [2000, 1077882]]);
    // fio's bw log is in KiB/s; the series is in bytes per second.
    expect(s.trim!.bw[0]).toEqual([500, 2970712 * 1024]);
    // Without the trim direction asked for, there is no trim series (and the trims never land in reads).
    const rw = kernelSeries(o, '/scratch', (p) => files.get(p), [true, true])!;
    expect(rw.trim).toBeUndefined();
    expect(rw.read).toEqual({ iops: [], bw: [] });
  });
});
