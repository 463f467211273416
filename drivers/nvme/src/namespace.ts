// A namespace as a block device: read, write, compare, flush, write zeroes, deallocate,
// with promises. NVM Command Set Specification 1.0 (Read, Write, Compare, Write Zeroes,
// Dataset Management, Flush) on the Base Specification 2.0 queues.
//
// Everything a caller can get wrong is refused here, before anything reaches the
// device: an LBA range beyond NSZE, a buffer that is not DMA memory of this device, too
// small, or not dword aligned (PRP entries must be), and commands the controller does
// not implement (ONCS). Transfers larger than MDTS are split transparently.

import { hasCode } from '@vfio-node/core';
import { newPending, type Pending } from './command-queue.js';
import { DSM_AD, DSM_RANGE_SIZE, NvmOpcode, RW_FUA, WRITE_ZEROES_DEAC, sqeDatasetManagement, sqeFlush, writeDsmRange } from './commands.js';
import type { NvmeController } from './controller.js';
import { ONCS, type IdentifyNamespace } from './identify.js';
import {
  bufferMisaligned, bufferNotDma, bufferNotView, bufferTooSmall, bytesNotBlocks, invalidBlockCount, invalidLba, invalidSignal, lbaOutOfRange, metadataUnsupported, noRanges,
  passthruInvalid, sglUnsupported, signalUnsupported, unsupportedCommand,
} from './errors.js';
import type { PassthruCommand, PassthruResult } from './passthru.js';
import { setPrps } from './prp.js';
import { runVectored } from './vectored-io.js';

/** A range of logical blocks. */
export interface LbaRange {
  lba: number | bigint;
  blocks: number;
}

/**
 * Options every I/O call takes. `signal` aborts the request: already aborted, the call
 * rejects with signal.reason and sends nothing; aborted while the request waits in the
 * driver's software queue, it is taken out and rejects; aborted while a command of it is
 * on the device, the driver sends an NVMe Abort (Base 2.0 §5.1) for it and rejects with
 * signal.reason at once. The device may still complete such a command (QEMU's controller
 * declines every Abort): until it does, or the controller is reset (the watchdog resets
 * it once the command outlives twice timeoutMs), the buffer stays the device's. The
 * driver keeps its memory from being handed out again even if you release it, and holds
 * back a later request whose buffer overlaps it; what you read from it meanwhile is not
 * defined. controller.abortStats counts what happened.
 */
export interface IoOptions {
  signal?: AbortSignal;
}

/** How a transfer describes its buffer (PRPs or an SGL), and the options of every I/O call. */
export interface TransferOptions extends IoOptions {
  /** Describe the buffer with one SGL Data Block descriptor instead of PRPs (needs SGLS). */
  sgl?: boolean;
}

/** The options of a write: those of any transfer, and Force Unit Access. */
export interface WriteOptions extends TransferOptions {
  /** Force Unit Access: complete only once the data is on non-volatile media. */
  fua?: boolean;
}

/** NLB is 16 bits, 0's based: at most 65536 blocks per command. */
const MAX_NLB = 65536;
/** Dataset Management takes at most 256 ranges per command. */
const MAX_DSM_RANGES = 256;

/**
 * A namespace as a block device with promises: read, write, compare, flush, write zeroes, deallocate. Everything
 * a caller can get wrong (LBA range, buffer not DMA memory, unsupported command) is refused before anything
 * reaches the device; transfers larger than MDTS are split.
 */
export class Namespace {
  /** Logical block size in bytes (2^LBADS of the format in use). */
  readonly blockSize: number;
  /** Namespace Size (NSZE), in logical blocks. */
  readonly blocks: bigint;
  /** Size in bytes. */
  readonly size: bigint;
  private readonly nsze: number;

