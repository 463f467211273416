// Receive and transmit queues (virtio 1.2 §5.1.6): a virtqueue (split or packed) plus
// a pool of packet buffers in DMA memory, one buffer per descriptor, each
// [virtio_net_hdr (12 bytes)][frame]. Batch in, count out: receive() hands out up to N
// frames as offsets into one Uint8Array, reserve()/commit() fill and send up to N
// frames without copying. Nothing is allocated per packet.

import { native } from '@vfio-node/core';
import type { Ring } from './ring.js';
import { SplitRing, splitLayout } from './split-ring.js';
import { NetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_SIZE } from './net-hdr.js';
import { prepareChecksumOffload } from './csum.js';
import { badChecksumRequest, frameTooLarge, noChecksumOffload } from './errors.js';
import type { QueueTrace } from './queue-trace.js';

// The native transmit loop (native/src/virtio_ring.cc), looked up once; undefined with an
// addon built before it existed (burst() then runs in JavaScript).
type Burst = (ring: Uint8Array, state: Uint32Array, free: Uint16Array, pool: Uint8Array, params: Uint32Array, bar: ArrayBuffer) => number;
const virtioSplitTxBurst: Burst | undefined =
  (native as unknown as { virtioSplitTxBurst?: Burst }).virtioSplitTxBurst ?? (native as unknown as { default?: { virtioSplitTxBurst?: Burst } }).default?.virtioSplitTxBurst;

let headerWrites: boolean | undefined;

/**
 * Whether the native loop writes each frame's virtio_net_hdr (params[10..11], added with
 * checksum offload). An addon built before ignores those two parameters; the new one refuses
 * a checksum field outside the frame. Probed once, on a one-entry ring in ordinary memory,
 * with count 0 (nothing is posted, no doorbell is written).
 */
function nativeWritesHeaders(): boolean {
  if (headerWrites !== undefined) return headerWrites;
  const l = splitLayout(1);
  try {
    // [size, usedOffset, bufferSize, count, frameLen, seqOffset, seq, eventIdx, doorbell, vq, csumStart, csumOffset]
    const params = Uint32Array.of(1, l.used, 64, 0, 40, 0xffffffff, 0, 0, 0, 0, 40, 0);
    virtioSplitTxBurst!(new Uint8Array(l.total + 16).subarray(0, l.total), Uint32Array.of(0, 0, 0, 1), new Uint16Array(1), new Uint8Array(64), params, new ArrayBuffer(4));
    headerWrites = false;
  } catch (err) {
    headerWrites = /csum/.test(String((err as Error).message));
  }
  return headerWrites;
}

/** A queue's doorbell as the native loop writes it: the notification BAR's mapping and the byte offset in it. */
export interface NativeDoorbell {
  bar: ArrayBuffer;
  offset: number;
}

/** Counters kept by the driver (per queue; VirtioNet.stats() sums them). */
export interface QueueStats {
  packets: number;
  bytes: number;
  /** rx: frames dropped by the driver (malformed, or longer than maxFrame); tx: frames refused because the ring was full. */
  drops: number;
  /** rx: malformed used entries; tx: frames refused as too large. */
  errors: number;
}

/**
 * Packet buffers for one queue: `count` buffers of `bufferSize` bytes in one DMA block.
 * The block may be longer: the bytes after the buffers (from spareStart) are never given
 * to the device; a receive queue puts frames of several buffers together there.
 */
export class PacketPool {
  /** The whole block; buffer id starts at id × bufferSize. */
  readonly bytes: Uint8Array;
  /** The same memory as 32-bit words (for word copies without allocating). */
  readonly words: Uint32Array;
  /** Where the buffers end: count × bufferSize. */
  readonly spareStart: number;
  /** Device addresses of each buffer, as 32-bit halves. */
  readonly addrLo: Uint32Array;
  readonly addrHi: Uint32Array;

  constructor(
    bytes: Uint8Array,
    iova: bigint,
    readonly count: number,
    readonly bufferSize: number,
  ) {
    if (bufferSize % 64 !== 0) throw new RangeError('packet buffer size must be a multiple of 64');
    if (bytes.length < count * bufferSize) throw new RangeError(`a pool of ${count} buffers of ${bufferSize} bytes needs ${count * bufferSize} bytes, got ${bytes.length}`);
    this.bytes = bytes;
    this.spareStart = count * bufferSize;
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    this.addrLo = new Uint32Array(count);
    this.addrHi = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const a = iova + BigInt(i * bufferSize);
      this.addrLo[i] = Number(a & 0xffffffffn);
      this.addrHi[i] = Number(a >> 32n);
    }
  }
}

