// The main thread's view of one worker and its queue pair: the request and completion
// rings, the control words, back-pressure (requests waiting for room in the ring), the
// requests with pieces on it, and the calls (runtime.call()) carried over its port. Also
// the record of one request the runtime's promise path keeps until its last piece ends.

import type { MessagePort } from 'node:worker_threads';
import type { DmaMemory, VfioError } from '@vfio-node/core';
import { CPL_WIDTH, CTL_WORDS, REQ_WIDTH, type FromWorker } from './protocol.js';
import { Ring } from './ring.js';
import type { OwnQueueResult } from './worker.js';
import { workerCallFailed } from './errors.js';

export interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  /** Pieces still outstanding (a transfer larger than MDTS is split). */
  parts: number;
  error: Error | null;
  /** For error messages only (formatted when one is needed): command name, blocks, first LBA, namespace. */
  what: string;
  blocks: number;
  slba: number;
  nsid: number;
  /** The caller's buffer, referenced until every piece completed (an aborted request's memory must not be handed out again before). */
  buffer: Uint8Array | null;
  /** DMA memory the runtime allocated for the request (a Dataset Management range list), released when it ends. */
  own: DmaMemory | null;
  signal: AbortSignal | null;
  /**
   * Ends what keeps the buffer's memory mapped and out of reuse until the last piece
   * completes: the registration's retain (registered caller memory) from submission, and
   * the allocator's hold taken when the signal aborted the request with pieces on the device.
   */
  holds: (() => void) | null;
  /** The promise settled early (its signal aborted); the pieces still count down. */
  settled: boolean;
}

export interface Waiting {
  record: number[];
  tag: number;
}

export class WorkerQueue {
  readonly req: Ring;
  readonly cpl: Ring;
  readonly control = new SharedArrayBuffer(CTL_WORDS * 4);
  readonly ctl = new Int32Array(this.control);
  inflight = 0;
  readonly waiting: Waiting[] = [];
  done!: Promise<OwnQueueResult>;
  qid = 0;
  created = false;
  /** Set once the worker has ended outside close(): its requests' error. */
  dead: (() => VfioError) | null = null;
  /** Requests (by tag) with pieces on this queue, waiting, in the request ring or in flight, and how many pieces. */
  readonly tags = new Map<number, number>();
  /** The reclaiming of a dead worker's queue pair, while it runs (close() waits for it). */
  reclaiming: Promise<void> | null = null;
  arenaReleased = false;
  private nextCall = 1;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    readonly index: number,
    readonly depth: number,
    readonly port: MessagePort,
    readonly arena: DmaMemory,
  ) {
    const cap = 2 ** Math.ceil(Math.log2(2 * depth));
    this.req = Ring.create(cap, REQ_WIDTH);
    this.cpl = Ring.create(cap, CPL_WIDTH);
  }

  listen(onReady: (m: Extract<FromWorker, { type: 'ready' }>) => void, onInflight: (m: Extract<FromWorker, { type: 'inflight' }>) => void): void {
    this.port.on('message', (m: FromWorker) => {
      if (m.type === 'ready') onReady(m);
      else if (m.type === 'inflight') onInflight(m);
      else {
        const c = this.calls.get(m.id);
        if (!c) return;
        this.calls.delete(m.id);
        if (m.type === 'result') c.resolve(m.value);
        else c.reject(workerCallFailed(m.error));
      }
    });
  }

  call<T>(module: string, name: string, args: unknown): Promise<T> {
    if (this.dead) return Promise.reject(this.dead());
    const id = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ type: 'call', id, module, name, args });
      this.wake();
    });
  }

  failCalls(err: Error): void {
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
  }

  /** Wakes the worker if it sleeps on its request ring. */
  wake(): void {
    this.req.publish(0);
  }
}
