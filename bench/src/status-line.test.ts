import { describe, expect, it } from 'vitest';
import type { JobProgress } from './job-runner.js';
import { etaToStr, StatusLine } from './status-line.js';

const p = (over: Partial<JobProgress>): JobProgress => ({ phase: 'run', rw: 'randread', bytes: [0, 0], ios: [0, 0], fraction: 0, etaSec: 0, ...over });

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
    const line = s.format([p({ bytes: [4096 * 10000, 0], ios: [10000, 0], fraction: 0.5, etaSec: 5 }), p({ phase: 'done', fraction: 1 })], 1);
    expect(line).toBe('Jobs: 1 (f=1): [r(1)_(1)][75.0%][r=39.1MiB/s][r=10.0k IOPS][eta 00m:05s]');
  });

  it('mixed jobs show both directions; sequential is upper case', () => {
    const line = new StatusLine().format([p({ rw: 'rw', bytes: [1 << 20, 1 << 20], ios: [256, 256], fraction: 0.1, etaSec: 60 })], 1);
    expect(line).toBe('Jobs: 1 (f=1): [M(1)][10.0%][r=1024KiB/s,w=1024KiB/s][r=256,w=256 IOPS][eta 01m:00s]');
  });
});
