// A RAM disk (SPDK's "Malloc" bdev): the blocks live in one ArrayBuffer of the process.
// Nothing survives close(). Reads and writes are copies, done at once.

import type { Bdev, BdevBuffer, BdevRange } from './bdev.js';
import { checkOpen, checkRange, checkTransfer, settle } from './checks.js';

/** A bdev over process memory: `malloc:SIZE`. */
export class MallocBdev implements Bdev {
  readonly kind = 'malloc' as const;
  /** RAM is as durable as it gets here: no cache to flush. */
  readonly volatileWriteCache = false;
  /** Copies do not queue: any depth is served at once. */
  readonly queueDepth = 128;
  /** Any size a caller's buffer holds. */
  readonly maxTransfer = 1 << 20;
  readonly blocks: bigint;
  private data: Uint8Array | null;

  /**
   * @param name the bdev's name
   * @param bytes capacity in bytes, a multiple of blockSize (the parser checks it)
   * @param blockSize logical block size, 512 or 4096
   */
  constructor(
    readonly name: string,
    bytes: number,
    readonly blockSize = 512,
  ) {
    this.data = new Uint8Array(bytes);
    this.blocks = BigInt(bytes / blockSize);
  }

  /** Plain memory: any Uint8Array works, this one included. */
  allocBuffer(bytes: number): BdevBuffer {
    return { bytes: new Uint8Array(bytes), release() {} };
  }

  read(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    return settle(() => {
      const data = this.open();
      checkTransfer(this, lba, blocks, buffer);
      const at = Number(lba) * this.blockSize;
      buffer.set(data.subarray(at, at + buffer.byteLength));
    });
  }

  write(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void> {
    return settle(() => {
      const data = this.open();
      checkTransfer(this, lba, blocks, buffer);
      data.set(buffer, Number(lba) * this.blockSize);
    });
  }

  flush(): Promise<void> {
    return settle(() => void this.open());
  }

  writeZeroes(lba: bigint, blocks: number): Promise<void> {
    return settle(() => {
      const data = this.open();
      checkRange(this, lba, blocks);
      const at = Number(lba) * this.blockSize;
      data.fill(0, at, at + blocks * this.blockSize);
    });
  }

  /** Deallocated blocks read back as zeroes (as an NVMe namespace with DLFEAT 001b reports). */
  deallocate(ranges: readonly BdevRange[]): Promise<void> {
    return settle(() => {
      const data = this.open();
      for (const r of ranges) checkRange(this, r.lba, r.blocks);
      for (const r of ranges) {
        const at = Number(r.lba) * this.blockSize;
        data.fill(0, at, at + r.blocks * this.blockSize);
      }
    });
  }

  async close(): Promise<void> {
    this.data = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private open(): Uint8Array {
    checkOpen(this, this.data === null);
    return this.data!;
  }
}
