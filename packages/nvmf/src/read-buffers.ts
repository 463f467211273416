// The buffers a connection reads into, kept for the next read instead of given back to the
// bdev after each one. A read's buffer lives from the bdev's read until the socket has
// written the C2HData that carries it; taking a fresh one from the bdev each time costs
// more than the rest of the read on an NVMe bdev (a DMA allocation: a native call, a new
// ArrayBuffer over the mapping, 128 KiB zeroed for a 128 KiB read, then a detach) and an
// allocation and its garbage on a RAM or null bdev. So each connection keeps the buffers of
// the sizes its host reads with, up to a byte limit, and releases them when it closes or
// when their bdev leaves the subsystem.

import type { Bdev, BdevBuffer } from '@vfio-node/bdev';

/** A buffer lent by the pool: release() gives it back to the pool, not to the bdev. */
class Lent implements BdevBuffer {
  /** Lent out now (release() before the next lending does nothing). */
  out = true;

  /**
   * @param pool where release() puts it back
   * @param bdev the bdev whose memory it is
   * @param mem the bdev's buffer
   * @param bytes the view of exactly the size asked for
   */
  constructor(
    private readonly pool: ReadBuffers,
    readonly bdev: Bdev,
    readonly mem: BdevBuffer,
    readonly bytes: Uint8Array,
  ) {}

  release(): void {
    if (!this.out) return;
    this.out = false;
    this.pool.giveBack(this);
  }
}

/** One connection's read buffers, by bdev and size. */
export class ReadBuffers {
  private readonly idle = new Map<Bdev, Map<number, Lent[]>>();
  private idleBytes = 0;
  private closed = false;

  /** @param maxIdleBytes the most memory kept between reads (the rest goes back to the bdev) */
  constructor(private readonly maxIdleBytes: number) {}

  /** A buffer of exactly `bytes` bytes from `bdev`'s memory: a kept one, or a new one. */
  take(bdev: Bdev, bytes: number): BdevBuffer {
    const list = this.idle.get(bdev)?.get(bytes);
    const kept = list?.pop();
    if (kept) {
      this.idleBytes -= bytes;
      kept.out = true;
      return kept;
    }
    const mem = bdev.allocBuffer(bytes);
    return new Lent(this, bdev, mem, mem.bytes.subarray(0, bytes));
  }

  /** Lent.release(): keep it, unless closed or over the limit. */
  giveBack(b: Lent): void {
    const bytes = b.bytes.byteLength;
    if (this.closed || this.idleBytes + bytes > this.maxIdleBytes) {
      b.mem.release();
      return;
    }
    let sizes = this.idle.get(b.bdev);
    if (!sizes) this.idle.set(b.bdev, (sizes = new Map()));
    let list = sizes.get(bytes);
    if (!list) sizes.set(bytes, (list = []));
    list.push(b);
    this.idleBytes += bytes;
  }

  /** Releases the kept buffers of bdevs not in `live` (a namespace left the subsystem). */
  keepOnly(live: ReadonlySet<Bdev>): void {
    for (const [bdev, sizes] of this.idle) {
      if (live.has(bdev)) continue;
      for (const list of sizes.values()) for (const b of list) this.drop(b);
      this.idle.delete(bdev);
    }
  }

  /** Releases every kept buffer; buffers still lent go back to their bdev when released. Idempotent. */
  close(): void {
    this.closed = true;
    this.keepOnly(new Set());
  }

  private drop(b: Lent): void {
    this.idleBytes -= b.bytes.byteLength;
    b.mem.release();
  }
}
