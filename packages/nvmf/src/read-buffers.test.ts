// The read buffers a connection keeps between reads (read-buffers.ts), over a real RAM disk
// whose allocBuffer and release are counted.

import { describe, expect, it } from 'vitest';
import { MallocBdev } from '@vfio-node/bdev';
import { ReadBuffers } from './read-buffers.js';

/** A RAM disk that counts the buffers it hands out and gets back. */
function countingDisk() {
  const disk = new MallocBdev('malloc:1M', 1 << 20);
  const counts = { allocated: 0, released: 0 };
  const alloc = disk.allocBuffer.bind(disk);
  disk.allocBuffer = (bytes: number) => {
    counts.allocated++;
    const mem = alloc(bytes);
    return { bytes: mem.bytes, release: () => void counts.released++ };
  };
  return { disk, counts };
}

describe('ReadBuffers', () => {
  it('hands a released buffer of the same size out again instead of asking the bdev', () => {
    const { disk, counts } = countingDisk();
    const pool = new ReadBuffers(1 << 20);
    const a = pool.take(disk, 4096);
    expect(a.bytes.byteLength).toBe(4096);
    a.release();
    const b = pool.take(disk, 4096);
    expect(b.bytes).toBe(a.bytes);
    const c = pool.take(disk, 8192);
    expect(c.bytes.byteLength).toBe(8192);
    expect(counts).toEqual({ allocated: 2, released: 0 });
  });

  it('a second release() of the same lending does nothing (the buffer is not lent twice)', () => {
    const { disk } = countingDisk();
    const pool = new ReadBuffers(1 << 20);
    const a = pool.take(disk, 4096);
    a.release();
    a.release();
    const b = pool.take(disk, 4096);
    const c = pool.take(disk, 4096);
    expect(b.bytes).toBe(a.bytes);
    expect(c.bytes).not.toBe(a.bytes);
  });

  it('keeps at most maxIdleBytes: what is over goes back to the bdev', () => {
    const { disk, counts } = countingDisk();
    const pool = new ReadBuffers(8192);
    const bufs = [pool.take(disk, 4096), pool.take(disk, 4096), pool.take(disk, 4096)];
    for (const b of bufs) b.release();
    expect(counts).toEqual({ allocated: 3, released: 1 });
  });

  it('close() gives the kept buffers back, and buffers released later go back too', () => {
    const { disk, counts } = countingDisk();
    const pool = new ReadBuffers(1 << 20);
    const kept = pool.take(disk, 4096);
    const lent = pool.take(disk, 4096);
    kept.release();
    pool.close();
    expect(counts.released).toBe(1);
    lent.release();
    expect(counts.released).toBe(2);
  });

  it('keepOnly() gives back the kept buffers of a bdev that left, and keeps the others', () => {
    const one = countingDisk();
    const two = countingDisk();
    const pool = new ReadBuffers(1 << 20);
    pool.take(one.disk, 4096).release();
    pool.take(two.disk, 4096).release();
    pool.keepOnly(new Set([two.disk]));
    expect(one.counts.released).toBe(1);
    expect(two.counts.released).toBe(0);
    pool.take(two.disk, 4096);
    expect(two.counts.allocated).toBe(1);
  });
});
