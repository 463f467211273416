// DMA memory: hugepage-backed chunks, each pinned and mapped into the container's IOMMU
// space once (VFIO_IOMMU_MAP_DMA), then carved into allocations. Mapping whole chunks
// keeps us far below the kernel's limit of 65535 mappings per container, and an
// allocation is then a few arithmetic steps, never a system call.
//
// Each allocation gets an ArrayBuffer of its own over its bytes (a native slice of the
// chunk), so no view of it reaches a neighbour. release() detaches it: every view kept
// after that has length 0, and the range is handed out again only once V8 has finalized
// the slice (a slice transferred away before release, with ArrayBuffer.prototype.transfer
// or postMessage, outlives the detach; in Node 20 the finalizer runs later, on this
// thread). Until then the range waits in the chunk's quarantine; alloc() takes back what
// was finalized first. A command still on the device keeps its buffer's range too: the
// driver pins it (pin()) when the command is queued and unpins it when the command ends,
// so a range released meanwhile is handed out again only after both.
//
// What this does not cover: a raw pointer taken before release, outside any ArrayBuffer.
// A read(2) already in flight on the threadpool into a view of a released allocation
// still lands in its old bytes, which may by then be the next owner's if the slice was
// finalized meanwhile. The native PROT_NONE reservation (shared_memory.h, RetireRange)
// catches such a late write only for whole chunks that have been freed, never for a range
// inside a chunk that lives on. `mem.native.buffer` (the whole chunk, for C hot loops)
// aliases every allocation of the chunk by design.

import type { Logger } from 'pino';
import { native, type DmaBuffer } from './native.js';
import { closed, dmaEntryLimit, dmaTooLarge, hasCode, hex, invalidArgument, noHugepages, outOfRange } from './errors.js';
import { UserDmaRegistry, type DmaRegistration } from './dma-user.js';
import { hugepagePool, parseMeminfo } from './host/hugepages.js';
import { checkMemlock } from './host/memlock.js';
import { readAttr } from './pci/sysfs.js';
import { RangeAllocator } from './range-allocator.js';
import type { Container } from './vfio/container.js';

const HUGEPAGE = 2 * 1024 * 1024;
/** Largest chunk size accepted as an option (a chunk is pinned whole, so it is all memory the device may see). */
const MAX_CHUNK_SIZE = 1024 * 1024 * 1024;

/** Options of the DMA allocator: hugepages or 4 KiB pages, and the chunk size. */
export interface DmaAllocatorOptions {
  /** Use 2 MiB hugepages (default true). */
  hugepages?: boolean;
  /** When hugepages run out, fall back to 4 KiB pages with a warning instead of failing. Default false. */
  allowSmallPages?: boolean;
  /** Bytes per chunk mapped at once (default 2 MiB, rounded up to 2 MiB, at most 1 GiB; larger allocations get a chunk of their own). */
  chunkSize?: number;
}

/**
 * What a queue needs of an allocator: alloc() with an alignment and the internal flag.
 * The process's {@link DmaAllocator} and a worker's {@link DmaArena} both have it, so a
 * driver's queue can take either without knowing which.
 */
export interface DmaSource {
  /** Allocates size bytes of zeroed DMA memory (see DmaAllocator.alloc). */
  alloc(size: number, options?: { align?: number; internal?: boolean }): DmaMemory;
}

/**
 * An allocation of DMA memory: its bytes (no copy) and the IOVA the device reaches them at. Give it back with
 * release() (or `using`).
 */
export interface DmaMemory {
  /** The device-visible address of bytes[0]. */
  readonly iova: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** The memory, no copy: a view over this allocation's own ArrayBuffer, detached by release(). */
  readonly bytes: Uint8Array;
  /** A DataView over `bytes` (little-endian accessors for device structures). */
  readonly view: DataView;
  /** The native buffer this memory lies in (for C hot loops and for opening it from a worker). */
  readonly native: DmaBuffer;
  /** Offset of this memory inside native.buffer (bytes itself starts at 0 of its own ArrayBuffer). */
  readonly offset: number;
  /** The IOVA of byte `offset` of this allocation (bounds-checked). */
  iovaAt(offset: number): bigint;
  /** Returns the memory to the allocator and detaches `bytes`, `view` and every view of them. Idempotent. */
  release(): void;
  /** release(), for `using mem = dev.dma.alloc(4096)`. */
  [Symbol.dispose](): void;
}

