// fio's bssplit (HOWTO "bssplit", fio 3.33): "bssplit=4k/10:64k/50:32k/40" issues 10% 4k,
// 50% 64k and 40% 32k I/Os; "R,W" gives reads and writes their own split (an empty part keeps
// bs= for that direction). The rules, from fio 3.33's options.c (bssplit_ddir) and io_u.c
// (get_next_buflen), read for facts, and checked against its write_iolog on the null engine
// (fixtures fio-3.33-bssplit-*: the same sizes in the same order, I/O for I/O):
// - a percentage is read as an integer (C's atoi: 4k/12.5 is 12%), and 0 counts as not given;
// - entries without a percentage share what the others left, rounded down (4k/50:1k/:32k/ gave
//   25/50/25); more than one of them over a sum above 100 is an error; a single one there gets
//   fio's unsigned wrap of 100 - sum, which makes it win every draw it fits (4k/60:8k/60:16k/
//   issued only 16k);
// - the entries are tried in ascending order of percentage (ties in the order given), each I/O
//   drawing r from its direction's own generator (seeds rand_seeds[FIO_RAND_BS_OFF + direction];
//   with verify, writes use the read seed) and taking the first entry whose running sum s of
//   percentages has floor(r / s) <= floor((2^32 - 1) / 100) and whose size fits before the end
//   of the region; without one, the last entry tried (so under 100 the largest share takes the
//   rest: 4k/30:8k/30 gave 30/70, and over 100 the last ones lose: 4k/60:8k/60 gave 60/40);
// - the size is then rounded down to a multiple of the smallest size of the split (4k/50:6k/50
//   issues 4k for the 6k entry) and, if it does not fit, drawn again;
// - a direction whose smallest and largest sizes are equal does not draw.

import { invalidArgument } from '@vfio-node/core';
import { IO_TRIM, type IoDirection } from './io-target.js';
import type { JobOptions } from './options.js';
import { splitPerDirection } from './per-direction.js';
import { FIO_RAND_BS1_OFF, FIO_RAND_BS2_OFF, FIO_RAND_BS_OFF, fioSeed, Taus88 } from './rand.js';
import { parseSize } from './units.js';

/** One block size of a split and its share in percent. */
export interface BsSplitEntry {
  /** Block size in bytes. */
  bs: number;
  /**
   * Share in percent, an integer as fio reads it (0 to 100; negative only for fio's unsigned
   * wrap: the one entry without a share when the others add up to more than 100).
   */
  perc: number;
}

/** A job's split per direction (read, write); undefined: the direction uses bs=. */
export type BsSplit = [read: BsSplitEntry[] | undefined, write: BsSplitEntry[] | undefined];

/** fio's limit: up to 64 block sizes per direction. */
const MAX_ENTRIES = 64;

/**
 * Parses one direction's "bs/perc:bs/perc..." into entries sorted by share, largest first
 * (ties in the order given), missing shares filled in as fio 3.33 fills them.
 * @throws VfioError ERR_INVALID_ARG for a bad size, share or too many entries.
 */
export function parseBsSplitList(key: string, text: string, kbBase: 1000 | 1024): BsSplitEntry[] {
  const parts = text.split(':').filter((p) => p.trim() !== '');
  if (!parts.length || parts.length > MAX_ENTRIES) throw invalidArgument(key, text, `1 to ${MAX_ENTRIES} entries blocksize/percentage separated by ":"`);
  const raw = parts.map((p) => {
    const slash = p.indexOf('/');
    const bs = parseSize(key, slash < 0 ? p : p.slice(0, slash), kbBase);
    if (bs <= 0) throw invalidArgument(key, text, 'block sizes greater than 0');
    const percText = slash < 0 ? '' : p.slice(slash + 1).trim();
    const perc = percText === '' ? undefined : Number(percText);
    if (perc !== undefined && !(perc >= 0 && perc <= 100)) throw invalidArgument(key, text, 'percentages from 0 to 100');
    // fio reads the share with atoi(): the integer part; 0 counts as not given.
    const whole = perc === undefined ? 0 : Math.trunc(perc);
    return { bs, perc: whole || undefined };
  });
  const given = raw.reduce((sum, e) => sum + (e.perc ?? 0), 0);
  const missing = raw.filter((e) => e.perc === undefined).length;
  if (given > 100 && missing > 1) throw invalidArgument(key, text, 'percentages that add up to 100 at most');
  // fio: the rest divided among the entries without a share, in unsigned integers; a lone entry
  // without one is 100%; over 100 the rest is negative (fio's unsigned wrap, kept as its sign).
  const share = raw.length === 1 && missing === 1 ? 100 : given > 100 ? 100 - given : Math.floor((100 - given) / (missing || 1));
  const entries = raw.map((e) => ({ bs: e.bs, perc: e.perc ?? share }));
  // Largest share first; equal shares keep the order given (Array.prototype.sort is stable).
  return entries.sort((a, b) => b.perc - a.perc);
}

/**
 * The seeds of a job's block-size generators per direction (read, write, trim), fio 3.33's
 * init.c td_fill_rand_seeds_internal: rand_seeds[FIO_RAND_BS_OFF + direction], writes with the
 * reads' seed under verify, trims with the writes' under trimwrite.
 */
