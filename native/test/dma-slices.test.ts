// DmaBuffer.slice (issue 12): an ArrayBuffer of its own over a sub-range, so that core can
// give each allocation views that reach nothing else and detach them on release.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import native from '@vfio-node/native';
import { thrown } from './helpers.js';
import { describeExit, runChild } from './child.js';

const page = native.pageSize;

describe('DmaBuffer.slice', () => {
  it('shares memory with the buffer, both ways, at any offset (0 included)', () => {
    const buf = native.DmaBuffer.alloc(4 * page, { hugepages: false });
    const whole = new Uint8Array(buf.buffer);
    const s = buf.slice(page + 10, 100);
    expect(s).toBeInstanceOf(ArrayBuffer);
    expect(s.byteLength).toBe(100);
    new Uint8Array(s)[0] = 0xab;
    expect(whole[page + 10]).toBe(0xab);
    whole[page + 109] = 0xcd;
    expect(new Uint8Array(s)[99]).toBe(0xcd);
    const first = buf.slice(0, 4 * page); // the same address as buf.buffer
    whole[0] = 1;
    expect(new Uint8Array(first)[0]).toBe(1);
    expect(buf.liveSlices).toBe(2);
    buf.detachSlice(s);
    buf.detachSlice(first);
    buf.release();
  });

  it('detachSlice makes every view of the slice length 0 and leaves the buffer and other slices alone', () => {
    const buf = native.DmaBuffer.alloc(2 * page, { hugepages: false });
    const a = buf.slice(0, page);
    const b = buf.slice(page, page);
    const bytes = new Uint8Array(a);
    const sub = bytes.subarray(16, 32);
    const view = new DataView(a, 8);
    const words = new Uint32Array(a, 64, 4);
    new Uint8Array(b)[0] = 5;
    buf.detachSlice(a);
    expect([a.byteLength, bytes.length, sub.length, words.length]).toEqual([0, 0, 0, 0]);
    expect(() => view.getUint8(0)).toThrow(TypeError);
    bytes[0] = 9; // a no-op on a detached view
    expect(new Uint8Array(buf.buffer)[0]).toBe(0);
    expect(new Uint8Array(b)[0]).toBe(5);
    expect(buf.buffer.byteLength).toBe(2 * page);
    buf.detachSlice(a); // already detached: nothing to do
    buf.detachSlice(b);
    buf.release();
  });

  it('detachSlice refuses what is not a slice of this buffer', () => {
    const buf = native.DmaBuffer.alloc(page, { hugepages: false });
    const other = native.DmaBuffer.alloc(page, { hugepages: false });
    const foreign = other.slice(0, 16);
    for (const v of [new ArrayBuffer(16), foreign]) {
      const e = thrown(() => buf.detachSlice(v));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toMatch(/not a slice of DMA buffer/);
    }
    expect(foreign.byteLength).toBe(16); // untouched
    expect(thrown(() => buf.detachSlice(new Uint8Array(16) as never)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => buf.detachSlice(undefined as never)).code).toBe('ERR_INVALID_ARG');
    other.detachSlice(foreign);
    other.release();
    buf.release();
  });

  it('checks its arguments: integers inside the buffer, at least one byte, not after release', () => {
    const buf = native.DmaBuffer.alloc(page, { hugepages: false });
    const size = buf.size;
    const cases: Array<[unknown, unknown, string, RegExp]> = [
      [-1, 16, 'ERR_OUT_OF_RANGE', /offset must be an integer/],
      [size, 1, 'ERR_OUT_OF_RANGE', /offset must be an integer/],
      [1.5, 16, 'ERR_OUT_OF_RANGE', /offset must be an integer/],
      [0, 0, 'ERR_OUT_OF_RANGE', /length must be an integer/],
      [0, size + 1, 'ERR_OUT_OF_RANGE', /length must be an integer/],
      [0, 2.5, 'ERR_OUT_OF_RANGE', /length must be an integer/],
      [0, NaN, 'ERR_OUT_OF_RANGE', /length must be an integer/],
      [size - 16, 17, 'ERR_OUT_OF_RANGE', new RegExp(`slice \\[${size - 16}, ${size + 1}\\) is outside the DMA buffer of ${size} bytes`)],
      ['0', 16, 'ERR_INVALID_ARG', /offset must be a number/],
      [0, 16n, 'ERR_INVALID_ARG', /length must be a number/],
      [0, undefined, 'ERR_INVALID_ARG', /length must be a number/],
    ];
    for (const [offset, length, code, message] of cases) {
      const e = thrown(() => buf.slice(offset as number, length as number));
      expect({ offset, length, code: e.code }).toEqual({ offset, length, code });
      expect(e.message).toMatch(message);
    }
    expect(buf.liveSlices).toBe(0); // nothing was made by the refusals
    expect(buf.slice(size - 16, 16).byteLength).toBe(16);
    buf.release();
    const e = thrown(() => buf.slice(0, 16));
    expect(e.code).toBe('ERR_CLOSED');
    expect(e.message).toMatch(/was released/);
  });

  it('reports finalization only when no ArrayBuffer reaches the slice: transfer() keeps it quarantined, and a slice keeps the memory after release', async () => {
    const r = await runChild('dma-slice-lifetime.mjs', [], {}, 120_000, ['--expose-gc', '--harmony-rab-gsab-transfer']);
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({
      transferAvailable: true,
      liveAfterSlice: 1,
      plainFinalized: [page],
      liveAfterPlain: 0,
      transferSharesMemory: true,
      whileTransferredAlive: [], // transferred, detached, collected: still not finalized
      transferredStillReadable: 0x42,
      afterTransferredDropped: [2 * page],
      handleBufferAfterRelease: 0,
      survivorAfterRelease: 0x77,
      reopenedSees: 0x77, // the table entry lives while the slice does
      afterSurvivorGc: 'ERR_INVALID_ARG', // and goes with it
    });
  });
});

describe('DmaBuffer.alloc refuses sizes it cannot zero-fill', () => {
  it('4 KiB pages: more than MemAvailable is ERR_OUT_OF_RANGE before any mmap, naming MemAvailable', () => {
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    // Above what is available, below the machine's RAM (which has its own check).
    const size = kib('MemAvailable') * 1024 + 64 * page;
    expect(size).toBeLessThan(kib('MemTotal') * 1024 + 64 * page);
    const e = thrown(() => native.DmaBuffer.alloc(size, { hugepages: false }));
    expect(e.code).toBe('ERR_OUT_OF_RANGE');
    expect(e.message).toMatch(/bytes in 4 KiB pages is more than the \d+ bytes the kernel has available \(MemAvailable/);
  });
});
