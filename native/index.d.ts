// The native core's public face. Small and without policy: every entry point checks
// its arguments and throws (never aborts); every failed system call throws an error
// made by the factory registered with setErrorFactory (or a plain Error with the
// same fields before one is registered).
//
// File descriptors are plain numbers, opened O_CLOEXEC; the TypeScript layer owns
// them (close() and a FinalizationRegistry). Memory (BAR mappings, DMA buffers) is
// owned by native objects whose ArrayBuffers are detached when they are released,
// so that a stale view throws a TypeError instead of touching unmapped memory.
/**
 * The native core: VFIO ioctls, BAR mappings, hugepage DMA memory, eventfd interrupts and the
 * hot loops (NVMe completion polling, the virtio transmit batch). Used through `@vfio-node/core`;
 * its errors are core's VfioError once core has registered its factory.
 *
 * @module @vfio-node/native
 */

/** Fields of every error thrown by the native core. */
export interface NativeErrorInit {
  /** errno name ('EBUSY') or an ERR_* code for argument errors ('ERR_OUT_OF_RANGE'). */
  code: string;
  message: string;
  /** The system call or ioctl that failed ('open', 'VFIO_GROUP_SET_CONTAINER'). */
  syscall?: string;
  /** errno number, when a system call failed. */
  errno?: number;
  /** A path involved (/dev/vfio/3), when there is one. */
  path?: string;
}

/** Registers the function that builds errors thrown by native code (core's VfioError). */
export function setErrorFactory(factory: (init: NativeErrorInit) => Error): void;

// ---- file descriptors ------------------------------------------------------------

/** open(2) with O_CLOEXEC added. flags are O_* numbers (constants.O_RDWR, ...). */
export function open(path: string, flags: number): number;
/** close(2). */
export function close(fd: number): void;
/** pread(2)/pwrite(2) a whole buffer; returns bytes transferred (short only at EOF). */
export function pread(fd: number, buffer: Uint8Array, offset: bigint | number): number;
/** pwrite(2) of a whole buffer; returns the bytes written. */
export function pwrite(fd: number, buffer: Uint8Array, offset: bigint | number): number;
/** A single pread/pwrite of exactly `width` bytes (1, 2, 4, 8): config space and non-mmappable regions. */
export function preadWidth(fd: number, offset: bigint | number, width: 1 | 2 | 4 | 8): bigint;
/** A single pwrite of exactly `width` bytes (1, 2, 4, 8): config space and non-mmappable regions. */
export function pwriteWidth(fd: number, offset: bigint | number, width: 1 | 2 | 4 | 8, value: bigint | number): void;

// ---- VFIO ioctls (linux/vfio.h), one function each -------------------------------

/** VFIO_GET_API_VERSION of a container descriptor (VFIO_API_VERSION is 0). */
export function vfioGetApiVersion(containerFd: number): number;
/** VFIO_CHECK_EXTENSION: whether the kernel supports an extension (an IOMMU type such as VFIO_TYPE1v2_IOMMU). */
export function vfioCheckExtension(containerFd: number, extension: number): boolean;
/** VFIO_SET_IOMMU: selects the container's IOMMU type (VFIO_TYPE1v2_IOMMU). */
export function vfioSetIommu(containerFd: number, type: number): void;
/** A range of valid IOVAs [start, end], inclusive as the kernel reports it. */
export interface IovaRange { start: bigint; end: bigint }
/** VFIO_IOMMU_GET_INFO: the IOMMU's page sizes and valid IOVA ranges. */
export interface IommuInfo {
  flags: number;
  /** Bitmap of supported IOMMU page sizes (VFIO_IOMMU_INFO_PGSIZES). */
  pageSizes: bigint;
  /** VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE; empty when the kernel gave none. */
  iovaRanges: IovaRange[];
  /** VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, or -1 when not reported. */
  dmaAvail: number;
}
/** VFIO_IOMMU_GET_INFO, with the IOVA ranges capability parsed. */
export function vfioIommuGetInfo(containerFd: number): IommuInfo;
/** VFIO_IOMMU_MAP_DMA of [buffer offset, offset+size) at iova, READ|WRITE. Page-aligned. */
export function vfioMapDma(containerFd: number, buffer: DmaBuffer, offset: number, size: number, iova: bigint): void;
/** VFIO_IOMMU_UNMAP_DMA; returns the size the kernel unmapped. */
export function vfioUnmapDma(containerFd: number, iova: bigint, size: number): number;
/**
 * VFIO_IOMMU_MAP_DMA of exactly the bytes of a caller's view at iova, READ|WRITE (caller
 * memory, as spdk_mem_register). The view must start and end on a page boundary; the
 * caller keeps its ArrayBuffer alive until vfioUnmapDma.
 */
