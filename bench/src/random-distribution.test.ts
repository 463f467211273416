// random_distribution= and fio's block offsets. The fixtures are iologs fio 3.33 wrote for the
// same jobs on its null engine (Debian's fio 3.33, one line per I/O: time, file, read, offset,
// length), made with:
//   fio --name=j --ioengine=null --rw=randread --bs=4k --size=16m --number_ios=128 [OPTIONS] --write_iolog=F
// OPTIONS per fixture: uniform: none; uniform-norandommap: --norandommap; uniform-randseed5:
// --randrepeat=0 --randseed=5; zipf1.2: --random_distribution=zipf:1.2; zipf0.8-center0.25:
// zipf:0.8:0.25; pareto0.3; normal5; normal0: --random_distribution=normal; zipf1.2-randseed5:
// zipf:1.2 --randrepeat=0 --randseed=5; two: --random_distribution=zipf:1.1 --name=a --name=b
// --numjobs=2 (jobs a, b.0 and b.1: thread numbers 1, 2, 3; only b's log). zoned:
// zoned:60/10:30/20:10/70 (zoned-norandommap: with --norandommap); zonedabs:
// zoned_abs:50/1M:50/15M; zoned-randseed5: zoned:60/10:40/90 --randrepeat=0 --randseed=5. randread4 and
// randread4-identical: fio --name=j --ioengine=null --rw=randread:4 [--rw_sequencer=identical]
// --bs=4k --size=1m --write_iolog=F.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { defaultJobOptions, applyOption } from './options.js';
import { fioBlockSeed, fioDistributionSeed, fioJhash, Taus88 } from './rand.js';
import { hashRotate, NormalPicker, ParetoPicker, parseRandomDistribution, ZipfPicker } from './random-distribution.js';

/** Offsets of the reads fio logged, per file name. */
function fioOffsets(fixture: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of readFileSync(new URL(`./fixtures/fio-3.33-randdist-${fixture}.iolog.txt`, import.meta.url), 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] !== 'read') continue;
    if (!out.has(f[1]!)) out.set(f[1]!, []);
    out.get(f[1]!)!.push(Number(f[3]));
  }
  return out;
}

/** The first reads of each job of `text`, run over 16 MiB memory doubles. */
async function ourOffsets(text: string): Promise<number[][]> {
  const targets: MemoryTarget[] = [];
  await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes: 16 << 20 });
      targets.push(t);
      return t;
    },
  });
  return targets.map((t) => t.log.offset);
}

const JOB = '[j]\nrw=randread\nbs=4k\nsize=16m\n';

describe("fio 3.33's random offsets, seed for seed", () => {
  it.each([
    ['uniform', ''],
    ['uniform-norandommap', 'norandommap\n'],
    ['uniform-randseed5', 'randrepeat=0\nrandseed=5\n'],
    ['zipf1.2', 'random_distribution=zipf:1.2\n'],
    ['zipf0.8-center0.25', 'random_distribution=zipf:0.8:0.25\n'],
    ['pareto0.3', 'random_distribution=pareto:0.3\n'],
    ['normal5', 'random_distribution=normal:5\n'],
    ['normal0', 'random_distribution=normal\n'],
    ['zipf1.2-randseed5', 'random_distribution=zipf:1.2\nrandrepeat=0\nrandseed=5\n'],
    ['zoned', 'random_distribution=zoned:60/10:30/20:10/70\n'],
    ['zoned-norandommap', 'random_distribution=zoned:60/10:30/20:10/70\nnorandommap\n'],
    ['zonedabs', 'random_distribution=zoned_abs:50/1M:50/15M\n'],
    ['zoned-randseed5', 'random_distribution=zoned:60/10:40/90\nrandrepeat=0\nrandseed=5\n'],
  ])('%s: the first 128 offsets are the ones fio issued', async (fixture, extra) => {
    const want = fioOffsets(fixture).get('j.0.0')!;
    expect(want).toHaveLength(128);
    const [got] = await ourOffsets(JOB + extra);
    expect(got!.slice(0, 128)).toEqual(want);
  });

  it.each([
    ['randread4', 'rw=randread:4\nbs=4k\nsize=1m\n'],
    ['randread4-identical', 'rw=randread:4\nrw_sequencer=identical\nbs=4k\nsize=1m\n'],
  ])('%s: all 256 offsets are the ones fio issued (random draws held to the map, the I/Os between not marked)', async (fixture, job) => {
    const want = fioOffsets(fixture).get('j.0.0')!;
    expect(want).toHaveLength(256);
    const [got] = await ourOffsets('[j]\n' + job);
    expect(got).toEqual(want);
  });

  it('thread numbers and default file names: jobs a, b.0, b.1 with zipf', async () => {
    const want = fioOffsets('two');
    const got = await ourOffsets('[global]\nrw=randread\nbs=4k\nsize=16m\nrandom_distribution=zipf:1.1\n[a]\n[b]\nnumjobs=2\n');
    expect(got[1]!.slice(0, 128)).toEqual(want.get('b.0.0'));
    expect(got[2]!.slice(0, 128)).toEqual(want.get('b.1.0'));
  });

  it('zoned_abs zones past the region stop the job before it starts (fio: "zoned_abs sizes exceed file size")', async () => {
    await expect(ourOffsets(JOB + 'random_distribution=zoned_abs:50/10m:50/10m\n')).rejects.toMatchObject({ code: 'ERR_BENCH_SIZE' });
  });

  it('randseed= alone does not move the offsets (fio 3.33 sets its seeds before randseed clears randrepeat)', () => {
    expect(fioBlockSeed(5, true, 1)).toBe(0xb1899bed);
    expect(fioBlockSeed(undefined, true, 2)).toBe((0xb1899bed * 2) % 2 ** 32);
    expect(fioDistributionSeed('j.0.0', 5, true, 1)).toBe(0xb1899bed);
  });

  it("taus88 seeded fio's way gives fio's first draws (fio --debug=random: off rand 259043585, 3179521932)", () => {
    const r = new Taus88(0xb1899bed);
    expect([r.next(), r.next(), r.next()]).toEqual([259043585, 3179521932, 3621444214]);
  });

  it("jhash keeps fio's byte-wise mixing of 12-byte blocks", () => {
    // Any change of the mixing changes these; the short name is pinned by the fixtures above.
    expect(fioJhash('')).toBe(0x61c88647);
    expect(fioJhash('0000:00:03.0/1')).not.toBe(fioJhash('0000:00:03.0/2'));
    expect(fioJhash('abcdefghijklmnop')).toBe(fioJhash('abcdefghijklmnop'));
  });
});

