// First-fit allocation of aligned extents out of a set of free ranges, with
// coalescing on free. Two users: the IOVA space of a container (ranges from
// VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) and the bytes of one DMA chunk. Pure logic,
// bigint throughout so that 64-bit IOVAs are exact.

import { VfioError } from './errors.js';

/** A range [start, end) of addresses or bytes. */
export interface Extent {
  start: bigint;
  /** Exclusive end. */
  end: bigint;
}

/**
 * First-fit allocation of aligned extents out of a set of free ranges, coalescing on free: a container's IOVA
 * space and the bytes of a DMA chunk.
 */
export class RangeAllocator {
  /** Free extents, sorted by start, never adjacent (always coalesced). */
  private free: Extent[] = [];

  /** ranges: inclusive [start, last] pairs as the kernel reports IOVA ranges, or {start, end} exclusive. */
  constructor(ranges: Array<{ start: bigint; end: bigint }>, inclusiveEnd = false) {
    for (const r of ranges) {
      const end = inclusiveEnd ? r.end + 1n : r.end;
      if (end > r.start) this.release(r.start, end - r.start);
    }
  }

  /** Allocates size bytes aligned to align (a power of two). Returns the start, or undefined when nothing fits. */
  allocate(size: bigint, align: bigint): bigint | undefined {
    if (size <= 0n) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `allocation size must be positive, got ${size}` });
    if (align <= 0n || (align & (align - 1n)) !== 0n) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `alignment must be a power of two, got ${align}` });
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      const start = (f.start + align - 1n) & ~(align - 1n);
      if (start + size > f.end) continue;
      // Split f into [f.start, start) and [start+size, f.end).
      const pieces: Extent[] = [];
      if (start > f.start) pieces.push({ start: f.start, end: start });
      if (start + size < f.end) pieces.push({ start: start + size, end: f.end });
      this.free.splice(i, 1, ...pieces);
      return start;
    }
    return undefined;
  }

  /** Returns [start, start+size) to the free set; throws if any of it is already free. */
  release(start: bigint, size: bigint): void {
    const end = start + size;
    let i = 0;
    while (i < this.free.length && this.free[i]!.start < start) i++;
    const prev = this.free[i - 1];
    const next = this.free[i];
    if ((prev && prev.end > start) || (next && next.start < end)) {
      throw new VfioError({ code: 'ERR_DOUBLE_FREE', message: `range 0x${start.toString(16)}+${size} overlaps free space: freed twice?` });
    }
    const mergePrev = prev !== undefined && prev.end === start;
    const mergeNext = next !== undefined && next.start === end;
    if (mergePrev && mergeNext) {
      prev!.end = next!.end;
      this.free.splice(i, 1);
    } else if (mergePrev) prev!.end = end;
    else if (mergeNext) next!.start = start;
    else this.free.splice(i, 0, { start, end });
  }

  /** Total free bytes. */
  get available(): bigint {
    return this.free.reduce((n, f) => n + (f.end - f.start), 0n);
  }

  /** A copy of the free extents, for tests and diagnostics. */
  extents(): Extent[] {
    return this.free.map((f) => ({ ...f }));
  }
}
