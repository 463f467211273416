// A namespace seen through the runtime: the driver Namespace's call shapes (read, write,
// readAt, writeAt, flush, writeZeroes, deallocate), carried to the worker threads that
// own the I/O queue pairs. NVM Command Set Specification 1.0: Read (02h), Write (01h),
// Flush (00h), Write Zeroes (08h), Dataset Management (09h, §3.2.3).
//
// Everything a caller can get wrong is refused by the driver's own checks (checkRange,
// checkBuffer) before anything reaches a worker, with the driver's error codes; a
// refusal rejects the promise, as the driver's does.

import { NvmOpcode, ONCS, RW_FUA, WRITE_ZEROES_DEAC, type LbaRange, type Namespace } from '@vfio-node/nvme';
import { batchMismatch, misaligned, noRanges, unsupportedCommand } from './errors.js';

/** Options every runtime I/O call takes. */
export interface RuntimeIoOptions {
  /**
   * Aborts the request: before it reached the controller it is removed; once submitted,
   * an NVMe Abort is sent for it. Either way the promise rejects at once with
   * signal.reason; the buffer may still receive the controller's data until the command
   * really completes (the runtime holds the memory until then, so releasing it is safe).
   */
  signal?: AbortSignal;
}

export interface RuntimeTransferOptions extends RuntimeIoOptions {
  /** Force Unit Access (writes): complete only once the data is on non-volatile media. */
  fua?: boolean;
}

/** NLB is 16 bits, 0's based: at most 65536 blocks per command. */
const MAX_NLB = 65536;

/** @internal What RuntimeNamespace needs of the runtime: one way in for every command. */
export interface RuntimeSubmit {
  submit(
    ns: Namespace, opcode: number, slba: number, blocks: number, iova: number, maxBlocks: number, flags: number,
    what: string, buffer: Uint8Array | null, signal: AbortSignal | undefined, registered: boolean,
  ): Promise<void>;
  /** The controller's DMA allocator: the IOVA of its own memory without the driver's general check (iovaOf). */
  readonly dma: { iovaOf(view: ArrayBufferView): number };
  submitDatasetManagement(ns: Namespace, ranges: readonly (readonly [number, number])[], signal: AbortSignal | undefined): Promise<void>;
  /**
   * A batch: count transfers of `blocks` blocks each, slbas[i] and iovas[i] checked, all
   * under one tag and one promise; registered: the buffers that are registered caller
   * memory (to retain until the batch ends), or null when all are the allocator's.
   */
  submitBatch(
    ns: Namespace, opcode: number, slbas: Float64Array, blocks: number, iovas: Float64Array, count: number, maxBlocks: number, flags: number,
    what: string, buffers: readonly Uint8Array[], signal: AbortSignal | undefined, registered: Uint8Array[] | null,
  ): Promise<void>;
  readonly oncs: number;
  readonly address: string;
  readonly maxTransfer: number;
}

/**
 * A namespace seen through the runtime (rt.namespace(nsid)): the driver Namespace's call shapes (read, write,
 * readAt, writeAt, flush, writeZeroes, deallocate), carried to the worker threads that own the I/O queue pairs.
 */
export class RuntimeNamespace {
  /** Logical block size in bytes (2^LBADS of the format in use). */
  readonly blockSize: number;
  /** Namespace Size (NSZE), in logical blocks. */
  readonly blocks: bigint;
  /** Size in bytes. */
  readonly size: bigint;
  /** The largest piece one command carries (MDTS); larger transfers are split, under one promise. */
  private readonly maxBlocks: number;

  /** @internal built by NvmeRuntime.namespace */
  constructor(
    private readonly rt: RuntimeSubmit,
    /** The driver's namespace (its Identify data, its checks). */
    readonly ns: Namespace,
  ) {
    this.blockSize = ns.blockSize;
    this.blocks = ns.blocks;
    this.size = ns.size;
    this.maxBlocks = Math.max(1, Math.min(MAX_NLB, Math.floor(rt.maxTransfer / ns.blockSize)));
  }

  /** The namespace identifier. */
  get nsid(): number {
    return this.ns.nsid;
  }

  /** Reads `blocks` blocks from `lba` into buffer (DMA memory from runtime.allocBuffer). */
  read(lba: number | bigint, blocks: number, buffer: Uint8Array, options?: RuntimeIoOptions): Promise<void> {
    return this.transfer(NvmOpcode.Read, lba, blocks, buffer, 0, 'Read', options?.signal);
  }

  /** Writes `blocks` blocks from buffer to `lba`; fua forces them to media before completion. */
  write(lba: number | bigint, blocks: number, buffer: Uint8Array, options?: RuntimeTransferOptions): Promise<void> {
    return this.transfer(NvmOpcode.Write, lba, blocks, buffer, options?.fua ? RW_FUA : 0, 'Write', options?.signal);
  }

  /**
   * Reads `lbas.length` transfers of `blocks` blocks each, lbas[i] into buffers[i], with one
   * promise for all of them: it resolves once every read completed, or rejects (once every
   * read ended) with the error of the first that failed. Nothing is submitted when an
   * argument is refused. Cheaper per read than read() for each: one promise and one
   * settlement per batch, not per read.
   */
  readBatch(lbas: ArrayLike<number | bigint>, blocks: number, buffers: readonly Uint8Array[], options?: RuntimeIoOptions): Promise<void> {
    return this.batch(NvmOpcode.Read, lbas, blocks, buffers, 0, 'Read', options?.signal);
  }

