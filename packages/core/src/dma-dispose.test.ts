// `using` on DMA memory that can be made without a device: an arena over a region, and
// the allocations it hands out.
import { describe, expect, it } from 'vitest';
import { DmaArena } from './dma-shared.js';
import type { DmaMemory } from './dma.js';

function fakeRegion(size: number) {
  let releases = 0;
  const bytes = new Uint8Array(size);
  const release = () => void releases++;
  const region = {
    iova: 0x20_0000n, size, bytes, view: new DataView(bytes.buffer), native: {}, offset: 0,
    iovaAt: (o: number) => 0x20_0000n + BigInt(o), release, [Symbol.dispose]: release,
  } as unknown as DmaMemory;
  return { region, releases: () => releases };
}

describe('DMA memory and using', () => {
  it('an arena gives its region back at the end of the block', () => {
    const { region, releases } = fakeRegion(1 << 16);
    {
      using arena = new DmaArena(region);
      using mem = arena.alloc(4096);
      mem.bytes[0] = 1;
      expect(releases()).toBe(0);
    }
    expect(releases()).toBe(1);
  });

  it("an arena allocation's dispose is its release (memory goes back with the arena)", () => {
    const { region, releases } = fakeRegion(1 << 16);
    const arena = new DmaArena(region);
    const mem = arena.alloc(64);
    expect(typeof mem[Symbol.dispose]).toBe('function');
    mem[Symbol.dispose]();
    expect(releases()).toBe(0);
    arena[Symbol.dispose]();
    expect(releases()).toBe(1);
  });
});
