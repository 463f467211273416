// An NVMe namespace as a bdev, through the runtime's worker-owned I/O queue pairs
// (`rt.namespace(nsid)`). The runtime is shared by every bdev on the same controller
// (open.ts counts the users); buffers from allocBuffer() are DMA memory and go to the
// controller without a copy, other buffers are copied through DMA memory.

import type { NvmeRuntime, RuntimeNamespace } from '@vfio-node/runtime';
import type { Bdev, BdevBuffer, BdevRange } from './bdev.js';
import { checkOpen, checkRange, checkTransfer } from './checks.js';

/** A bdev over namespace `nsid` of a controller bound to vfio-pci: `DDDD:BB:DD.F/NSID`. */
export class NvmeBdev implements Bdev {
  readonly kind = 'nvme' as const;
  readonly blockSize: number;
  readonly blocks: bigint;
  readonly queueDepth: number;
  readonly maxTransfer: number;
  readonly volatileWriteCache: boolean;
  /** The ArrayBuffers of DMA memory this bdev handed out (transferred without a copy). */
  private readonly dmaBuffers = new WeakSet<ArrayBufferLike>();
  /** The last ArrayBuffer found in dmaBuffers: most requests reuse it, and a compare is cheaper than the WeakSet. */
  private lastDma: ArrayBufferLike | null = null;
  private closed = false;

  /**
   * @param name the bdev's name
   * @param rt the runtime that owns the controller
   * @param ns the namespace seen through it
   * @param queueDepth requests in flight the runtime's queues hold together
   * @param release called once by close(): lets go of the runtime
   */
  constructor(
    readonly name: string,
    private readonly rt: NvmeRuntime,
    private readonly ns: RuntimeNamespace,
    queueDepth: number,
    private readonly release: () => Promise<void>,
  ) {
    this.blockSize = ns.blockSize;
    this.blocks = ns.blocks;
    this.queueDepth = queueDepth;
    this.maxTransfer = rt.controller.maxTransfer;
    // Identify Controller VWC bit 0: a volatile write cache is present (Base 2.0 §5.17.2.1).
    this.volatileWriteCache = (rt.controller.identify.vwc & 1) === 1;
  }

  /** DMA memory of the controller: read() and write() use it without a copy. */
  allocBuffer(bytes: number): BdevBuffer {
    const mem = this.rt.allocBuffer(bytes);
    this.dmaBuffers.add(mem.bytes.buffer);
    return mem;
  }

  // read() and write() are the hot path: no async wrapper (it would add a promise and three
  // microtask turns to each request), the runtime's own promise is returned as it is. A
  // failed check becomes a rejection, as from an async function.
  read(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    try {
      checkOpen(this, this.closed);
      checkTransfer(this, lba, blocks, buffer);
      if (this.isDma(buffer)) return this.ns.read(lba, blocks, buffer);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.readBounced(lba, blocks, buffer);
  }

  write(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    try {
      checkOpen(this, this.closed);
      checkTransfer(this, lba, blocks, buffer);
      if (this.isDma(buffer)) return this.ns.write(lba, blocks, buffer);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writeBounced(lba, blocks, buffer);
  }

  /** Whether buffer lies in DMA memory this bdev handed out (so it needs no bounce copy). */
  private isDma(buffer: Uint8Array): boolean {
    const b = buffer.buffer;
    if (b === this.lastDma) return true;
    if (!this.dmaBuffers.has(b)) return false;
    this.lastDma = b;
    return true;
  }

  /** A buffer that is not this controller's DMA memory goes through a bounce buffer. */
  private async readBounced(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    const bounce = this.rt.allocBuffer(buffer.byteLength);
    try {
      await this.ns.read(lba, blocks, bounce.bytes.subarray(0, buffer.byteLength));
      buffer.set(bounce.bytes.subarray(0, buffer.byteLength));
    } finally {
      bounce.release();
    }
  }

  private async writeBounced(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    const bounce = this.rt.allocBuffer(buffer.byteLength);
    try {
      bounce.bytes.set(buffer);
      await this.ns.write(lba, blocks, bounce.bytes.subarray(0, buffer.byteLength));
    } finally {
      bounce.release();
    }
  }

  async flush(): Promise<void> {
    checkOpen(this, this.closed);
    await this.ns.flush();
  }

  async writeZeroes(lba: bigint, blocks: number): Promise<void> {
    checkOpen(this, this.closed);
    checkRange(this, lba, blocks);
    await this.ns.writeZeroes(lba, blocks);
  }

  async deallocate(ranges: readonly BdevRange[]): Promise<void> {
    checkOpen(this, this.closed);
    for (const r of ranges) checkRange(this, r.lba, r.blocks);
    await this.ns.deallocate(ranges.map((r) => ({ lba: r.lba, blocks: r.blocks })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