describe('hashRotate', () => {
  it('is (v · 0x61C8864680B583EB + off) mod 2^64 mod n, as BigInt computes it', () => {
    const G = 0x61c8864680b583ebn;
    const M = (1n << 64n) - 1n;
    const r = new Taus88(7);
    for (let i = 0; i < 2000; i++) {
      const n = 1 + r.below(i % 2 ? 2 ** 32 : 5000);
      const v = r.below(n + 1) + (i % 7 === 0 ? r.next() * 2 ** 20 : 0);
      const off = i % 3 ? r.next() : r.next() * 2 ** 21;
      const want = Number((((BigInt(v) * G) & M) + BigInt(off)) % (1n << 64n) % BigInt(n));
      expect(hashRotate(v, off, n)).toBe(want);
    }
  });
});

/** How many of `draws` picks land on each block. */
function histogram(next: () => number, nranges: number, draws: number): Uint32Array {
  const h = new Uint32Array(nranges);
  for (let i = 0; i < draws; i++) {
    const b = next();
    expect(b >= 0 && b < nranges).toBe(true);
    h[b]!++;
  }
  return h;
}

describe('the shapes of the distributions (fixed seed, before the hash)', () => {
  // fio's hash (hashRotate, checked above) scatters ranks over the blocks and folds several
  // onto one when taken mod n; the shapes are those of the ranks, which fio's
  // zipf_disable_hash exposes (hash=false, center 0: no rotation).
  const N = 1000;
  const DRAWS = 100_000;
  const sum = (h: Uint32Array, from: number, to: number) => h.slice(from, to).reduce((a, b) => a + b, 0) / DRAWS;

  it('zipf:1.2: rank 1 takes 1/zeta(N) of the I/O, rank 2 2^-1.2 of that; zipf:0.8 is flatter', () => {
    let zeta = 0;
    for (let i = 1; i <= N; i++) zeta += i ** -1.2;
    const z = new ZipfPicker(N, 1.2, 0, 1234, false);
    const h = histogram(() => z.next(), N, DRAWS);
    expect(Math.abs(h[0]! / DRAWS - 1 / zeta)).toBeLessThan(0.01);
    expect(Math.abs(h[1]! / h[0]! - 2 ** -1.2)).toBeLessThan(0.02);
    // Ranks beyond 2 follow the closed form: rank 10 holds about 10^-1.2 of rank 1.
    expect(Math.abs(h[9]! / h[0]! - 10 ** -1.2)).toBeLessThan(0.02);
    const flat = new ZipfPicker(N, 0.8, 0, 1234, false);
    expect(histogram(() => flat.next(), N, DRAWS)[0]!).toBeLessThan(h[0]! / 2);
  });

  it('pareto:0.2 puts 80% of the I/O on the first 20% of the ranks; pareto:0.45 about 45%', () => {
    const p = new ParetoPicker(N, 0.2, 0, 99, false);
    expect(Math.abs(sum(histogram(() => p.next(), N, DRAWS), 0, N / 5) - 0.8)).toBeLessThan(0.01);
    // u^(log h / log(1-h)) < 0.2 for u < 0.2^(log(1-h)/log h): 0.448 for h = 0.45.
    const q = new ParetoPicker(N, 0.45, 0, 99, false);
    const want = 0.2 ** (Math.log(0.55) / Math.log(0.45));
    expect(Math.abs(sum(histogram(() => q.next(), N, DRAWS), 0, N / 5) - want)).toBeLessThan(0.01);
  });

  it('normal: mean n/2 and spread n/12 (the mean of 12 uniform draws); DEV=30 adds a uniform nudge of 30% of n', () => {
    const moments = (next: () => number) => {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < DRAWS; i++) {
        const b = next();
        s += b;
        s2 += b * b;
      }
      const mean = s / DRAWS;
      return { mean, sd: Math.sqrt(s2 / DRAWS - mean * mean) };
    };
    const g0 = new NormalPicker(N, 0, -1, 5, false);
    const m0 = moments(() => g0.next());
    expect(Math.abs(m0.mean - N / 2)).toBeLessThan(2);
    expect(Math.abs(m0.sd - N / 12)).toBeLessThan(2);
    const g30 = new NormalPicker(N, 30, -1, 5, false);
    const m30 = moments(() => g30.next());
    // Var = (n/12)^2 + (0.3 n)^2 / 12, less a little where the nudge is halved at the edges.
    expect(Math.abs(m30.sd - Math.sqrt((N / 12) ** 2 + (0.3 * N) ** 2 / 12))).toBeLessThan(3);
  });

  it('center moves the hot spot: zipf:1.2:0.25 without the hash puts rank 1 at block n/4', () => {
    const z = new ZipfPicker(N, 1.2, 0.25, 1234, false);
    const h = histogram(() => z.next(), N, 10_000);
    expect(h.indexOf(Math.max(...h))).toBe(N / 4);
  });
});