abstract class NetQueue {
  readonly stats: QueueStats = { packets: 0, bytes: 0, drops: 0, errors: 0 };
  /** Frames (and pool bytes) of this queue: frame i of a batch starts at frameOffset(id). */
  readonly frames: Uint8Array;
  /**
   * The queue's tracer while tracing is on (queue-trace.ts), else null: each hot call tests
   * this field once and, when it is set, lets the tracer describe what it does.
   */
  protected trace: QueueTrace | null = null;

  constructor(
    /** Queue pair index (0-based). */
    readonly pair: number,
    /** Virtqueue index (receiveqN = 2N, transmitqN = 2N + 1, §5.1.2). */
    readonly vq: number,
    readonly ring: Ring,
    readonly pool: PacketPool,
    /** Rings the doorbell of this virtqueue. */
    protected readonly notify: (vq: number) => void,
  ) {
    this.frames = pool.bytes;
    for (let id = 0; id < ring.size; id++) ring.setBuffer(id, pool.addrLo[id]!, pool.addrHi[id]!);
  }

  /** Where the frame of buffer id starts in `frames` (after its virtio_net_hdr). */
  frameOffset(id: number): number {
    return id * this.pool.bufferSize + VIRTIO_NET_HDR_SIZE;
  }

  /** Traces this queue from now on (null: stops). VirtioNet calls it when its trace option is on. */
  setTrace(trace: QueueTrace | null): void {
    this.trace = trace;
  }

  /** When traced: says what this queue asked of the device's interrupts (VirtioNet.wait calls it after enableInterrupts). */
  traceInterruptsOn(): void {
    if (this.trace !== null) this.trace.interruptsOn();
  }

  /** Publishes posted buffers and rings the doorbell if the device asked for it (§2.7.13.4 / §2.8.21.3). */
  protected kick(): void {
    if (this.trace !== null) this.trace.kick(this.notify, this instanceof TxQueue);
    else if (this.ring.publish()) this.notify(this.vq);
  }
}

/**
 * A receive queue: buffers posted to the device once, frames handed out in batches by receive() (offsets into
 * one Uint8Array), their buffers given back at the next receive().
 */
export class RxQueue extends NetQueue {
  /**
   * After receive(): the buffer id of each of the n frames handed out. A frame that came in
   * several buffers (num_buffers > 1, §5.1.6.4) was copied whole into the pool's merge
   * area: its id is its first buffer's, and its buffers are already back with the device.
   */
  readonly ids: Uint16Array;
  /** After receive(): frame lengths (without the virtio_net_hdr). */
  readonly lengths: Uint32Array;
  /** After receive(): offsets of the frames in `frames` (each after its virtio_net_hdr). */
  readonly offsets: Uint32Array;
  /**
   * After receive(): each frame's virtio_net_hdr flags (§5.1.6.4). 0 unless
   * VIRTIO_NET_F_GUEST_CSUM was negotiated; then VIRTIO_NET_HDR_F_NEEDS_CSUM (the
   * checksum is partial: see csumStart()/csumOffset() and completeChecksum()) or
   * VIRTIO_NET_HDR_F_DATA_VALID (the device checked it).
   */
  readonly flags: Uint8Array;
  /**
   * Used entries taken from the ring and not handed out yet, in the order the device used
   * them: usedIds/usedLens[0..carried). They are the buffers of a frame whose last buffers
   * the device has not returned yet, or frames that did not fit the merge area this time.
   */
  private readonly usedIds: Uint16Array;
  private readonly usedLens: Uint32Array;
  private carried = 0;
  /** Buffers of the last batch's single-buffer frames, given back at the next receive(). */
  private readonly heldIds: Uint16Array;
  private held = 0;
  /** Where frames of several buffers are put together: frames[mergeStart, mergeEnd). */
  private readonly mergeStart: number;
  private readonly mergeEnd: number;

