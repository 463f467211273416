// The benchmark's NVMe target: one I/O queue pair of the userspace driver, driven
// through the same public hot-path API an embedding program uses (submitIo, ring,
// poll). Buffers are DMA memory allocated once per job; their IOVAs are kept by slot, so
// submitting an I/O is a table look-up and a 64-byte store, nothing else.

import type { DmaMemory } from '@vfio-node/core';
import { NvmOpcode, type NvmeController, type QueuePair } from '@vfio-node/nvme';
import { IO_READ, type IoDirection, type IoTarget } from './io-target.js';

export class NvmeTarget implements IoTarget {
  readonly blockSize: number;
  readonly capacityBytes: number;
  readonly maxQueueDepth: number;
  readonly maxTransferBytes: number;
  readonly name: string;
  private readonly shift: number;
  private memory: DmaMemory | null = null;
  private iovas = new Float64Array(0);
  // Where the completion handler writes; set by poll() before reaping (no closure per I/O).
  private outSlots: Uint32Array = new Uint32Array(0);
  private outStatus: Int32Array = new Int32Array(0);
  private outCount = 0;

  private constructor(
    private readonly ctrl: NvmeController,
    private readonly qp: QueuePair,
    private readonly nsid: number,
  ) {
    const ns = ctrl.namespace(nsid);
    this.blockSize = ns.blockSize;
    this.shift = Math.log2(ns.blockSize);
    this.capacityBytes = Number(ns.size);
    this.maxQueueDepth = qp.depth - 1;
    this.maxTransferBytes = ctrl.maxTransfer;
    this.name = `${ctrl.address}/${nsid}`;
    qp.onComplete = (_cid, status, _dw0, tag) => {
      const k = this.outCount++;
      this.outSlots[k] = tag;
      // CQE status field without the phase bit: (SCT << 8) | SC, plus CRD/More/DNR above.
      this.outStatus[k] = status;
    };
  }

  /** Creates a queue pair of depth entries on ctrl for namespace nsid. */
  static async open(ctrl: NvmeController, nsid: number, depth: number): Promise<NvmeTarget> {
    ctrl.namespace(nsid); // throws ERR_NVME_NO_SUCH_NAMESPACE with the active list
    const qp = await ctrl.createQueuePair({ depth: Math.max(2, Math.min(depth + 1, ctrl.cap.maxQueueEntries)), completion: 'poll' });
    return new NvmeTarget(ctrl, qp, nsid);
  }

  allocSlots(slots: number, length: number): Uint8Array[] {
    const stride = Math.ceil(length / this.ctrl.pageSize) * this.ctrl.pageSize;
    const memory = this.ctrl.allocBuffer(slots * stride);
    this.memory = memory;
    this.iovas = new Float64Array(slots);
    const out: Uint8Array[] = [];
    for (let i = 0; i < slots; i++) {
      this.iovas[i] = Number(memory.iova) + i * stride;
      out.push(memory.bytes.subarray(i * stride, i * stride + length));
    }
    return out;
  }

  submit(dir: IoDirection, offset: number, length: number, slot: number): void {
    const opcode = dir === IO_READ ? NvmOpcode.Read : NvmOpcode.Write;
    this.qp.submitIo(opcode, this.nsid, offset >>> 0 === offset ? offset >>> this.shift : Math.floor(offset / this.blockSize), length >>> this.shift, this.iovas[slot]!, length, slot);
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

  close(): void {
    this.qp.onComplete = null;
    this.memory?.release();
    this.memory = null;
  }
}
