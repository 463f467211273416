import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from './size.js';

describe('parseSize', () => {
  it('reads bare bytes and binary units', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('4K')).toBe(4096);
    expect(parseSize('4k')).toBe(4096);
    expect(parseSize('256M')).toBe(268435456);
    expect(parseSize('1G')).toBe(1073741824);
    expect(parseSize('2GiB')).toBe(2147483648);
    expect(parseSize('1T')).toBe(1099511627776);
    expect(parseSize('1.5G')).toBe(1610612736);
    expect(parseSize(8192)).toBe(8192);
  });

  it('rejects what is not a size, naming the option', () => {
    expect(() => parseSize('1X', '--memory')).toThrow(/invalid --memory: "1X"/);
    expect(() => parseSize('', '--memory')).toThrow(/expected a size/);
    expect(() => parseSize('0.3K')).toThrow(/whole number of bytes/);
    expect(() => parseSize(-1)).toThrow(/whole number/);
    expect(() => parseSize('G')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});

describe('formatSize', () => {
  it('uses the largest exact unit', () => {
    expect(formatSize(2 ** 30)).toBe('1G');
    expect(formatSize(1536 * 2 ** 20)).toBe('1536M');
    expect(formatSize(4097)).toBe('4097');
    expect(parseSize(formatSize(3 * 2 ** 20))).toBe(3 * 2 ** 20);
  });
});
