import { readFileSync } from 'node:fs';
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
    expect(opts(['thinktime', '100'])).toEqual({ us: 100, spinUs: 0, blocks: 1, blocksGiven: false, iotimeUs: 0, blocksType: 'complete' });
    expect(opts(['thinktime', '2ms'], ['thinktime_spin', '500'], ['thinktime_blocks', '4'], ['thinktime_blocks_type', 'issue'])).toEqual({ us: 2000, spinUs: 500, blocks: 4, blocksGiven: true, iotimeUs: 0, blocksType: 'issue' });
    // thinktime_iotime: seconds unless a unit is given (fio's is_seconds).
    expect(opts(['thinktime', '1s'], ['thinktime_iotime', '9']).iotimeUs).toBe(9e6);
    expect(opts(['thinktime_iotime', '300ms']).iotimeUs).toBe(300e3);
    expect(() => opts(['thinktime_iotime', 'soon'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
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

describe('thinktime_iotime (fio 3.33: the pause every thinktime_iotime of I/O)', () => {
  /** The pauses of a run: [start, end] in ms of every gap between two I/Os of at least `minMs`. */
  const pauses = (issues: number[], minMs: number) =>
    issues.slice(1).flatMap((t, k) => (t - issues[k]! >= minMs * 1e6 ? [[issues[k]! / 1e6, t / 1e6]] : []));

  it('thinktime=20ms thinktime_iotime=30ms: I/O for 50 ms, then 20 ms pauses every 50 ms', async () => {
    const { issues } = await runTimed('[j]\nrw=read\nbs=4k\nsize=1m\ntime_based\nruntime=200ms\nthinktime=20ms\nthinktime_iotime=30ms\n');
    const p = pauses(issues, 1);
    // Pauses begin when iotime + thinktime has passed since the last one began (the start at first).
    expect(p.length).toBe(3);
    p.forEach(([from, to], k) => {
      const begin = issues[0]! / 1e6 + 50 * (k + 1);
      expect(from).toBeGreaterThanOrEqual(begin - 0.05);
      expect(from).toBeLessThan(begin);
      expect(to - from).toBeGreaterThanOrEqual(20);
      expect(to - from).toBeLessThan(20.1);
    });
  });

  it("matches the pauses in fio 3.33's IOPS log for thinktime=200ms thinktime_iotime=300ms (the same cycle x10)", () => {
    // fio --name=t --ioengine=null --size=1g --time_based --runtime=2 --thinktime=200ms
    //   --thinktime_iotime=300000us --write_iops_log=tt --log_avg_msec=50: a line per 50 ms
    //   window that had I/O; the windows without one are the pauses.
    const text = readFileSync(new URL('./fixtures/fio-3.33-thinktime-iotime.iops.log.txt', import.meta.url), 'utf8');
    const withIo = new Set(text.trim().split('\n').map((l) => Math.round(Number(l.split(',')[0]) / 50)));
    const first = Math.min(...withIo);
    const empty = Array.from({ length: 40 - first }, (_, i) => first + i).filter((w) => !withIo.has(w));
    // The model above, x10: pauses at 500-700, 1000-1200, 1500-1700 ms; every empty window
    // (ending at w x 50 ms) lies in one, and each pause left windows empty.
    const model = [500, 1000, 1500];
    for (const w of empty) expect(model.some((b) => w * 50 > b && w * 50 <= b + 200 + 25)).toBe(true);
    for (const b of model) expect(empty.filter((w) => w * 50 > b && w * 50 <= b + 225).length).toBeGreaterThanOrEqual(3);
  });

  it('with thinktime_blocks given, whichever comes first; without it only the time counts', async () => {
    // 64 I/Os of 4k; thinktime_blocks=16: a pause after every 16 long before 100 ms of I/O.
    const both = await runTimed('[j]\nrw=read\nbs=4k\nsize=256k\nthinktime=5ms\nthinktime_iotime=100ms\nthinktime_blocks=16\nthinktime_blocks_type=issue\n');
    expect(pauses(both.issues, 5).length).toBe(3);
    // Without thinktime_blocks fio's default of 1 does not apply: no pause in the first 105 ms.
    const time = await runTimed('[j]\nrw=read\nbs=4k\nsize=256k\nthinktime=5ms\nthinktime_iotime=100ms\n');
    expect(pauses(time.issues, 5)).toEqual([]);
  });
});
