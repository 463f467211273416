// What crosses between the main thread and the worker that owns a queue pair. Plain data
// only (structured clone), plus SharedArrayBuffers for the rings and the control words.

import type { SharedBar, SharedDma } from '@vfio-node/core';
import type { MessagePort } from 'node:worker_threads';
import type { RingInit } from './ring.js';

/**
 * A request record: [opcode, nsid, slba, nlb, iova, length, tag, cdw12 flags]. Read, Write,
 * Write Zeroes (length 0) and Flush (slba 0, nlb 1, length 0: CDW10-12 stay 0) use the
 * words as named; Dataset Management puts NR (the number of ranges, 1's based) in nlb,
 * the range list in iova/length and the attributes (CDW11) in the flags word.
 */
export const REQ_WIDTH = 8;
/** The opcode word of a request the main thread cancelled (AbortSignal) before the worker posted it: the worker completes it with STATUS_CANCELLED. */
export const OP_CANCELLED = -1;
/** A completion record: [tag, status]; status 0 = success, > 0 the CQE status field, -1 a submission error. */
export const CPL_WIDTH = 2;
export const STATUS_SUBMIT_FAILED = -1;
export const STATUS_ABORTED = -2;
/** The controller was reset with the command in flight. */
export const STATUS_RESET = -3;
/** Cancelled (its AbortSignal fired) before the worker posted it: it never reached the controller. */
export const STATUS_CANCELLED = -4;

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CTL_STOP = 0;
/** Controller resets: the generation the main thread asks for, and the one the worker acknowledged (its rings are empty again). */
export const CTL_RESET = 1;
export const CTL_RESET_DONE = 2;
/**
 * Bumped by the main thread after each message it posts to the worker (then it wakes the
 * worker): the worker looks at its port (receiveMessageOnPort) only when this word moved,
 * not on every turn of its loop.
 */
export const CTL_MSG = 3;
export const CTL_WORDS = 4;

/** A namespace as the workers see it: its id, block size and size. */
export interface NamespaceInfo {
  nsid: number;
  blockSize: number;
  /** NSZE in blocks. */
  blocks: number;
}

/** The one long task a worker runs: own queue pair `qid` until told to stop. */
export interface OwnQueueTask {
  index: number;
  qid: number;
  address: string;
  bar: SharedBar;
  /** DMA memory for the rings, PRP lists and the worker's own buffers. */
  arena: SharedDma;
  /** The controller's shadow doorbell buffers (Doorbell Buffer Config), when it uses them: the queue pair must write its doorbells there. */
  shadow: { memory: SharedDma; eventIdx: number } | null;
  depth: number;
  dstrd: number;
  pageSize: number;
  maxTransfer: number;
  namespaces: NamespaceInfo[];
  requests: RingInit;
  completions: RingInit;
  control: SharedArrayBuffer;
  /** The eventfd of the CQ's MSI-X vector (NvmeRuntimeOptions.interrupts), or -1. */
  irqFd: number;
  /** How long the worker keeps turning its loop with nothing to do before it sleeps (NvmeRuntimeOptions.spinMicroseconds). */
  spinUs: number;
  /** How long it sleeps at most with commands outstanding (NvmeRuntimeOptions.pollMicroseconds). */
  pollUs: number;
  /** Messages: see ToWorker and FromWorker. */
  port: MessagePort;
}

export type ToWorker =
  | { type: 'go' }
  | { type: 'fail'; error: string }
  | { type: 'call'; id: number; module: string; name: string; args: unknown }
  /** The request `tag` was aborted: cancel its records still in the request ring, and say which CIDs it holds on the controller. */
  | { type: 'abort'; tag: number }
  /** The NVMe Abort for CID cid (reported in 'inflight') was answered, or not sent: the worker may use the CID again. */
  | { type: 'abortAnswered'; cid: number };
export type FromWorker =
  | { type: 'ready'; sqIova: number; cqIova: number }
  /** The answer to 'abort': the CIDs of `tag`'s commands outstanding on SQ `sqid` (the main thread sends an NVMe Abort for each). */
  | { type: 'inflight'; tag: number; sqid: number; cids: number[] }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: { message: string; code?: string; hint?: string; stack?: string } };
