// fio's random_distribution= (HOWTO: random_distribution; fio 3.33 lib/zipf.c, lib/gauss.c,
// io_u.c get_next_rand_offset). Which block a random I/O goes to:
//   random         uniform over the region (rand.ts, with the random map unless norandommap)
//   zipf:THETA     Zipf with exponent THETA (default 1.1; not 1), Gray et al.'s "Quickly
//                  generating billion-record synthetic databases" method, as fio does it
//   pareto:H       Pareto, n · u^(log H / log(1-H)) (default 0.2; 0 < H < 1)
//   normal:DEV     fio's "gauss": the mean of 12 uniform draws, plus a uniform nudge of
//                  DEV percent of the blocks (0 <= DEV < 100)
// Each may end in ":CENTER" (0..1) to move the hot spot. fio spreads the hot blocks over the
// region with a 64-bit multiplicative hash (hash.h __hash_u64) and a random rotation.
//   zoned:A/S:...  A percent of the I/Os to the next S percent of the region (zoned_abs: S bytes)
// Any distribution but random turns fio 3.33's random map off (init.c fixup_options sets
// norandommap): blocks may repeat whatever norandommap says. The arithmetic below is fio's
// step for step (unsigned 64-bit wrap-around included) so that one seed picks fio's blocks.

import { invalidArgument } from '@vfio-node/core';
import { Taus88 } from './rand.js';
import { parseSize } from './units.js';

/** A parsed random_distribution=: fio's kinds with their parameter and optional center. */
export type RandomDistribution =
  | {
      /** Uniform (fio's default). */
      kind: 'random';
    }
  | {
      /** zipf, pareto or normal (fio's gauss). */
      kind: 'zipf' | 'pareto' | 'normal';
      /** zipf's theta, pareto's H, or normal's deviation in percent of the blocks. */
      value: number;
      /** Where the hot spot sits, 0..1 of the region; -1 when not given (fio's default). */
      center: number;
    }
  | {
      /** zoned (sizes in percent of the region) or zoned_abs (sizes in bytes from its start). */
      kind: 'zoned' | 'zoned_abs';
      /** Per direction (read, write, trim) the zones in order; an empty list is uniform. */
      zones: [ZoneSplit[], ZoneSplit[], ZoneSplit[]];
    };

/** One zone of zoned=/zoned_abs=: `access` percent of the I/Os go to the next `size` of the region. */
export interface ZoneSplit {
  /** Percent of the direction's random I/Os. */
  access: number;
  /** Percent of the region (zoned) or bytes (zoned_abs). */
  size: number;
}

/** fio's defaults (fio.h FIO_DEF_ZIPF, FIO_DEF_PARETO; normal's deviation 0). */
const DEFAULTS = { zipf: 1.1, pareto: 0.2, normal: 0 } as const;

/**
 * Parses random_distribution= the way fio 3.33 does (options.c str_random_distribution_cb).
 * @throws VfioError ERR_INVALID_ARG for an unknown kind or a parameter out of fio's range.
 */
export function parseRandomDistribution(key: string, text: string, kbBase: 1000 | 1024 = 1024): RandomDistribution {
  const [kindText, valueText, centerText, ...rest] = text.trim().split(':');
  const kind = kindText!.toLowerCase() === 'gauss' ? 'normal' : kindText!.toLowerCase();
  if (kind === 'random' && valueText === undefined) return { kind: 'random' };
  if (kind === 'zoned' || kind === 'zoned_abs') return parseZoned(key, text, kind, kbBase);
  if ((kind !== 'zipf' && kind !== 'pareto' && kind !== 'normal') || rest.length) throw invalidArgument(key, text, 'random, zipf[:THETA[:CENTER]], pareto[:H[:CENTER]], normal[:DEV[:CENTER]], zoned:A/S:... or zoned_abs:A/SIZE:...');
  const num = (t: string) => {
    const v = Number(t);
    if (t.trim() === '' || !Number.isFinite(v)) throw invalidArgument(key, text, `a number in ${kind}:${t}`);
    return v;
  };
  const value = valueText === undefined || valueText === '' ? DEFAULTS[kind] : num(valueText);
  const center = centerText === undefined ? -1 : num(centerText);
  if (center !== -1 && (center < 0 || center > 1)) throw invalidArgument(key, text, 'a center between 0 and 1 (fio: 0 <= center <= 1.0)');
  if (kind === 'zipf' && value === 1) throw invalidArgument(key, text, 'a zipf theta other than 1.0 (fio)');
  if (kind === 'pareto' && (value <= 0 || value >= 1)) throw invalidArgument(key, text, 'a pareto H with 0 < H < 1 (fio)');
  if (kind === 'normal' && (value < 0 || value >= 100)) throw invalidArgument(key, text, 'a normal deviation with 0 <= DEV < 100 (fio)');
  return { kind, value, center };
}

