// fio's rate limits (HOWTO "I/O rate": rate, rate_iops, rate_min, rate_iops_min,
// rate_process, rate_cycle, rate_ignore_thinktime), fio 3.33 meanings:
// - rate=R[,W] caps bytes/s per direction, rate_iops=R[,W] I/Os per second (fio turns it into
//   bytes/s with the direction's smallest block size). A direction with neither is not limited.
// - rate_process=linear (the default): the next I/O of a direction may start once the bytes
//   issued so far in it, at the capped rate, have had their time since the run started; a job
//   that fell behind (a thinktime, a slow device) issues at once until it has caught up.
// - rate_process=poisson: the gaps between I/Os are drawn from an exponential distribution
//   with mean 1/IOPS (a Poisson arrival process, "lambda 10^6 / IOPS" in µs), each direction
//   from its own generator, as fio 3.33 draws them (backend.c usec_for_io, read for facts):
//   IOPS = bytes/s / smallest block size (integer division), gap in whole µs = the float product
//   of (10^6 / IOPS, integer division) and -logf(u), u = fio's __rand_0_1 in (0, 1], truncated;
//   seeds rand_seeds[FIO_RAND_POISSON_OFF] for reads, [FIO_RAND_POISSON2_OFF] for writes. The
//   gaps equal those fio 3.33 printed with --debug=rate (fixtures fio-3.33-poisson-*).
// - rate_min / rate_iops_min: checked once per rate_cycle (1000 ms) after the first cycle;
//   a direction that moved less than that over the cycle ends the job with fio's EIO.
// - with rwmix, a direction that is ahead of its rate hands its turn to the other one if that
//   one is behind (fio's rate_ddir()).
// The pacer never sleeps: it tells the job when it may issue, and the engine waits.

import { invalidArgument } from '@vfio-node/core';
import type { IO_READ, IO_WRITE } from './io-target.js';
import type { JobOptions } from './options.js';
import { splitPerDirection } from './per-direction.js';
import { fioRand01, Taus88 } from './rand.js';
import { parseBool, parseInteger, parseSize } from './units.js';

/** The directions a rate applies to: reads and writes (a job with trims has no rate: src/trim.ts). */
export type RateDirection = typeof IO_READ | typeof IO_WRITE;

/** The rate options of one job, per direction (index 0 read, 1 write); 0 means no limit. */
export interface RateOptions {
  /** rate=: bytes per second. */
  bps: [number, number];
  /** rate_iops=: I/Os per second (used for a direction without rate=). */
  iops: [number, number];
  /** rate_min=: bytes per second the job must keep up. */
  minBps: [number, number];
  /** rate_iops_min=: I/Os per second the job must keep up. */
  minIops: [number, number];
  /** rate_process=. */
  process: 'linear' | 'poisson';
  /** rate_cycle= in ms (fio's default 1000). */
  cycleMs: number;
  /** rate_ignore_thinktime=: after a thinktime, carry on at the rate instead of catching up. */
  ignoreThinktime: boolean;
}

/** fio's defaults: no limits, linear, a 1000 ms cycle. */
export function defaultRateOptions(): RateOptions {
  return { bps: [0, 0], iops: [0, 0], minBps: [0, 0], minIops: [0, 0], process: 'linear', cycleMs: 1000, ignoreThinktime: false };
}

/** True when the job has any rate or minimum rate. */
export const rateActive = (r: RateOptions): boolean => [...r.bps, ...r.iops, ...r.minBps, ...r.minIops].some(Boolean);

function perDirection(key: string, value: string | undefined, parse: (text: string) => number): [number, number] {
  if (value === undefined || value === '') throw invalidArgument(key, value ?? '', `a value (${key}=R or ${key}=R,W)`);
  const [r, w] = splitPerDirection(value);
  return [r === undefined ? 0 : parse(r), w === undefined ? 0 : parse(w)];
}

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

