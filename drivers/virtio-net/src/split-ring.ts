// The split virtqueue (virtio 1.2 §2.7): a descriptor table, an available ring the
// driver writes and a used ring the device writes, in one block of DMA memory.
//
//   descriptor table  16 bytes × size   struct virtq_desc  { le64 addr; le32 len; le16 flags; le16 next; }
//   available ring    6 + 2 × size      struct virtq_avail { le16 flags; le16 idx; le16 ring[size]; le16 used_event; }
//   used ring         6 + 8 × size      struct virtq_used  { le16 flags; le16 idx; struct virtq_used_elem { le32 id; le32 len; } ring[size]; le16 avail_event; }
//
// Alignment (§2.7, table "Virtqueue Part Alignment"): 16, 2 and 4 bytes. We put the
// used ring on a 64-byte boundary as well, so that the device's writes and ours never
// share a cache line.
//
// This driver uses one descriptor per buffer and keeps descriptor i for buffer i: the
// address is written once (setBuffer), posting is a length, a flags word and an
// available-ring entry.

import { vring_need_event, type Ring } from './ring.js';

/** struct virtq_desc flags (§2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** virtq_avail.flags (§2.7.6): please do not interrupt (ignored with EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** virtq_used.flags (§2.7.8): please do not notify (ignored with EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest split queue (§2.7: Queue Size ≤ 32768, a power of 2). */
export const SPLIT_QUEUE_MAX = 32768;

/**
 * Where the descriptor table, the available ring and the used ring of a split virtqueue sit in its block of DMA
 * memory.
 */
export interface SplitLayout {
  size: number;
  /** Byte offsets inside the block. */
  desc: number;
  avail: number;
  used: number;
  /** Bytes of each part and of the whole block. */
  descBytes: number;
  availBytes: number;
  usedBytes: number;
  total: number;
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Offsets of the three parts for a queue of `size` entries (a power of 2). */
export function splitLayout(size: number): SplitLayout {
  if (!Number.isInteger(size) || size < 1 || size > SPLIT_QUEUE_MAX || (size & (size - 1)) !== 0) {
    throw new RangeError(`split virtqueue size must be a power of 2 from 1 to ${SPLIT_QUEUE_MAX}, got ${size}`);
  }
  const descBytes = 16 * size;
  const availBytes = 6 + 2 * size;
  const usedBytes = 6 + 8 * size;
  const desc = 0;
  const avail = desc + descBytes; // 16 × size is a multiple of 2
  const used = roundUp(avail + availBytes, 64);
  return { size, desc, avail, used, descBytes, availBytes, usedBytes, total: used + usedBytes };
}

/** A split virtqueue (virtio 1.2 §2.7): descriptor table, available ring, used ring. */
export class SplitRing implements Ring {
  readonly size: number;
  readonly layout: SplitLayout;
  readonly descIova: bigint;
  readonly driverIova: bigint;
  readonly deviceIova: bigint;
  // Views built once. Indexes: desc i → desc32[4i] addr lo, [4i+1] addr hi, [4i+2] len, desc16[8i+6] flags, [8i+7] next.
  private readonly desc32: Uint32Array;
  private readonly desc16: Uint16Array;
  // avail16[0] flags, [1] idx, [2+i] ring[i], [2+size] used_event.
  private readonly avail16: Uint16Array;
  // used16[0] flags, [1] idx, [2+4·size] avail_event; used32[1+2i] ring[i].id, [2+2i] ring[i].len.
  private readonly used16: Uint16Array;
  private readonly used32: Uint32Array;
  private readonly mask: number;
  /** The whole block (for the native transmit loop, which walks the same three parts). */
  readonly bytes: Uint8Array;
  /** Our copy of avail.idx (free-running, modulo 2^16). Package-internal: the native loop reads and advances it. */
  availIdx = 0;
  /** avail.idx at the last publish (for EVENT_IDX). Package-internal. */
  publishedIdx = 0;
  /** The next used.idx we expect (free-running, modulo 2^16). Package-internal. */
  lastUsedIdx = 0;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIdx: boolean;

