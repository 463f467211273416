import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { applyOption, defaultJobOptions } from './options.js';

// thinktime on a fake clock: the clock moves 1 µs per read, the engine's sleeps move it
// too, so pauses are exact and no test depends on the machine's speed.

async function runTimed(text: string) {
  let now = 0;
  const issues: number[] = [];
  const sleeps: number[] = [];
  let target: MemoryTarget | undefined;
  const res = await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = (target = new MemoryTarget({ capacityBytes: 1 << 24, store: false }));
      const submit = t.submit.bind(t);
      t.submit = (dir, offset, length, slot) => {
        issues.push(now);
        submit(dir, offset, length, slot);
      };
      return t;
    },
    clock: () => (now += 1000),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms * 1e6;
    },
  });
  return { stat: res.results[0]!.stat, issues, sleeps, target: target! };
}

const opts = (...kv: Array<[string, string]>) => {
  const o = defaultJobOptions('j');
  for (const [k, v] of kv) applyOption(o, k, v);
  return o.thinktime;
};

describe('thinktime options (fio HOWTO "thinktime")', () => {
  it('reads times in µs unless a unit is given, and the block count and its type', () => {
    expect(opts(['thinktime', '100'])).toEqual({ us: 100, spinUs: 0, blocks: 1, blocksType: 'complete' });
    expect(opts(['thinktime', '2ms'], ['thinktime_spin', '500'], ['thinktime_blocks', '4'], ['thinktime_blocks_type', 'issue'])).toEqual({ us: 2000, spinUs: 500, blocks: 4, blocksType: 'issue' });
    expect(() => opts(['thinktime_blocks_type', 'submit'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => opts(['thinktime_blocks', '0'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('thinktime=10ms at iodepth 1 pauses 10 ms after every I/O', async () => {
    const { stat, issues } = await runTimed('[j]\nrw=read\nbs=4k\nsize=64k\nthinktime=10ms\n');
    expect(issues.length).toBe(16);
    const gaps = issues.slice(1).map((t, k) => t - issues[k]!);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(10e6);
      expect(g).toBeLessThan(10.2e6);
    }
    expect(stat.totalRunTimeMs).toBeGreaterThanOrEqual(150);
  });

  it('thinktime_blocks=4 with type issue: groups of 4 I/Os, at most 4 in flight, a pause between groups', async () => {
    const { issues, target } = await runTimed('[j]\nrw=randread\nbs=4k\nsize=128k\niodepth=8\nthinktime=5ms\nthinktime_blocks=4\nthinktime_blocks_type=issue\n');
    expect(issues.length).toBe(32);
    expect(target.log.maxInFlight).toBe(4);
    expect(target.log.batches.every((b) => b === 4)).toBe(true);
    const gaps = issues.slice(1).map((t, k) => t - issues[k]!);
    gaps.forEach((g, k) => {
      if (k % 4 === 3) expect(g).toBeGreaterThanOrEqual(5e6);
      else expect(g).toBeLessThan(0.1e6);
    });
  });

  it('thinktime_blocks counted on completion (the default) lets a deep queue fill before the first pause, as in fio', async () => {
    const { target, issues } = await runTimed('[j]\nrw=read\nbs=4k\nsize=128k\niodepth=8\nthinktime=5ms\n');
    // Nothing had completed when the first 8 were issued, so nothing called for a pause.
    expect(target.log.batches[0]).toBe(8);
    const pauses = issues.slice(1).filter((t, k) => t - issues[k]! >= 5e6).length;
    expect(pauses).toBeGreaterThan(0);
  });

  it('thinktime_spin keeps the job busy (no sleep) for its part of the pause', async () => {
    const plain = await runTimed('[j]\nrw=read\nbs=4k\nsize=16k\nthinktime=10ms\n');
    const spin = await runTimed('[j]\nrw=read\nbs=4k\nsize=16k\nthinktime=10ms\nthinktime_spin=4ms\n');
    const slept = (s: number[]) => s.reduce((a, b) => a + b, 0);
    // 3 pauses between 4 I/Os (and one after the last, which ends the job's issuing).
    expect(slept(plain.sleeps)).toBeGreaterThanOrEqual(3 * 9);
    expect(slept(spin.sleeps)).toBeLessThanOrEqual(4 * 6);
    expect(slept(spin.sleeps)).toBeGreaterThanOrEqual(3 * 5);
    const gaps = spin.issues.slice(1).map((t, k) => t - spin.issues[k]!);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(10e6);
  });
});
