// Caller memory registration: the checks made before anything is mapped (page alignment,
// overlap with the allocator, dma_entry_limit), and that a failed VFIO_IOMMU_MAP_DMA
// gives its IOVA back. The container is a fake over /dev/null (every map fails with
// ENOTTY); the mapping itself is tested in the lab (test/lab/dma-register.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from './native.js';
import { allocUserMemory, dmaEntryLimitOfKernel, pageAlignedSubarray, UserDmaRegistry } from './dma-user.js';
import type { Container } from './vfio/container.js';

const PAGE = native.pageSize;

function fakeContainer(fd: number) {
  const taken: bigint[] = [];
  let next = 0x100000n;
  const c = {
    fd,
    allocateIova(size: bigint) {
      const iova = next;
      next += size;
      taken.push(iova);
      return iova;
    },
    releaseIova(iova: bigint) {
      taken.splice(taken.indexOf(iova), 1);
    },
  };
  return { container: c as unknown as Container, taken };
}

const code = (f: () => unknown) => {
  try {
    f();
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('UserDmaRegistry.register refusals', () => {
  let devnull: number;
  beforeAll(() => {
    devnull = native.open('/dev/null', native.constants.O_RDWR!);
  });
  afterAll(() => native.close(devnull));

  it('refuses views that do not start and end on a page boundary, before taking an IOVA', () => {
    const { container, taken } = fakeContainer(devnull);
    const reg = new UserDmaRegistry(container, { mappings: 0, mappedBytes: 0 }, () => undefined);
    const mem = allocUserMemory(4 * PAGE);
    expect(code(() => reg.register(new Uint8Array(mem, 8, PAGE)))).toBe('ERR_DMA_REGISTER_MISALIGNED');
    expect(code(() => reg.register(new Uint8Array(mem, 0, PAGE - 8)))).toBe('ERR_DMA_REGISTER_MISALIGNED');
    expect(code(() => reg.register(new Uint8Array(0)))).toBe('ERR_DMA_REGISTER_MISALIGNED');
    expect(code(() => reg.register({} as ArrayBufferView))).toBe('ERR_INVALID_ARG');
    expect(taken).toEqual([]);
  });

  it('refuses a plain heap ArrayBuffer (it could be transferred away and its pages reused while mapped), before taking an IOVA', () => {
    const { container, taken } = fakeContainer(devnull);
    const reg = new UserDmaRegistry(container, { mappings: 0, mappedBytes: 0 }, () => undefined);
    const heap = pageAlignedSubarray(new Uint8Array(new ArrayBuffer(3 * PAGE)))!;
    expect(code(() => reg.register(heap))).toBe('ERR_DMA_REGISTER_DETACHABLE');
    expect(taken).toEqual([]);
  });

  it('refuses memory the allocator owns, and a mapping past dma_entry_limit', () => {
    const { container } = fakeContainer(devnull);
    const mem = allocUserMemory(PAGE);
    const owned = new UserDmaRegistry(container, { mappings: 0, mappedBytes: 0 }, () => 'it is DMA memory of the allocator already');
    expect(code(() => owned.register(new Uint8Array(mem)))).toBe('ERR_DMA_REGISTER_OVERLAP');
    const full = new UserDmaRegistry(container, { mappings: 65535, mappedBytes: 0 }, () => undefined);
    full.entryLimit = 65535;
    let err: unknown;
    try {
      full.register(new Uint8Array(mem));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_DMA_ENTRY_LIMIT', message: expect.stringMatching(/65535 IOMMU mappings; the kernel allows 65535/), hint: expect.stringMatching(/dma_entry_limit/) });
  });

  it('gives the IOVA back when VFIO_IOMMU_MAP_DMA fails', () => {
    const { container, taken } = fakeContainer(devnull);
    const reg = new UserDmaRegistry(container, { mappings: 0, mappedBytes: 0 }, () => undefined);
    expect(code(() => reg.register(new Uint8Array(allocUserMemory(2 * PAGE))))).toBe('ENOTTY');
    expect(taken).toEqual([]);
    expect(reg.mappings).toBe(0);
  });

  it('after close() nothing registers', () => {
    const { container } = fakeContainer(devnull);
    const reg = new UserDmaRegistry(container, { mappings: 0, mappedBytes: 0 }, () => undefined);
    reg.close();
    expect(code(() => reg.register(new Uint8Array(allocUserMemory(PAGE))))).toBe('ERR_CLOSED');
  });
});

describe('page-aligned caller memory', () => {
  it('allocUserMemory gives whole zeroed pages that start on a page boundary', () => {
    const ab = allocUserMemory(PAGE + 1);
    expect(ab.byteLength).toBe(2 * PAGE);
    expect(native.pageOffsetOf(new Uint8Array(ab))).toBe(0);
    expect(new Uint8Array(ab).every((b) => b === 0)).toBe(true);
  });

  it('pageAlignedSubarray cuts the whole pages out of any view', () => {
    const heap = Buffer.alloc(5 * PAGE).subarray(1);
    const part = pageAlignedSubarray(heap)!;
    expect(native.pageOffsetOf(part)).toBe(0);
    expect(part.byteLength % PAGE).toBe(0);
    expect(part.byteLength).toBeGreaterThanOrEqual(3 * PAGE);
    expect(part.byteOffset - heap.byteOffset).toBeLessThan(PAGE);
    expect(part.buffer).toBe(heap.buffer);
    expect(pageAlignedSubarray(new Uint8Array(100))).toBeUndefined();
    const aligned = new Uint8Array(allocUserMemory(2 * PAGE));
    expect(pageAlignedSubarray(aligned)!.byteLength).toBe(2 * PAGE);
  });

  it('dma_entry_limit comes from the kernel, 65535 when it cannot be read', () => {
    const n = dmaEntryLimitOfKernel();
    expect(Number.isSafeInteger(n) && n > 0).toBe(true);
  });
});