export function fioBsSeeds(o: Pick<JobOptions, 'randseed' | 'randrepeat' | 'verify' | 'rw'>, threadNumber: number): [number, number, number] {
  const read = fioSeed(FIO_RAND_BS_OFF, o.randseed, o.randrepeat, threadNumber);
  const write = o.verify !== 'none' ? read : fioSeed(FIO_RAND_BS1_OFF, o.randseed, o.randrepeat, threadNumber);
  const trim = o.rw === 'trimwrite' ? write : fioSeed(FIO_RAND_BS2_OFF, o.randseed, o.randrepeat, threadNumber);
  return [read, write, trim];
}

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

/** The option table entry of bssplit (merged into options.ts's table). */
export const BSSPLIT_SETTERS: Record<string, Setter> = {
  bssplit: (o, v, k) => {
    if (v === undefined || v === '') throw invalidArgument(k, v ?? '', 'blocksize/percentage:... (bssplit=4k/10:64k/90)');
    const [r, w] = splitPerDirection(v);
    o.bssplit = [r === undefined ? undefined : parseBsSplitList(k, r, o.kbBase), w === undefined ? undefined : parseBsSplitList(k, w, o.kbBase)];
  },
};

/** The smallest and largest block size a direction of the job issues (fio's min_bs, max_bs: over every entry of the split). */
export function bsRange(o: Pick<JobOptions, 'bs' | 'bssplit'>, dir: IoDirection): { min: number; max: number } {
  // Trims have no split (src/trim.ts): bs='s third part.
  if (dir === IO_TRIM) return { min: o.bs.trim, max: o.bs.trim };
  const split = o.bssplit[dir];
  if (!split) {
    const bs = dir === 0 ? o.bs.read : o.bs.write;
    return { min: bs, max: bs };
  }
  const sizes = split.map((e) => e.bs);
  return { min: Math.min(...sizes), max: Math.max(...sizes) };
}

/** Every block size a job may issue, for checks against the target. */
export function allBlockSizes(o: Pick<JobOptions, 'bs' | 'bssplit'>): number[] {
  return [...new Set([0, 1].flatMap((d) => (o.bssplit[d] ? o.bssplit[d]!.filter((e) => e.perc !== 0).map((e) => e.bs) : [d === 0 ? o.bs.read : o.bs.write])))];
}

/** fio's frand_max / 100 for its 32-bit generator: the bound of a draw over a running share. */
const PER_PERCENT = Math.floor(0xffffffff / 100);

/**
 * Picks each I/O's block size as fio 3.33 does (the rules above): bs= for a direction
 * without a split, a draw from the direction's own generator otherwise.
 */
export class BlockSizes {
  /** Per direction (read, write, trim). */
  private readonly rngs: [Taus88, Taus88, Taus88];
  private readonly min: [number, number, number];
  private readonly max: [number, number, number];
  /** Per direction: the sizes in fio's lookup order (ascending share). */
  private readonly sizes: [Float64Array, Float64Array, Float64Array];
  /** Per direction: the running sum of shares, fio's unsigned wrap included, in lookup order (0: skipped). */
  private readonly sums: [Float64Array, Float64Array, Float64Array];
  /** True when a direction has more than one size (never trims). */
  readonly varies: [boolean, boolean, boolean];

  /**
   * @param o the job's bs and bssplit
   * @param seeds the generators' seeds per direction (fioBsSeeds)
   */
  constructor(o: Pick<JobOptions, 'bs' | 'bssplit'>, seeds: readonly [number, number, number]) {
    this.rngs = [new Taus88(seeds[0]), new Taus88(seeds[1]), new Taus88(seeds[2])];
    const bs = [o.bs.read, o.bs.write, o.bs.trim];
    // parseBsSplitList sorts largest first with ties in the order given; a stable ascending
    // sort of that is fio's order (its qsort on the share, ties in the order given).
    const entries = [0, 1, 2].map((d) => [...((d < 2 ? o.bssplit[d] : undefined) ?? [{ bs: bs[d]!, perc: 100 }])].sort((a, b) => a.perc - b.perc));
    this.min = entries.map((es) => Math.min(...es.map((e) => e.bs))) as [number, number, number];
    this.max = entries.map((es) => Math.max(...es.map((e) => e.bs))) as [number, number, number];
    this.sizes = entries.map((es) => Float64Array.from(es, (e) => e.bs)) as [Float64Array, Float64Array, Float64Array];
    this.sums = entries.map((es) => {
      let sum = 0;
      return Float64Array.from(es, (e) => (e.perc === 0 ? 0 : (sum += e.perc < 0 ? e.perc + 0x1_0000_0000 : e.perc)));
    }) as [Float64Array, Float64Array, Float64Array];
    this.varies = [this.min[0] !== this.max[0], this.min[1] !== this.max[1], false];
  }

  /**
   * The next I/O's size in direction `dir`, or 0 when not even the smallest size fits.
   * @param fits whether a size fits in direction `dir` before the end of the region (fio's
   *   io_u_fits); not called for a direction with one size
   */
  next(dir: IoDirection, fits: (dir: IoDirection, len: number) => boolean): number {
    const min = this.min[dir];
    if (!this.varies[dir]) return min;
    if (!fits(dir, min)) return 0;
    const sizes = this.sizes[dir];
    const sums = this.sums[dir];
    const rng = this.rngs[dir];
    let len = 0;
    do {
      const r = rng.next();
      for (let i = 0; i < sizes.length; i++) {
        if (!sums[i]) continue;
        len = sizes[i]!;
        if (Math.floor(r / sums[i]!) <= PER_PERCENT && fits(dir, len)) break;
      }
      len -= len % min;
      if (len > this.max[dir]) len = this.max[dir];
    } while (!fits(dir, len));
    return len;
  }
}
