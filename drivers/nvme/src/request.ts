// Per-command state, allocated once per queue and indexed by command identifier (CID):
// the free list of CIDs, the caller's tag, the timer tick at submission (for
// timeouts), and a preallocated PRP list per CID so that building a data pointer never
// allocates. NVM Express Base Specification 2.0: a CID must be unique among the
// commands outstanding on its submission queue ("Common Command Format", CID).

import type { DmaMemory, DmaSource } from '@vfio-node/core';
import { prpListPagesFor, type PrpListPages } from './prp.js';

/** A LIFO free list of command identifiers 0..count-1 (the most recently freed is reused first, warm in cache). */
export class CommandIds {
  private readonly free: Uint16Array;
  private top: number;

  constructor(readonly count: number) {
    this.free = new Uint16Array(count);
    this.top = 0;
    this.reset();
  }

  /** A free CID, or -1 when every CID is outstanding. */
  acquire(): number {
    return this.top === 0 ? -1 : this.free[--this.top]!;
  }

  release(cid: number): void {
    this.free[this.top++] = cid;
  }

  /** CIDs currently free. */
  get available(): number {
    return this.top;
  }

  /** Marks every CID free again (after a controller reset). */
  reset(): void {
    for (let i = 0; i < this.count; i++) this.free[i] = this.count - 1 - i;
    this.top = this.count;
  }
}

/** The life of a CID in RequestTable.state. */
export const RequestState = {
  /** Not in use. */
  Free: 0,
  /** Submitted to the controller. */
  Outstanding: 1,
  /** Outlived the timeout: an Abort was sent for it; it still fails only once the controller's DMA is stopped. */
  AbortSent: 2,
  /** Given up (QueuePair.abandon): its owner was told; the CID stays held until the controller answers or is reset. */
  Abandoned: 3,
} as const;
export type RequestState = (typeof RequestState)[keyof typeof RequestState];

/**
 * The tag of a command the watchdog never times out (the Asynchronous Event Request, which
 * waits for an event as long as it takes). Tags of callers' commands are never negative.
 */
export const NO_TIMEOUT_TAG = -1;

/** The per-CID table of one queue pair. */
export class RequestTable {
  readonly ids: CommandIds;
  /** The caller's tag for each outstanding CID. */
  readonly tags: Float64Array;
  /** The timer tick at which each CID was submitted. */
  readonly epoch: Uint32Array;
  /** A RequestState per CID. */
  readonly state: Uint8Array;
  /** The opcode of each outstanding CID (for timeout and error messages). */
  readonly opcode: Uint8Array;
  /** A timeout of each outstanding CID's own, ms (a passthrough command's timeoutMs); 0: the controller's timeoutMs. */
  readonly timeoutMs: Uint32Array;
  /** PRP list pages of each CID (empty pages when transfers never need a list). */
  readonly prpLists: PrpListPages[];
  private readonly listMemory: DmaMemory | null;

  /**
   * count CIDs; each gets enough PRP list pages for maxTransfer bytes with pages of pageSize.
   */
  constructor(dma: DmaSource, count: number, maxTransfer: number, pageSize: number) {
    this.ids = new CommandIds(count);
    this.tags = new Float64Array(count);
    this.epoch = new Uint32Array(count);
    this.state = new Uint8Array(count);
    this.opcode = new Uint8Array(count);
    this.timeoutMs = new Uint32Array(count);
    const pages = prpListPagesFor(maxTransfer, pageSize);
    this.listMemory = pages > 0 ? dma.alloc(count * pages * pageSize, { align: pageSize, internal: true }) : null;
    this.prpLists = [];
    const m = this.listMemory;
    const u32 = m ? new Uint32Array(m.bytes.buffer, m.bytes.byteOffset, m.size / 4) : new Uint32Array(0);
    const base = m ? Number(m.iova) : 0;
    for (let cid = 0; cid < count; cid++) {
      this.prpLists.push({ u32, dw: (cid * pages * pageSize) / 4, iova: base + cid * pages * pageSize, pages });
    }
  }

  /** Returns the PRP list memory. */
  release(): void {
    this.listMemory?.release();
  }
}
