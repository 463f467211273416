// DMA memory across threads. A worker thread cannot share the main thread's
// ArrayBuffers, but it can open the same native DMA buffer by id (the native core keeps
// a process-wide table) and so see the same bytes at the same IOVAs. SharedDma is the
// plain-data description that crosses postMessage; openSharedDma turns it back into a
// DmaMemory in the receiving thread; DmaArena carves one such region into the rings
// and buffers a worker needs, without going back to the main thread's allocator.

import { native } from './native.js';
import { VfioError } from './errors.js';
import type { DmaMemory } from './dma.js';

/** A DMA allocation described as plain data (structured-clone safe). */
export interface SharedDma {
  /** Native DMA buffer id (DmaBuffer.id). */
  id: number;
  /** Offset of the region inside that buffer. */
  offset: number;
  size: number;
  /** IOVA of the region's first byte. */
  iova: bigint;
}

/** Describes a DmaMemory so that another thread can open it. */
export function shareDma(mem: DmaMemory): SharedDma {
  return { id: mem.native.id, offset: mem.offset, size: mem.size, iova: mem.iova };
}

/**
 * Opens a shared DMA region in this thread. The returned memory holds its own handle on
 * the native buffer; release() drops it (the memory itself lives until the owner frees it
 * and every opener has released).
 */
export function openSharedDma(desc: SharedDma): DmaMemory {
  const handle = native.DmaBuffer.open(desc.id);
  if (desc.offset < 0 || desc.size <= 0 || desc.offset + desc.size > handle.size) {
    handle.release();
    throw new VfioError({ code: 'ERR_OUT_OF_RANGE', message: `shared DMA region ${desc.offset}+${desc.size} is outside buffer ${desc.id} (${handle.size} bytes)` });
  }
  return viewOf(handle, desc.offset, desc.size, desc.iova, () => handle.release());
}

function viewOf(handle: InstanceType<typeof native.DmaBuffer>, offset: number, size: number, iova: bigint, onRelease: () => void): DmaMemory {
  let released = false;
  return {
    iova,
    size,
    bytes: new Uint8Array(handle.buffer, offset, size),
    view: new DataView(handle.buffer, offset, size),
    native: handle,
    offset,
    iovaAt(o: number): bigint {
      if (!Number.isInteger(o) || o < 0 || o > size) throw new VfioError({ code: 'ERR_OUT_OF_RANGE', message: `offset ${o} is outside this ${size}-byte DMA region` });
      return iova + BigInt(o);
    },
    release() {
      if (released) return;
      released = true;
      onRelease();
    },
    [Symbol.dispose]() {
      this.release();
    },
  };
}

/**
 * A bump allocator over one DMA region: what a worker uses to lay out its queue rings,
 * PRP lists and buffers in memory the main thread mapped for it. Memory is given back all
 * at once by releasing the arena. Same alloc() shape as DmaAllocator.
 */
export class DmaArena implements Disposable {
  private next = 0;
  /** What alloc() handed out, in offset order (a bump allocator only appends): [start, end) and internal. */
  private readonly allocations: Array<{ start: number; end: number; internal: boolean }> = [];

  constructor(readonly region: DmaMemory) {}

  /** As DmaAllocator.alloc: internal memory (rings, PRP lists) is never accepted by translate(). */
  alloc(size: number, options: { align?: number; internal?: boolean } = {}): DmaMemory {
    const align = options.align ?? 4096;
    if (!Number.isSafeInteger(size) || size <= 0) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `DMA allocation size must be a positive integer, got ${size}` });
    if (align <= 0 || (align & (align - 1)) !== 0) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `DMA alignment must be a power of two, got ${align}` });
    // Align the IOVA (what the device sees), not just the offset.
    const base = Number(this.region.iova % BigInt(align));
    let at = this.next;
    const mis = (base + at) % align;
    if (mis) at += align - mis;
    if (at + size > this.region.size) {
      throw new VfioError({
        code: 'ERR_DMA_ARENA_FULL',
        message: `DMA arena of ${this.region.size} bytes cannot fit ${size} more bytes (${this.next} used)`,
        hint: 'Give the worker a larger DMA region.',
      });
    }
    this.next = at + size;
    this.allocations.push({ start: at, end: at + size, internal: options.internal ?? false });
    const r = this.region;
    const bytes = r.bytes.subarray(at, at + size);
    bytes.fill(0);
    return {
      iova: r.iova + BigInt(at),
      size,
      bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, size),
      native: r.native,
      offset: r.offset + at,
      iovaAt: (o: number) => r.iovaAt(at + o),
      // Arena memory is returned with the arena.
      release() {},
      [Symbol.dispose]() {},
    };
  }

  /** IOVA of a view wholly inside one allocation of the arena that is not internal, or undefined. */
  translate(view: ArrayBufferView): bigint | undefined {
    const r = this.region;
    if (view.buffer !== r.bytes.buffer) return undefined;
    const off = view.byteOffset - r.bytes.byteOffset;
    if (off < 0) return undefined;
    // The last allocation starting at or before off (binary search over the sorted list).
    let lo = 0;
    let hi = this.allocations.length - 1;
    let a: { start: number; end: number; internal: boolean } | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.allocations[mid]!.start <= off) {
        a = this.allocations[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!a || a.internal || off >= a.end || off + view.byteLength > a.end) return undefined;
    return r.iova + BigInt(off);
  }

  /** Bytes handed out so far. */
  get used(): number {
    return this.next;
  }

  /** Gives the region back (every allocation with it). */
  release(): void {
    this.region.release();
  }

  /** Returns the arena's memory, for `using arena = ...`. */
  [Symbol.dispose](): void {
    this.release();
  }
}
