// The packed virtqueue (virtio 1.2 §2.8), used when VIRTIO_F_RING_PACKED is negotiated:
// one ring of descriptors that the driver makes available and the device overwrites as
// used, in ring order, told apart by two flag bits and a wrap counter on each side.
//
//   descriptor ring        16 bytes × size  struct pvirtq_desc { le64 addr; le32 len; le16 id; le16 flags; }
//   driver event suppr.    4 bytes          struct pvirtq_event_suppress { le16 desc (off_wrap); le16 flags; }
//   device event suppr.    4 bytes          the same, written by the device
//
// Alignment (§2.8.10.1 table): 16, 4, 4. One descriptor per buffer: the buffer id
// travels in the descriptor's id field and comes back in the used descriptor.

import { vring_need_event, type Ring } from './ring.js';

/** pvirtq_desc.flags (§2.8.1, §2.8.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_AVAIL = 1 << 7;
export const VIRTQ_DESC_F_USED = 1 << 15;
/** pvirtq_event_suppress.flags (§2.8.10). */
export const RING_EVENT_FLAGS_ENABLE = 0;
export const RING_EVENT_FLAGS_DISABLE = 1;
export const RING_EVENT_FLAGS_DESC = 2;
/** Largest packed queue (§2.8: Queue Size ≤ 32768, any value). */
export const PACKED_QUEUE_MAX = 32768;

/** Where the parts of a packed virtqueue of `size` descriptors sit in its block of DMA memory. */
export interface PackedLayout {
  size: number;
  desc: number;
  driver: number;
  device: number;
  total: number;
}

/** The layout of a packed virtqueue of `size` descriptors (1 to 32768); throws a RangeError otherwise. */
export function packedLayout(size: number): PackedLayout {
  if (!Number.isInteger(size) || size < 1 || size > PACKED_QUEUE_MAX) throw new RangeError(`packed virtqueue size must be 1 to ${PACKED_QUEUE_MAX}, got ${size}`);
  const desc = 0;
  const driver = 16 * size;
  const device = Math.ceil((driver + 4) / 64) * 64; // its own cache line
  return { size, desc, driver, device, total: device + 4 };
}

/** Where a packed ring stands (PackedRing.inspect(), for the trace; not on the hot path). */
export interface PackedRingState {
  /** The first descriptor posted since the last publish, and how many were posted. */
  batchHead: number;
  batchCount: number;
  /** The flags the batch's first descriptor gets at publish (§2.8.6: written last). */
  batchHeadFlags: number;
  /** The next descriptor to make available, and the driver's ring wrap counter (§2.8.1). */
  nextAvail: number;
  availWrap: number;
  /** The next descriptor to look at for a used buffer, and the wrap counter it must match. */
  nextUsed: number;
  usedWrap: number;
  /** The device's event suppression structure (§2.8.10): flags and desc (off_wrap). */
  deviceFlags: number;
  deviceOffWrap: number;
  /** The driver's event suppression structure: flags and desc (off_wrap). */
  driverFlags: number;
  driverOffWrap: number;
}

/**
 * A packed virtqueue (virtio 1.2 §2.8, VIRTIO_F_RING_PACKED): one descriptor ring the driver makes available and
 * the device overwrites as used, told apart by flag bits and wrap counters.
 */
export class PackedRing implements Ring {
  readonly size: number;
  readonly layout: PackedLayout;
  readonly descIova: bigint;
  readonly driverIova: bigint;
  readonly deviceIova: bigint;
  // desc i → desc32[4i] addr lo, [4i+1] addr hi, [4i+2] len, desc16[8i+6] id, [8i+7] flags.
  private readonly desc32: Uint32Array;
  private readonly desc16: Uint16Array;
  // [0] off_wrap (desc), [1] flags.
  private readonly driver16: Uint16Array;
  private readonly device16: Uint16Array;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIdx: boolean;
  /** The whole block (descriptor ring, then the two event suppression structures), for decoding. */
  readonly bytes: Uint8Array;
  /** Device addresses by buffer id (set once). */
  private readonly addrLo: Uint32Array;
  private readonly addrHi: Uint32Array;
  /** Descriptors each posted buffer id occupies (1, or 2 for a control chain). */
  private readonly chainLen: Uint8Array;
  // §2.8.1: both wrap counters start at 1.
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  /** Descriptors posted since the last publish, and where the batch began (its flags are written last). */
  private batch = 0;
  private batchHead = 0;
  private batchHeadFlags = 0;

  /**
   * Honour the device's off_wrap (notify only when the batch made that descriptor
   * available, as Linux's virtqueue_kick_prepare_packed does) instead of notifying whenever
   * the device did not DISABLE notifications. Off by default: QEMU 7.2's virtio-net behind
   * a hub stalled with it (a 64-entry ring, the receiver's ring full: frames stayed queued
   * in QEMU waiting for a receive notification the test judged unneeded, after 2 to 7 laps;
   * lab scenario virtio-net-packed). Notifying on DESC costs little with QEMU: it only sets
   * DESC while it waits (its off_wrap is its next descriptor, which any new batch covers).
   */
  exactEvents = false;

