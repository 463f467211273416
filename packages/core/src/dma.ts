// DMA memory: hugepage-backed chunks, each pinned and mapped into the container's IOMMU
// space once (VFIO_IOMMU_MAP_DMA), then carved into allocations. Mapping whole chunks
// keeps us far below the kernel's limit of 65535 mappings per container, and an
// allocation is then a few arithmetic steps, never a system call.

import type { Logger } from 'pino';
import { native, type DmaBuffer } from './native.js';
import { hasCode, hex, VfioError } from './errors.js';
import { RangeAllocator } from './range-allocator.js';
import type { Container } from './vfio/container.js';

const HUGEPAGE = 2 * 1024 * 1024;

export interface DmaAllocatorOptions {
  /** Use 2 MiB hugepages (default true). */
  hugepages?: boolean;
  /** When hugepages run out, fall back to 4 KiB pages with a warning instead of failing. Default false. */
  allowSmallPages?: boolean;
  /** Bytes per chunk mapped at once (default 2 MiB; larger allocations get a chunk of their own). */
  chunkSize?: number;
}

export interface DmaMemory {
  /** The device-visible address of bytes[0]. */
  readonly iova: bigint;
  readonly size: number;
  /** The memory, no copy. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The native buffer this memory lies in (for C hot loops and for opening it from a worker). */
  readonly native: DmaBuffer;
  /** Offset of bytes[0] inside native.buffer. */
  readonly offset: number;
  /** The IOVA of byte `offset` of this allocation (bounds-checked). */
  iovaAt(offset: number): bigint;
  /** Returns the memory to the allocator. Idempotent. */
  release(): void;
}

/** One live allocation inside a chunk: [offset, end) and whether the driver keeps it for itself. */
interface Allocation {
  offset: number;
  end: number;
  internal: boolean;
}

interface Chunk {
  buffer: DmaBuffer;
  iova: bigint;
  size: number;
  bytes: RangeAllocator;
  dedicated: boolean;
  live: number;
  /** Live allocations sorted by offset: translate() accepts a view only inside one of them. */
  allocations: Allocation[];
}