  constructor(
    pair: number,
    vq: number,
    ring: Ring,
    pool: PacketPool,
    notify: (vq: number) => void,
    /** MRG_RXBUF negotiated: num_buffers says how many buffers the frame takes (§5.1.6.4). */
    private readonly mergeable: boolean,
    /** Largest frame accepted (MTU + 14); a longer one is dropped. Default: what one buffer holds. */
    readonly maxFrame: number = pool.bufferSize - VIRTIO_NET_HDR_SIZE,
  ) {
    super(pair, vq, ring, pool, notify);
    const n = ring.size;
    this.ids = new Uint16Array(n);
    this.lengths = new Uint32Array(n);
    this.offsets = new Uint32Array(n);
    this.flags = new Uint8Array(n);
    this.usedIds = new Uint16Array(n);
    this.usedLens = new Uint32Array(n);
    this.heldIds = new Uint16Array(n);
    this.mergeStart = pool.spareStart;
    this.mergeEnd = pool.bytes.length;
    if (mergeable && maxFrame > pool.bufferSize - VIRTIO_NET_HDR_SIZE && this.mergeEnd - this.mergeStart < mergeSlot(maxFrame)) {
      throw new RangeError(`a receive queue taking frames of ${maxFrame} bytes in buffers of ${pool.bufferSize} needs ${mergeSlot(maxFrame)} spare bytes after the buffers to put them together, the pool has ${this.mergeEnd - this.mergeStart}`);
    }
  }

  /** Frame i of the last batch: the header's csum_start (meaningful with NEEDS_CSUM in flags[i]). */
  csumStart(i: number): number {
    const h = this.offsets[i]! - VIRTIO_NET_HDR_SIZE;
    return this.frames[h + NetHdr.csum_start]! | (this.frames[h + NetHdr.csum_start + 1]! << 8);
  }

  /** Frame i of the last batch: the header's csum_offset (meaningful with NEEDS_CSUM in flags[i]). */
  csumOffset(i: number): number {
    const h = this.offsets[i]! - VIRTIO_NET_HDR_SIZE;
    return this.frames[h + NetHdr.csum_offset]! | (this.frames[h + NetHdr.csum_offset + 1]! << 8);
  }

  /** Makes every buffer available to the device (at set-up; no doorbell until DRIVER_OK). */
  fill(): void {
    for (let id = 0; id < this.ring.size; id++) this.ring.post(id, this.pool.bufferSize, true);
    this.ring.publish();
    if (this.trace !== null) this.trace.filled(this.ring.size);
  }

  /** Rings the doorbell once (after DRIVER_OK: the buffers posted by fill()). */
  start(): void {
    if (this.trace !== null) this.trace.started();
    this.notify(this.vq);
  }

