// The register decoders of the bring-up's explanation, against values built from the
// specification's field layouts by hand (Base 2.0 §3.1.3.5 CC, §3.1.3.6 CSTS, §3.1.3.8 AQA).

import { describe, expect, it } from 'vitest';
import { decodeAqa, decodeCc, decodeCsts } from './decode.js';

describe('register decoders', () => {
  it('decodes the CC this driver writes at step 5: EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES', () => {
    // IOCQES=4 (bits 23:20), IOSQES=6 (bits 19:16), EN=1 (bit 0): 0x00460001.
    expect(decodeCc(0x0046_0001)).toBe('EN=1 CSS=000b MPS=0 (4096-byte pages) AMS=000b SHN=00b IOSQES=6 (64 B) IOCQES=4 (16 B)');
  });

  it('decodes a shutdown notification, a larger page and a CC without entry sizes', () => {
    // SHN=01b (bits 15:14), MPS=1 (bits 10:7), CSS=110b (bits 6:4).
    expect(decodeCc((1 << 14) | (1 << 7) | (0b110 << 4))).toBe('EN=0 CSS=110b MPS=1 (8192-byte pages) AMS=000b SHN=01b IOSQES=0 IOCQES=0');
  });

  it('decodes CSTS: RDY, CFS and the shutdown status by name', () => {
    expect(decodeCsts(0x1)).toBe('RDY=1 CFS=0 SHST=00b (normal operation)');
    expect(decodeCsts(0x0)).toBe('RDY=0 CFS=0 SHST=00b (normal operation)');
    expect(decodeCsts(0b1000 | 0b11)).toBe('RDY=1 CFS=1 SHST=10b (shutdown complete)');
    expect(decodeCsts(0b0100)).toBe('RDY=0 CFS=0 SHST=01b (shutdown occurring)');
  });

  it("decodes AQA's two 0's based sizes", () => {
    expect(decodeAqa((31 << 16) | 31)).toBe("ASQS=31 ACQS=31 (0's based: 32 entries each)");
    expect(decodeAqa((15 << 16) | 63)).toBe("ASQS=63 ACQS=15 (0's based: 64 SQ and 16 CQ entries)");
  });
});