/**
 * zoned:A/S:A/S... and zoned_abs:A/SIZE:... (options.c parse_zoned_distribution,
 * zone_split_ddir): "R,W,T" per direction as for bssplit (one list: all three; "R,W": trims
 * take W's); the access percentages must add up to 100; a zoned size left out (or 0) shares
 * what the others leave of 100, a zoned_abs one is 0.
 */
function parseZoned(key: string, text: string, kind: 'zoned' | 'zoned_abs', kbBase: 1000 | 1024): RandomDistribution {
  const body = text.trim().slice(kind.length + 1);
  const parts = body.split(',');
  const lists = parts.length === 1 ? [parts[0]!, parts[0]!, parts[0]!] : [parts[0]!, parts[1]!, parts[2] ?? parts[1]!];
  const zones = lists.map((list) => {
    const entries = list.split(':');
    // fio stops at the first empty entry.
    const cut = entries.indexOf('');
    const split = (cut < 0 ? entries : entries.slice(0, cut)).map((e) => {
      const [a, sz] = e.split('/') as [string, string | undefined];
      const access = Number(a);
      if (a.trim() === '' || !Number.isInteger(access) || access < 0) throw invalidArgument(key, text, `an access percentage in ${e}`);
      let size: number;
      if (kind === 'zoned_abs') size = sz === undefined ? 0 : parseSize(key, sz, kbBase);
      else {
        const n = sz === undefined ? 0 : parseInt(sz, 10) || 0;
        size = n > 100 ? 100 : n;
      }
      return { access, size };
    });
    if (!split.length) return split;
    const access = split.reduce((t, z) => t + z.access, 0);
    if (access !== 100) throw invalidArgument(key, text, `access percentages that add up to 100 (got ${access})`);
    if (kind === 'zoned') {
      const given = split.filter((z) => z.size > 0);
      const sum = given.reduce((t, z) => t + z.size, 0);
      if (sum > 100) throw invalidArgument(key, text, 'zone sizes that add up to 100% or less');
      const missing = split.length - given.length;
      // (fio: a single zone without a size gets 0, not 100.)
      const fill = missing === 1 && split.length === 1 ? 0 : Math.floor((100 - sum) / Math.max(missing, 1));
      for (const z of split) if (z.size === 0) z.size = fill;
    }
    return split;
  }) as [ZoneSplit[], ZoneSplit[], ZoneSplit[]];
  return { kind, zones };
}

/** fio's canonical spelling, for reports: "random", "zipf:1.2", "normal:5:0.3". */
export function formatRandomDistribution(d: RandomDistribution): string {
  if (d.kind === 'random') return 'random';
  if (d.kind === 'zoned' || d.kind === 'zoned_abs') return `${d.kind}:${d.zones.map((l) => l.map((z) => `${z.access}/${z.size}`).join(':')).join(',')}`;
  if (d.kind === 'zipf' || d.kind === 'pareto' || d.kind === 'normal') return `${d.kind}:${d.value}${d.center === -1 ? '' : `:${d.center}`}`;
  return d.kind;
}

/** A generator of block numbers in [0, nranges) for a non-uniform distribution. */
export interface BlockPicker {
  /** The next block number. */
  next(): number;
}

/** fio's FRAND32_MAX: zipf and pareto divide by it, not by 2^32, so u reaches 1. */
const FRAND32_MAX = 0xffffffff;
/** fio caps zipf's normalising sum at 10M terms (lib/zipf.c ZIPF_MAX_GEN). */
const ZIPF_MAX_GEN = 10_000_000;
/** hash.h GOLDEN_RATIO_64 = 0x61C8864680B583EB, as two 32-bit halves. */
const GOLDEN_HI = 0x61c88646;
const GOLDEN_LO = 0x80b583eb;
const TWO32 = 0x1_0000_0000;

/**
 * (hash(val) + off) mod 2^64 mod n, fio's last step, with hash(v) = v · GOLDEN_RATIO_64 mod 2^64.
 * Done in 32-bit halves so the hot path allocates nothing; `val` and `off` are below 2^53.
 */