/** Index of the last allocation starting at or before offset, or -1. */
function findAllocation(list: readonly Allocation[], offset: number): number {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export class DmaAllocator {
  private chunks: Chunk[] = [];
  private byBuffer = new Map<ArrayBuffer, Chunk>();
  private hugepages: boolean;
  private readonly allowSmallPages: boolean;
  private readonly chunkSize: number;
  private isClosed = false;

  constructor(
    private readonly container: Container,
    private readonly log: Logger,
    options: DmaAllocatorOptions = {},
  ) {
    this.hugepages = options.hugepages ?? true;
    this.allowSmallPages = options.allowSmallPages ?? false;
    this.chunkSize = roundUp(options.chunkSize ?? HUGEPAGE, HUGEPAGE);
  }

  /**
   * Allocates size bytes of zeroed DMA memory aligned to align (a power of two, default 4096).
   * internal: memory the driver keeps for itself (queues, PRP lists, doorbell buffers), which
   * translate() never accepts as an I/O buffer.
   */
  alloc(size: number, options: { align?: number; internal?: boolean } = {}): DmaMemory {
    if (this.isClosed) throw new VfioError({ code: 'ERR_CLOSED', message: 'the DMA allocator is closed (its device was closed)' });
    const align = options.align ?? 4096;
    if (!Number.isSafeInteger(size) || size <= 0) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `DMA allocation size must be a positive integer, got ${size}` });
    if (!Number.isSafeInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > HUGEPAGE) {
      throw new VfioError({ code: 'ERR_INVALID_ARG', message: `DMA alignment must be a power of two up to 2 MiB, got ${align}` });
    }
    const rounded = roundUp(size, 64);
    let chunk: Chunk | undefined;
    let at: bigint | undefined;
    if (rounded <= this.chunkSize / 2) {
      for (const c of this.chunks) {
        if (c.dedicated) continue;
        at = c.bytes.allocate(BigInt(rounded), BigInt(align));
        if (at !== undefined) {
          chunk = c;
          break;
        }
      }
    }
    if (!chunk) {
      const dedicated = rounded > this.chunkSize / 2;
      chunk = this.newChunk(dedicated ? roundUp(rounded, HUGEPAGE) : this.chunkSize, dedicated);
      at = chunk.bytes.allocate(BigInt(rounded), BigInt(align))!;
    }
    const c = chunk;
    const offset = Number(at!);
    c.live++;
    const record: Allocation = { offset, end: offset + size, internal: options.internal ?? false };
    c.allocations.splice(findAllocation(c.allocations, offset) + 1, 0, record);
    const bytes = new Uint8Array(c.buffer.buffer, offset, size);
    bytes.fill(0);
    let released = false;
    const mem: DmaMemory = {
      iova: c.iova + BigInt(offset),
      size,
      bytes,
      view: new DataView(c.buffer.buffer, offset, size),
      native: c.buffer,
      offset,
      iovaAt(o: number): bigint {
        if (!Number.isInteger(o) || o < 0 || o > size) throw new VfioError({ code: 'ERR_OUT_OF_RANGE', message: `offset ${o} is outside this ${size}-byte DMA allocation` });
        return c.iova + BigInt(offset + o);
      },
      release: () => {
        if (released) return;
        released = true;
        // Out of translate()'s reach before the range can be handed out again.
        c.allocations.splice(c.allocations.indexOf(record), 1);
        c.bytes.release(BigInt(offset), BigInt(rounded));
        c.live--;
        if (c.dedicated && c.live === 0) this.dropChunk(c);
      },
    };
    return mem;
  }

  /**
   * The IOVA of memory the caller holds as a typed array, if it lies wholly inside one
   * live allocation of this allocator that is not the driver's own; undefined otherwise
   * (drivers then refuse the buffer). So a view over the whole chunk, over freed memory,
   * across two allocations or over a queue never reaches the device.
   */
  translate(view: ArrayBufferView): bigint | undefined {
    const c = this.byBuffer.get(view.buffer as ArrayBuffer);
    if (!c) return undefined;
    const start = view.byteOffset;
    const a = c.allocations[findAllocation(c.allocations, start)];
    if (!a || a.internal || start >= a.end || start + view.byteLength > a.end) return undefined;
    return c.iova + BigInt(start);
  }

  /** Why translate() refuses a view, for error messages; undefined when it accepts it. */
  refusal(view: ArrayBufferView): string | undefined {
    const c = this.byBuffer.get(view.buffer as ArrayBuffer);
    if (!c) return 'it is not DMA memory of this device';
    const start = view.byteOffset;
    const a = c.allocations[findAllocation(c.allocations, start)];
    if (!a || start >= a.end) return 'it lies in DMA memory that is not allocated (released, or never handed out)';
    if (a.internal) return "it is the driver's own DMA memory (a queue or a PRP list), not an I/O buffer";
    if (start + view.byteLength > a.end) return `it runs ${start + view.byteLength - a.end} bytes past the end of its ${a.end - a.offset}-byte DMA allocation`;
    return undefined;
  }

  /** Chunks mapped, bytes mapped, and whether hugepages back them. */
  stats(): { chunks: number; mappedBytes: number; hugepages: boolean } {
    return { chunks: this.chunks.length, mappedBytes: this.chunks.reduce((n, c) => n + c.size, 0), hugepages: this.hugepages };
  }

  /** Unmaps and frees every chunk. Memory handed out becomes unusable (its ArrayBuffer is detached). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const c of [...this.chunks]) this.dropChunk(c);
  }

  private newChunk(size: number, dedicated: boolean): Chunk {
    let buffer: DmaBuffer;
    try {
      buffer = native.DmaBuffer.alloc(size, { hugepages: this.hugepages });
    } catch (err) {
      if (!(this.hugepages && hasCode(err, 'ENOMEM'))) throw err;
      if (!this.allowSmallPages) {
        throw new VfioError({
          code: 'ERR_NO_HUGEPAGES',
          message: `no free 2 MiB hugepages for ${size} bytes of DMA memory`,
          hint: 'Reserve hugepages: `vfio-node setup --hugepages 256` (or echo 256 > /proc/sys/vm/nr_hugepages), or allow 4 KiB pages with allowSmallPages.',
          cause: err,
        });
      }
      this.log.warn('no free hugepages: falling back to 4 KiB pages for DMA memory (slower, more IOMMU entries)');
      this.hugepages = false;
      buffer = native.DmaBuffer.alloc(size, { hugepages: false });
    }
    let iova: bigint;
    try {
      iova = this.container.allocateIova(BigInt(buffer.size), BigInt(HUGEPAGE));
    } catch (err) {
      buffer.release();
      throw err;
    }
    try {
      native.vfioMapDma(this.container.fd, buffer, 0, buffer.size, iova);
    } catch (err) {
      this.container.releaseIova(iova, BigInt(buffer.size));
      buffer.release();
      throw err;
    }
    this.log.debug({ iova: hex(iova), size: buffer.size, hugepages: buffer.hugepages }, 'DMA chunk mapped');
    const chunk: Chunk = { buffer, iova, size: buffer.size, bytes: new RangeAllocator([{ start: 0n, end: BigInt(buffer.size) }]), dedicated, live: 0, allocations: [] };
    this.chunks.push(chunk);
    this.byBuffer.set(buffer.buffer, chunk);
    return chunk;
  }

  private dropChunk(c: Chunk): void {
    this.chunks.splice(this.chunks.indexOf(c), 1);
    this.byBuffer.delete(c.buffer.buffer);
    try {
      native.vfioUnmapDma(this.container.fd, c.iova, c.size);
    } catch (err) {
      this.log.warn({ err }, 'VFIO_IOMMU_UNMAP_DMA failed');
    }
    this.container.releaseIova(c.iova, BigInt(c.size));
    c.buffer.release();
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
