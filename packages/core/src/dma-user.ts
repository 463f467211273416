// Caller memory registered for DMA: what SPDK's spdk_mem_register does. Memory the program
// already owns (memory from allocUserMemory(), or a SharedArrayBuffer) is pinned and mapped into
// the container's IOMMU space (VFIO_IOMMU_MAP_DMA) at an IOVA from the same space as the
// allocator's chunks, so that a device reads and writes it in place: no copy through DMA
// memory of ours.
//
// The rules, and why:
// - Whole pages only. VFIO maps page-aligned vaddr and size, and the rest of a page that
//   holds other heap objects must never reach the device: the view must start and end on
//   page boundaries. allocUserMemory() gives such memory; pageAlignedSubarray() cuts the
//   aligned part out of a larger buffer.
// - The registration holds the caller's ArrayBuffer (and the view) until the mapping is
//   gone, so the garbage collector cannot free memory the IOMMU still maps.
// - Each registration is one kernel mapping; the kernel allows dma_entry_limit of them per
//   container (65535 by default), counted together with the allocator's chunks.
// - Pinned pages count against RLIMIT_MEMLOCK (unless CAP_IPC_LOCK): checked before the map.
// - release() while commands still use the memory takes it out of translate() at once
//   (no new I/O) but keeps it mapped, at its IOVA, until the last of them ends: a late
//   transfer cannot reach memory at that IOVA that belongs to someone else.
//
// - Only memory that cannot end up back in the JavaScript heap while mapped: memory from
//   allocUserMemory() (its own mmap; if its ArrayBuffer is transferred and collected, the
//   unmapped pages stay pinned by the kernel, never reused by the heap) or a
//   SharedArrayBuffer (it cannot be detached, and the registration holds it). A plain heap
//   ArrayBuffer is refused: transferred away (ArrayBuffer.prototype.transfer, postMessage)
//   and collected, its pages would go back to the heap while the device still maps them.

import { native } from './native.js';
import { closed, dmaEntryLimit, dmaTooLarge, hex, invalidArgument, registerDetachable, registerMisaligned, registerOverlap } from './errors.js';
import { checkMemlock } from './host/memlock.js';
import { readAttr } from './pci/sysfs.js';
import type { Container } from './vfio/container.js';

/** The kernel's default for vfio_iommu_type1's dma_entry_limit. */
export const DEFAULT_DMA_ENTRY_LIMIT = 65535;
const DMA_ENTRY_LIMIT_PATH = '/sys/module/vfio_iommu_type1/parameters/dma_entry_limit';

/** The kernel's limit of IOMMU mappings per container (dma_entry_limit), or 65535 when it cannot be read. */
export function dmaEntryLimitOfKernel(): number {
  const v = Number(readAttr(DMA_ENTRY_LIMIT_PATH)?.trim());
  return Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_DMA_ENTRY_LIMIT;
}

/** A registration of caller memory for DMA. */
export interface DmaRegistration extends Disposable, AsyncDisposable {
  /** The device-visible address of bytes[0]. */
  readonly iova: bigint;
  readonly size: number;
  /** The registered memory: the caller's own view, no copy. */
  readonly bytes: Uint8Array;
  /** Commands that use the memory right now. */
  readonly inflight: number;
  /** The IOVA of byte `offset` (bounds-checked). */
  iovaAt(offset: number): bigint;
  /**
   * Ends the registration: no new I/O may use the memory; it is unmapped now, or when the
   * last command using it ends. Idempotent.
   */
  release(): void;
  /** Resolves once the memory is unmapped (the device can no longer reach it). */
  readonly unmapped: Promise<void>;
}

interface Registration {
  buffer: ArrayBufferLike;
  /** [start, end) byte offsets of the registered view in buffer. */
  start: number;
  end: number;
  view: Uint8Array;
  iova: bigint;
  inflight: number;
  state: 'live' | 'releasing' | 'unmapped';
  resolveUnmapped: () => void;
}

/** Memory the kernel pins for one container: what RLIMIT_MEMLOCK is checked against. */
export interface PinnedSource {
  /** IOMMU mappings that are not registrations (the allocator's chunks). */
  readonly mappings: number;
  /** Bytes of them. */
  readonly mappedBytes: number;
}