  /**
   * Gives the frames of the previous batch back to the device, then takes up to max
   * received frames, in the order the device used them: ids/lengths/offsets/flags[0..n).
   * A frame of one buffer stays where the device wrote it; with VIRTIO_NET_F_MRG_RXBUF a
   * frame of num_buffers > 1 buffers (§5.1.6.4: the header in the first only) is copied
   * whole into the pool's merge area, and its buffers go straight back. A frame longer
   * than maxFrame, or a used entry that cannot be a frame, is dropped and counted
   * (stats.drops; malformed ones also in stats.errors). The frames stay valid until the
   * next call.
   */
  receive(max: number = this.ring.size): number {
    const ring = this.ring;
    const size = this.pool.bufferSize;
    for (let i = 0; i < this.held; i++) ring.post(this.heldIds[i]!, size, true);
    this.held = 0;
    const usedIds = this.usedIds;
    const usedLens = this.usedLens;
    const from = this.carried;
    const room = ring.size - from;
    const end = from + ring.poll(usedIds, usedLens, max < room ? max : room, from);
    const frames = this.frames;
    let merge = this.mergeStart;
    let n = 0;
    let bytes = 0;
    let c = 0;
    while (c < end && n < max) {
      const id = usedIds[c]!;
      const len0 = usedLens[c]!;
      if (id >= ring.size) {
        c++;
        this.dropMalformed(id);
        continue;
      }
      const hdr = id * size;
      const count = this.mergeable ? frames[hdr + NetHdr.num_buffers]! | (frames[hdr + NetHdr.num_buffers + 1]! << 8) : 1;
      if (count <= 1) {
        c++;
        const len = len0 - VIRTIO_NET_HDR_SIZE;
        // One buffer: at least an Ethernet header, no more than the buffer. num_buffers 0 is
        // malformed (§5.1.6.4: the device sets it to the number of buffers, at least 1).
        if (count === 0 || len0 < VIRTIO_NET_HDR_SIZE + 14 || len0 > size) {
          this.dropMalformed(id);
          continue;
        }
        this.ids[n] = id;
        this.lengths[n] = len;
        this.offsets[n] = hdr + VIRTIO_NET_HDR_SIZE;
        this.flags[n] = frames[hdr + NetHdr.flags]!;
        this.heldIds[this.held++] = id;
        bytes += len;
        n++;
        continue;
      }
      // Several buffers. More than the queue has cannot be: the header is garbage.
      if (count > ring.size) {
        c++;
        this.dropMalformed(id);
        continue;
      }
      // The device has not returned all of them yet: wait for the rest.
      if (c + count > end) break;
      let total = len0 - VIRTIO_NET_HDR_SIZE;
      let bad = len0 < VIRTIO_NET_HDR_SIZE || len0 > size;
      for (let j = c + 1; j < c + count; j++) {
        const l = usedLens[j]!;
        if (l > size || usedIds[j]! >= ring.size) bad = true;
        total += l;
      }
      if (bad || total < 14) {
        for (let j = c; j < c + count; j++) this.dropMalformed(usedIds[j]!);
        c += count;
        continue;
      }
      if (total > this.maxFrame) {
        this.stats.drops++;
        for (let j = c; j < c + count; j++) ring.post(usedIds[j]!, size, true);
        c += count;
        continue;
      }
      // Not enough room left in the merge area this time: the rest waits for the next call.
      const slot = mergeSlot(total);
      if (merge + slot > this.mergeEnd) break;
      // The header and the first part, then each next buffer's bytes (they carry no header).
      frames.copyWithin(merge, hdr, hdr + len0);
      ring.post(id, size, true);
      let at = merge + len0;
      for (let j = c + 1; j < c + count; j++) {
        const b = usedIds[j]! * size;
        frames.copyWithin(at, b, b + usedLens[j]!);
        at += usedLens[j]!;
        ring.post(usedIds[j]!, size, true);
      }
      this.ids[n] = id;
      this.lengths[n] = total;
      this.offsets[n] = merge + VIRTIO_NET_HDR_SIZE;
      this.flags[n] = frames[merge + NetHdr.flags]!;
      merge += slot;
      bytes += total;
      n++;
      c += count;
    }
    // What was taken and not handed out moves to the front for the next call.
    this.carried = end - c;
    if (c > 0 && c < end) {
      usedIds.copyWithin(0, c, end);
      usedLens.copyWithin(0, c, end);
    }
    this.stats.packets += n;
    this.stats.bytes += bytes;
    // The one test of the trace on this path: the traced kick also tells what was taken.
    if (this.trace === null) {
      if (ring.publish()) this.notify(this.vq);
    } else {
      this.trace.received(usedIds, usedLens, from, end, n, this.ids, this.offsets, this.lengths, this.notify);
    }
    return n;
  }

  /** A used entry that cannot be (part of) a frame: counted, and the buffer goes back (unless its id is not ours). */
  private dropMalformed(id: number): void {
    this.stats.errors++;
    this.stats.drops++;
    if (id < this.ring.size) this.ring.post(id, this.pool.bufferSize, true);
  }
}

/** Bytes of the merge area one frame of `length` takes: header and frame, rounded up to 64 (keeps every frame 4-byte aligned for copyFrame). */
export function mergeSlot(length: number): number {
  return Math.ceil((VIRTIO_NET_HDR_SIZE + length) / 64) * 64;
}

/**
 * A transmit queue: reserve() buffers, write frames into them, commit() them with one notification; send(frames)
 * copies and sends a batch, burst() resends frames already in the buffers.
 */
