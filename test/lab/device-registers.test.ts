import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

describe('a device opened through VFIO exposes its BARs with exact-width register access', () => {
  let dev: Device;
  beforeAll(() => {
    dev = Device.open(labNvme()[0]!);
  });
  afterAll(() => dev?.close());

  it('reads CAP and VS from the NVMe controller BAR0', () => {
    const bar0 = dev.bar(0);
    expect(bar0.size).toBeGreaterThanOrEqual(0x2000);
    const cap = bar0.read64(0x0);
    expect(Number(cap & 0xffffn) + 1).toBe(2048); // CAP.MQES + 1 (QEMU: 2047)
    expect(Number((cap >> 24n) & 0xffn)).toBe(15); // CAP.TO in 500 ms units
    expect(Number((cap >> 32n) & 0xfn)).toBe(0); // CAP.DSTRD
    expect(bar0.read32(0x8)).toBe(0x00010400); // VS: NVMe 1.4
    // The 64-bit read equals the two 32-bit halves.
    expect(BigInt(bar0.read32(0x0)) | (BigInt(bar0.read32(0x4)) << 32n)).toBe(cap);
  });

  it('refuses an out-of-range or misaligned register offset and keeps working', () => {
    const bar0 = dev.bar(0);
    expect(() => bar0.read32(bar0.size)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => bar0.read32(-4)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => bar0.write64(bar0.size - 4, 0n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => bar0.read32(0x2)).toThrow(expect.objectContaining({ code: 'ERR_MISALIGNED' }));
    expect(() => dev.bar(5)).toThrow(expect.objectContaining({ code: 'ERR_NO_SUCH_BAR' }));
    expect(bar0.read32(0x8)).toBe(0x00010400);
  });

  it('reads the vendor and class from config space through VFIO region 7', () => {
    expect(dev.config.read16(0x0)).toBe(0x1b36); // Red Hat, Inc. (QEMU)
    expect(dev.config.read16(0x2)).toBe(0x0010); // QEMU NVM Express Controller
    expect(dev.config.read32(0x8) >>> 8).toBe(0x010802); // class: mass storage, NVM, NVMe
  });
});