  /** Writes `lbas.length` transfers of `blocks` blocks each, buffers[i] to lbas[i], with one promise for all of them (as readBatch()). */
  writeBatch(lbas: ArrayLike<number | bigint>, blocks: number, buffers: readonly Uint8Array[], options?: RuntimeTransferOptions): Promise<void> {
    return this.batch(NvmOpcode.Write, lbas, blocks, buffers, options?.fua ? RW_FUA : 0, 'Write', options?.signal);
  }

  /** Reads buffer.byteLength bytes from byte offset (both multiples of the block size). */
  readAt(offset: number | bigint, buffer: Uint8Array, options?: RuntimeIoOptions): Promise<void> {
    try {
      const lba = this.lbaOf(offset, buffer);
      return this.read(lba, buffer.byteLength / this.blockSize, buffer, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Writes buffer to byte offset (both multiples of the block size). */
  writeAt(offset: number | bigint, buffer: Uint8Array, options?: RuntimeTransferOptions): Promise<void> {
    try {
      const lba = this.lbaOf(offset, buffer);
      return this.write(lba, buffer.byteLength / this.blockSize, buffer, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Flush (00h): commits the volatile write cache to non-volatile media. */
  flush(options?: RuntimeIoOptions): Promise<void> {
    // slba 0, one block, no data: CDW10-12 of the entry stay 0, as Flush wants them.
    return this.rt.submit(this.ns, NvmOpcode.Flush, 0, 1, 0, 1, 0, 'Flush', null, options?.signal, false);
  }

  /** Write Zeroes (08h, ONCS bit 3); with deallocate (DEAC) the controller may deallocate the blocks too. */
  writeZeroes(lba: number | bigint, blocks: number, options: { deallocate?: boolean; fua?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    try {
      this.requireOncs(ONCS.WriteZeroes, 'Write Zeroes');
      const slba = this.ns.checkRange(lba, blocks);
      const flags = (options.deallocate ? WRITE_ZEROES_DEAC : 0) | (options.fua ? RW_FUA : 0);
      return this.rt.submit(this.ns, NvmOpcode.WriteZeroes, slba, blocks, 0, MAX_NLB, flags, 'Write Zeroes', null, options.signal, false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Dataset Management (09h) with the Deallocate attribute (ONCS bit 2): "trim" the ranges. */
  deallocate(ranges: LbaRange[], options?: RuntimeIoOptions): Promise<void> {
    try {
      this.requireOncs(ONCS.DatasetManagement, 'Dataset Management');
      if (!Array.isArray(ranges) || ranges.length === 0) throw noRanges();
      const checked = ranges.map((r) => [this.ns.checkRange(r.lba, r.blocks), r.blocks] as const);
      return this.rt.submitDatasetManagement(this.ns, checked, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private transfer(opcode: number, lba: number | bigint, blocks: number, buffer: Uint8Array, flags: number, what: string, signal: AbortSignal | undefined): Promise<void> {
    let slba: number;
    let iova: number;
    let registered = false;
    try {
      slba = this.ns.checkRange(lba, blocks);
      // Memory from allocBuffer, large enough and dword-aligned (what checkBuffer asks of a PRP
      // transfer) is found with one lookup; anything else (registered memory, or a buffer to
      // refuse with the driver's error) goes through the driver's check.
      iova = ArrayBuffer.isView(buffer) ? this.rt.dma.iovaOf(buffer) : -1;
      if (iova < 0 || buffer.byteLength < blocks * this.blockSize || iova % 4 !== 0) {
        iova = this.ns.checkBuffer(buffer, blocks, false);
        registered = true;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.rt.submit(this.ns, opcode, slba, blocks, iova, this.maxBlocks, flags, what, buffer, signal, registered);
  }

  private batch(opcode: number, lbas: ArrayLike<number | bigint>, blocks: number, buffers: readonly Uint8Array[], flags: number, what: string, signal: AbortSignal | undefined): Promise<void> {
    let registered: Uint8Array[] | null = null;
    let slbas: Float64Array;
    let iovas: Float64Array;
    const count = lbas.length;
    try {
      if (!Array.isArray(buffers) || buffers.length !== count || count === 0) throw batchMismatch(count, Array.isArray(buffers) ? buffers.length : -1);
      slbas = new Float64Array(count);
      iovas = new Float64Array(count);
      const bytes = blocks * this.blockSize;
      for (let i = 0; i < count; i++) {
        const buffer = buffers[i]!;
        slbas[i] = this.ns.checkRange(lbas[i]!, blocks);
        // As transfer(): allocator memory with one lookup, anything else through the driver's check.
        let iova = ArrayBuffer.isView(buffer) ? this.rt.dma.iovaOf(buffer) : -1;
        if (iova < 0 || buffer.byteLength < bytes || iova % 4 !== 0) {
          iova = this.ns.checkBuffer(buffer, blocks, false);
          (registered ??= []).push(buffer);
        }
        iovas[i] = iova;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.rt.submitBatch(this.ns, opcode, slbas, blocks, iovas, count, this.maxBlocks, flags, what, buffers, signal, registered);
  }

  private lbaOf(offset: number | bigint, buffer: Uint8Array): number {
    const off = Number(offset);
    const length = ArrayBuffer.isView(buffer) ? buffer.byteLength : 0;
    if (!Number.isSafeInteger(off) || off < 0 || off % this.blockSize !== 0 || length % this.blockSize !== 0 || length === 0) {
      throw misaligned(offset, length, this.blockSize);
    }
    return off / this.blockSize;
  }

  private requireOncs(bit: number, name: string): void {
    if ((this.rt.oncs & bit) === 0) throw unsupportedCommand(this.rt.address, name, this.rt.oncs);
  }
}