export function hashRotate(val: number, off: number, n: number): number {
  const vh = Math.floor(val / TWO32);
  const vl = val >>> 0;
  // vl · GOLDEN_LO as a full 64-bit product, 16 bits at a time (each partial product exact in a double).
  const a0 = vl & 0xffff;
  const a1 = vl >>> 16;
  const b0 = GOLDEN_LO & 0xffff;
  const b1 = GOLDEN_LO >>> 16;
  const mid = a0 * b1 + a1 * b0;
  let lo = a0 * b0 + (mid % 0x10000) * 0x10000;
  let hi = a1 * b1 + Math.floor(mid / 0x10000) + Math.floor(lo / TWO32);
  lo %= TWO32;
  // The cross terms land in the high half only; what overflows 2^64 is dropped.
  hi = (hi + Math.imul(vl, GOLDEN_HI) + Math.imul(vh, GOLDEN_LO)) >>> 0;
  // + off, with carry, modulo 2^64.
  lo += off % TWO32;
  hi = (hi + Math.floor(off / TWO32) + Math.floor(lo / TWO32)) >>> 0;
  lo %= TWO32;
  // (hi · 2^32 + lo) mod n, each step below 2^53.
  return (((((hi % n) * 0x10000) % n) * 0x10000) % n + (lo % n)) % n;
}

const spread = (v: number, off: number, n: number, hash: boolean): number => (hash ? hashRotate(v, off, n) : (v + off) % n);

/** fio's zipf_state with zipf_next: Gray et al.'s approximation, then hash and rotate. */
export class ZipfPicker implements BlockPicker {
  private readonly rng: Taus88;
  private readonly randOff: number;
  private readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly two: number;

  /** `hash` false is fio's zipf_disable_hash (t/genzipf): ranks come out in order, only rotated. */
  constructor(private readonly nranges: number, private readonly theta: number, center: number, seed: number, private readonly hash = true) {
    this.rng = new Taus88(seed);
    // shared_rand_init: the rotation is the generator's first output, or (that output
    // drawn all the same) the center's block.
    const first = this.rng.next();
    this.randOff = center === -1 ? first : Math.floor(nranges * center);
    const zeta2 = Math.pow(1, theta) + Math.pow(0.5, theta);
    let zetan = 0;
    const terms = Math.min(nranges, ZIPF_MAX_GEN);
    for (let i = 0; i < terms; i++) zetan += Math.pow(1 / (i + 1), theta);
    this.zetan = zetan;
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / nranges, 1 - theta)) / (1 - zeta2 / zetan);
    this.two = 1 + Math.pow(0.5, theta);
  }

  next(): number {
    const u = this.rng.next() / FRAND32_MAX;
    const z = u * this.zetan;
    // Ranks 1 and 2 exactly, the rest from the closed form; fio then counts from 0.
    const rank = z < 1 ? 1 : z < this.two ? 2 : 1 + Math.floor(this.nranges * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return spread(rank - 1, this.randOff, this.nranges, this.hash);
  }
}

/** fio's pareto_next: (n-1) · u^(log H / log(1-H)), then hash and rotate. */
export class ParetoPicker implements BlockPicker {
  private readonly rng: Taus88;
  private readonly randOff: number;
  private readonly power: number;

  /** `hash` false: ranks in order, only rotated (fio's zipf_disable_hash). */
  constructor(private readonly nranges: number, h: number, center: number, seed: number, private readonly hash = true) {
    this.rng = new Taus88(seed);
    const first = this.rng.next();
    this.randOff = center === -1 ? first : Math.floor(nranges * center);
    this.power = Math.log(h) / Math.log(1 - h);
  }

  next(): number {
    const u = this.rng.next() / FRAND32_MAX;
    return spread(Math.floor((this.nranges - 1) * Math.pow(u, this.power)), this.randOff, this.nranges, this.hash);
  }
}

/** fio's gauss_next (random_distribution=normal): mean of 12 uniform blocks plus a bounded nudge. */
export class NormalPicker implements BlockPicker {
  private readonly rng: Taus88;
  private readonly stddev: number;
  private readonly randOff: number;

  /** `hash` false: blocks in order, only rotated (fio's gauss_disable_hash). */
  constructor(private readonly nranges: number, dev: number, center: number, seed: number, private readonly hash = true) {
    this.rng = new Taus88(seed);
    // gauss_init: the nudge's width is DEV percent of the blocks, at most half of them.
    this.stddev = dev === 0 ? 0 : Math.min(Math.ceil((nranges * dev) / 100), Math.floor(nranges / 2)) >>> 0;
    // fio stores nranges · (center - 0.5) in an unsigned int: a negative one wraps (x86-64 conversion).
    this.randOff = center === -1 ? 0 : Math.trunc(nranges * (center - 0.5)) >>> 0;
  }

