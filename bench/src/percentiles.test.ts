import { describe, expect, it } from 'vitest';
import { platValToIdx } from './histogram.js';
import { applyOption, defaultJobOptions, DEFAULT_PERCENTILES } from './options.js';
import { percentilePrecision } from './percentiles.js';
import { formatPercentiles } from './report-normal.js';

const list = (v: string) => {
  const o = defaultJobOptions('j');
  applyOption(o, 'percentile_list', v);
  return o.percentileList;
};

describe('percentile_list (fio HOWTO "percentile_list", fio 3.33)', () => {
  it('sorts the list, takes up to 20 entries in (0, 100], refuses the rest', () => {
    expect(list('99.9:50:1:99.999')).toEqual([1, 50, 99.9, 99.999]);
    expect(list(Array.from({ length: 20 }, (_, i) => i + 1).join(':'))).toHaveLength(20);
    // fio 3.33: "the list exceeding max length 20".
    expect(() => list(Array.from({ length: 21 }, (_, i) => i + 1).join(':'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => list('0:50')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => list('50::99')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => list('101')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('prints as many decimals as the most precise entry has (the default list: two)', () => {
    expect(percentilePrecision(DEFAULT_PERCENTILES)).toBe(2);
    expect(percentilePrecision([50, 99])).toBe(0);
    expect(percentilePrecision([1.5, 99.9999])).toBe(4);
  });

  it("lays the lines out as fio 3.33 did for the same lists ('|  50th=[   30],  99th=[   50]')", () => {
    const plat = new Float64Array(2000);
    for (let i = 0; i < 98; i++) plat[platValToIdx(30)]!++;
    plat[platValToIdx(50)]! += 2;
    const a = formatPercentiles(plat, 100, [50, 99], 'clat', percentilePrecision([50, 99]));
    expect(a).toBe('    clat percentiles (nsec):\n     |  50th=[   30],  99th=[   50]\n');
    const b = formatPercentiles(plat, 100, [1.5, 99.9999], 'clat', percentilePrecision([1.5, 99.9999]));
    expect(b).toBe('    clat percentiles (nsec):\n     |  1.5000th=[   30], 99.9999th=[   50]\n');
  });
});