  /** @internal built by NvmeController.open */
  constructor(
    private readonly ctrl: NvmeController,
    /** The namespace identifier. */
    readonly nsid: number,
    /** The Identify Namespace data. */
    readonly info: IdentifyNamespace,
  ) {
    this.blockSize = info.blockSize;
    this.blocks = info.nsze;
    this.size = info.nsze * BigInt(info.blockSize);
    this.nsze = Number(info.nsze);
  }

  /** Reads `blocks` blocks from `lba` into buffer (DMA memory of this device). */
  read(lba: number | bigint, blocks: number, buffer: Uint8Array, options?: TransferOptions): Promise<void> {
    // Not async: one promise per request, not two (errors from the checks still reject).
    return this.transfer(NvmOpcode.Read, lba, blocks, buffer, 0, options) as Promise<unknown> as Promise<void>;
  }

  /** Writes `blocks` blocks from buffer to `lba`. */
  write(lba: number | bigint, blocks: number, buffer: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.transfer(NvmOpcode.Write, lba, blocks, buffer, options?.fua ? RW_FUA : 0, options) as Promise<unknown> as Promise<void>;
  }

  /**
   * Compares the blocks on the medium with buffer (Compare, ONCS bit 0). Resolves true
   * when equal, false on Compare Failure; other errors reject.
   */
  async compare(lba: number | bigint, blocks: number, buffer: Uint8Array, options: TransferOptions = {}): Promise<boolean> {
    this.requireOncs(ONCS.Compare, 'Compare');
    try {
      await this.transfer(NvmOpcode.Compare, lba, blocks, buffer, 0, options);
      return true;
    } catch (err) {
      if (hasCode(err, 'ERR_NVME_COMPARE_FAILURE')) return false;
      throw err;
    }
  }

  /** Reads buffer.byteLength bytes from byte offset (both multiples of the block size). */
  async readAt(offset: number | bigint, buffer: Uint8Array, options: TransferOptions = {}): Promise<void> {
    const [lba, blocks] = this.bytesToBlocks(offset, buffer.byteLength);
    return this.read(lba, blocks, buffer, options);
  }

  /** Writes buffer to byte offset (both multiples of the block size). */
  async writeAt(offset: number | bigint, buffer: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const [lba, blocks] = this.bytesToBlocks(offset, buffer.byteLength);
    return this.write(lba, blocks, buffer, options);
  }

  /** Flush: commits the volatile write cache to non-volatile media. */
  async flush(options: IoOptions = {}): Promise<void> {
    const p = newPending();
    p.signal = checkSignal(options.signal);
    p.name = `Flush of nsid ${this.nsid}`;
    p.fill = (u32, sqe, cid) => sqeFlush(u32, sqe, cid, this.nsid);
    await this.ctrl.ioQueue().run(p);
  }

  /** Write Zeroes (ONCS bit 3); with deallocate the controller may deallocate the blocks too. */
  async writeZeroes(lba: number | bigint, blocks: number, options: IoOptions & { deallocate?: boolean; fua?: boolean } = {}): Promise<void> {
    this.requireOncs(ONCS.WriteZeroes, 'Write Zeroes');
    const slba = this.checkRange(lba, blocks);
    const p = newPending();
    p.signal = checkSignal(options.signal);
    p.opcode = NvmOpcode.WriteZeroes;
    p.nsid = this.nsid;
    p.slba = slba;
    p.total = blocks;
    p.maxBlocks = MAX_NLB;
    p.cdw12 = (options.deallocate ? WRITE_ZEROES_DEAC : 0) | (options.fua ? RW_FUA : 0);
    await this.ctrl.ioQueue().run(p);
  }

