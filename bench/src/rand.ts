// Random numbers and fio's random map. fio's default generator is Tausworthe ("taus88",
// P. L'Ecuyer, "Maximally equidistributed combined Tausworthe generators", 1996): three
// 32-bit LFSRs XORed, small state, no multiplications, repeatable from a seed
// (randrepeat=1 is fio's default). The random map (fio's axmap) marks each block once
// done, so a random pass covers every block exactly once unless norandommap is set.

/** taus88 state; `next()` returns a uniform 32-bit unsigned integer. */
export class Taus88 {
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed: number) {
    this.seed(seed);
  }

  /**
   * Seeds the way fio 3.33 does (lib/rand.c, __init_rand32): each component is the previous
   * one times 69069 XOR the seed, starting from 53 (fio writes (2^31)+(2^17)+(2^7), and ^ is
   * C's XOR); a component below its minimum (2, 8, 16: L'Ecuyer's erratum) has the minimum
   * added; then six outputs are discarded. Same seed, same stream as fio's.
   */
  seed(seed: number): void {
    const x = seed >>> 0;
    const lcg = (v: number) => (Math.imul(v, 69069) ^ x) >>> 0;
    const atLeast = (v: number, m: number) => (v < m ? v + m : v);
    this.s1 = atLeast(lcg(53), 1);
    this.s2 = atLeast(lcg(this.s1), 7);
    this.s3 = atLeast(lcg(this.s2), 15);
    for (let i = 0; i < 6; i++) this.next();
  }

  next(): number {
    let b = (((this.s1 << 13) ^ this.s1) >>> 19);
    this.s1 = (((this.s1 & 0xfffffffe) << 12) ^ b) >>> 0;
    b = (((this.s2 << 2) ^ this.s2) >>> 25);
    this.s2 = (((this.s2 & 0xfffffff8) << 4) ^ b) >>> 0;
    b = (((this.s3 << 3) ^ this.s3) >>> 11);
    this.s3 = (((this.s3 & 0xfffffff0) << 17) ^ b) >>> 0;
    return (this.s1 ^ this.s2 ^ this.s3) >>> 0;
  }

  /**
   * Uniform integer in [0, n) for n up to 2^53. Up to 2^32 this is fio's block pick
   * (io_u.c __get_next_rand_offset: lastb * (r / 2^32)); beyond, two draws (fio would
   * switch to its 64-bit generator there, which we do not have).
   */
  below(n: number): number {
    if (n <= 0x1_0000_0000) return Math.floor((this.next() / 0x1_0000_0000) * n);
    const hi = this.next() >>> 11;
    const lo = this.next();
    return Math.floor(((hi * 0x1_0000_0000 + lo) / 2 ** 53) * n);
  }
}

