// What code running on a worker-owned queue pair gets: the queue pair itself (the
// driver's public hot-path API: submitIo, ring, poll), the namespaces' geometry, and an
// arena of DMA memory for its buffers. Benchmarks and embedders' per-queue code take it.

import type { DmaArena } from '@vfio-node/core';
import type { QueuePair } from '@vfio-node/nvme';
import type { NamespaceInfo } from './protocol.js';

/**
 * What code run on a worker's queue pair gets: the queue pair (the driver's hot-path API), the namespaces'
 * geometry, DMA memory for its buffers, and the interrupt eventfd.
 */
export interface QueueContext {
  /** Worker index (0-based) and the NVMe queue id it owns. */
  index: number;
  qid: number;
  address: string;
  qp: QueuePair;
  namespaces: NamespaceInfo[];
  /** DMA memory for this worker's buffers (bump-allocated, freed with the worker). */
  arena: DmaArena;
  /** Largest transfer per command (MDTS) and the memory page size, bytes. */
  maxTransfer: number;
  pageSize: number;
  /**
   * The eventfd the queue pair's MSI-X vector signals (NvmeRuntimeOptions.interrupts), or
   * -1: wait on it with native.eventfdWait([irqFd], ms) while commands are outstanding.
   * The CQ is still polled; an interrupt only says "look now".
   */
  irqFd: number;
}

/** A function a worker can run on its queue pair: export it from a module and pass the module URL to runtime.call(). */
export type QueueFunction<A, R> = (ctx: QueueContext, args: A) => R | Promise<R>;