export function vfioMapUserDma(containerFd: number, view: ArrayBufferView, iova: bigint): void;
/** How many bytes the view's first byte lies past a page boundary (0: page aligned). */
export function pageOffsetOf(view: ArrayBufferView): number;
/** An ArrayBuffer over size bytes (rounded up to pages) of zeroed, page-aligned anonymous memory the caller owns. */
export function allocUserMemory(size: number): ArrayBuffer;

/** VFIO_GROUP_GET_STATUS flags (VFIO_GROUP_FLAGS_VIABLE = 1, CONTAINER_SET = 2). */
export function vfioGroupGetStatus(groupFd: number): number;
/** VFIO_GROUP_SET_CONTAINER: attaches a group to a container. */
export function vfioGroupSetContainer(groupFd: number, containerFd: number): void;
/** VFIO_GROUP_UNSET_CONTAINER: detaches a group from its container. */
export function vfioGroupUnsetContainer(groupFd: number): void;
/** VFIO_GROUP_GET_DEVICE_FD: opens the device `name` (its PCI address) of a group. */
export function vfioGroupGetDeviceFd(groupFd: number, name: string): number;

/** VFIO_DEVICE_GET_INFO: the device's flags (VFIO_DEVICE_FLAGS_*) and how many regions and IRQ indexes it has. */
export interface DeviceInfo { flags: number; numRegions: number; numIrqs: number }
/** VFIO_DEVICE_GET_INFO. */
export function vfioDeviceGetInfo(deviceFd: number): DeviceInfo;

/** VFIO_DEVICE_GET_REGION_INFO: a region's flags, size, offset in the device fd and capabilities. */
export interface RegionInfo {
  index: number;
  /** VFIO_REGION_INFO_FLAG_READ=1, WRITE=2, MMAP=4, CAPS=8. */
  flags: number;
  size: bigint;
  /** Offset of the region inside the device fd (for mmap and pread/pwrite). */
  offset: bigint;
  /** VFIO_REGION_INFO_CAP_SPARSE_MMAP areas, relative to the region; absent if none. */
  sparseMmap?: Array<{ offset: bigint; size: bigint }>;
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE present. */
  msixMappable: boolean;
  /** VFIO_REGION_INFO_CAP_TYPE, if present. */
  type?: { type: number; subtype: number };
}
/** VFIO_DEVICE_GET_REGION_INFO for region `index`, with its capability chain parsed. */
export function vfioDeviceGetRegionInfo(deviceFd: number, index: number): RegionInfo;

/** VFIO_DEVICE_GET_IRQ_INFO: an IRQ index's flags and vector count. */
export interface IrqInfo { index: number; flags: number; count: number }
/** VFIO_DEVICE_GET_IRQ_INFO for IRQ index `index`. */
export function vfioDeviceGetIrqInfo(deviceFd: number, index: number): IrqInfo;
/** VFIO_DEVICE_SET_IRQS with DATA_EVENTFD|ACTION_TRIGGER: eventfds[i] serves vector start+i; -1 unwires one. count 0 (empty array) disables the index. */
export function vfioDeviceSetIrqsEventfd(deviceFd: number, index: number, start: number, eventfds: number[]): void;
/** VFIO_DEVICE_SET_IRQS with DATA_NONE and the given ACTION_* (MASK=1<<3, UNMASK=1<<4, TRIGGER=1<<5). */
export function vfioDeviceSetIrqs(deviceFd: number, index: number, start: number, count: number, action: number): void;
/** VFIO_DEVICE_RESET. */
export function vfioDeviceReset(deviceFd: number): void;

// ---- mappings (BARs) --------------------------------------------------------------

/**
 * An mmap of part of a device fd (a BAR, or one sparse area of it). Register access
 * goes through read/write of exactly the named width (volatile, one instruction), so
 * doorbells and registers are never torn or merged. Offsets are checked: in range and
 * naturally aligned, or an ERR_OUT_OF_RANGE / ERR_MISALIGNED error is thrown.
 */
export class Mapping {
  /** mmap(fd, offset) of size bytes, PROT_READ|PROT_WRITE, MAP_SHARED. */
  constructor(fd: number, offset: bigint | number, size: number);
  readonly size: number;
  /** The mapping as an ArrayBuffer (no copy). Detached by unmap(). */
  readonly buffer: ArrayBuffer;
  /**
   * True once an access faulted with SIGBUS (the device stopped decoding memory: Memory
   * Space Enable cleared, a PCIe error, a surprise removal; or a file mapping read past its
   * end). The faulting page then reads all ones and takes writes harmlessly; the process
   * lives on. Keeps its value after unmap().
   */
  readonly gone: boolean;
  /** Reads 8 bits at offset (bounds-checked). */
  read8(offset: number): number;
  /** Reads 16 bits at offset (one access, bounds-checked). */
  read16(offset: number): number;
  /** Reads 32 bits at offset (one access, bounds-checked). */
  read32(offset: number): number;
  /** Reads 64 bits at offset (one access, bounds-checked). */
  read64(offset: number): bigint;
  /** Writes 8 bits at offset (bounds-checked). */
  write8(offset: number, value: number): void;
  /** Writes 16 bits at offset (one access, bounds-checked). */
  write16(offset: number, value: number): void;
  /** Writes 32 bits at offset (one access, bounds-checked). */
  write32(offset: number, value: number): void;
  /** Writes 64 bits at offset (one access, bounds-checked). */
  write64(offset: number, value: bigint): void;
  /** munmap; further access throws ERR_CLOSED. Idempotent; also run by the GC. */
  unmap(): void;
}

