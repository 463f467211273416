import { describe, expect, it } from 'vitest';
import { parseBool, parseSize, parseSizeOrPercent, parseTimeUs } from './units.js';

describe("fio's size suffixes (HOWTO, kb_base=1024 examples)", () => {
  it.each([
    ['4096', 4096], ['4096b', 4096], ['4096B', 4096], ['4k', 4096], ['4kb', 4096], ['4kB', 4096], ['4K', 4096], ['4KB', 4096],
    ['1m', 1048576], ['1024k', 1048576], ['1mi', 1000000], ['1000ki', 1000000], ['1t', 1099511627776], ['1024g', 1099511627776],
    ['1ti', 1e12], ['0x1000', 4096], ['2g', 2147483648],
  ])('%s = %d', (text, bytes) => expect(parseSize('bs', text)).toBe(bytes));

  it.each([
    ['4ki', 4096], ['4KiB', 4096], ['1m', 1000000], ['1000k', 1000000], ['1mi', 1048576], ['1ti', 1099511627776],
  ])('kb_base=1000: %s = %d', (text, bytes) => expect(parseSize('bs', text, 1000)).toBe(bytes));

  it('refuses garbage and names the option', () => {
    expect(() => parseSize('bs', '4q')).toThrow(/invalid bs: "4q"/);
    expect(() => parseSize('size', '')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('percentages for size and offset', () => {
    expect(parseSizeOrPercent('size', '50%')).toEqual({ percent: 50 });
    expect(parseSizeOrPercent('size', '8m')).toEqual({ bytes: 8 << 20 });
    expect(() => parseSizeOrPercent('size', '150%')).toThrow(/percentage/);
  });
});

describe("fio's time values", () => {
  it.each([
    ['30', 30e6], ['30s', 30e6], ['500ms', 500e3], ['500msec', 500e3], ['250us', 250], ['2m', 120e6], ['1h', 3600e6], ['1d', 86400e6],
  ])('%s = %d us', (text, us) => expect(parseTimeUs('runtime', text)).toBe(us));
  it('refuses a bad unit', () => expect(() => parseTimeUs('runtime', '5x')).toThrow(/invalid runtime/));
});

describe('bool', () => {
  it('takes 1/0 and words', () => {
    expect(parseBool('x', '1')).toBe(true);
    expect(parseBool('x', 'false')).toBe(false);
    expect(() => parseBool('x', '2')).toThrow(/1 or 0/);
  });
});
