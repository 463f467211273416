// The benchmark's NVMe target: one I/O queue pair of the userspace driver, driven
// through the same public hot-path API an embedding program uses (submitIo, ring,
// poll). Buffers are DMA memory allocated once per job; their IOVAs are kept by slot, so
// submitting an I/O is a table look-up and a 64-byte store, nothing else.

import { native, type DmaMemory } from '@vfio-node/core';
import { DSM_AD, NvmOpcode, sqeDatasetManagement, sqeSetPrp, writeDsmRange, type QueuePair } from '@vfio-node/nvme';
import { IO_READ, IO_TRIM, type IoDirection, type IoTarget } from './io-target.js';

const wait = native.eventfdWait;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** What an NvmeTarget drives: a queue pair of the NVMe driver, the namespace, and its block size and capacity. */
export interface NvmeTargetInit {
  /** The I/O queue pair the target submits to. */
  qp: QueuePair;
  /** Namespace id. */
  nsid: number;
  /** Logical block size in bytes. */
  blockSize: number;
  /** Namespace size in blocks (NSZE). */
  blocks: number;
  /** Largest transfer per command in bytes (MDTS). */
  maxTransfer: number;
  /** The controller's memory page size in bytes (PRP entries). */
  pageSize: number;
  /** "0000:00:03.0/1" */
  name: string;
  /** DMA memory the queue pair's controller can reach. */
  alloc(size: number): DmaMemory;
  /** The eventfd of the queue pair's MSI-X vector (the runtime's interrupts option), or -1. */
  irqFd?: number;
}

export class NvmeTarget implements IoTarget {
  readonly blockSize: number;
  readonly capacityBytes: number;
  readonly maxQueueDepth: number;
  readonly maxTransferBytes: number;
  readonly name: string;
  private readonly qp: QueuePair;
  private readonly nsid: number;
  private readonly shift: number;
  private memory: DmaMemory | null = null;
  private iovas = new Float64Array(0);
  // Where the completion handler writes; set by poll() before reaping (no closure per I/O).
  private outSlots: Uint32Array = new Uint32Array(0);
  private outStatus: Int32Array = new Int32Array(0);
  private outCount = 0;
  /** The slots' buffers, for the Dataset Management range of a trim. */
  private views: DataView[] = [];
  /** The IOVA of the range list of the trim being posted, for dsmFill. */
  private dsmIova = 0;
  /**
   * Fills a trim's entry: Dataset Management (NVM Command Set 1.0 §3.2.3), one range
   * (NR 0's based), the Deallocate attribute, the range list in the slot's buffer (16 bytes
   * at a page-aligned address: PRP1 alone). Built once; no closure per trim.
   */
  private readonly dsmFill = (u32: Uint32Array, sqe: number, cid: number): void => {
    sqeDatasetManagement(u32, sqe, cid, this.nsid, 1, DSM_AD);
    sqeSetPrp(u32, sqe, this.dsmIova, 0);
  };
  /** [irqFd] for native.eventfdWait, or null: sleep 50 µs instead. */
  private readonly irqFds: number[] | null;

  constructor(private readonly init: NvmeTargetInit) {
    this.qp = init.qp;
    this.nsid = init.nsid;
    this.blockSize = init.blockSize;
    this.shift = Math.log2(init.blockSize);
    this.capacityBytes = init.blocks * init.blockSize;
    this.maxQueueDepth = init.qp.depth - 1;
    this.maxTransferBytes = init.maxTransfer;
    this.name = init.name;
    this.irqFds = init.irqFd !== undefined && init.irqFd >= 0 ? [init.irqFd] : null;
    init.qp.onComplete = (_cid, status, _dw0, tag) => {
      const k = this.outCount++;
      this.outSlots[k] = tag;
      // The CQE status field without the phase bit: (SCT << 8 | SC) << 1, plus CRD/More/DNR.
      this.outStatus[k] = status;
    };
    // A controller reset (the queue pair's owner is told by poll()) fails what was in flight.
    init.qp.onFail = (_cid, tag) => {
      const k = this.outCount++;
      this.outSlots[k] = tag;
      this.outStatus[k] = -1;
    };
  }

  allocSlots(slots: number, length: number): Uint8Array[] {
    const stride = Math.ceil(length / this.init.pageSize) * this.init.pageSize;
    const memory = this.init.alloc(slots * stride);
    this.memory = memory;
    this.iovas = new Float64Array(slots);
    const out: Uint8Array[] = [];
    for (let i = 0; i < slots; i++) {
      this.iovas[i] = Number(memory.iova) + i * stride;
      out.push(memory.bytes.subarray(i * stride, i * stride + length));
    }
    this.views = out.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    return out;
  }

  submit(dir: IoDirection, offset: number, length: number, slot: number): void {
    if (dir === IO_TRIM) {
      // Context Attributes 0, Length in logical blocks (not 0's based), Starting LBA.
      writeDsmRange(this.views[slot]!, 0, Math.floor(offset / this.blockSize), length >>> this.shift);
      this.dsmIova = this.iovas[slot]!;
      this.qp.submitCommand(this.dsmFill, slot);
      return;
    }
    const opcode = dir === IO_READ ? NvmOpcode.Read : NvmOpcode.Write;
    this.qp.submitIo(opcode, this.nsid, Math.floor(offset / this.blockSize), length >>> this.shift, this.iovas[slot]!, length, slot);
  }

  flush(): void {
    this.qp.ring();
  }

  poll(slots: Uint32Array, status: Int32Array, max: number): number {
    this.outSlots = slots;
    this.outStatus = status;
    this.outCount = 0;
    this.qp.poll(max);
    return this.outCount;
  }

  /**
   * Called when nothing completed and nothing could be submitted. With one command in
   * flight we spin: the lowest latency. With several, we give the CPU away until the
   * controller posts something: under emulation (the lab) the device model runs on the
   * same host CPUs as our polling, and a spinning poller starves it. With the queue's
   * MSI-X vector we sleep on its eventfd (woken by the interrupt that follows a posted
   * completion, at most 1 ms); without it, 50 µs at a time.
   */
  wait(_timeoutMs: number): void {
    if (this.qp.outstanding <= 1) return;
    if (this.irqFds !== null) wait(this.irqFds, 1); // whatever it returns (-1, -2: a signal), the caller polls next
    else Atomics.wait(SLEEPER, 0, 0, 0.05);
  }

  close(): void {
    this.qp.onComplete = null;
    this.qp.onFail = null;
    this.memory?.release();
    this.memory = null;
  }
}
