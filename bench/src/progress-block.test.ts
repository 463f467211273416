import { describe, expect, it, vi } from 'vitest';
import { resolveJobs, parseJobFile } from './jobfile.js';
import { NullTarget } from './null-target.js';
import { pollProgress, ProgressBlock } from './progress-block.js';
import { runJobWithProgress } from './worker-job.js';

const job = (text: string) => resolveJobs(parseJobFile(text)).jobs[0]!;

describe('progress block (shared memory between a worker job and the main thread)', () => {
  it('round-trips a job’s counters through a second view of the same SharedArrayBuffer', () => {
    const worker = new ProgressBlock();
    const main = new ProgressBlock(worker.buffer);
    expect(ProgressBlock.BYTES).toBe(88);
    expect(main.updates).toBe(0);
    expect(main.read('randrw')).toEqual({ phase: 'init', rw: 'randrw', bytes: [0, 0, 0], ios: [0, 0, 0], fraction: 0, etaSec: 0, atSec: 0 });
    // Above 2^32 bytes, to show the counters are 64-bit.
    worker.publish({ phase: 'verify', rw: 'randrw', bytes: [6 * 2 ** 32, 4096, 8192], ios: [3 * 2 ** 21, 1, 2], fraction: 0.4567891, etaSec: 12.3456, atSec: 0 }, 2.5);
    expect(main.updates).toBe(1);
    expect(main.read('randrw')).toEqual({ phase: 'verify', rw: 'randrw', bytes: [6 * 2 ** 32, 4096, 8192], ios: [3 * 2 ** 21, 1, 2], fraction: 0.456789, etaSec: 12.346, atSec: 2.5 });
  });

  it('the stop word goes from the main thread to the job', () => {
    const main = new ProgressBlock();
    const worker = new ProgressBlock(main.buffer);
    expect(worker.stopRequested).toBe(false);
    main.requestStop();
    expect(worker.stopRequested).toBe(true);
  });

  it('refuses a buffer that is not shared or too small', () => {
    expect(() => new ProgressBlock(new ArrayBuffer(72) as unknown as SharedArrayBuffer)).toThrow(TypeError);
    expect(() => new ProgressBlock(new SharedArrayBuffer(16))).toThrow(/88 bytes/);
  });
});

describe('a job run with a progress block', () => {
  it('publishes while it runs, stops early on the stop word and still returns what it did', async () => {
    const block = new ProgressBlock();
    const main = new ProgressBlock(block.buffer);
    const seen: number[] = [];
    const t0 = performance.now();
    const timer = setInterval(() => seen.push(main.read('randread').ios[0]), 100);
    setTimeout(() => main.requestStop(), 700);
    const r = await runJobWithProgress(job('[s]\nrw=randread\nbs=4k\nsize=64m\ntime_based\nruntime=60\niodepth=8\n'), new NullTarget(64 << 20), block);
    clearInterval(timer);
    const took = performance.now() - t0;
    // A 60 s job that was told to stop at 0.7 s: it ends at the next progress tick.
    expect(took).toBeLessThan(3000);
    expect(r).not.toBeNull();
    const d = r!.stat.dir[0];
    expect(d.totalIos).toBeGreaterThan(0);
    expect(d.runtimeMs).toBeGreaterThanOrEqual(500);
    expect(d.runtimeMs).toBeLessThan(3000);
    // The main thread saw the counters grow while the job ran, a few times a second.
    expect(main.updates).toBeGreaterThanOrEqual(2);
    expect(seen.some((n) => n > 0)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const last = main.read('randread');
    expect(last.phase).toBe('done');
    expect(last.fraction).toBe(1);
    expect(last.ios[0]).toBeGreaterThan(0);
    expect(last.ios[0]).toBeLessThanOrEqual(d.totalIos);
  });

  it('a stop before the job starts runs nothing and returns null', async () => {
    const block = new ProgressBlock();
    block.requestStop();
    expect(await runJobWithProgress(job('[s]\nrw=read\nsize=1m\n'), new NullTarget(1 << 20), block)).toBeNull();
    expect(block.updates).toBe(0);
  });

  it('a stopped write job skips its verify phase', async () => {
    const block = new ProgressBlock();
    setTimeout(() => block.requestStop(), 300);
    const r = await runJobWithProgress(job('[v]\nrw=write\nbs=4k\nsize=64m\ntime_based\nruntime=60\nverify=crc32c\n'), new NullTarget(64 << 20), block);
    expect(r!.stat.dir[1].totalIos).toBeGreaterThan(0);
    // The null engine returns no data: a verify phase would have failed every block.
    expect(r!.stat.error).toBe(0);
    expect(r!.stat.verified).toBe(0);
  });
});

describe('pollProgress', () => {
  it('calls back on its timer with every source and the time since it started, until stopped', () => {
    // Fake timers, and a clock that follows them: the ticks are counted, not raced against
    // the wall clock (two ticks of a 50 ms timer within 180 ms of real time failed on a
    // loaded machine).
    vi.useFakeTimers();
    try {
      const block = new ProgressBlock();
      block.publish({ phase: 'run', rw: 'read', bytes: [8192, 0, 0], ios: [2, 0, 0], fraction: 0.5, etaSec: 1 }, 0.5);
      const calls: Array<[number[], number]> = [];
      const stop = pollProgress([() => block.read('read'), () => block.read('read')], (p, t) => calls.push([p.map((x) => x.ios[0]), t]), 50, () => Date.now());
      vi.advanceTimersByTime(49);
      expect(calls).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(calls).toEqual([[[2, 2], 0.05]]);
      // What the job publishes between ticks is what the next tick reads, from every source.
      block.publish({ phase: 'run', rw: 'read', bytes: [20480, 0, 0], ios: [5, 0, 0], fraction: 0.6, etaSec: 1 }, 0.6);
      vi.advanceTimersByTime(100);
      expect(calls).toEqual([[[2, 2], 0.05], [[5, 5], 0.1], [[5, 5], 0.15]]);
      stop();
      vi.advanceTimersByTime(1000);
      expect(calls).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
