// The main thread's view of one worker and its queue pair: the request and completion
// rings, the control words, back-pressure (requests waiting for room in the ring), and
// the calls (runtime.call()) carried over its port. Which requests have pieces on it is
// in their records (dispatch.ts, Pending.onQueue).

import type { MessagePort } from 'node:worker_threads';
import type { DmaMemory, VfioError } from '@vfio-node/core';
import { CPL_WIDTH, CTL_MSG, CTL_WORDS, REQ_WIDTH, type FromWorker } from './protocol.js';
import { Ring } from './ring.js';
import type { OwnQueueResult } from './worker.js';
import { workerCallFailed } from './errors.js';

/** A piece waiting on the main thread for room in the queue's request ring (back-pressure): its record and tag. */
export interface Waiting {
  record: number[];
  tag: number;
}

export class WorkerQueue {
  readonly req: Ring;
  readonly cpl: Ring;
  readonly control = new SharedArrayBuffer(CTL_WORDS * 4);
  readonly ctl = new Int32Array(this.control);
  /** Pieces in the request ring or on the controller's queue (staged ones included). */
  inflight = 0;
  /** Records written into the request ring after its TAIL, not yet published (RequestTable.flush()). */
  staged = 0;
  readonly waiting: Waiting[] = [];
  done!: Promise<OwnQueueResult>;
  qid = 0;
  created = false;
  /** Set once the worker has ended outside close(): its requests' error. */
  dead: (() => VfioError) | null = null;
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
    /** The main thread's bell, shared by every worker's completion ring (Ring.createBell()); absent: the ring's own. */
    completionBell?: SharedArrayBuffer,
  ) {
    const cap = 2 ** Math.ceil(Math.log2(2 * depth));
    this.req = Ring.create(cap, REQ_WIDTH);
    this.cpl = Ring.create(cap, CPL_WIDTH, completionBell);
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

  /** Says that a message was posted (CTL_MSG) and wakes the worker if it sleeps on its request ring. */
  wake(): void {
    Atomics.add(this.ctl, CTL_MSG, 1);
    this.req.wake();
  }
}
