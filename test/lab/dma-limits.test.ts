import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device, VfioError } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const MiB2 = 2 * 1024 * 1024;
const pool = (f: string) => Number(readFileSync(`/sys/kernel/mm/hugepages/hugepages-2048kB/${f}`, 'utf8'));
const meminfoBytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;

function thrown(fn: () => unknown): VfioError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VfioError);
    return err as VfioError;
  }
  throw new Error('expected a throw');
}

// Asking for more DMA memory than the machine can give is a named error before any mmap,
// not a zero-fill of all RAM.
describe('DMA memory beyond the free hugepages is refused with ERR_NO_HUGEPAGES', () => {
  let dev: Device;
  beforeAll(() => {
    dev = Device.open(labNvme()[0]!);
  });
  afterAll(() => dev?.close());

  it('names the hugepages asked and free, says how to reserve more, and maps nothing', () => {
    const before = dev.dma.stats();
    const free = pool('free_hugepages') - pool('resv_hugepages');
    const total = pool('nr_hugepages');
    const asked = free + 1;
    const e = thrown(() => dev.dma.alloc(asked * MiB2));
    expect(e.code).toBe('ERR_NO_HUGEPAGES');
    expect(e.message).toBe(`DMA memory of ${asked * MiB2} bytes needs ${asked} free 2 MiB hugepages; ${free} of the ${total} reserved are free`);
    expect(e.hint).toMatch(/vfio-node setup --hugepages \d+/);
    expect(e.details).toMatchObject({ asked, free, total });
    expect(dev.dma.stats()).toEqual(before);
    expect(pool('free_hugepages')).toBe(free + pool('resv_hugepages')); // nothing was taken
    // An absurd size too, and what fits still works.
    expect(thrown(() => dev.dma.alloc(2 ** 50)).code).toBe('ERR_NO_HUGEPAGES');
    const ok = dev.dma.alloc(4096);
    expect(ok.size).toBe(4096);
    ok.release();
  });
});

describe('DMA memory in 4 KiB pages beyond what can be pinned is refused with ERR_DMA_TOO_LARGE', () => {
  let dev: Device;
  beforeAll(() => {
    // The first device of a container sets the allocator's options.
    dev = Device.open(labNvme()[0]!, { dma: { hugepages: false } });
  });
  afterAll(() => dev?.close());

  it('refuses more than half of MemAvailable, naming the limit, and still allocates what fits', () => {
    const half = meminfoBytes('MemAvailable') / 2;
    const size = Math.ceil(half / MiB2) * MiB2 + 64 * MiB2;
    const e = thrown(() => dev.dma.alloc(size));
    expect(e.code).toBe('ERR_DMA_TOO_LARGE');
    expect(e.message).toMatch(new RegExp(`^DMA memory of ${size} bytes in 4 KiB pages is more than \\d+ bytes \\(half of MemAvailable in /proc/meminfo\\)$`));
    expect(e.hint).toMatch(/hugepages/);
    expect(dev.dma.stats().chunks).toBe(0);
    const ok = dev.dma.alloc(8192);
    expect(dev.dma.stats()).toMatchObject({ hugepages: false, chunks: 1 });
    ok.release();
  });
});