export class TxQueue extends NetQueue {
  /** After reserve(): the buffer ids to fill, [0..n). Write frame i at frameOffset(slots[i]). */
  readonly slots: Uint16Array;
  /** Set lengths[i] for slots[i] before commit(). */
  readonly lengths: Uint32Array;
  /**
   * Checksum offload per reserved frame (§5.1.6.2, needs VIRTIO_NET_F_CSUM): csumStart[i]
   * and csumOffset[i] ask the device to fill in the checksum of frame i (whose checksum
   * field holds the pseudo-header sum); csumStart 0 asks nothing. offloadChecksum(i) sets
   * them for a TCP or UDP frame. commit() writes them into the frame's header and clears them.
   */
  readonly csumStart: Uint16Array;
  readonly csumOffset: Uint16Array;
  private readonly free: Uint16Array;
  private freeCount: number;
  private reserved = 0;
  private readonly usedIds: Uint16Array;
  private readonly usedLens: Uint32Array;

  constructor(
    pair: number,
    vq: number,
    ring: Ring,
    pool: PacketPool,
    notify: (vq: number) => void,
    /** Largest frame accepted (MTU + 14). */
    readonly maxFrame: number,
    private readonly mtu: number,
    /** VIRTIO_NET_F_CSUM negotiated: the device fills in checksums of frames marked NEEDS_CSUM. */
    readonly csumOffload = false,
  ) {
    super(pair, vq, ring, pool, notify);
    const n = ring.size;
    this.slots = new Uint16Array(n);
    this.lengths = new Uint32Array(n);
    this.csumStart = new Uint16Array(n);
    this.csumOffset = new Uint16Array(n);
    this.free = new Uint16Array(n);
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i;
    this.freeCount = n;
    this.usedIds = new Uint16Array(n);
    this.usedLens = new Uint32Array(n);
  }

  /** Buffers the device has sent go back to the free list; returns how many. */
  reclaim(): number {
    const n = this.ring.poll(this.usedIds, this.usedLens, this.ring.size);
    for (let i = 0; i < n; i++) this.free[this.freeCount++] = this.usedIds[i]!;
    if (this.trace !== null) this.trace.used(this.usedIds, this.usedLens, 0, n);
    return n;
  }

  /** Free buffers (after the last reclaim). */
  get available(): number {
    return this.freeCount;
  }

  /** Buffers given to the device and not yet sent. */
  get inFlight(): number {
    return this.ring.size - this.freeCount - this.reserved;
  }

  /**
   * Reserves up to n buffers (reclaiming sent ones first) into slots[0..k) and returns
   * k. Fill each frame at frameOffset(slots[i]), set lengths[i], then commit(k).
   */
  reserve(n: number): number {
    if (this.reserved) this.release();
    if (this.freeCount < n) this.reclaim();
    const k = n < this.freeCount ? n : this.freeCount;
    for (let i = 0; i < k; i++) this.slots[i] = this.free[--this.freeCount]!;
    this.reserved = k;
    return k;
  }

  /**
   * Asks the device to fill in the TCP or UDP checksum of reserved frame i (already written,
   * lengths[i] set): writes the pseudo-header sum into the frame and sets csumStart[i] and
   * csumOffset[i] (§5.1.6.2). Returns false, changing nothing, for a frame that is not TCP
   * or UDP over IPv4/IPv6 (send it with its own checksum).
   * @throws ERR_VIRTIO_NO_CSUM_OFFLOAD when the device did not offer VIRTIO_NET_F_CSUM
   */
  offloadChecksum(i: number): boolean {
    if (!this.csumOffload) throw noChecksumOffload(this.pair);
    const r = prepareChecksumOffload(this.frames, this.frameOffset(this.slots[i]!), this.lengths[i]!);
    if (r === 0) return false;
    this.csumStart[i] = r >>> 16;
    this.csumOffset[i] = r & 0xffff;
    return true;
  }

