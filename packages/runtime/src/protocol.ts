// What crosses between the main thread and the worker that owns a queue pair. Plain data
// only (structured clone), plus SharedArrayBuffers for the rings and the control words.

import type { SharedBar, SharedDma } from '@vfio-node/core';
import type { MessagePort } from 'node:worker_threads';
import type { RingInit } from './ring.js';

/** A request record: [opcode, nsid, slba, nlb, iova, length, tag, cdw12 flags]. */
export const REQ_WIDTH = 8;
/** A completion record: [tag, status]; status 0 = success, > 0 the CQE status field, -1 a submission error. */
export const CPL_WIDTH = 2;
export const STATUS_SUBMIT_FAILED = -1;
export const STATUS_ABORTED = -2;
/** The controller was reset with the command in flight. */
export const STATUS_RESET = -3;

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CTL_STOP = 0;
/** Controller resets: the generation the main thread asks for, and the one the worker acknowledged (its rings are empty again). */
export const CTL_RESET = 1;
export const CTL_RESET_DONE = 2;
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
  /** Messages: worker → main {type:'ready', sqIova, cqIova} | {type:'result', id, value} | {type:'error', id, error}; main → worker {type:'go'} | {type:'call', id, module, name, args}. */
  port: MessagePort;
}

export type ToWorker = { type: 'go' } | { type: 'fail'; error: string } | { type: 'call'; id: number; module: string; name: string; args: unknown };
export type FromWorker =
  | { type: 'ready'; sqIova: number; cqIova: number }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: { message: string; code?: string; hint?: string; stack?: string } };