export class UserDmaRegistry {
  private readonly byBuffer = new Map<ArrayBufferLike, Registration[]>();
  /** Memory whose unmap failed while the container was open: kept referenced for good, so the heap never reuses pages the IOMMU may still map. */
  private readonly stranded: ArrayBufferLike[] = [];
  private count = 0;
  private bytes = 0;
  private isClosed = false;
  /** dma_entry_limit, read once (a test may lower it). */
  entryLimit = dmaEntryLimitOfKernel();

  constructor(
    private readonly container: Container,
    private readonly others: PinnedSource,
    /** Refuses views over memory the allocator already maps (returns why, or undefined). */
    private readonly ownedByAllocator: (buffer: ArrayBufferLike) => string | undefined,
  ) {}

  /** Registrations still mapped (releasing ones included), and their bytes. */
  get mappings(): number {
    return this.count;
  }
  get mappedBytes(): number {
    return this.bytes;
  }

  register(view: ArrayBufferView): DmaRegistration {
    if (this.isClosed) throw closed('the DMA allocator (its device was closed)');
    if (!ArrayBuffer.isView(view)) throw invalidArgument('memory to register', view, 'a TypedArray or DataView over page-aligned memory');
    const page = native.pageSize;
    const size = view.byteLength;
    if (size === 0) throw registerMisaligned('the view is empty (zero length, or its ArrayBuffer was detached)', page);
    const offset = native.pageOffsetOf(view);
    if (offset !== 0) throw registerMisaligned(`the view starts ${offset} bytes past a page boundary`, page);
    if (size % page !== 0) throw registerMisaligned(`its length ${size} is not a multiple of the page size`, page);
    const owner = this.ownedByAllocator(view.buffer);
    if (owner) throw registerOverlap(owner);
    if (!(view.buffer instanceof SharedArrayBuffer) && !userMemory.has(view.buffer)) throw registerDetachable();
    const start = view.byteOffset;
    const end = start + size;
    const list = this.byBuffer.get(view.buffer) ?? [];
    const clash = list.find((r) => r.state !== 'unmapped' && start < r.end && r.start < end);
    if (clash) throw registerOverlap(`bytes [${start}, ${end}) of its ArrayBuffer overlap the registration of [${clash.start}, ${clash.end}) at IOVA ${hex(clash.iova)}`);
    const mappings = this.others.mappings + this.count;
    if (mappings + 1 > this.entryLimit) throw dmaEntryLimit(mappings, this.entryLimit);
    const pinned = this.others.mappedBytes + this.bytes + size;
    const memlock = checkMemlock(pinned);
    if (!memlock.ok) throw dmaTooLarge(pinned, memlock.soft, 'RLIMIT_MEMLOCK, which VFIO charges pinned pages to', memlock.fix ?? undefined);

    const iova = this.container.allocateIova(BigInt(size), BigInt(page));
    try {
      native.vfioMapUserDma(this.container.fd, view, iova);
    } catch (err) {
      this.container.releaseIova(iova, BigInt(size));
      throw err;
    }
    const bytes = view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, size);
    let resolveUnmapped!: () => void;
    const unmapped = new Promise<void>((resolve) => {
      resolveUnmapped = resolve;
    });
    const r: Registration = { buffer: view.buffer, start, end, view: bytes, iova, inflight: 0, state: 'live', resolveUnmapped };
    list.push(r);
    this.byBuffer.set(view.buffer, list);
    this.count++;
    this.bytes += size;
    const release = (): void => this.release(r);
    return {
      iova,
      size,
      bytes,
      get inflight() {
        return r.inflight;
      },
      iovaAt(o: number): bigint {
        if (!Number.isInteger(o) || o < 0 || o > size) throw invalidArgument('offset in the registered memory', o, `an integer from 0 to ${size}`);
        return iova + BigInt(o);
      },
      release,
      unmapped,
      [Symbol.dispose]: release,
      async [Symbol.asyncDispose]() {
        release();
        await unmapped;
      },
    };
  }

  /** The live registration a view lies inside, or undefined. */
  private find(view: ArrayBufferView, orReleasing = false): Registration | undefined {
    const list = this.byBuffer.get(view.buffer);
    if (list === undefined || view.byteLength === 0) return undefined;
    const start = view.byteOffset;
    const end = start + view.byteLength;
    return list.find((r) => (r.state === 'live' || (orReleasing && r.state === 'releasing')) && start >= r.start && end <= r.end);
  }

  /** The IOVA of a view inside live registered memory, or undefined. */
  translate(view: ArrayBufferView): bigint | undefined {
    const r = this.find(view);
    return r === undefined ? undefined : r.iova + BigInt(view.byteOffset - r.start);
  }

  /** Why a view of a registered ArrayBuffer is refused (it crosses the registration's end, or was released); undefined otherwise. */
  refusal(view: ArrayBufferView): string | undefined {
    const list = this.byBuffer.get(view.buffer);
    if (list === undefined) return undefined;
    if (list.every((r) => r.state !== 'live')) return 'its registration was released';
    return 'it is not inside one live registration of its ArrayBuffer (a view may not cross a registration\'s end)';
  }

  /**
   * Marks the registration holding view as used by one more command; returns the function
   * that ends that use (undefined when view is not registered memory).
   */
  retain(view: ArrayBufferView): (() => void) | undefined {
    // A released registration still in use (releasing) is still mapped: one more use keeps it so.
    const r = this.find(view, true);
    if (r === undefined) return undefined;
    r.inflight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      r.inflight--;
      if (r.inflight === 0 && r.state === 'releasing') this.unmap(r);
    };
  }

  /** Unmaps every registration (the device is closed: nothing can be in flight any more). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const list of this.byBuffer.values()) for (const r of list) if (r.state !== 'unmapped') this.unmap(r);
    this.byBuffer.clear();
  }

  private release(r: Registration): void {
    if (r.state !== 'live') return;
    r.state = 'releasing';
    if (r.inflight === 0) this.unmap(r);
  }

  private unmap(r: Registration): void {
    if (r.state === 'unmapped') return;
    r.state = 'unmapped';
    const size = r.end - r.start;
    try {
      native.vfioUnmapDma(this.container.fd, r.iova, size);
      this.container.releaseIova(r.iova, BigInt(size));
    } catch {
      // Usually the container is closed with its device: the kernel dropped every mapping
      // then. Otherwise the mapping may still be there: the memory is kept referenced for
      // good (never collected, so never reused by the heap) and its IOVA stays taken.
      if (!this.isClosed) this.stranded.push(r.buffer);
    }
    this.count--;
    this.bytes -= size;
    const list = this.byBuffer.get(r.buffer);
    if (list) {
      list.splice(list.indexOf(r), 1);
      if (list.length === 0) this.byBuffer.delete(r.buffer);
    }
    r.resolveUnmapped();
  }
}

/**
 * An ArrayBuffer over `size` bytes (rounded up to whole pages) of zeroed, page-aligned
 * memory that the caller owns, ready to register for DMA; freed when the garbage
 * collector takes it (its pages stay pinned by the kernel while a device maps them).
 */
export function allocUserMemory(size: number): ArrayBuffer {
  const memory = native.allocUserMemory(size);
  userMemory.add(memory);
  return memory;
}

/** The ArrayBuffers allocUserMemory() made: the only plain ArrayBuffers register() takes. */
const userMemory = new WeakSet<ArrayBufferLike>();

/**
 * The largest page-aligned part of a view (whole pages), to register out of a buffer that
 * does not start on a page boundary (a view of a SharedArrayBuffer);
 * undefined when the view holds no whole page.
 */
export function pageAlignedSubarray(view: ArrayBufferView): Uint8Array | undefined {
  const page = native.pageSize;
  if (view.byteLength === 0) return undefined;
  const skip = (page - native.pageOffsetOf(view)) % page;
  const whole = Math.floor((view.byteLength - skip) / page) * page;
  if (whole <= 0) return undefined;
  return new Uint8Array(view.buffer, view.byteOffset + skip, whole);
}
