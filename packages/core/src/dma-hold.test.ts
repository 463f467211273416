// DmaAllocator's bookkeeping on the host. hold: memory a device may still write (the buffer
// of a command given up before the controller completed it) is not handed out again after
// its owner releases it, until the hold ends; pin/unpin do the same for each queued command's
// buffer without a closure. iovaOf: translate() for the allocator's own
// memory as a number (a driver's per-I/O buffer check without a BigInt). With 4 KiB pages
// and the IOMMU mapping calls stubbed (the allocator's bookkeeping is what is tested; the lab
// tests the real mapping).
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

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('DmaAllocator.hold', () => {
  it('(without a hold, the released range comes back once its view is finalized)', async () => {
    const dma = allocator();
    const a = dma.alloc(4096);
    const iova = a.iova;
    a.release();
    await turns(20);
    expect(dma.alloc(4096).iova).toBe(iova);
    dma.close();
  });

  it('keeps a released allocation out of use until the hold ends, then hands it out again', async () => {
    const dma = allocator();
    const a = dma.alloc(4096);
    const iova = a.iova;
    const unhold = dma.hold(a.bytes);
    a.release();
    expect(a.bytes.length).toBe(0); // detached as usual
    await turns(20);
    const while1 = [dma.alloc(4096), dma.alloc(4096)];
    expect(while1.map((m) => m.iova)).not.toContain(iova);
    unhold();
    unhold(); // a second call does nothing
    for (const m of while1) m.release();
    await turns(20);
    const after = [dma.alloc(4096), dma.alloc(4096), dma.alloc(4096)];
    expect(after.map((m) => m.iova)).toContain(iova);
    dma.close();
  });

  it('a large allocation (a chunk of its own) keeps its chunk and IOVA mapped until the hold ends', () => {
    const dma = allocator();
    const big = dma.alloc(4 << 20);
    const unhold = dma.hold(big.bytes.subarray(4096));
    big.release();
    expect(dma.stats().chunks).toBe(1);
    unhold();
    expect(dma.stats().chunks).toBe(0);
    dma.close();
  });

  it('a hold ended before the release changes nothing; a view that is not DMA memory holds nothing', async () => {
    const dma = allocator();
    const a = dma.alloc(4096);
    const iova = a.iova;
    dma.hold(a.bytes)();
    a.release();
    await turns(20);
    expect(dma.alloc(4096).iova).toBe(iova);
    expect(() => dma.hold(new Uint8Array(8))()).not.toThrow();
    dma.close();
  });
});

describe('DmaAllocator.pin', () => {
  it('keeps a range released during a command out of use until the last pin ends', async () => {
    const dma = allocator();
    const a = dma.alloc(4096);
    const iova = a.iova;
    const p1 = dma.pin(a.bytes.subarray(512)); // two commands into one buffer
    const p2 = dma.pin(a.bytes);
    expect(p1!.iova).toBe(Number(iova));
    a.release(); // the caller lets go while both are on the device
    await turns(20);
    dma.unpin(p1!);
    await turns(20);
    const during = [dma.alloc(4096), dma.alloc(4096)];
    expect(during.map((m) => m.iova)).not.toContain(iova);
    dma.unpin(p2!);
    for (const m of during) m.release();
    await turns(20);
    const after = [dma.alloc(4096), dma.alloc(4096), dma.alloc(4096)];
    expect(after.map((m) => m.iova)).toContain(iova);
    dma.close();
  });

  it('a pin of memory that is not an allocation, or is the driver\'s own, is null; a pin ended before the release changes nothing', async () => {
    const dma = allocator();
    expect(dma.pin(new Uint8Array(4096))).toBeNull();
    const internal = dma.alloc(4096, { internal: true });
    expect(dma.pin(internal.bytes)).toBeNull(); // the driver's own memory: never a caller's buffer
    const a = dma.alloc(4096);
    const iova = a.iova;
    dma.unpin(dma.pin(a.bytes)!);
    a.release();
    await turns(20);
    expect(dma.alloc(4096).iova).toBe(iova);
    dma.close();
  });

  it('a pin and a hold on one allocation: the range waits for both', async () => {
    const dma = allocator();
    const a = dma.alloc(4096);
    const iova = a.iova;
    const pin = dma.pin(a.bytes)!;
    const unhold = dma.hold(a.bytes);
    a.release();
    dma.unpin(pin);
    await turns(20);
    const during = dma.alloc(4096);
    expect(during.iova).not.toBe(iova);
    unhold();
    during.release();
    await turns(20);
    expect([dma.alloc(4096), dma.alloc(4096)].map((m) => m.iova)).toContain(iova);
    dma.close();
  });
});

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
