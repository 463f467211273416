import { describe, expect, it } from 'vitest';
import { num2str, N2S_BYTE, N2S_BYTEPERSEC, N2S_NONE } from './num2str.js';

// Expected strings are from fio 3.33's normal output in bench/src/fixtures.
describe("fio's num2str", () => {
  it('IOPS', () => {
    expect(num2str(Math.floor((1000 * 496) / 47), 4, 1, false, N2S_NONE)).toBe('10.6k');
    expect(num2str(4179, 4, 1, false, N2S_NONE)).toBe('4179');
    expect(num2str(128000, 4, 1, false, N2S_NONE)).toBe('128k');
  });
  it('bandwidth in IEC and SI', () => {
    const bw = Math.floor((1000 * 1984 * 1024) / 47);
    expect(num2str(bw, 4, 1, true, N2S_BYTEPERSEC)).toBe('41.2MiB/s');
    expect(num2str(bw, 4, 1, false, N2S_BYTEPERSEC)).toBe('43.2MB/s');
    expect(num2str(Math.floor((4194304 * 1000) / 245), 4, 1, true, N2S_BYTEPERSEC)).toBe('16.3MiB/s');
    expect(num2str(Math.floor((4194304 * 1000) / 8), 4, 1, true, N2S_BYTEPERSEC)).toBe('500MiB/s');
  });
  it('io sizes', () => {
    expect(num2str(1984 * 1024, 4, 1, true, N2S_BYTE)).toBe('1984KiB');
    expect(num2str(1984 * 1024, 4, 1, false, N2S_BYTE)).toBe('2032kB');
    expect(num2str(4194304, 4, 1, false, N2S_BYTE)).toBe('4194kB');
  });
  it('latency min/max with 6 digits', () => {
    expect(num2str(2574400, 6, 1, false, N2S_NONE)).toBe('2574.4k');
    expect(num2str(1442, 6, 1, false, N2S_NONE)).toBe('1442');
  });
});