// ---- DMA memory ---------------------------------------------------------------------

/** Options of dmaAlloc(). */
export interface DmaAllocOptions {
  /** Back with 2 MiB hugepages (MAP_HUGETLB). Default true. */
  hugepages?: boolean;
}
/**
 * Page-aligned, zeroed, MADV_DONTFORK memory for DMA, registered in a process-wide
 * table under `id` so that another thread can open the same memory with DmaBuffer.open.
 * The memory is freed when every handle on it has been released.
 */
export class DmaBuffer {
  /** Allocates size bytes (rounded up to the page size in use). ENOMEM from MAP_HUGETLB means no free hugepages. */
  static alloc(size: number, options?: DmaAllocOptions): DmaBuffer;
  /** A new handle on an existing buffer by id (from any thread of this process). */
  static open(id: number): DmaBuffer;
  readonly id: number;
  readonly size: number;
  readonly hugepages: boolean;
  /** The memory (no copy). Detached by release(). */
  readonly buffer: ArrayBuffer;
  /** Drops this handle; the memory goes when the last handle does (and the last slice). Idempotent; also run by the GC. */
  release(): void;
  /**
   * A new ArrayBuffer over [offset, offset + length) of the memory, no copy. The slice keeps
   * the memory mapped while it lives, even after release(). Its finalization is reported by
   * finalizedSlices(): the owner of the buffer slices it; nobody else should.
   * @throws ERR_CLOSED after release(), ERR_INVALID_ARG (not numbers), ERR_OUT_OF_RANGE
   * (not integers, length < 1, or past the end)
   */
  slice(offset: number, length: number): ArrayBuffer;
  /** Detaches a slice of this buffer (every view of it gets length 0); one already detached or transferred is left alone. */
  detachSlice(slice: ArrayBuffer): void;
  /** Offsets of this handle's slices that V8 has finalized since the last call (no ArrayBuffer reaches them any more). */
  finalizedSlices(): number[];
  /** Slices made by this handle and not yet finalized. */
  readonly liveSlices: number;
}

// ---- eventfd and interrupt waiting ----------------------------------------------------

/** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). */
export function eventfdCreate(): number;
/** Non-blocking read: the counter (and reset), or 0n when nothing was signalled. */
export function eventfdRead(fd: number): bigint;
/** Writes 1 (or value) to the counter. */
export function eventfdWrite(fd: number, value?: bigint | number): void;
/**
 * Blocks the calling thread (for worker threads) until one of fds is readable or
 * timeoutMs passes (-1: forever). Returns the index of the first ready fd, consuming its
 * counter; -1 on timeout; or -2, interrupted: return to the event loop (await
 * setImmediate, say), then wait again. -2 means the loop has something to run: a signal
 * was handled during the wait (a process.on('SIGINT') handler runs only on the loop), or,
 * on the main thread in a wait longer than 100 ms, the loop had an event pending. Treating
 * -2 like -1 is right for a caller that yields before it waits again. A worker blocked here
 * can be terminated (worker.terminate(), process.exit() on the main thread): the wait then
 * returns and the worker's JavaScript is stopped.
 */
export function eventfdWait(fds: number[], timeoutMs: number): number;

/**
 * Watches an eventfd on the calling thread's libuv loop and calls callback(count) each
 * time it fires (the counter is read and reset first). Keeps the loop alive until stop(),
 * unless unref() was called. It watches its own duplicate of `fd` (closed by stop()), so
 * the caller may close `fd` at any time; a closed `fd` at construction throws EBADF.
 */
export class EventfdWatcher {
  constructor(fd: number, callback: (count: bigint) => void);
  /** Stops watching and closes the watcher's duplicate of the descriptor. */
  stop(): void;
  /** Keeps the event loop alive while the watcher runs (the default). */
  ref(): void;
  /** Lets the event loop end while the watcher runs. */
  unref(): void;
}

/** O_* and VFIO constants this addon was built with. */
export const constants: Readonly<Record<string, number>>;
/** sysconf(_SC_PAGESIZE). */
export const pageSize: number;

// ---- NVMe hot path (nvme_queue.cc) ------------------------------------------------------

