// fio's bssplit (HOWTO "bssplit", fio 3.33): "bssplit=4k/10:64k/50:32k/40" issues 10% 4k,
// 50% 64k and 40% 32k I/Os; "R,W" gives reads and writes their own split (an empty part keeps
// bs= for that direction). Meanings checked against fio 3.33 (null engine, write_iolog,
// rw=rw, 256 MiB):
// - percentages may be fractional (4k/12.5:8k/87.5 gave 12.0% 4k);
// - entries without a percentage share what the others left (4k/50:1k/:32k/ gave 25/50/25);
// - the entries are tried from the largest percentage down, each taking its share of a
//   uniform draw; when the shares add up to less than 100, the last one tried takes the rest
//   (4k/30:8k/30 gave 30% 4k, 70% 8k), and over 100 the last ones lose (4k/60:8k/60 gave
//   60/40); only more than one entry without a percentage over a sum above 100 is an error.
// Each I/O draws its size from the job's own generator (fio's bsrange state).

import { invalidArgument } from '@vfio-node/core';
import { IO_TRIM, type IoDirection } from './io-target.js';
import type { JobOptions } from './options.js';
import { splitPerDirection } from './per-direction.js';
import { Taus88 } from './rand.js';
import { parseSize } from './units.js';

/** One block size of a split and its share in percent. */
export interface BsSplitEntry {
  /** Block size in bytes. */
  bs: number;
  /** Share in percent (0 to 100, fractions allowed). */
  perc: number;
}

/** A job's split per direction (read, write); undefined: the direction uses bs=. */
export type BsSplit = [read: BsSplitEntry[] | undefined, write: BsSplitEntry[] | undefined];

/** fio's limit: up to 64 block sizes per direction. */
const MAX_ENTRIES = 64;

/**
 * Parses one direction's "bs/perc:bs/perc..." into entries sorted by share, largest first
 * (fio's lookup order), missing shares filled in.
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
    return { bs, perc };
  });
  const given = raw.reduce((sum, e) => sum + (e.perc ?? 0), 0);
  const missing = raw.filter((e) => e.perc === undefined).length;
  if (given > 100 && missing > 1) throw invalidArgument(key, text, 'percentages that add up to 100 at most');
  const share = raw.length === 1 && missing === 1 ? 100 : Math.max(0, 100 - given) / (missing || 1);
  const entries = raw.map((e) => ({ bs: e.bs, perc: e.perc ?? share }));
  // Largest share first; equal shares keep the order given (Array.prototype.sort is stable).
  return entries.sort((a, b) => b.perc - a.perc);
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

/** The smallest and largest block size a direction of the job issues (fio's min_bs, max_bs). */
export function bsRange(o: Pick<JobOptions, 'bs' | 'bssplit'>, dir: IoDirection): { min: number; max: number } {
  // Trims have no split (src/trim.ts): bs='s third part.
  if (dir === IO_TRIM) return { min: o.bs.trim, max: o.bs.trim };
  const split = o.bssplit[dir];
  if (!split) {
    const bs = dir === 0 ? o.bs.read : o.bs.write;
    return { min: bs, max: bs };
  }
  const sizes = split.filter((e) => e.perc > 0).map((e) => e.bs);
  return { min: Math.min(...sizes), max: Math.max(...sizes) };
}

/** Every block size a job may issue, for checks against the target. */
export function allBlockSizes(o: Pick<JobOptions, 'bs' | 'bssplit'>): number[] {
  return [...new Set([0, 1].flatMap((d) => (o.bssplit[d] ? o.bssplit[d]!.filter((e) => e.perc > 0).map((e) => e.bs) : [d === 0 ? o.bs.read : o.bs.write])))];
}

/** Picks each I/O's block size: bs= for a direction without a split, a weighted draw otherwise. */
export class BlockSizes {
  private readonly rng: Taus88;
  private readonly bs: [number, number, number];
  /** Per direction (read, write, trim): the sizes in lookup order. */
  private readonly sizes: [Float64Array, Float64Array, Float64Array];
  /** Cumulative shares in draw units (2^32 is 100%), in lookup order. */
  private readonly bounds: [Float64Array, Float64Array, Float64Array];
  /** True when a direction has more than one size (never trims). */
  readonly varies: [boolean, boolean, boolean];

  constructor(o: Pick<JobOptions, 'bs' | 'bssplit'>, seed: number) {
    this.rng = new Taus88(seed ^ 0x6a09e667);
    this.bs = [o.bs.read, o.bs.write, o.bs.trim];
    const entries = [0, 1, 2].map((d) => ((d < 2 ? o.bssplit[d] : undefined) ?? [{ bs: this.bs[d]!, perc: 100 }]).filter((e) => e.perc > 0));
    this.sizes = entries.map((es) => Float64Array.from(es, (e) => e.bs)) as [Float64Array, Float64Array, Float64Array];
    this.bounds = entries.map((es) => {
      let sum = 0;
      return Float64Array.from(es, (e) => (sum += (e.perc / 100) * 0x1_0000_0000));
    }) as [Float64Array, Float64Array, Float64Array];
    this.varies = [this.sizes[0].length > 1, this.sizes[1].length > 1, false];
  }

  /** The next I/O's size in direction `dir`. */
  next(dir: IoDirection): number {
    const sizes = this.sizes[dir];
    if (sizes.length === 1) return sizes[0]!;
    const r = this.rng.next();
    const bounds = this.bounds[dir];
    for (let i = 0; i < sizes.length; i++) if (r < bounds[i]!) return sizes[i]!;
    return sizes[sizes.length - 1]!;
  }
}
