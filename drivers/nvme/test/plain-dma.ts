// DMA memory for unit tests of the queue logic, with no device: each allocation is a plain
// ArrayBuffer with a made-up IOVA (page-aligned, from 1 MiB up), and no native buffer, so
// it suits QueuePair with fakeQueueHandle only. Releases are recorded by IOVA.
import type { DmaMemory, DmaSource } from '@vfio-node/core';

/** The allocator, and the IOVAs of the allocations released so far, in order. */
export interface PlainDma extends DmaSource {
  readonly released: number[];
}

export function plainDma(): PlainDma {
  let next = 0x10_0000;
  const released: number[] = [];
  return {
    released,
    alloc(size: number): DmaMemory {
      const bytes = new Uint8Array(size);
      const iova = BigInt(next);
      next += Math.ceil(size / 4096) * 4096;
      const release = () => void released.push(Number(iova));
      const memory: Omit<DmaMemory, 'native'> = { bytes, iova, size, view: new DataView(bytes.buffer), offset: 0, iovaAt: (o: number) => iova + BigInt(o), release, [Symbol.dispose]: release };
      return memory as DmaMemory; // no native buffer: fakeQueueHandle never asks for one
    },
  };
}