/** Seed for the job's buffer contents (the streams fio 3.33 seeds are fioSeed's): fio's default randseed is 0x89, different per job. */
export function jobSeed(randseed: number | undefined, randrepeat: boolean, index: number): number {
  const base = randseed ?? (randrepeat ? 0x89 : (Date.now() ^ (process.pid << 16)) >>> 0);
  return (base + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

/** fio's FIO_RANDSEED (init.c): the block-offset seed of a repeatable job is this times its thread number. */
export const FIO_RANDSEED = 0xb1899bed;

/** Indexes in fio's rand_seeds[] (fio.h): the block sizes of reads (bssplit, bsrange). */
export const FIO_RAND_BS_OFF = 0;
/** fio.h FIO_RAND_BS1_OFF: the block sizes of writes. */
export const FIO_RAND_BS1_OFF = 1;
/** fio.h FIO_RAND_BS2_OFF: the block sizes of trims. */
export const FIO_RAND_BS2_OFF = 2;
/** fio.h FIO_RAND_MIX_OFF: the read/write choice of rw=rw and randrw (rwmixread). */
export const FIO_RAND_MIX_OFF = 4;
/** fio.h FIO_RAND_BLOCK_OFF: the block offsets. */
export const FIO_RAND_BLOCK_OFF = 6;
/** fio.h FIO_RAND_POISSON_OFF: rate_process=poisson's gaps of reads. */
export const FIO_RAND_POISSON_OFF = 15;
/** fio.h FIO_RAND_ZONE_OFF: the zoned distribution's draws. */
export const FIO_RAND_ZONE_OFF = 16;
/** fio.h FIO_RAND_POISSON2_OFF: rate_process=poisson's gaps of writes. */
export const FIO_RAND_POISSON2_OFF = 17;

/**
 * fio's rand_between(state, start, end) on its 32-bit generator (lib/rand.h, rand32_upto):
 * start + floor((end - start + 1) × r / 2^32), an integer from start to end inclusive.
 */
export function fioRandBetween(rng: Taus88, start: number, end: number): number {
  return start + Math.floor((end - start + 1) * (rng.next() / 0x1_0000_0000));
}

/** fio's __rand_0_1 on its 32-bit generator (lib/rand.h): (r + 1) / 2^32, in (0, 1]. */
export function fioRand01(rng: Taus88): number {
  return (rng.next() + 1) / 0x1_0000_0000;
}

const U64 = (1n << 64n) - 1n;

/**
 * The 32-bit seed of fio 3.33's rand_seeds[slot] (init.c setup_random_seeds) for the job
 * numbered `threadNumber` (1-based over the run): randseed (default 0x89) times 0x9e370001
 * four times, then once more per slot, times the thread number, plus the slot. A job with
 * randrepeat=0 and no randseed gets random seeds.
 */
export function fioSeed(slot: number, randseed: number | undefined, randrepeat: boolean, threadNumber: number): number {
  if (!randrepeat && randseed === undefined) return (Date.now() ^ (process.pid << 16) ^ Math.imul(threadNumber, 0x9e3779b1) ^ slot) >>> 0;
  let seed = BigInt(randseed ?? 0x89) & U64;
  for (let i = 0; i < 4 + slot; i++) seed = (seed * 0x9e370001n) & U64;
  return Number((seed * BigInt(threadNumber) + BigInt(slot)) & 0xffffffffn);
}

/**
 * The 32-bit seed of fio 3.33's block-offset generator (init.c td_fill_rand_seeds_internal).
 * In fio 3.33 the seeds are set up before randseed= clears randrepeat, so randseed= alone
 * does not move the offsets: they come from FIO_RANDSEED × thread number unless the job
 * also says randrepeat=0.
 */
export function fioBlockSeed(randseed: number | undefined, randrepeat: boolean, threadNumber: number): number {
  if (randrepeat) return Number((BigInt(FIO_RANDSEED) * BigInt(threadNumber)) & 0xffffffffn);
  return fioSeed(FIO_RAND_BLOCK_OFF, randseed, randrepeat, threadNumber);
}

/**
 * The seed of fio 3.33's zipf/pareto/normal generator (filesetup.c __init_rand_distribution):
 * jhash of the file name times the thread number for a repeatable job; the block-offset seed
 * once randseed= (or randrepeat=0) made the job non-repeatable.
 */
export function fioDistributionSeed(fileName: string, randseed: number | undefined, randrepeat: boolean, threadNumber: number): number {
  if (randrepeat && randseed === undefined) return Math.imul(fioJhash(fileName), threadNumber) >>> 0;
  return fioBlockSeed(randseed, randrepeat, threadNumber);
}

const rol32 = (w: number, s: number) => ((w << s) | (w >>> (32 - s))) >>> 0;

/**
 * fio's jhash (hash.h, Bob Jenkins' lookup2-style mix) of a string's bytes with initval 0.
 * fio's loop over 12-byte blocks adds single bytes (k[0], k[4], k[8]), not 32-bit words;
 * that is kept, since it decides the seed.
 */
export function fioJhash(text: string): number {
  const k = new TextEncoder().encode(text);
  let length = k.length;
  let a = (0x61c88647 + length) >>> 0;
  let b = a;
  let c = a;
  let p = 0;
  while (length > 12) {
    a = (a + k[p]!) >>> 0;
    b = (b + k[p + 4]!) >>> 0;
    c = (c + k[p + 8]!) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 12;
    p += 12;
  }
  if (length === 0) return c;
  // The last block: bytes 8..11 go to c, 4..7 to b, 0..3 to a, little end first.
  for (let i = length - 1; i >= 0; i--) {
    const v = (k[p + i]! << ((i % 4) * 8)) >>> 0;
    if (i >= 8) c = (c + v) >>> 0;
    else if (i >= 4) b = (b + v) >>> 0;
    else a = (a + v) >>> 0;
  }
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

/**
 * fio's random map: one bit per block. `claim(b)` returns b if it is free, else the next
 * free block after it (wrapping), and marks it; -1 once every block is done.
 */
export class RandomMap {
  private readonly bits: Uint32Array;
  private free: number;

  constructor(readonly blocks: number) {
    this.bits = new Uint32Array(Math.ceil(blocks / 32));
    this.free = blocks;
  }

  get remaining(): number {
    return this.free;
  }

  claim(b: number): number {
    const got = this.nextFree(b);
    if (got >= 0) this.mark(got);
    return got;
  }

  /** b if it is free, else the next free block after it (wrapping), without marking it; -1 if none. */
  nextFree(b: number): number {
    if (this.free === 0) return -1;
    const words = this.bits.length;
    let w = b >>> 5;
    // Free bits of the starting word at or after b.
    let mask = ~this.bits[w]! & (0xffffffff << (b & 31));
    for (let n = 0; n <= words; n++) {
      // Drop bits beyond the last block in the last word.
      if (w === words - 1 && (this.blocks & 31)) mask &= (1 << (this.blocks & 31)) - 1;
      if (mask) return w * 32 + (31 - Math.clz32(mask & -mask));
      w = w + 1 === words ? 0 : w + 1;
      mask = ~this.bits[w]!;
    }
    return -1;
  }

  /** Marks block b done (nothing if it already is). */
  mark(b: number): void {
    const bit = 1 << (b & 31);
    if (this.bits[b >>> 5]! & bit) return;
    this.bits[b >>> 5]! |= bit;
    this.free--;
  }

  reset(): void {
    this.bits.fill(0);
    this.free = this.blocks;
  }
}