/** One live allocation: [offset, offset + size) of a chunk, the bytes it holds there, and whether the driver keeps it for itself. */
interface Allocation {
  chunk: Chunk;
  offset: number;
  /** The IOVA of its first byte, as a number (iovaOf(): no BigInt per call). */
  iova: number;
  size: number;
  /** Bytes taken from the chunk's allocator (size rounded up to 64). */
  rounded: number;
  internal: boolean;
  /** hold() and pin() calls not yet ended: a device may still write the range, which then stays out of use after a release. */
  holds: number;
  /** Released while held: its range goes back (or its dedicated chunk is dropped) when the last hold ends. */
  parked: 'quarantine' | 'finalized' | 'dedicated' | undefined;
}

/**
 * One command's hold on an allocation of {@link DmaAllocator.alloc} (from pin()): the
 * range stays out of reuse, even if its owner releases it, until unpin(). Opaque.
 */
export interface DmaPin {
  /** The IOVA of the pinned allocation's first byte. */
  readonly iova: number;
}

interface Chunk {
  buffer: DmaBuffer;
  iova: bigint;
  size: number;
  bytes: RangeAllocator;
  dedicated: boolean;
  live: number;
  /** Released ranges (offset → bytes) whose slice V8 has not finalized yet: not free until then. */
  quarantine: Map<number, number>;
  /** Released allocations still held (hold()) whose slice is not finalized yet, by offset. */
  heldOffsets: Map<number, Allocation>;
}

/**
 * DMA memory of one container: hugepage chunks, each pinned and mapped into the IOMMU once (VFIO_IOMMU_MAP_DMA),
 * carved into allocations with alloc(size). Reached as device.dma.
 */
export class DmaAllocator {
  private chunks: Chunk[] = [];
  /** Every live allocation by its own ArrayBuffer: what translate() looks a view up in. */
  private readonly live = new Map<ArrayBuffer, Allocation>();
  /** Ranges in quarantine, over all chunks (alloc() looks for finalized slices only when there are some). */
  private quarantined = 0;
  private hugepages: boolean;
  private readonly allowSmallPages: boolean;
  private readonly chunkSize: number;
  private isClosed = false;
  /** Caller memory registered for DMA (register()); its mappings count with the chunks against dma_entry_limit. */
  private readonly user: UserDmaRegistry;