  constructor(mem: Uint8Array, iova: bigint, size: number, eventIdx: boolean) {
    const l = packedLayout(size);
    if (mem.byteLength < l.total) throw new RangeError(`packed virtqueue of ${size} needs ${l.total} bytes, got ${mem.byteLength}`);
    if (mem.byteOffset % 16 !== 0 || iova % 16n !== 0n) throw new RangeError('packed virtqueue memory must be 16-byte aligned');
    this.size = size;
    this.layout = l;
    this.eventIdx = eventIdx;
    this.bytes = mem.subarray(0, l.total);
    const b = mem.buffer;
    const o = mem.byteOffset;
    this.desc32 = new Uint32Array(b, o + l.desc, 4 * size);
    this.desc16 = new Uint16Array(b, o + l.desc, 8 * size);
    this.driver16 = new Uint16Array(b, o + l.driver, 2);
    this.device16 = new Uint16Array(b, o + l.device, 2);
    this.addrLo = new Uint32Array(size);
    this.addrHi = new Uint32Array(size);
    this.chainLen = new Uint8Array(size);
    this.descIova = iova + BigInt(l.desc);
    this.driverIova = iova + BigInt(l.driver);
    this.deviceIova = iova + BigInt(l.device);
  }

  setBuffer(id: number, addrLo: number, addrHi: number): void {
    this.addrLo[id] = addrLo;
    this.addrHi[id] = addrHi;
  }

  post(id: number, len: number, writable: boolean): void {
    this.chainLen[id] = 1;
    this.put(id, id, len, writable ? VIRTQ_DESC_F_WRITE : 0);
  }

  postChain(readId: number, readLen: number, writeId: number, writeLen: number): void {
    // §2.8.6: a chain is consecutive descriptors with NEXT on all but the last; the buffer id
    // is the one in the last descriptor, and the used descriptor skips the whole chain.
    this.chainLen[writeId] = 2;
    this.put(readId, writeId, readLen, VIRTQ_DESC_F_NEXT);
    this.put(writeId, writeId, writeLen, VIRTQ_DESC_F_WRITE);
  }

  private put(addrOf: number, id: number, len: number, baseFlags: number): void {
    const i = this.nextAvail;
    this.desc32[4 * i] = this.addrLo[addrOf]!;
    this.desc32[4 * i + 1] = this.addrHi[addrOf]!;
    this.desc32[4 * i + 2] = len;
    this.desc16[8 * i + 6] = id;
    // §2.8.1: available when AVAIL equals the driver's wrap counter and USED does not.
    const flags = baseFlags | (this.availWrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
    if (this.batch === 0) {
      // §2.8.6: the first descriptor's flags go last, so the device sees the batch whole or not at all.
      this.batchHead = i;
      this.batchHeadFlags = flags;
    } else {
      this.desc16[8 * i + 7] = flags;
    }
    this.batch++;
    if (++this.nextAvail === this.size) {
      this.nextAvail = 0;
      this.availWrap ^= 1;
    }
  }

  publish(): boolean {
    const added = this.batch;
    if (added === 0) return false;
    this.batch = 0;
    // SC store: every descriptor field written above is visible before the head's flags.
    Atomics.store(this.desc16, 8 * this.batchHead + 7, this.batchHeadFlags);
    // §2.8.10: the device's event suppression structure says whether it wants a notification.
    const flags = Atomics.load(this.device16, 1) & 3;
    if (flags !== RING_EVENT_FLAGS_DESC || !this.exactEvents) return flags !== RING_EVENT_FLAGS_DISABLE;
    const offWrap = this.device16[0]!;
    let eventIdx = offWrap & 0x7fff;
    // An event offset from the previous lap of the ring counts as size lower.
    if (offWrap >> 15 !== this.availWrap) eventIdx -= this.size;
    const newIdx = this.nextAvail;
    return vring_need_event(eventIdx & 0xffff, newIdx, (newIdx - added) & 0xffff);
  }

  poll(ids: Uint16Array, lens: Uint32Array, max: number, at = 0): number {
    let n = 0;
    const d16 = this.desc16;
    while (n < max) {
      const i = this.nextUsed;
      // §2.8.1: used when AVAIL and USED both equal the driver's used wrap counter.
      const flags = Atomics.load(d16, 8 * i + 7);
      const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
      const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
      if (avail !== used || used !== this.usedWrap) break;
      const id = d16[8 * i + 6]!;
      ids[at + n] = id;
      lens[at + n] = this.desc32[4 * i + 2]!;
      n++;
      this.nextUsed += this.chainLen[id]!;
      if (this.nextUsed >= this.size) {
        this.nextUsed -= this.size;
        this.usedWrap ^= 1;
      }
    }
    return n;
  }

  pending(): boolean {
    const flags = Atomics.load(this.desc16, 8 * this.nextUsed + 7);
    const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
    const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
    return avail === used && used === this.usedWrap;
  }

  enableInterrupts(): boolean {
    if (this.eventIdx) {
      // §2.8.10: interrupt when the descriptor at off_wrap (with its wrap counter) is used.
      this.driver16[0] = this.nextUsed | (this.usedWrap << 15);
      Atomics.store(this.driver16, 1, RING_EVENT_FLAGS_DESC);
    } else {
      Atomics.store(this.driver16, 1, RING_EVENT_FLAGS_ENABLE);
    }
    return this.pending();
  }

  disableInterrupts(): void {
    this.driver16[1] = RING_EVENT_FLAGS_DISABLE;
  }

  /** Where the ring stands, for the trace (allocates; not for the hot path). */
  inspect(): PackedRingState {
    return {
      batchHead: this.batchHead,
      batchCount: this.batch,
      batchHeadFlags: this.batchHeadFlags,
      nextAvail: this.nextAvail,
      availWrap: this.availWrap,
      nextUsed: this.nextUsed,
      usedWrap: this.usedWrap,
      deviceFlags: Atomics.load(this.device16, 1),
      deviceOffWrap: Atomics.load(this.device16, 0),
      driverFlags: this.driver16[1]!,
      driverOffWrap: this.driver16[0]!,
    };
  }
}
