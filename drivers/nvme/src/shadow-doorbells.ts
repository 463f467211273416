// Shadow doorbells: the Doorbell Buffer Config command (NVM Express Base Specification
// 2.0, §5.8) and the Shadow Doorbell / EventIdx buffers it names (1.4, §7.13).
//
// Meant for emulated controllers, where each doorbell register write is a trap into the
// device model. The host gives the controller two memory pages: the Shadow Doorbell
// buffer, where it writes every new SQ tail and CQ head, and the EventIdx buffer, where
// the controller writes the value after which it wants a real doorbell write. The
// controller reads the shadow values itself whenever it looks at a queue, so the host
// writes the register only when the new value passes the EventIdx (the same rule as
// virtio's EVENT_IDX; Linux's nvme_dbbuf_need_event). The admin queue keeps its
// registers: Linux and SPDK never shadow it, and QEMU's model copies them across.
//
// Both pages are laid out like the doorbell registers (§3.1.24, §3.1.25) without their
// 1000h offset: SQ y tail at dword 2y << DSTRD, CQ y head at dword (2y + 1) << DSTRD.
// The native hot path (WriteDoorbell of NvmeQueue in native/src/nvme_queue.cc) does the
// store, the barrier, the EventIdx test and, only when needed, the register write.

import type { DmaAllocator, DmaMemory } from '@vfio-node/core';

/** Both buffers as one Uint32Array: the Shadow Doorbell page, then the EventIdx page. */
export interface ShadowDoorbells {
  words: Uint32Array;
  /** The dword index where the EventIdx page starts in words. */
  eventIdx: number;
  /** The DMA memory under words: the native queue handle pins it by its buffer id. */
  memory: DmaMemory;
}

/** The dword indices of one queue pair's entries in the shadow buffers. */
export interface ShadowSlots {
  sqTail: number;
  sqEventIdx: number;
  cqHead: number;
  cqEventIdx: number;
}

/** Where queue pair qid's shadow SQ tail and CQ head (and their EventIdx entries) live. */
export function shadowSlots(qid: number, dstrd: number, eventIdx: number): ShadowSlots {
  const sqTail = (2 * qid) << dstrd;
  const cqHead = (2 * qid + 1) << dstrd;
  return { sqTail, sqEventIdx: eventIdx + sqTail, cqHead, cqEventIdx: eventIdx + cqHead };
}

/** The pages one controller's Doorbell Buffer Config points at: two memory pages of DMA memory. */
export class ShadowDoorbellBuffer {
  readonly memory: DmaMemory;
  readonly doorbells: ShadowDoorbells;

  constructor(dma: DmaAllocator, readonly pageSize: number) {
    // PRP1 and PRP2 of Doorbell Buffer Config are each one page-aligned memory page (CC.MPS).
    this.memory = dma.alloc(2 * pageSize, { align: pageSize, internal: true });
    const b = this.memory.bytes;
    this.doorbells = { words: new Uint32Array(b.buffer, b.byteOffset, (2 * pageSize) / 4), eventIdx: pageSize / 4, memory: this.memory };
  }

  /** IOVA of the Shadow Doorbell page (PRP1). */
  get shadowIova(): number {
    return Number(this.memory.iova);
  }

  /** IOVA of the EventIdx page (PRP2). */
  get eventIdxIova(): number {
    return Number(this.memory.iova) + this.pageSize;
  }

  /**
   * Zeroes both pages: every queue starts with tail and head 0, and no stale value of an
   * earlier controller life may be read as a doorbell (Linux clears them on each reset too).
   */
  clear(): void {
    this.memory.bytes.fill(0);
  }

  /** Releases the two pages of DMA memory. */
  release(): void {
    this.memory.release();
  }
}