  next(): number {
    const n = this.nranges;
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += this.rng.next() % (n + 1);
    sum = Math.floor((sum + 11) / 12);
    if (this.stddev) {
      // gauss_dev: a uniform integer in [0, stddev), less stddev/2 (integer halves).
      let dev = Math.floor(this.stddev * (this.rng.next() / TWO32)) - Math.floor(this.stddev / 2);
      // fio adds the int to an unsigned 64-bit sum: a sum below 0 wraps past n too.
      // (fio would spin forever on dev 0 with sum = n; that one case stops here.)
      while (dev !== 0 && (sum + dev < 0 || sum + dev >= n)) dev = Math.trunc(dev / 2);
      sum += dev;
    }
    return spread(sum, this.randOff, n, this.hash);
  }
}

/**
 * The block picker for a job's distribution over `nranges` blocks, or undefined for uniform.
 * fio counts nranges in the smaller of the read and write block sizes.
 */
export function blockPicker(d: RandomDistribution, nranges: number, seed: number): BlockPicker | undefined {
  switch (d.kind) {
    case 'random': case 'zoned': case 'zoned_abs': return undefined;
    case 'zipf': return new ZipfPicker(nranges, d.value, d.center, seed);
    case 'pareto': return new ParetoPicker(nranges, d.value, d.center, seed);
    case 'normal': return new NormalPicker(nranges, d.value, d.center, seed);
  }
}

/**
 * zoned/zoned_abs (io_u.c __get_next_rand_offset_zoned[_abs]): per I/O a draw v in 1..100 from
 * its own generator (fio's zone_state) picks the zone; then the uniform block draw runs over
 * the zone's blocks and is moved to the zone's start. `pick` leaves the zone in `start` and
 * `count` (blocks of the direction's size); a direction without zones is the whole region.
 */
export class ZoneTable {
  /** First block of the zone `pick` chose. */
  start = 0;
  /** Blocks in it (the uniform draw's range). */
  count = 0;
  private readonly rng: Taus88;
  /** Per direction, 100 entries: [start, end) in percent (zoned) or bytes (zoned_abs). */
  private readonly index: Float64Array[];

  /**
   * @param lastBlocks per direction, the region's blocks of that direction's size (fio's last_block).
   * @param blockBytes per direction, the block size (fio's ba).
   */
  constructor(private readonly d: Extract<RandomDistribution, { kind: 'zoned' | 'zoned_abs' }>, private readonly lastBlocks: readonly number[], private readonly blockBytes: readonly number[], seed: number) {
    this.rng = new Taus88(seed);
    // zone-dist.c __td_zone_gen_index: entry v-1 holds the zone that the v-th percent of draws hits.
    this.index = d.zones.map((list) => {
      const t = new Float64Array(200);
      let a = 0;
      let s = 0;
      for (const z of list) {
        for (let j = a; j < a + z.access && j < 100; j++) {
          t[2 * j] = s;
          t[2 * j + 1] = s + z.size;
        }
        a += z.access;
        s += z.size;
      }
      return t;
    });
  }

  /** For zoned_abs: the direction whose zones reach past the region, or -1 (fio: "zoned_abs sizes exceed file size"). */
  overflow(): number {
    if (this.d.kind !== 'zoned_abs') return -1;
    for (let dir = 0; dir < 3; dir++) {
      const end = this.d.zones[dir]!.reduce((t, z) => t + z.size, 0);
      if (this.d.zones[dir]!.length && Math.floor(end / this.blockBytes[dir]!) > this.lastBlocks[dir]!) return dir;
    }
    return -1;
  }

  /** Chooses the zone of the next random I/O of direction `dir`. */
  pick(dir: number): void {
    const last = this.lastBlocks[dir]!;
    if (!this.d.zones[dir]!.length) {
      this.start = 0;
      this.count = last;
      return;
    }
    // rand_between(1, 100): 1 + floor(100 · r / 2^32).
    const v = 1 + Math.floor(100 * (this.rng.next() / TWO32));
    const from = this.index[dir]![2 * (v - 1)]!;
    const to = this.index[dir]![2 * (v - 1) + 1]!;
    if (this.d.kind === 'zoned') {
      this.start = from ? Math.floor((from * last) / 100) : 0;
      this.count = Math.floor((last * (to - from)) / 100);
    } else {
      const ba = this.blockBytes[dir]!;
      this.start = Math.floor(from / ba);
      this.count = Math.floor(to / ba) - this.start;
    }
  }
}
