import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { IO_READ, IO_WRITE } from './io-target.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { defaultJobOptions, applyOption } from './options.js';
import { FIO_RAND_POISSON2_OFF, FIO_RAND_POISSON_OFF, fioSeed, Taus88 } from './rand.js';
import { fioPoissonGapUs, RATE_WAIT, RatePacer, defaultRateOptions } from './rate.js';

// Rate limits on a fake clock: the clock moves 1 µs per read and the engine's sleeps move
// it too, so issue times are exact and no test depends on the machine's speed.

async function runTimed(text: string) {
  let now = 0;
  const issues: Array<{ t: number; dir: number; len: number }> = [];
  const res = await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes: 1 << 24, store: false });
      const submit = t.submit.bind(t);
      t.submit = (dir, offset, length, slot) => {
        issues.push({ t: now, dir, len: length });
        submit(dir, offset, length, slot);
      };
      return t;
    },
    clock: () => (now += 1000),
    sleep: async (ms) => {
      now += ms * 1e6;
    },
  });
  return { res, issues, stat: res.results[0]!.stat };
}

const opts = (...kv: Array<[string, string | undefined]>) => {
  const o = defaultJobOptions('j');
  for (const [k, v] of kv) applyOption(o, k, v);
  return o.rate;
};

describe('rate options (fio HOWTO "rate")', () => {
  it('reads rate=R,W per direction the way bs= is read', () => {
    expect(opts(['rate', '1m,500k']).bps).toEqual([1 << 20, 500 * 1024]);
    expect(opts(['rate', ',500k']).bps).toEqual([0, 500 * 1024]);
    expect(opts(['rate', '500k,']).bps).toEqual([500 * 1024, 0]);
    expect(opts(['rate', '2m']).bps).toEqual([2 << 20, 2 << 20]);
    expect(opts(['kb_base', '1000'], ['rate', '1m']).bps).toEqual([1e6, 1e6]);
    expect(opts(['rate_iops', '100,50']).iops).toEqual([100, 50]);
    expect(opts(['rate_min', '1m']).minBps).toEqual([1 << 20, 1 << 20]);
    expect(opts(['rate_iops_min', ',10']).minIops).toEqual([0, 10]);
    expect(opts(['rate_process', 'poisson']).process).toBe('poisson');
    expect(opts(['rate_cycle', '250']).cycleMs).toBe(250);
    expect(opts(['rate_ignore_thinktime', undefined]).ignoreThinktime).toBe(true);
    expect(opts().bps).toEqual([0, 0]);
  });

  it('refuses a bad rate_process and an empty rate', () => {
    expect(() => opts(['rate_process', 'uniform'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => opts(['rate', ''])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => opts(['rate', 'fast'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('rate=1m with bs=4k issues one I/O every 3.90625 ms (linear), at iodepth 1 or 8 alike', async () => {
    for (const depth of [1, 8]) {
      const { issues, stat } = await runTimed(`[j]\nrw=read\nbs=4k\nsize=256k\nrate=1m\niodepth=${depth}\n`);
      expect(issues.length).toBe(64);
      const step = (4096 / (1 << 20)) * 1e9;
      // Each I/O starts no earlier than its due time (counted from the run's start, a few
      // clock reads before the first I/O), and within 1 ms after it (the sleep granularity).
      issues.forEach((io, k) => {
        expect(io.t).toBeGreaterThanOrEqual(issues[0]!.t - 10_000 + k * step);
        expect(io.t).toBeLessThan(issues[0]!.t + k * step + 1.1e6);
      });
      expect(stat.dir[0].ioBytes).toBe(256 * 1024);
      // 63 gaps of 3.90625 ms: fio's runtime is the span to the last completion.
      expect(stat.totalRunTimeMs).toBeGreaterThanOrEqual(246);
      expect(stat.totalRunTimeMs).toBeLessThanOrEqual(248);
    }
  });

  it('rate_iops=1000 spaces I/Os 1 ms apart; rate=,R limits only writes', async () => {
    const a = await runTimed('[j]\nrw=write\nbs=8k\nsize=400k\nrate_iops=1000\n');
    const gaps = a.issues.slice(1).map((io, k) => io.t - a.issues[k]!.t);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.99e6);
    expect(Math.max(...gaps)).toBeLessThan(2.1e6);
    const b = await runTimed('[j]\nrw=rw\nbs=4k\nsize=512k\ntime_based\nruntime=200ms\nrate=,400k\n');
    const reads = b.issues.filter((io) => io.dir === IO_READ);
    const writes = b.issues.filter((io) => io.dir === IO_WRITE);
    // Writes at 100 IOPS (20 in 200 ms, the first at once); reads are not limited and take
    // every turn a write is not due.
    expect(writes.length).toBeGreaterThanOrEqual(20);
    expect(writes.length).toBeLessThanOrEqual(21);
    expect(reads.length).toBeGreaterThan(50 * writes.length);
  });

  it('with rwmix, a direction ahead of its rate lets the other go first (fio rate_ddir)', () => {
    const r = { ...defaultRateOptions(), iops: [1000, 1000] as [number, number] };
    const p = new RatePacer(r, [4096, 4096], [1, 1], 1024);
    p.start(0);
    expect(p.choose(IO_READ, 0, true)).toBe(IO_READ);
    p.issued(IO_READ, 4096);
    // Reads are due again at 1 ms; writes are due now: the read turn goes to a write.
    expect(p.choose(IO_READ, 10, true)).toBe(IO_WRITE);
    p.issued(IO_WRITE, 4096);
    expect(p.choose(IO_WRITE, 20, true)).toBe(RATE_WAIT);
    expect(p.wakeNs).toBe(1e6);
    expect(p.choose(IO_WRITE, 20, false)).toBe(RATE_WAIT);
  });

  it('rate_process=poisson draws exponential gaps: mean 1/IOPS, standard deviation about the mean', () => {
    const r = { ...defaultRateOptions(), iops: [500, 0] as [number, number], process: 'poisson' as const };
    const p = new RatePacer(r, [4096, 4096], [7, 7], 1024);
    p.start(0);
    const due: number[] = [];
    let t = 0;
    for (let k = 0; k < 20000; k++) {
      while (p.choose(IO_READ, t, false) === RATE_WAIT) t = p.wakeNs;
      p.issued(IO_READ, 4096);
      due.push(t);
    }
    const gaps = due.slice(1).map((v, k) => v - due[k]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / (gaps.length - 1));
    expect(mean / 2e6).toBeGreaterThan(0.97);
    expect(mean / 2e6).toBeLessThan(1.03);
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
    // Linear gaps, for contrast, do not vary.
    const lin = new RatePacer({ ...r, process: 'linear' }, [4096, 4096], [7, 7], 1024);
    lin.start(0);
    lin.issued(IO_READ, 4096);
    expect(lin.choose(IO_READ, 2e6 - 1, false)).toBe(RATE_WAIT);
    expect(lin.choose(IO_READ, 2e6, false)).toBe(IO_READ);
  });

  it('poisson in the engine keeps the average rate of rate_iops', async () => {
    const { issues } = await runTimed('[j]\nrw=randread\nbs=4k\nsize=4m\nrate_iops=200\nrate_process=poisson\n');
    const span = issues.at(-1)!.t - issues[0]!.t;
    const rate = ((issues.length - 1) * 1e9) / span;
    expect(rate).toBeGreaterThan(185);
    expect(rate).toBeLessThan(215);
  });

  it('rate_min not met ends the job with EIO after the first rate_cycle', async () => {
    const { stat } = await runTimed('[j]\nrw=read\nbs=4k\nsize=1m\ntime_based\nruntime=10s\nrate=100k\nrate_min=200k\n');
    expect(stat.error).toBe(5);
    expect(stat.verror).toMatch(/read: min rate 200 KiB\/s not met, got \d+ KiB\/s/);
    // It stopped at the first check, one rate_cycle (1 s) in, not at the 10 s runtime.
    expect(stat.totalRunTimeMs).toBeGreaterThanOrEqual(950);
    expect(stat.totalRunTimeMs).toBeLessThan(1100);
    const ok = await runTimed('[j]\nrw=read\nbs=4k\nsize=1m\ntime_based\nruntime=3s\nrate=300k\nrate_min=200k\n');
    expect(ok.stat.error).toBe(0);
  });

  it('rate_ignore_thinktime: after a pause the linear pacer carries on instead of catching up', () => {
    const r = { ...defaultRateOptions(), iops: [1000, 0] as [number, number] };
    const catchUp = new RatePacer(r, [4096, 4096], [1, 1], 1024);
    const ignore = new RatePacer({ ...r, ignoreThinktime: true }, [4096, 4096], [1, 1], 1024);
    for (const p of [catchUp, ignore]) {
      p.start(0);
      p.issued(IO_READ, 4096);
      p.skip(IO_READ, 10e6);
    }
    // At 10 ms, the catching-up pacer owes 9 I/Os; the other issues one now and the next 1 ms later.
    catchUp.issued(IO_READ, 4096);
    expect(catchUp.choose(IO_READ, 10e6, false)).toBe(IO_READ);
    ignore.issued(IO_READ, 4096);
    expect(ignore.choose(IO_READ, 10e6, false)).toBe(RATE_WAIT);
    expect(ignore.wakeNs).toBe(11e6);
  });
});

// rate_process=poisson against fio 3.33's own gaps. fio prints each nonzero gap with
// --debug=rate as "poisson rate iops=10^6/gap, ddir=D"; the fixtures hold those lines:
//   fio-3.33-poisson-read-iops500: fio --debug=rate --name=j --ioengine=null --bs=4k --size=256k
//     --rate_iops=500 --rate_process=poisson
//   fio-3.33-poisson-randrw-randseed3: ... --size=1m --rw=randrw --rate=40m,20m --rate_process=poisson --randseed=3
describe("rate_process=poisson: fio 3.33's gaps, seed for seed", () => {
  const lines = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').trim().split('\n');

  it.each([
    ['fio-3.33-poisson-read-iops500.debug.txt', undefined, [500, 0], 64],
    ['fio-3.33-poisson-randrw-randseed3.debug.txt', 3, [10240, 5120], 256],
  ] as const)('%s: every gap of each direction is the one fio drew', (name, randseed, iops, count) => {
    const want = lines(name);
    expect(want.length).toBe(count);
    const rngs = [FIO_RAND_POISSON_OFF, FIO_RAND_POISSON2_OFF].map((slot) => new Taus88(fioSeed(slot, randseed, true, 1)));
    const ours = want.map((line) => {
      const d = Number(line.split('ddir=')[1]) as 0 | 1;
      // fio prints only the gaps that are not 0 µs.
      let gap = 0;
      while (!gap) gap = fioPoissonGapUs(rngs[d]!, iops[d]!);
      return `poisson rate iops=${Math.floor(1e6 / gap)}, ddir=${d}`;
    });
    expect(ours).toEqual(want);
  });

  it('the pacer sets each due time to the sum of those gaps (µs), per direction, from the job epoch', () => {
    const r = { ...defaultRateOptions(), iops: [500, 250] as [number, number], process: 'poisson' as const };
    const seeds = [fioSeed(FIO_RAND_POISSON_OFF, undefined, true, 1), fioSeed(FIO_RAND_POISSON2_OFF, undefined, true, 1)] as const;
    const p = new RatePacer(r, [4096, 4096], seeds, 1024);
    const rngs = seeds.map((s) => new Taus88(s));
    p.start(1000);
    const due = [1000, 1000];
    for (let k = 0; k < 50; k++) {
      const d = (k % 3 === 0 ? IO_WRITE : IO_READ) as 0 | 1;
      p.issued(d, 4096);
      due[d] += fioPoissonGapUs(rngs[d]!, r.iops[d]) * 1000;
      expect(p.choose(d, due[d]! - 1, false)).toBe(RATE_WAIT);
      expect(p.wakeNs).toBe(due[d]);
      expect(p.choose(d, due[d]!, false)).toBe(d);
    }
  });
});
