// A null device (SPDK's "Null" bdev, Linux's null_blk): reads return zeroes, writes are
// discarded. Measures the cost of everything above the disk.

import type { Bdev, BdevBuffer, BdevRange } from './bdev.js';
import { checkOpen, checkRange, checkTransfer, settle } from './checks.js';

/** A bdev that stores nothing: `null:SIZE`. */
export class NullBdev implements Bdev {
  readonly kind = 'null' as const;
  readonly volatileWriteCache = false;
  readonly queueDepth = 128;
  readonly maxTransfer = 1 << 20;
  readonly blocks: bigint;
  private closed = false;

  /**
   * @param name the bdev's name
   * @param bytes capacity in bytes, a multiple of blockSize
   * @param blockSize logical block size, 512 or 4096
   */
  constructor(
    readonly name: string,
    bytes: number | bigint,
    readonly blockSize = 512,
  ) {
    this.blocks = BigInt(bytes) / BigInt(blockSize);
  }

  /** Plain memory. */
  allocBuffer(bytes: number): BdevBuffer {
    return { bytes: new Uint8Array(bytes), release() {} };
  }

  /** Fills the buffer with zeroes. */
  read(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    return settle(() => {
      checkOpen(this, this.closed);
      checkTransfer(this, lba, blocks, buffer);
      buffer.fill(0);
    });
  }

  /** Checks, then discards the data. */
  write(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    return settle(() => {
      checkOpen(this, this.closed);
      checkTransfer(this, lba, blocks, buffer);
    });
  }

  flush(): Promise<void> {
    return settle(() => checkOpen(this, this.closed));
  }

  writeZeroes(lba: bigint, blocks: number): Promise<void> {
    return settle(() => {
      checkOpen(this, this.closed);
      checkRange(this, lba, blocks);
    });
  }

  deallocate(ranges: readonly BdevRange[]): Promise<void> {
    return settle(() => {
      checkOpen(this, this.closed);
      for (const r of ranges) checkRange(this, r.lba, r.blocks);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