  /**
   * @param mem the block (layout.total bytes, 16-byte aligned, zeroed) in DMA memory
   * @param iova its device address
   * @param eventIdx VIRTIO_F_EVENT_IDX was negotiated
   */
  constructor(mem: Uint8Array, iova: bigint, size: number, eventIdx: boolean) {
    const l = splitLayout(size);
    if (mem.byteLength < l.total) throw new RangeError(`split virtqueue of ${size} needs ${l.total} bytes, got ${mem.byteLength}`);
    if (mem.byteOffset % 16 !== 0 || iova % 16n !== 0n) throw new RangeError('split virtqueue memory must be 16-byte aligned');
    this.size = size;
    this.layout = l;
    this.mask = size - 1;
    this.eventIdx = eventIdx;
    this.bytes = mem.subarray(0, l.total);
    const b = mem.buffer;
    const o = mem.byteOffset;
    this.desc32 = new Uint32Array(b, o + l.desc, l.descBytes / 4);
    this.desc16 = new Uint16Array(b, o + l.desc, l.descBytes / 2);
    this.avail16 = new Uint16Array(b, o + l.avail, l.availBytes / 2);
    this.used16 = new Uint16Array(b, o + l.used, l.usedBytes / 2);
    this.used32 = new Uint32Array(b, o + l.used, (l.usedBytes - 2) / 4);
    this.descIova = iova + BigInt(l.desc);
    this.driverIova = iova + BigInt(l.avail);
    this.deviceIova = iova + BigInt(l.used);
  }

  setBuffer(id: number, addrLo: number, addrHi: number): void {
    this.desc32[4 * id] = addrLo;
    this.desc32[4 * id + 1] = addrHi;
  }

  post(id: number, len: number, writable: boolean): void {
    this.desc32[4 * id + 2] = len;
    this.desc16[8 * id + 6] = writable ? VIRTQ_DESC_F_WRITE : 0;
    this.avail16[2 + (this.availIdx & this.mask)] = id;
    this.availIdx = (this.availIdx + 1) & 0xffff;
  }

  postChain(readId: number, readLen: number, writeId: number, writeLen: number): void {
    this.desc32[4 * readId + 2] = readLen;
    this.desc16[8 * readId + 6] = VIRTQ_DESC_F_NEXT;
    this.desc16[8 * readId + 7] = writeId;
    this.desc32[4 * writeId + 2] = writeLen;
    this.desc16[8 * writeId + 6] = VIRTQ_DESC_F_WRITE;
    this.avail16[2 + (this.availIdx & this.mask)] = readId;
    this.availIdx = (this.availIdx + 1) & 0xffff;
  }

  publish(): boolean {
    const newIdx = this.availIdx;
    const oldIdx = this.publishedIdx;
    if (newIdx === oldIdx) return false;
    this.publishedIdx = newIdx;
    // §2.7.13.3.1: descriptors and ring entries must be visible before idx. Atomics.store is a
    // sequentially consistent store: neither V8 nor the CPU moves the stores above past it.
    Atomics.store(this.avail16, 1, newIdx);
    // §2.7.13.4 / §2.7.10: the full barrier above also orders the idx store before the reads below.
    if (this.eventIdx) return vring_need_event(Atomics.load(this.used16, 2 + 4 * this.size), newIdx, oldIdx);
    return (Atomics.load(this.used16, 0) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  poll(ids: Uint16Array, lens: Uint32Array, max: number, at = 0): number {
    // §2.7.14: read used.idx once, then the entries below it (loads are not reordered on x86;
    // Atomics.load keeps V8 from caching or hoisting the read).
    const usedIdx = Atomics.load(this.used16, 1);
    let n = (usedIdx - this.lastUsedIdx) & 0xffff;
    if (n > max) n = max;
    let last = this.lastUsedIdx;
    const used32 = this.used32;
    for (let i = at; i < at + n; i++) {
      const e = 1 + 2 * (last & this.mask);
      ids[i] = used32[e]!;
      lens[i] = used32[e + 1]!;
      last = (last + 1) & 0xffff;
    }
    this.lastUsedIdx = last;
    return n;
  }

  pending(): boolean {
    return Atomics.load(this.used16, 1) !== this.lastUsedIdx;
  }

  enableInterrupts(): boolean {
    // §2.7.10: with EVENT_IDX, interrupt when used.idx passes used_event; else clear NO_INTERRUPT.
    if (this.eventIdx) Atomics.store(this.avail16, 2 + this.size, this.lastUsedIdx);
    else Atomics.store(this.avail16, 0, 0);
    // The SC store above is also the full barrier between "ask for interrupts" and "check for work".
    return this.pending();
  }

  disableInterrupts(): void {
    // With EVENT_IDX, flags are ignored: park used_event half the index space away (§2.7.10).
    if (this.eventIdx) this.avail16[2 + this.size] = (this.lastUsedIdx + 0x8000) & 0xffff;
    else this.avail16[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
  }
}
