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

  /** Seeds the three components through an LCG (69069, as in L'Ecuyer's paper); each must exceed its minimum (2, 8, 16). */
  seed(seed: number): void {
    let x = (seed >>> 0) ^ 0x9e3779b9;
    const lcg = () => (x = (Math.imul(x, 69069) + 1) >>> 0);
    this.s1 = lcg() | 2;
    this.s2 = lcg() | 8;
    this.s3 = lcg() | 16;
    // Discard a few outputs so that nearby seeds diverge.
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

  /** Uniform integer in [0, n) for n up to 2^53 (two draws when n needs more than 32 bits). */
  below(n: number): number {
    if (n <= 0x1_0000_0000) return Math.floor((this.next() / 0x1_0000_0000) * n);
    const hi = this.next() >>> 11;
    const lo = this.next();
    return Math.floor(((hi * 0x1_0000_0000 + lo) / 2 ** 53) * n);
  }
}

/** fio's seed for job `index` when randrepeat=1 and no randseed: fixed (fio's default randseed is 0x89), different per job. */
export function jobSeed(randseed: number | undefined, randrepeat: boolean, index: number): number {
  const base = randseed ?? (randrepeat ? 0x89 : (Date.now() ^ (process.pid << 16)) >>> 0);
  return (base + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
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
    if (this.free === 0) return -1;
    const words = this.bits.length;
    let w = b >>> 5;
    // Free bits of the starting word at or after b.
    let mask = ~this.bits[w]! & (0xffffffff << (b & 31));
    for (let n = 0; n <= words; n++) {
      // Drop bits beyond the last block in the last word.
      if (w === words - 1 && (this.blocks & 31)) mask &= (1 << (this.blocks & 31)) - 1;
      if (mask) {
        const bit = 31 - Math.clz32(mask & -mask);
        this.bits[w]! |= 1 << bit;
        this.free--;
        return w * 32 + bit;
      }
      w = w + 1 === words ? 0 : w + 1;
      mask = ~this.bits[w]!;
    }
    return -1;
  }

  reset(): void {
    this.bits.fill(0);
    this.free = this.blocks;
  }
}
