import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { calcPercentiles, FIO_IO_U_PLAT_NR, newPlat, nonEmptyBins, platIdxToVal, platValToIdx } from './histogram.js';
import { DEFAULT_PERCENTILES } from './options.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

describe("fio's log-linear bins", () => {
  it('has 1856 bins (29 groups of 64)', () => expect(FIO_IO_U_PLAT_NR).toBe(1856));

  it('values below 128 are exact', () => {
    for (let v = 0; v < 128; v++) {
      expect(platValToIdx(v)).toBe(v);
      expect(platIdxToVal(v)).toBe(v);
    }
  });

  it('hand-computed bins: 128 -> idx 128 (val 129, the middle of 128..129), 1000 -> idx 317 (val 1004), 1 ms, 17 s clamps', () => {
    // 128: msb 7, error_bits 1, base 2<<6 = 128, offset (128>>1)&63 = 0; the bin holds 128 and 129.
    expect(platValToIdx(128)).toBe(128);
    expect(platValToIdx(129)).toBe(128);
    expect(platIdxToVal(128)).toBe(129);
    // 1000: msb 9, error_bits 3, base 4<<6 = 256, offset (1000>>3)&63 = 125&63 = 61 -> 317; value 512 + 61.5*8 = 1004.
    expect(platValToIdx(1000)).toBe(317);
    expect(platIdxToVal(317)).toBe(1004);
    // 1e6 ns: msb 19, error_bits 13, base 14<<6 = 896, offset (1e6>>13)&63 = 122&63 = 58 -> 954.
    expect(platValToIdx(1_000_000)).toBe(954);
    expect(platValToIdx(2 ** 40)).toBe(FIO_IO_U_PLAT_NR - 1);
    // Values above 2^32 use more than 32 bits correctly: 2^33 + 2^27 -> msb 33, error_bits 27, offset 1.
    expect(platValToIdx(2 ** 33 + 2 ** 27)).toBe(((27 + 1) << 6) + 1);
  });

  it('every bin value maps back to its bin, and bins are increasing', () => {
    let prev = -1;
    for (let i = 0; i < FIO_IO_U_PLAT_NR; i++) {
      const v = platIdxToVal(i);
      expect(v).toBeGreaterThan(prev);
      expect(platValToIdx(v)).toBe(i);
      prev = v;
    }
  });

  it('the relative error of a bin is below 1/128', () => {
    for (const v of [129, 1000, 65_432, 1_234_567, 98_765_432, 4_000_000_000]) {
      const back = platIdxToVal(platValToIdx(v));
      expect(Math.abs(back - v) / v).toBeLessThan(1 / 128);
    }
  });
});

describe('percentiles', () => {
  it('known input: 100 samples 1..100 ns', () => {
    const plat = newPlat();
    for (let v = 1; v <= 100; v++) plat[platValToIdx(v)]!++;
    expect(calcPercentiles(plat, 100, [1, 50, 99, 99.99])).toEqual([1, 50, 99, 100]);
  });

  it('sorts the list and returns [] for no samples', () => {
    const plat = newPlat();
    plat[platValToIdx(5000)] = 10;
    expect(calcPercentiles(plat, 10, [99, 1])).toEqual([platIdxToVal(platValToIdx(5000)), platIdxToVal(platValToIdx(5000))]);
    expect(calcPercentiles(plat, 0, [50])).toEqual([]);
  });

  it.each(['fio-3.33-randread-psync.jsonplus.json', 'fio-3.33-randread-libaio-qd8.jsonplus.json'])(
    "rebuilt from fio's json+ bins (%s), our percentiles equal fio's",
    (name) => {
      const clat = fixture(name).jobs[0].read.clat_ns;
      const plat = newPlat();
      for (const [val, count] of Object.entries(clat.bins as Record<string, number>)) {
        const idx = platValToIdx(Number(val));
        expect(platIdxToVal(idx)).toBe(Number(val));
        plat[idx]! += count;
      }
      expect(plat.reduce((a, b) => a + b, 0)).toBe(clat.N);
      const ours = calcPercentiles(plat, clat.N, DEFAULT_PERCENTILES);
      expect(Object.fromEntries(DEFAULT_PERCENTILES.map((p, i) => [p.toFixed(6), ours[i]]))).toEqual(clat.percentile);
      expect(nonEmptyBins(plat).map(([v, c]) => [String(v), c])).toEqual(Object.entries(clat.bins));
    },
  );
});