describe('random_distribution= parsing', () => {
  it("takes fio's spellings and defaults", () => {
    expect(parseRandomDistribution('k', 'random')).toEqual({ kind: 'random' });
    expect(parseRandomDistribution('k', 'zipf')).toEqual({ kind: 'zipf', value: 1.1, center: -1 });
    expect(parseRandomDistribution('k', 'pareto')).toEqual({ kind: 'pareto', value: 0.2, center: -1 });
    expect(parseRandomDistribution('k', 'normal:5:0.25')).toEqual({ kind: 'normal', value: 5, center: 0.25 });
    expect(parseRandomDistribution('k', 'gauss:3')).toEqual({ kind: 'normal', value: 3, center: -1 });
    const o = defaultJobOptions('j');
    applyOption(o, 'random_distribution', 'zipf:0.9');
    expect(o.randomDistribution).toEqual({ kind: 'zipf', value: 0.9, center: -1 });
  });

  it('zoned: per direction, sizes left out share the rest; zoned_abs sizes in bytes', () => {
    expect(parseRandomDistribution('k', 'zoned:60/10:30:10')).toEqual({ kind: 'zoned', zones: Array(3).fill([{ access: 60, size: 10 }, { access: 30, size: 45 }, { access: 10, size: 45 }]) });
    const rw = parseRandomDistribution('k', 'zoned:50/50:50/50,100/10');
    expect(rw.kind === 'zoned' && rw.zones.map((l) => l.length)).toEqual([2, 1, 1]);
    expect(parseRandomDistribution('k', 'zoned_abs:40/1m:60/2m')).toEqual({ kind: 'zoned_abs', zones: Array(3).fill([{ access: 40, size: 1 << 20 }, { access: 60, size: 2 << 20 }]) });
  });

  it.each([
    ['zipf:1', /theta other than 1/],
    ['pareto:1', /0 < H < 1/],
    ['normal:100', /0 <= DEV < 100/],
    ['zipf:1.2:1.5', /center between 0 and 1/],
    ['zoned:50/10:40/90', /add up to 100 \(got 90\)/],
    ['zoned:50/60:50/60', /100% or less/],
    ['uniform', /random, zipf/],
  ])('refuses %s with ERR_INVALID_ARG', (text, msg) => {
    try {
      parseRandomDistribution('random_distribution', text);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_INVALID_ARG');
      expect(String((e as Error).message) + ' ' + String((e as { hint?: string }).hint)).toMatch(msg);
    }
  });
});