  /**
   * Sends the first k reserved frames (one barrier, at most one doorbell) and returns k;
   * the rest of the reservation goes back. Each frame's header says NEEDS_CSUM when
   * csumStart[i] is set, else nothing. A frame longer than maxFrame refuses the whole batch
   * with ERR_VIRTIO_FRAME_TOO_LARGE, a checksum request without VIRTIO_NET_F_CSUM or
   * outside the frame with ERR_VIRTIO_NO_CSUM_OFFLOAD / ERR_VIRTIO_CSUM_REQUEST: nothing is sent.
   */
  commit(k: number = this.reserved): number {
    if (k > this.reserved) k = this.reserved;
    let bytes = 0;
    let csum = 0;
    for (let i = 0; i < k; i++) {
      const len = this.lengths[i]!;
      if (len > this.maxFrame) {
        this.stats.errors++;
        this.release();
        throw frameTooLarge(len, this.maxFrame, this.mtu);
      }
      const start = this.csumStart[i]!;
      if (start !== 0) {
        csum++;
        // §5.1.6.2.1: NEEDS_CSUM only with VIRTIO_NET_F_CSUM, and the field inside the frame.
        if (!this.csumOffload || start + this.csumOffset[i]! + 2 > len) {
          this.stats.errors++;
          this.release();
          throw this.csumOffload ? badChecksumRequest(start, this.csumOffset[i]!, len) : noChecksumOffload(this.pair);
        }
      }
      bytes += len;
    }
    const f = this.frames;
    const size = this.pool.bufferSize;
    for (let i = 0; i < k; i++) {
      const id = this.slots[i]!;
      // The header (§5.1.6.2): flags, then csum_start and csum_offset when asked. gso_type
      // and num_buffers stay 0 (the pool starts zeroed and nothing else writes them).
      const h = id * size;
      if (csum !== 0 && this.csumStart[i] !== 0) {
        const start = this.csumStart[i]!;
        const offset = this.csumOffset[i]!;
        f[h + NetHdr.flags] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        f[h + NetHdr.csum_start] = start & 0xff;
        f[h + NetHdr.csum_start + 1] = start >>> 8;
        f[h + NetHdr.csum_offset] = offset & 0xff;
        f[h + NetHdr.csum_offset + 1] = offset >>> 8;
        this.csumStart[i] = 0;
      } else {
        f[h + NetHdr.flags] = 0;
      }
      this.ring.post(id, VIRTIO_NET_HDR_SIZE + this.lengths[i]!, false);
    }
    // Unused reservations go back on the free list.
    for (let i = k; i < this.reserved; i++) {
      this.free[this.freeCount++] = this.slots[i]!;
      this.csumStart[i] = 0;
    }
    this.reserved = 0;
    this.stats.packets += k;
    this.stats.bytes += bytes;
    this.kick();
    return k;
  }

  private nativeBurst: { state: Uint32Array; params: Uint32Array; bar: ArrayBuffer } | undefined;

  /**
   * Lets burst() run in C (split rings only, and the addon must have the loop). VirtioNet.open
   * calls it when the notification BAR is mapped as a whole. Returns whether it is on.
   */
  useNativeBurst(db: NativeDoorbell): boolean {
    const r = this.ring;
    if (!(r instanceof SplitRing) || !virtioSplitTxBurst || !nativeWritesHeaders()) return false;
    // [size, usedOffset, bufferSize, count, frameLen, seqOffset, seq, eventIdx, doorbell, vq, csumStart, csumOffset]
    const params = Uint32Array.of(r.size, r.layout.used, this.pool.bufferSize, 0, 0, 0, 0, r.eventIdx ? 1 : 0, db.offset, this.vq, 0, 0);
    // [availIdx, publishedIdx, lastUsedIdx, freeCount, notified, device word]: the last two say
    // what the loop decided (for the trace; 0xffffffff until an addon that reports it writes them).
    this.nativeBurst = { state: Uint32Array.of(0, 0, 0, 0, 0xffffffff, 0), params, bar: db.bar };
    return true;
  }

  /** True when burst() runs in C. */
  get nativeBurstEnabled(): boolean {
    return this.nativeBurst !== undefined;
  }

