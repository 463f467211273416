import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device, native } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

describe('hugepage DMA memory is pinned and mapped in whole chunks through VFIO_IOMMU_MAP_DMA', () => {
  let dev: Device;
  beforeAll(() => {
    dev = Device.open(labNvme()[0]!);
  });
  afterAll(() => dev?.close());

  it('allocates 64 MiB in several regions at distinct, aligned IOVAs, zeroed, and frees them', () => {
    const before = dev.dma.stats();
    const regions = Array.from({ length: 8 }, () => dev.dma.alloc(8 * 1024 * 1024));
    const after = dev.dma.stats();
    expect(after.hugepages).toBe(true);
    expect(after.mappedBytes - before.mappedBytes).toBe(64 * 1024 * 1024);
    const iovas = regions.map((r) => r.iova);
    expect(new Set(iovas).size).toBe(8);
    for (const r of regions) {
      expect(r.iova % 0x200000n).toBe(0n);
      expect(r.iova).not.toBe(0n);
      expect(r.bytes.every((b) => b === 0)).toBe(true);
      r.bytes.fill(0xa5);
    }
    // No two regions overlap in IOVA space.
    const sorted = [...iovas].sort((a, b) => (a < b ? -1 : 1));
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(8n * 1024n * 1024n);
    for (const r of regions) r.release();
    expect(dev.dma.stats().mappedBytes).toBe(before.mappedBytes);
  });

  it('carves small allocations out of one mapped chunk and translates views to IOVAs', () => {
    const a = dev.dma.alloc(4096);
    const b = dev.dma.alloc(512, { align: 512 });
    expect(a.native.id).toBe(b.native.id);
    expect(dev.dma.translate(a.bytes)).toBe(a.iova);
    expect(dev.dma.translate(a.bytes.subarray(100))).toBe(a.iova + 100n);
    expect(dev.dma.translate(new Uint8Array(4096))).toBeUndefined();
    expect(a.iovaAt(4096)).toBe(a.iova + 4096n);
    expect(() => a.iovaAt(4097)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    a.release();
    b.release();
  });

  it('refuses to map memory outside a DMA buffer and keeps the process alive', () => {
    const buf = native.DmaBuffer.alloc(2 * 1024 * 1024);
    // An offset past the end of the buffer: the native core must refuse it, not map stray memory.
    expect(() => native.vfioMapDma(0, buf, 4 * 1024 * 1024, 4096, 0x7000_0000n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => native.vfioMapDma(0, buf, 4096, 4 * 1024 * 1024, 0x7000_0000n)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => native.vfioMapDma(0, buf, 100, 4096, 0x7000_0000n)).toThrow(expect.objectContaining({ code: 'ERR_MISALIGNED' }));
    buf.release();
    expect(buf.buffer.byteLength).toBe(0);
    expect(() => dev.dma.alloc(-1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => dev.dma.alloc(4096, { align: 3000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});
