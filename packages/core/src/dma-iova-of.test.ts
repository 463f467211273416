// DmaAllocator.iovaOf: translate() for the allocator's own memory as a number (a driver's
// per-I/O buffer check without a BigInt). On the host, with 4 KiB pages and the IOMMU
// mapping calls stubbed, as in dma-hold.test.ts.
import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';

vi.mock('./native.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('./native.js')>();
  const real = m.native as unknown as Record<string, unknown>;
  const base = (typeof real.DmaBuffer === 'function' ? real : (real.default as Record<string, unknown>));
  return { native: { ...base, vfioMapDma: () => undefined, vfioUnmapDma: () => undefined } };
});

const { DmaAllocator } = await import('./dma.js');

function allocator() {
  let next = 0x100_0000n;
  const container = {
    fd: -1,
    allocateIova(size: bigint) {
      const at = next;
      next += size;
      return at;
    },
    releaseIova() {},
  };
  return new DmaAllocator(container as never, pino({ level: 'silent' }), { hugepages: false });
}

describe('DmaAllocator.iovaOf', () => {
  it('gives what translate() gives for views of live allocations, as a number, and -1 for anything else', () => {
    const dma = allocator();
    const a = dma.alloc(8192);
    const b = dma.alloc(4096);
    for (const view of [a.bytes, a.bytes.subarray(4096, 8192), new DataView(a.bytes.buffer, 100, 8), b.bytes]) {
      expect(dma.iovaOf(view)).toBe(Number(dma.translate(view)));
    }
    expect(dma.iovaOf(a.bytes.subarray(512))).toBe(Number(a.iova) + 512);
    expect(dma.iovaOf(new Uint8Array(4096))).toBe(-1); // not the allocator's
    const internal = dma.alloc(4096, { internal: true });
    expect(dma.iovaOf(internal.bytes)).toBe(-1); // the driver's own (queues): never an I/O buffer
    const view = b.bytes;
    b.release();
    expect(dma.iovaOf(view)).toBe(-1); // released
    expect(dma.translate(view)).toBeUndefined();
    dma.close();
  });
});