  /**
   * Sends up to `count` frames of `frameLen` bytes that are already in the buffers (a
   * generator fills every buffer once), writing seq, seq + 1, ... as big-endian 32-bit
   * numbers at `seqOffset` of each frame (-1: leave the frames alone). Reclaims first,
   * posts, publishes and notifies once: in C when useNativeBurst() succeeded (the
   * per-packet work costs no JavaScript), else through reserve()/commit(). Returns how
   * many frames were posted (0: the ring is full). Every frame's header is written as it
   * is posted: NEEDS_CSUM with csumStart/csumOffset when csumStart is not 0 (checksum
   * offload, §5.1.6.2: the frames' checksum fields must hold the pseudo-header sum, see
   * prepareChecksumOffload), else no flags.
   * @throws ERR_VIRTIO_FRAME_TOO_LARGE when frameLen exceeds maxFrame, ERR_VIRTIO_NO_CSUM_OFFLOAD
   *   or ERR_VIRTIO_CSUM_REQUEST for a checksum request the device or the frame cannot take (nothing sent)
   */
  burst(count: number, frameLen: number, seqOffset = -1, seq = 0, csumStart = 0, csumOffset = 0): number {
    if (frameLen > this.maxFrame) {
      this.stats.errors++;
      throw frameTooLarge(frameLen, this.maxFrame, this.mtu);
    }
    if (csumStart !== 0 && (!this.csumOffload || csumStart + csumOffset + 2 > frameLen)) {
      this.stats.errors++;
      throw this.csumOffload ? badChecksumRequest(csumStart, csumOffset, frameLen) : noChecksumOffload(this.pair);
    }
    if (this.reserved) this.release();
    const nb = this.nativeBurst;
    if (nb) {
      const r = this.ring as SplitRing;
      const st = nb.state;
      const p = nb.params;
      st[0] = r.availIdx;
      st[1] = r.publishedIdx;
      st[2] = r.lastUsedIdx;
      st[3] = this.freeCount;
      p[3] = count < r.size ? count : r.size;
      p[4] = frameLen;
      p[5] = seqOffset < 0 ? 0xffffffff : seqOffset;
      p[6] = seq >>> 0;
      p[10] = csumStart;
      p[11] = csumOffset;
      const k = virtioSplitTxBurst!(r.bytes, st, this.free, this.pool.bytes, p, nb.bar);
      if (this.trace !== null) this.trace.nativeBurst(r.lastUsedIdx, r.availIdx, r.publishedIdx, st);
      r.availIdx = st[0]!;
      r.publishedIdx = st[1]!;
      r.lastUsedIdx = st[2]!;
      this.freeCount = st[3]!;
      this.stats.packets += k;
      this.stats.bytes += k * frameLen;
      return k;
    }
    const k = this.reserve(count);
    const f = this.frames;
    for (let i = 0; i < k; i++) {
      this.lengths[i] = frameLen;
      this.csumStart[i] = csumStart;
      this.csumOffset[i] = csumOffset;
      if (seqOffset >= 0) {
        const o = this.frameOffset(this.slots[i]!) + seqOffset;
        const v = (seq + i) >>> 0;
        f[o] = v >>> 24;
        f[o + 1] = (v >>> 16) & 0xff;
        f[o + 2] = (v >>> 8) & 0xff;
        f[o + 3] = v & 0xff;
      }
    }
    return this.commit(k);
  }

  /** Gives back a reservation without sending (and forgets its checksum requests). */
  release(): void {
    for (let i = 0; i < this.reserved; i++) {
      this.free[this.freeCount++] = this.slots[i]!;
      this.csumStart[i] = 0;
    }
    this.reserved = 0;
  }

  /**
   * Copies frames into buffers and sends them in one batch (convenient, not the fastest
   * path). Returns how many were queued; the rest found the ring full (counted as drops).
   * Throws ERR_VIRTIO_FRAME_TOO_LARGE before sending anything if one is too long.
   */
  send(frames: readonly Uint8Array[]): number {
    for (const f of frames) {
      if (f.length > this.maxFrame) {
        this.stats.errors++;
        throw frameTooLarge(f.length, this.maxFrame, this.mtu);
      }
    }
    const k = this.reserve(frames.length);
    for (let i = 0; i < k; i++) {
      const f = frames[i]!;
      this.frames.set(f, this.frameOffset(this.slots[i]!));
      this.lengths[i] = f.length;
    }
    this.stats.drops += frames.length - k;
    return this.commit(k);
  }
}

/**
 * Copies a frame between two queues' pools 32 bits at a time, with no allocation
 * (frame offsets are 4-byte aligned: buffers are 64-byte multiples, the header 12 bytes).
 * Copies up to 3 bytes past the end, which stay inside the buffer.
 */
export function copyFrame(src: PacketPool, srcOffset: number, dst: PacketPool, dstOffset: number, length: number): void {
  const s = src.words;
  const d = dst.words;
  let si = srcOffset >>> 2;
  let di = dstOffset >>> 2;
  const end = si + ((length + 3) >>> 2);
  while (si < end) d[di++] = s[si++]!;
}