/** The option table entries of the rate options (merged into options.ts's table). */
export const RATE_SETTERS: Record<string, Setter> = {
  rate: (o, v, k) => { o.rate.bps = perDirection(k, v, (t) => parseSize(k, t, o.kbBase)); },
  rate_iops: (o, v, k) => { o.rate.iops = perDirection(k, v, (t) => parseInteger(k, t)); },
  rate_min: (o, v, k) => { o.rate.minBps = perDirection(k, v, (t) => parseSize(k, t, o.kbBase)); },
  rate_iops_min: (o, v, k) => { o.rate.minIops = perDirection(k, v, (t) => parseInteger(k, t)); },
  rate_process: (o, v, k) => {
    const p = (v ?? '').toLowerCase();
    if (p !== 'linear' && p !== 'poisson') throw invalidArgument(k, v ?? '', 'linear or poisson');
    o.rate.process = p;
  },
  rate_cycle: (o, v, k) => { o.rate.cycleMs = parseInteger(k, v ?? '', 1); },
  rate_ignore_thinktime: (o, v, k) => { o.rate.ignoreThinktime = v === undefined || v === '' ? true : parseBool(k, v); },
};

/** The rate options that are flags on the command line (a bare --opt means 1). */
export const RATE_FLAGS: readonly string[] = ['rate_ignore_thinktime'];

/** Returned by RatePacer.choose() when no direction may issue yet. */
export const RATE_WAIT = -1;

/**
 * When a rate-limited job may issue its next I/O, per direction. Times are the engine's
 * clock in ns. Built once per job; no allocation per I/O.
 */
export class RatePacer {
  /** Bytes per second per direction (0: not limited). */
  private readonly bps: Float64Array;
  /** The smallest block size per direction (fio's min_bs), for rate_iops and poisson. */
  private readonly minBs: [number, number];
  private readonly poisson: boolean;
  /** Poisson: one generator per direction (fio's poisson_state). */
  private readonly rngs: [Taus88, Taus88];
  private epochNs = 0;
  private readonly issuedBytes = new Float64Array(2);
  /** Earliest time the next I/O of each direction may start. */
  private readonly nextNs = new Float64Array(2);
  /** Poisson: the running arrival time, ns after the epoch. */
  private readonly lastNs = new Float64Array(2);
  /** When choose() returns RATE_WAIT: the time the job should look again. */
  wakeNs = 0;
  // rate_min.
  private readonly minBps: [number, number];
  private readonly cycleNs: number;
  private checkNs = 0;
  private readonly checkBytes = new Float64Array(2);
  private readonly checkIos = new Float64Array(2);
  private readonly minIops: [number, number];

  /**
   * @param r the job's rate options
   * @param minBs the smallest block size per direction (fio's min_bs)
   * @param poissonSeeds the seeds of the Poisson gaps of reads and writes (rand.ts fioSeed of
   *   FIO_RAND_POISSON_OFF and FIO_RAND_POISSON2_OFF)
   * @param kbBase 1024 or 1000, for the messages of rate_min
   */
  constructor(private readonly r: RateOptions, minBs: [number, number], poissonSeeds: readonly [number, number], private readonly kbBase: number) {
    this.minBs = minBs;
    this.bps = new Float64Array([0, 1].map((d) => r.bps[d] || r.iops[d]! * minBs[d]!));
    this.poisson = r.process === 'poisson';
    this.rngs = [new Taus88(poissonSeeds[0]), new Taus88(poissonSeeds[1])];
    this.minBps = r.minBps;
    this.minIops = r.minIops;
    this.cycleNs = r.cycleMs * 1e6;
  }

  /** Starts (or, at the end of ramp_time, restarts) the clock: fio resets its rate counters then. */
  start(now: number): void {
    this.epochNs = now;
    this.issuedBytes.fill(0);
    this.nextNs.fill(now);
    this.lastNs.fill(0);
    this.checkNs = now;
    this.checkBytes.fill(0);
    this.checkIos.fill(0);
  }

