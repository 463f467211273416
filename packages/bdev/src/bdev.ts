// The block-device interface: what a frontend (the NVMe/TCP target, an embedder's
// program) needs from a disk, in logical blocks. Modelled on SPDK's bdev layer (a name,
// a block size, a block count, and the I/O types read, write, flush, write zeroes and
// unmap), with promises instead of completion callbacks.

/** A range of logical blocks (the Dataset Management range of NVM Command Set 1.0 §3.2.3). */
export interface BdevRange {
  /** First logical block. */
  lba: bigint;
  /** Number of blocks (1 or more). */
  blocks: number;
}

/** Memory a bdev reads into and writes from without a copy (DMA memory for an NVMe bdev). */
export interface BdevBuffer {
  /** The bytes; detached by release() when they are DMA memory. */
  readonly bytes: Uint8Array;
  /** Gives the memory back. Idempotent. */
  release(): void;
}

/**
 * A block device. Every I/O method checks its range against `blocks` and its buffer length
 * against `blocks * blockSize` before anything happens (ERR_BDEV_OUT_OF_RANGE,
 * ERR_BDEV_BUFFER); after close() each rejects with ERR_CLOSED.
 */
export interface Bdev {
  /** The name it was opened with (`malloc:64M`, `null:1G`, `0000:00:03.0/1`). */
  readonly name: string;
  /** Which implementation: `malloc` (RAM disk), `null` (discards writes, reads zeroes) or `nvme`. */
  readonly kind: 'malloc' | 'null' | 'nvme';
  /** Logical block size in bytes (512 or 4096). */
  readonly blockSize: number;
  /** Capacity in logical blocks. */
  readonly blocks: bigint;
  /** How many requests it can usefully keep in flight. */
  readonly queueDepth: number;
  /** The largest transfer one request may carry, in bytes (larger ones are the caller's to split). */
  readonly maxTransfer: number;
  /** True when writes may sit in a volatile cache until flush() (NVMe VWC). */
  readonly volatileWriteCache: boolean;
  /** A buffer the bdev can transfer without a copy (its size rounded up to whole blocks is the caller's job). */
  allocBuffer(bytes: number): BdevBuffer;
  /** Reads `blocks` blocks at `lba` into `buffer` (exactly blocks * blockSize bytes). */
  read(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void>;
  /** Writes `blocks` blocks from `buffer` (exactly blocks * blockSize bytes) at `lba`. */
  write(lba: bigint, blocks: number, buffer: Uint8Array): Promise<void>;
  /** Makes completed writes durable (NVM Command Set 1.0 §3.2.2 Flush). */
  flush(): Promise<void>;
  /** Sets `blocks` blocks at `lba` to zeroes (NVM Command Set 1.0 §3.2.8 Write Zeroes). */
  writeZeroes(lba: bigint, blocks: number): Promise<void>;
  /** Deallocates the ranges ("trim"); they may read back as zeroes afterwards (Dataset Management, AD bit). */
  deallocate(ranges: readonly BdevRange[]): Promise<void>;
  /** Releases the device (memory, the NVMe runtime when it was the last user). Idempotent. */
  close(): Promise<void>;
  /** close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