  /** Dataset Management with the Deallocate attribute (ONCS bit 2): "trim" the ranges. */
  async deallocate(ranges: LbaRange[], options: IoOptions = {}): Promise<void> {
    this.requireOncs(ONCS.DatasetManagement, 'Dataset Management');
    const signal = checkSignal(options.signal);
    if (!Array.isArray(ranges) || ranges.length === 0) throw noRanges();
    const checked = ranges.map((r) => [this.checkRange(r.lba, r.blocks), r.blocks] as const);
    for (let i = 0; i < checked.length; i += MAX_DSM_RANGES) {
      const part = checked.slice(i, i + MAX_DSM_RANGES);
      const mem = this.ctrl.allocBuffer(part.length * DSM_RANGE_SIZE);
      try {
        part.forEach(([lba, n], k) => writeDsmRange(mem.view, k * DSM_RANGE_SIZE, lba, n));
        const iova = Number(mem.iova);
        const q = this.ctrl.ioQueue();
        const p = newPending();
        p.signal = signal;
        p.scratch = mem.bytes; // the ranges: held past the release below if an abort leaves the command on the device
        p.name = `Dataset Management (deallocate ${part.length} ranges) of nsid ${this.nsid}`;
        p.fill = (u32, sqe, cid) => {
          sqeDatasetManagement(u32, sqe, cid, this.nsid, part.length, DSM_AD);
          setPrps(u32, sqe, iova, part.length * DSM_RANGE_SIZE, this.ctrl.pageSize, q.qp.prpList(cid));
        };
        await q.run(p);
      } finally {
        mem.release();
      }
    }
  }

  /**
   * Any I/O command for this namespace, as the caller builds it (see PassthruCommand; nsid
   * defaults to this namespace's), on I/O queue pair 1. Nothing is checked against NSZE:
   * the command's fields are the caller's.
   * @throws as NvmeController.ioPassthru
   */
  passthru(command: PassthruCommand, options: IoOptions = {}): Promise<PassthruResult> {
    if (typeof command === 'object' && command !== null && command.nsid !== undefined && command.nsid !== this.nsid) {
      return Promise.reject(passthruInvalid('nsid', command.nsid, `${this.nsid}, this namespace (or leave it out)`, 'Use controller.ioPassthru for a command to another namespace.'));
    }
    return this.ctrl.ioPassthru({ ...command, nsid: this.nsid }, 0, options);
  }

  // ---- checks ------------------------------------------------------------------------