  /** @throws VfioError ERR_INVALID_ARG naming the option (dma.chunkSize, dma.hugepages, dma.allowSmallPages) */
  constructor(
    private readonly container: Container,
    private readonly log: Logger,
    options: DmaAllocatorOptions = {},
  ) {
    const { hugepages, allowSmallPages, chunkSize } = options;
    if (hugepages !== undefined && typeof hugepages !== 'boolean') throw invalidArgument('dma.hugepages', hugepages, 'a boolean');
    if (allowSmallPages !== undefined && typeof allowSmallPages !== 'boolean') throw invalidArgument('dma.allowSmallPages', allowSmallPages, 'a boolean');
    if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize > MAX_CHUNK_SIZE)) {
      throw invalidArgument('dma.chunkSize', chunkSize, `a positive integer up to ${MAX_CHUNK_SIZE} bytes (1 GiB)`);
    }
    this.hugepages = hugepages ?? true;
    this.allowSmallPages = allowSmallPages ?? false;
    this.chunkSize = roundUp(chunkSize ?? HUGEPAGE, HUGEPAGE);
    const chunks = this.chunks;
    this.user = new UserDmaRegistry(
      container,
      {
        get mappings() {
          return chunks.length;
        },
        get mappedBytes() {
          return chunks.reduce((n, c) => n + c.size, 0);
        },
      },
      (buffer) => (this.live.has(buffer as ArrayBuffer) || chunks.some((c) => c.buffer.buffer === buffer) ? 'it is DMA memory of the allocator already' : undefined),
    );
  }

  /**
   * Registers memory the caller owns for DMA (as spdk_mem_register): pins and maps exactly
   * the bytes of `view` (which must start and end on page boundaries) at a fresh IOVA, so
   * that I/O uses it in place. The registration holds the view's ArrayBuffer until unmapped.
   * @throws VfioError ERR_DMA_REGISTER_MISALIGNED, ERR_DMA_REGISTER_OVERLAP,
   * ERR_DMA_ENTRY_LIMIT (the kernel's dma_entry_limit), ERR_DMA_TOO_LARGE (RLIMIT_MEMLOCK),
   * ERR_CLOSED, or the errno of VFIO_IOMMU_MAP_DMA
   */
  register(view: ArrayBufferView): DmaRegistration {
    return this.user.register(view);
  }

  /**
   * Marks registered memory that view lies in as used by one command until the returned
   * function is called (release() of the registration then waits before unmapping).
   * undefined for memory of alloc(), which pin() or hold() keep instead.
   */
  retain(view: ArrayBufferView): (() => void) | undefined {
    return this.user.retain(view);
  }

  /** The kernel's limit of IOMMU mappings for this container (dma_entry_limit); settable for tests. */
  get entryLimit(): number {
    return this.user.entryLimit;
  }
  /** Sets the mapping limit the allocator counts against (tests lower it to reach the limit). */
  set entryLimit(n: number) {
    if (!Number.isSafeInteger(n) || n < 1) throw invalidArgument('entryLimit', n, 'a positive integer');
    this.user.entryLimit = n;
  }

  /**
   * Allocates size bytes of zeroed DMA memory aligned to align (a power of two, default 4096).
   * internal: memory the driver keeps for itself (queues, PRP lists, doorbell buffers), which
   * translate() never accepts as an I/O buffer.
   * @throws VfioError ERR_INVALID_ARG, ERR_CLOSED, ERR_NO_HUGEPAGES (more than the free
   * hugepages), ERR_DMA_TOO_LARGE (4 KiB pages: more than the memory that can be pinned)
   */
  alloc(size: number, options: { align?: number; internal?: boolean } = {}): DmaMemory {
    if (this.isClosed) throw closed('the DMA allocator (its device was closed)');
    const align = options.align ?? 4096;
    if (!Number.isSafeInteger(size) || size <= 0) throw invalidArgument('DMA allocation size', size, 'a positive integer');
    if (!Number.isSafeInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > HUGEPAGE) {
      throw invalidArgument('DMA alignment', align, 'a power of two up to 2 MiB');
    }
    if (this.quarantined > 0) this.reclaim();
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
    let slice: ArrayBuffer;
    try {
      slice = c.buffer.slice(offset, size);
    } catch (err) {
      c.bytes.release(BigInt(offset), BigInt(rounded));
      if (c.dedicated) this.dropChunk(c);
      throw err;
    }
    const a: Allocation = { chunk: c, offset, iova: Number(c.iova) + offset, size, rounded, internal: options.internal ?? false, holds: 0, parked: undefined };
    c.live++;
    this.live.set(slice, a);
    const bytes = new Uint8Array(slice);
    bytes.fill(0);
    const iova = c.iova + BigInt(offset);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.releaseAllocation(slice, a);
    };
    return {
      iova,
      size,
      bytes,
      view: new DataView(slice),
      native: c.buffer,
      offset,
      iovaAt(o: number): bigint {
        if (!Number.isInteger(o) || o < 0 || o > size) throw outOfRange('DMA allocation', o, 0, size);
        return iova + BigInt(o);
      },
      release,
      [Symbol.dispose]: release,
    };
  }

  /**
   * The IOVA of memory the caller holds as a typed array, if it lies inside one live
   * allocation of this allocator that is not the driver's own; undefined otherwise (drivers
   * then refuse the buffer). A view cannot reach past its allocation (its ArrayBuffer ends
   * there), so a view over the whole chunk, over released memory (detached, length 0) or
   * over a queue never reaches the device.
   */
  translate(view: ArrayBufferView): bigint | undefined {
    const a = this.live.get(view.buffer as ArrayBuffer);
    if (a === undefined) return this.user.translate(view);
    if (a.internal) return undefined;
    return a.chunk.iova + BigInt(a.offset + view.byteOffset);
  }

  /**
   * translate() for memory from alloc() only, as a number and without a BigInt: the IOVA of
   * view when it lies inside one live allocation of this allocator that is not the driver's
   * own, -1 otherwise (registered caller memory included: translate() and retain() cover
   * it). For a driver's per-I/O check of a buffer.
   */
  iovaOf(view: ArrayBufferView): number {
    const a = this.live.get(view.buffer as ArrayBuffer);
    return a === undefined || a.internal ? -1 : a.iova + view.byteOffset;
  }

  /**
   * Keeps the allocation that holds `view` from being handed out again until the returned
   * function is called (once; later calls do nothing), even if its owner releases it
   * meanwhile: for memory a device may still read or write, such as the buffer of a
   * command given up (aborted) before the controller completed it. A released allocation
   * is detached as usual (its views read as empty); only the reuse of its range waits.
   * A view that is not live DMA memory of this allocator holds nothing.
   */
  hold(view: ArrayBufferView): () => void {
    const a = this.live.get(view.buffer as ArrayBuffer);
    // Registered caller memory: mapped until the returned function runs.
    if (a === undefined) return this.user.retain(view) ?? (() => {});
    a.holds++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.endHold(a);
    };
  }

  /**
   * hold() for one command's buffer, without a closure: the allocation that view lies in
   * stays out of reuse until unpin() (called exactly once with the result), even if its
   * owner releases it while the device still reads or writes it. null when view is not
   * live memory of alloc() (registered caller memory has retain()), or is the driver's own
   * (internal: the driver releases it only once its commands ended). The pin's iova plus
   * view.byteOffset is view's IOVA, so a driver's per-I/O check needs no other lookup.
   */
  pin(view: ArrayBufferView): DmaPin | null {
    const a = this.live.get(view.buffer as ArrayBuffer);
    if (a === undefined || a.internal) return null;
    a.holds++;
    return a;
  }

  /** Ends a pin() (once per pin: a second call would end another command's hold). */
  unpin(pin: DmaPin): void {
    this.endHold(pin as Allocation);
  }

  /** One hold of a ended; the last one gives back a range released meanwhile. */
  private endHold(a: Allocation): void {
    if (a.holds <= 0) return;
    if (--a.holds > 0 || a.parked === undefined) return;
    const parked = a.parked;
    a.parked = undefined;
    if (this.isClosed) return;
    if (parked === 'dedicated') this.dropChunk(a.chunk);
    else if (parked === 'finalized') {
      a.chunk.quarantine.delete(a.offset);
      this.quarantined--;
      a.chunk.bytes.release(BigInt(a.offset), BigInt(a.rounded));
    }
    // 'quarantine': still waiting for V8; reclaim() gives it back once finalized.
    else a.chunk.heldOffsets.delete(a.offset);
  }

  /** Why translate() refuses a view, for error messages; undefined when it accepts it. */
  refusal(view: ArrayBufferView): string | undefined {
    const a = this.live.get(view.buffer as ArrayBuffer);
    if (a?.internal) return "it is the driver's own DMA memory (a queue or a PRP list), not an I/O buffer";
    if (a) return undefined;
    if (this.user.translate(view) !== undefined) return undefined;
    const registered = this.user.refusal(view);
    if (registered) return registered;
    if (this.chunks.some((c) => c.buffer.buffer === view.buffer)) return 'it is a view over a whole DMA chunk, not over one allocation (pass mem.bytes or a subarray of it)';
    if (view.buffer.byteLength === 0) return 'it is empty: DMA memory that was released (release() detaches its views), or a zero-length buffer';
    return 'it is not DMA memory of this device';
  }

  /** Chunks mapped, bytes mapped, whether hugepages back them, and released ranges still waiting for V8 to let go of their views. */
  stats(): { chunks: number; mappedBytes: number; hugepages: boolean; quarantined: number; registrations: number; registeredBytes: number } {
    if (this.quarantined > 0) this.reclaim();
    return {
      chunks: this.chunks.length,
      mappedBytes: this.chunks.reduce((n, c) => n + c.size, 0),
      hugepages: this.hugepages,
      quarantined: this.quarantined,
      registrations: this.user.mappings,
      registeredBytes: this.user.mappedBytes,
    };
  }

  /** Unmaps and frees every chunk. Memory handed out becomes unusable (its ArrayBuffer is detached). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const [slice, a] of this.live) a.chunk.buffer.detachSlice(slice);
    this.live.clear();
    for (const c of [...this.chunks]) this.dropChunk(c);
    this.quarantined = 0;
    this.user.close();
  }

  private releaseAllocation(slice: ArrayBuffer, a: Allocation): void {
    // Out of translate()'s reach first (absent after close(): nothing left to give back).
    if (!this.live.delete(slice)) return;
    const c = a.chunk;
    c.live--;
    // Every view of the slice now has length 0. A slice transferred away before this is
    // already detached here; its new ArrayBuffer lives on, which the quarantine waits for.
    c.buffer.detachSlice(slice);
    if (a.holds > 0) {
      // A device may still write it (hold()): out of use until the last hold ends.
      if (c.dedicated) {
        a.parked = 'dedicated';
        return;
      }
      a.parked = 'quarantine';
      c.heldOffsets.set(a.offset, a);
    }
    if (c.dedicated) {
      // Its only allocation: unmapped from the IOMMU and never handed out again, so no
      // quarantine (a live transferred slice keeps the pages mapped in this process only).
      this.dropChunk(c);
      return;
    }
    c.quarantine.set(a.offset, a.rounded);
    this.quarantined++;
  }

  /** Gives back to their chunk's allocator the quarantined ranges whose slice native reports finalized. */
  private reclaim(): void {
    for (const c of this.chunks) {
      if (c.quarantine.size === 0) continue;
      for (const offset of c.buffer.finalizedSlices()) {
        const rounded = c.quarantine.get(offset);
        if (rounded === undefined) continue;
        const held = c.heldOffsets.get(offset);
        if (held !== undefined) {
          // Finalized, but a device may still write it: hold()'s end gives it back.
          c.heldOffsets.delete(offset);
          if (held.parked === 'quarantine') {
            held.parked = 'finalized';
            continue;
          }
        }
        c.quarantine.delete(offset);
        this.quarantined--;
        c.bytes.release(BigInt(offset), BigInt(rounded));
      }
    }
  }

  private newChunk(size: number, dedicated: boolean): Chunk {
    const mappings = this.chunks.length + this.user.mappings;
    if (mappings + 1 > this.user.entryLimit) throw dmaEntryLimit(mappings, this.user.entryLimit);
    let buffer: DmaBuffer;
    if (this.hugepages) {
      // Asked before mmap, to name free against asked (the kernel's ENOMEM says neither).
      // Not when the pool may grow on demand (nr_overcommit_hugepages): mmap then decides.
      const pool = hugepagePool();
      const overcommit = Number(readAttr('/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages') ?? 0);
      const available = pool === null || overcommit > 0 ? undefined : pool.free - pool.reserved;
      if (available !== undefined && size / HUGEPAGE > available) {
        if (!this.allowSmallPages) throw noHugepages(size, available, pool!.total);
        this.fallBackToSmallPages(`${size / HUGEPAGE} hugepages asked, ${available} free`);
      }
    }
    if (!this.hugepages) checkSmallPageLimit(size);
    try {
      buffer = native.DmaBuffer.alloc(size, { hugepages: this.hugepages });
    } catch (err) {
      if (!(this.hugepages && hasCode(err, 'ENOMEM'))) throw err;
      if (!this.allowSmallPages) {
        const pool = hugepagePool();
        throw noHugepages(size, pool === null ? 0 : pool.free - pool.reserved, pool?.total ?? 0, err);
      }
      this.fallBackToSmallPages('mmap(MAP_HUGETLB) failed with ENOMEM');
      checkSmallPageLimit(size);
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
    const chunk: Chunk = { buffer, iova, size: buffer.size, bytes: new RangeAllocator([{ start: 0n, end: BigInt(buffer.size) }]), dedicated, live: 0, quarantine: new Map(), heldOffsets: new Map() };
    this.chunks.push(chunk);
    return chunk;
  }

  private fallBackToSmallPages(why: string): void {
    this.log.warn(`no free hugepages (${why}): falling back to 4 KiB pages for DMA memory (slower, more IOMMU entries)`);
    this.hugepages = false;
  }

  private dropChunk(c: Chunk): void {
    this.chunks.splice(this.chunks.indexOf(c), 1);
    this.quarantined -= c.quarantine.size;
    c.quarantine.clear();
    try {
      native.vfioUnmapDma(this.container.fd, c.iova, c.size);
    } catch (err) {
      this.log.warn({ err }, 'VFIO_IOMMU_UNMAP_DMA failed');
    }
    this.container.releaseIova(c.iova, BigInt(c.size));
    c.buffer.release();
  }
}

/**
 * Refuses a chunk of 4 KiB pages larger than this process can sensibly pin: half of
 * MemAvailable (the native core zero-fills and so populates every page, and VFIO pins
 * them), and without CAP_IPC_LOCK the RLIMIT_MEMLOCK that VFIO charges pinned pages to.
 */
function checkSmallPageLimit(size: number): void {
  const meminfo = readAttr('/proc/meminfo');
  const availableKiB = meminfo === null ? undefined : parseMeminfo(meminfo).get('MemAvailable');
  if (availableKiB !== undefined && size > (availableKiB * 1024) / 2) {
    throw dmaTooLarge(size, Math.floor((availableKiB * 1024) / 2), 'half of MemAvailable in /proc/meminfo');
  }
  const memlock = checkMemlock(size);
  if (!memlock.ok) throw dmaTooLarge(size, memlock.soft, 'RLIMIT_MEMLOCK, which VFIO charges pinned pages to', memlock.fix ?? undefined);
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
