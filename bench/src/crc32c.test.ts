import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

describe('crc32c', () => {
  it('check value of "123456789" is 0xE3069283', () => expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283));
  it('RFC 3720 B.4 vectors: 32 zero bytes, 32 0xff bytes, 0..31 ascending', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });
  it('a sub-range and a continued CRC equal the CRC of the whole', () => {
    const b = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
    expect(crc32c(b, 0, 1000)).toBe(crc32c(b.subarray(3, 1000), 0, 997, crc32c(b, 0, 3)));
  });
});