/**
 * The NVMe queue hot path (nvme_queue.cc), one handle per queue pair: the completion ring
 * (`cq*`) and the shadow doorbell pages (`shadowId` 0: none) are regions of DMA buffers
 * (their `id`s), checked once and pinned while the handle lives; `host` holds the host's own
 * words [head, phase, then 4 words per completion: cid, status (DW3 bits 31:16, phase bit
 * cleared: 0 = success), sqhd, dw0] and must be a Uint32Array over a SharedArrayBuffer
 * (memory no device can write; ERR_INVALID_ARG otherwise). `sqDoorbell`/`cqDoorbell` are the
 * byte offsets of SQyTDBL and CQyHDBL in BAR0; `sqShadow`... are the dword indices of this
 * queue's entries in the shadow pages. The SQ has the CQ's depth.
 * Per call only the BAR (`Mapping.buffer`, which may have been unmapped) and the integers are
 * checked: a doorbell outside the BAR, a head or phase out of range, a tail past the queue
 * throw ERR_OUT_OF_RANGE; after close() every call throws ERR_CLOSED.
 * With shadow doorbells every doorbell value goes to its shadow entry, and the register is
 * written only when the value passes the EventIdx the controller published.
 * poll, ring and announceHead are own properties of each handle, bound to its queue (they act
 * on it whatever `this` they are called with); close() is a method.
 */
export class NvmeQueue {
  constructor(
    cqId: number, cqOffset: number, cqBytes: number,
    host: Uint32Array,
    shadowId: number, shadowOffset: number, shadowBytes: number,
    sqDoorbell: number, cqDoorbell: number,
    sqShadow: number, sqEventIdx: number, cqShadow: number, cqEventIdx: number,
  );
  /**
   * Reaps up to max completion entries whose Phase Tag matches host[1], from head host[0],
   * into host[2..], advances host[0] and host[1], and writes the new head to CQyHDBL once
   * (unless `announce` is false: the caller writes it later with announceHead). Returns the count.
   */
  poll(bar: ArrayBuffer, max: number, announce?: boolean): number;
  /**
   * poll() for a traced queue pair: returns count * 2, plus 1 when the new CQ head was written
   * to CQyHDBL (false with shadow doorbells when the EventIdx was not crossed, and when nothing
   * was reaped or announce is false), so that the trace can say what happened to each write.
   */
  pollTraced(bar: ArrayBuffer, max: number, announce?: boolean): number;
  /**
   * Orders the SQ entry stores before the doorbell, then writes `tail` to SQyTDBL (with shadow
   * doorbells: to the shadow entry, and to the register when the EventIdx asks for it, or when
   * `force`). Returns whether the register was written.
   */
  ring(bar: ArrayBuffer, tail: number, force?: boolean): boolean;
  /** Writes the CQ head host[0] to CQyHDBL (or its shadow entry), as ring() does the tail. */
  announceHead(bar: ArrayBuffer): boolean;
  /** Releases the handle and its pins; every later call throws ERR_CLOSED. Idempotent. */
  close(): void;
}
/**
 * The virtio-net transmit hot loop on a split virtqueue (virtio 1.2 §2.7), one call per batch:
 * reclaims the buffers the device used (their ids go back on `free`), takes up to `count` free
 * buffers, writes `seq`, `seq + 1`, ... big-endian at `seqOffset` of each frame (0xffffffff: not
 * at all), posts each as descriptor id (length 12 + frameLen, device-readable), stores avail.idx
 * after a barrier and writes the queue index to the doorbell when the device asked for it
 * (EVENT_IDX avail_event, else VIRTQ_USED_F_NO_NOTIFY).
 * `ring` is the whole split virtqueue block, `state` [availIdx, publishedIdx, lastUsedIdx,
 * freeCount] (read and updated; with 6 values, [4] and [5] are set after a publish: 1 if it
 * notified else 0, and the avail_event or used.flags it read), `pool` the packet buffers (id × bufferSize), `params`
 * [size, usedOffset, bufferSize, count, frameLen, seqOffset, seq, eventIdx, doorbell, vq,
 * csumStart, csumOffset], `bar` the notification BAR's mapping (Mapping.buffer). Each frame's
 * 12-byte virtio-net header is written: flags 0, or VIRTIO_NET_HDR_F_NEEDS_CSUM with
 * csum_start/csum_offset when csumStart is not 0 (checksum offload). Returns the number of frames posted.
 * Throws ERR_INVALID_ARG / ERR_OUT_OF_RANGE / ERR_MISALIGNED / ERR_CLOSED on bad arguments or a
 * used id outside the queue.
 */
export function virtioSplitTxBurst(ring: Uint8Array, state: Uint32Array, free: Uint16Array, pool: Uint8Array, params: Uint32Array, bar: ArrayBuffer): number;