  /**
   * The direction to issue now, given the one the job's mix chose: that one if it is due;
   * else, when the job mixes directions, the other if that one is due; else RATE_WAIT with
   * wakeNs set to the earlier of the two due times.
   */
  choose(dir: RateDirection, now: number, mixed: boolean): number {
    if (this.nextNs[dir]! <= now) return dir;
    const other = (dir ^ 1) as RateDirection;
    if (mixed && this.nextNs[other]! <= now) return other;
    this.wakeNs = mixed ? Math.min(this.nextNs[dir]!, this.nextNs[other]!) : this.nextNs[dir]!;
    return RATE_WAIT;
  }

  /** Records an I/O of `bytes` issued in `dir` and sets when the direction's next one is due. */
  issued(dir: RateDirection, bytes: number): void {
    const bps = this.bps[dir]!;
    if (!bps) return;
    this.issuedBytes[dir]! += bytes;
    if (this.poisson) {
      this.lastNs[dir]! += fioPoissonGapUs(this.rngs[dir], Math.floor(bps / this.minBs[dir])) * 1000;
      this.nextNs[dir] = this.epochNs + this.lastNs[dir]!;
    } else {
      this.nextNs[dir] = this.epochNs + (this.issuedBytes[dir]! * 1e9) / bps;
    }
  }

  /**
   * rate_ignore_thinktime: the job thought for `ns`; count the I/O it would have issued
   * meanwhile (less one block, so it starts again at once) instead of catching up on it.
   */
  skip(dir: RateDirection, ns: number): void {
    const bps = this.bps[dir]!;
    if (!bps || !this.r.ignoreThinktime) return;
    if (this.poisson) {
      this.lastNs[dir]! += ns;
      this.nextNs[dir] = this.epochNs + this.lastNs[dir]!;
      return;
    }
    this.issuedBytes[dir]! += Math.max(0, (bps * ns) / 1e9 - this.minBs[dir]);
    this.nextNs[dir] = this.epochNs + (this.issuedBytes[dir]! * 1e9) / bps;
  }

  /**
   * rate_min/rate_iops_min, once per rate_cycle: given the bytes and I/Os completed so far
   * per direction, returns why the job must end. Only directions that moved data are checked, as fio does (fio's "min rate not met"), or undefined.
   */
  checkMin(now: number, bytes: readonly number[], ios: readonly number[]): string | undefined {
    if (!this.minBps[0] && !this.minBps[1] && !this.minIops[0] && !this.minIops[1]) return undefined;
    const spent = now - this.checkNs;
    if (spent < this.cycleNs) return undefined;
    let why: string | undefined;
    for (const d of [0, 1] as const) {
      // fio checks only the directions that moved data.
      if (!bytes[d]) continue;
      const bps = ((bytes[d]! - this.checkBytes[d]!) * 1e9) / spent;
      const iops = ((ios[d]! - this.checkIos[d]!) * 1e9) / spent;
      const name = d === 0 ? 'read' : 'write';
      if (this.minBps[d] && bps < this.minBps[d]) why ??= `${name}: min rate ${Math.floor(this.minBps[d] / this.kbBase)} KiB/s not met, got ${Math.floor(bps / this.kbBase)} KiB/s`;
      else if (this.minIops[d] && iops < this.minIops[d]) why ??= `${name}: min rate ${this.minIops[d]} IOPS not met, got ${Math.floor(iops)} IOPS`;
      this.checkBytes[d] = bytes[d]!;
      this.checkIos[d] = ios[d]!;
    }
    this.checkNs = now;
    return why;
  }
}

/**
 * One gap of rate_process=poisson in whole µs, as fio 3.33 computes it (backend.c
 * usec_for_io): (10^6 / iops, integer division) times -logf(u) in single precision, u from
 * fio's __rand_0_1, truncated. fio divides by zero when the rate is under one block per
 * second; here such a rate counts as 1 IOPS.
 * @param rng the direction's generator
 * @param iops the direction's rate in I/Os per second (bytes/s over the smallest block size)
 */
export function fioPoissonGapUs(rng: Taus88, iops: number): number {
  const scale = Math.fround(Math.floor(1e6 / Math.max(1, iops)));
  const minusLog = -Math.fround(Math.log(Math.fround(fioRand01(rng))));
  return Math.trunc(Math.fround(scale * minusLog));
}