  private transfer(opcode: number, lba: number | bigint, blocks: number, buffer: Uint8Array, cdw12: number, options: TransferOptions | undefined): Promise<number> {
    try {
      const queue = this.ctrl.ioQueue(); // first: a closed or removed controller says so, whatever the buffer
      const p = this.request(opcode, lba, blocks, buffer, cdw12, options?.sgl);
      if (options?.signal !== undefined) p.signal = checkSignal(options.signal);
      // Registered caller memory stays mapped until the command ends (undefined: allocator
      // memory); after an abort, the queue's holdMemory keeps it past the rejection.
      const done = this.ctrl.device.dma.retain(buffer);
      const run = queue.run(p);
      return done === undefined ? run : run.finally(done);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private request(opcode: number, lba: number | bigint, blocks: number, buffer: Uint8Array, cdw12: number, sgl: boolean | undefined): Pending {
    const slba = this.checkRange(lba, blocks);
    const useSgl = sgl ?? this.ctrl.useSgl;
    if (useSgl && (this.ctrl.identify.sgls & 3) === 0) {
      throw sglUnsupported(this.ctrl.address, this.ctrl.identify.sgls);
    }
    const iova = this.checkBuffer(buffer, blocks, useSgl);
    const p: Pending = newPending();
    p.opcode = opcode;
    p.nsid = this.nsid;
    p.slba = slba;
    p.total = blocks;
    p.maxBlocks = Math.min(MAX_NLB, Math.max(1, Math.floor(this.ctrl.maxTransfer / this.blockSize)));
    p.iova = iova;
    p.blockSize = this.blockSize;
    p.cdw12 = cdw12;
    p.sgl = useSgl;
    p.buffer = buffer;
    return p;
  }

  /** Checks an LBA range against NSZE; returns the LBA as a number (the runtime checks with it too). */
  checkRange(lba: number | bigint, blocks: number): number {
    if (!Number.isInteger(blocks) || blocks < 1) {
      throw invalidBlockCount(blocks);
    }
    const n = typeof lba === 'bigint' ? Number(lba) : lba;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw invalidLba(lba);
    }
    if (n + blocks > this.nsze) {
      throw lbaOutOfRange(this.ctrl.address, this.nsid, n, blocks, this.nsze, this.blockSize);
    }
    if (this.info.metadataSize > 0) {
      throw metadataUnsupported(this.nsid, this.info.metadataSize);
    }
    return n;
  }

  /** Checks that buffer is DMA memory of this device, large enough and aligned; returns its IOVA. */
  checkBuffer(buffer: Uint8Array, blocks: number, sgl: boolean): number {
    if (!ArrayBuffer.isView(buffer)) {
      throw bufferNotView(buffer);
    }
    // Whose memory it is first (a released view is empty, and 'not DMA' says why), then its size.
    const iova = this.ctrl.device.dma.translate(buffer);
    if (iova === undefined) {
      throw bufferNotDma(this.ctrl.device.dma.refusal(buffer));
    }
    const need = blocks * this.blockSize;
    if (buffer.byteLength < need) {
      throw bufferTooSmall(buffer.byteLength, blocks, this.blockSize);
    }
    const n = Number(iova);
    if (!sgl && n % 4 !== 0) {
      throw bufferMisaligned(n);
    }
    return n;
  }

  private bytesToBlocks(offset: number | bigint, length: number): [number, number] {
    const off = Number(offset);
    if (!Number.isSafeInteger(off) || off < 0 || off % this.blockSize !== 0 || length % this.blockSize !== 0 || length === 0) {
      throw bytesNotBlocks(offset, length, this.blockSize);
    }
    return [off / this.blockSize, length / this.blockSize];
  }

  private requireOncs(bit: number, name: string): void {
    if ((this.ctrl.identify.oncs & bit) === 0) {
      throw unsupportedCommand(this.ctrl.address, name, this.ctrl.identify.oncs);
    }
  }
  // ---- vectored I/O ------------------------------------------------------------------

  /**
   * Reads consecutive blocks from `lba` into several buffers with one command (readv):
   * the buffers' lengths add up to whole blocks, filled in order. Each buffer is DMA
   * memory of this controller (allocBuffer) or registered memory (registerMemory).
   * Described with PRPs (a PRP list spanning the buffers, chained past 512 entries) when
   * every buffer but the first starts on a page and every buffer but the last ends on
   * one; otherwise with SGLs where the controller has them.
   * @throws (rejects) ERR_NVME_VECTOR_INVALID, ERR_NVME_BUFFER_NOT_DMA,
   * ERR_NVME_VECTOR_MISALIGNED, ERR_NVME_SGL_UNSUPPORTED, ERR_NVME_TRANSFER_TOO_LARGE (more
   * than MDTS: a vector is one command), ERR_NVME_LBA_OUT_OF_RANGE, NVMe status errors
   */
  readv(lba: number | bigint, buffers: Uint8Array[], options?: TransferOptions): Promise<void> {
    if (options?.signal !== undefined) return Promise.reject(signalUnsupported('readv'));
    return runVectored(this.ctrl, this, NvmOpcode.Read, lba, buffers, 0, options?.sgl);
  }

  /** Writes several buffers to consecutive blocks from `lba` with one command (writev); as readv. */
  writev(lba: number | bigint, buffers: Uint8Array[], options?: WriteOptions): Promise<void> {
    if (options?.signal !== undefined) return Promise.reject(signalUnsupported('writev'));
    return runVectored(this.ctrl, this, NvmOpcode.Write, lba, buffers, options?.fua ? RW_FUA : 0, options?.sgl);
  }
}

/** The signal option, checked: an AbortSignal or nothing. */
export function checkSignal(signal: unknown): AbortSignal | null {
  if (signal === undefined) return null;
  if (!(signal instanceof AbortSignal)) throw invalidSignal(signal);
  return signal;
}
