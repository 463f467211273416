import { describe, expect, it } from 'vitest';
import type { JobProgress } from './job-runner.js';
import { etaToStr, StatusLine, statusLineWanted } from './status-line.js';

const p = (over: Partial<JobProgress>): JobProgress => ({ phase: 'run', rw: 'randread', bytes: [0, 0, 0], ios: [0, 0, 0], fraction: 0, etaSec: 0, ...over });

describe('status line', () => {
  it("fio's eta format", () => {
    expect(etaToStr(5)).toBe('00m:05s');
    expect(etaToStr(65)).toBe('01m:05s');
    expect(etaToStr(3725)).toBe('01h:02m:05s');
    expect(etaToStr(90061)).toBe('1d:01h:01m:01s');
  });

  it('jobs, run string, percent, rates since the last line, eta', () => {
    const s = new StatusLine();
    s.format([p({}), p({})], 0);
    const line = s.format([p({ bytes: [4096 * 10000, 0, 0], ios: [10000, 0, 0], fraction: 0.5, etaSec: 5 }), p({ phase: 'done', fraction: 1 })], 1);
    expect(line).toBe('Jobs: 1 (f=1): [r(1)_(1)][75.0%][r=39.1MiB/s][r=10.0k IOPS][eta 00m:05s]');
  });

  it('mixed jobs show both directions; sequential is upper case', () => {
    const line = new StatusLine().format([p({ rw: 'rw', bytes: [1 << 20, 1 << 20, 0], ios: [256, 256, 0], fraction: 0.1, etaSec: 60 })], 1);
    expect(line).toBe('Jobs: 1 (f=1): [M(1)][10.0%][r=1024KiB/s,w=1024KiB/s][r=256,w=256 IOPS][eta 01m:00s]');
  });

  it("trims: trimwrite is a write job with t= rates (fio 3.33 printed '[W(1)][-.-%][w=196KiB/s,t=200KiB/s][w=49,t=50 IOPS]'), randtrim is d", () => {
    const tw = new StatusLine().format([p({ rw: 'trimwrite', bytes: [0, 196 * 1024, 200 * 1024], ios: [0, 49, 50], fraction: 0.5, etaSec: 1 })], 1);
    expect(tw).toBe('Jobs: 1 (f=1): [W(1)][50.0%][w=196KiB/s,t=200KiB/s][w=49,t=50 IOPS][eta 00m:01s]');
    const rt = new StatusLine().format([p({ rw: 'randtrim', bytes: [0, 0, 4096 * 100], ios: [0, 0, 100], fraction: 0.5, etaSec: 1 })], 1);
    expect(rt).toBe('Jobs: 1 (f=1): [d(1)][50.0%][t=400KiB/s][t=100 IOPS][eta 00m:01s]');
  });
});

describe('status line over jobs that publish on their own clock', () => {
  it('rates are per job over its atSec, summed; a job with nothing new keeps its last rate', () => {
    const s = new StatusLine();
    s.format([p({ phase: 'init' }), p({ phase: 'init' })], 0);
    // Job 0 published at 0.8 s of its clock, job 1 at 0.4 s; the line is drawn at 1 s.
    const a = s.format([
      p({ bytes: [4096 * 8000, 0, 0], ios: [8000, 0, 0], atSec: 0.8, fraction: 0.2, etaSec: 4 }),
      p({ bytes: [4096 * 2000, 0, 0], ios: [2000, 0, 0], atSec: 0.4, fraction: 0.1, etaSec: 9 }),
    ], 1);
    // 10000 + 5000 IOPS: each job's count over its own time, not over the 1 s of the timer.
    expect(a).toBe('Jobs: 2 (f=2): [r(2)][15.0%][r=58.6MiB/s][r=15.0k IOPS][eta 00m:09s]');
    // Job 1 did not publish again: it keeps 5000 IOPS; job 0 did 4000 more over 0.5 s.
    const b = s.format([
      p({ bytes: [4096 * 12000, 0, 0], ios: [12000, 0, 0], atSec: 1.3, fraction: 0.3, etaSec: 3 }),
      p({ bytes: [4096 * 2000, 0, 0], ios: [2000, 0, 0], atSec: 0.4, fraction: 0.1, etaSec: 9 }),
    ], 2);
    expect(b).toBe('Jobs: 2 (f=2): [r(2)][20.0%][r=50.8MiB/s][r=13.0k IOPS][eta 00m:09s]');
  });

  it('jobs not started yet show I and do not count as running; done jobs add no rate', () => {
    const s = new StatusLine();
    s.format([p({ phase: 'init' }), p({})], 0);
    const line = s.format([p({ phase: 'init' }), p({ phase: 'done', ios: [100, 0, 0], bytes: [409600, 0, 0], fraction: 1, atSec: 1 })], 1);
    expect(line).toBe('Jobs: 0 (f=0): [I(1)_(1)][50.0%][r=0KiB/s][r=0 IOPS][eta 00m:00s]');
  });
});

describe("--eta (fio's skip_eta())", () => {
  const tty = { normal: true, toStdout: true, isTTY: true };
  it('auto: only on a terminal', () => {
    expect(statusLineWanted('auto', tty)).toBe(true);
    expect(statusLineWanted('auto', { ...tty, isTTY: false })).toBe(false);
    // The report goes to a file: the terminal still gets the status line.
    expect(statusLineWanted('auto', { normal: false, toStdout: false, isTTY: true })).toBe(true);
  });
  it('always: also to a pipe; never: not even on a terminal', () => {
    expect(statusLineWanted('always', { ...tty, isTTY: false })).toBe(true);
    expect(statusLineWanted('never', tty)).toBe(false);
  });
  it('never with a JSON report on stdout, even with always (the JSON must parse)', () => {
    expect(statusLineWanted('always', { normal: false, toStdout: true, isTTY: true })).toBe(false);
    expect(statusLineWanted('always', { normal: false, toStdout: false, isTTY: false })).toBe(true);
  });
});
