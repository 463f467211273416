// Aborting runtime requests (AbortSignal in options.signal), on the main thread. A request
// still waiting here for room in a worker's ring is dropped; its records in a request
// ring are cancelled there by the worker (worker-aborts.ts); its commands the worker has
// submitted get an NVMe Abort (NVM Express Base 2.0 §5.1, admin opcode 08h, CDW10 = SQID
// | CID << 16) from the main thread's admin queue. The promise rejects with signal.reason
// at once. The request's record (and so the caller's buffer: its ArrayBuffer stays
// referenced, and the DMA allocator keeps a released range in quarantine until V8 lets
// go of it) lives on until every command of the request has really completed.

import type { NvmeController } from '@vfio-node/nvme';
import type { FromWorker } from './protocol.js';
import type { Pending } from './dispatch.js';
import type { WorkerQueue } from './worker-queue.js';

/** What the runtime did with aborted requests since it opened (AbortSignal), for diagnostics and tests. */
export interface RuntimeAbortStats {
  /** Requests that never reached a worker's ring (waiting on the main thread): dropped. */
  dropped: number;
  /** Commands a worker found still in its request ring: never submitted. */
  cancelled: number;
  /** NVMe Abort commands sent for submitted commands. */
  sent: number;
  /** Of those, how many the controller carried out (Abort DW0 bit 0 clear), and declined or failed. */
  aborted: number;
  declined: number;
  /** Aborted requests whose commands have not all completed yet: their buffers are still held. */
  holding: number;
}

/** What RequestAborts needs of the runtime. */
export interface AbortHost {
  /** The pending request with this tag. */
  lookup(tag: number): Pending | undefined;
  /** Every pending request. */
  live(): Iterable<Pending>;
  readonly queues: readonly WorkerQueue[];
  readonly controller: NvmeController;
  isClosed(): boolean;
  /** n pieces left the main thread's waiting lists without reaching a worker: no longer outstanding. */
  forget(n: number): void;
  /** The request's last piece is done. */
  end(p: Pending): void;
  /** Takes the completions worker q published. */
  drain(q: WorkerQueue): number;
  /** Publishes the records staged in the request rings (so that the workers see every piece they are asked to cancel). */
  flush(): void;
}

export class RequestAborts {
  readonly counts: Omit<RuntimeAbortStats, 'holding'> = { dropped: 0, cancelled: 0, sent: 0, aborted: 0, declined: 0 };
  /** Signals of pending requests: the tags of each, and its one 'abort' listener. */
  private readonly watched = new WeakMap<AbortSignal, { tags: Set<number>; listener: () => void }>();

  constructor(private readonly host: AbortHost) {}

  /** The counts, and how many aborted requests still hold their buffers. */
  stats(): RuntimeAbortStats {
    let holding = 0;
    for (const p of this.host.live()) if (p.settled) holding++;
    return { ...this.counts, holding };
  }

  /**
   * One 'abort' listener per signal, however many requests share it (a batch under one
   * AbortController would otherwise pass the EventTarget's listener limit): the tags of
   * its requests still pending.
   */
  watch(tag: number, p: Pending, signal: AbortSignal): void {
    p.signal = signal;
    let w = this.watched.get(signal);
    if (!w) {
      const tags = new Set<number>();
      const listener = () => {
        this.watched.delete(signal);
        for (const t of tags) this.abort(t);
      };
      this.watched.set(signal, (w = { tags, listener }));
      signal.addEventListener('abort', listener, { once: true });
    }
    w.tags.add(tag);
  }

  unwatch(tag: number, signal: AbortSignal): void {
    const w = this.watched.get(signal);
    if (!w) return;
    w.tags.delete(tag);
    if (w.tags.size === 0) {
      this.watched.delete(signal);
      signal.removeEventListener('abort', w.listener);
    }
  }

  /**
   * The request's signal aborted: drop its pieces still waiting here, ask the workers to
   * cancel or report the rest (sendAborts follows), and reject now with signal.reason.
   * The pending entry stays (holding the buffer) until its last piece completes.
   */
  private abort(tag: number): void {
    const p = this.host.lookup(tag);
    if (!p || p.settled) return;
    p.settled = true;
    this.host.flush();
    for (const q of this.host.queues) {
      const n = p.onQueue[q.index]!;
      if (n === 0) continue;
      let dropped = 0;
      for (let i = q.waiting.length - 1; i >= 0; i--) {
        if (q.waiting[i]!.tag !== tag) continue;
        q.waiting.splice(i, 1);
        dropped++;
      }
      if (dropped) {
        this.counts.dropped += dropped;
        this.host.forget(dropped);
        p.parts -= dropped;
        p.onQueue[q.index] = n - dropped;
      }
      if (n > dropped && !q.dead) {
        q.port.postMessage({ type: 'abort', tag });
        q.wake();
      }
    }
    if (p.parts > 0) {
      // Pieces may still be on the device: keep the buffer's range (and the Dataset
      // Management list) out of reuse, even if the caller releases it once the promise
      // rejects, until the last piece completes (end() runs p.holds).
      const dma = this.host.controller.device.dma;
      const held = [p.buffer, p.own?.bytes, ...(p.buffers ?? [])].filter((v): v is Uint8Array => v != null).map((v) => dma.hold(v));
      const before = p.holds;
      p.holds = () => {
        before?.();
        for (const h of held) h();
      };
    }
    p.reject(p.signal!.reason);
    if (p.parts === 0) this.host.end(p);
  }

  /**
   * A worker's answer to 'abort': the CIDs the request holds on SQ sqid. An NVMe Abort
   * goes out for each, unless the request has no piece left on that queue once the
   * completions already published are taken. The controller may abort the command,
   * decline (QEMU always does), or complete it first; its completion ends it. The worker
   * keeps each CID out of use until told the Abort was answered (abortAnswered), so that
   * the Abort cannot reach a later command under the same CID.
   */
  sendAborts(q: WorkerQueue, m: Extract<FromWorker, { type: 'inflight' }>): void {
    if (q.dead) return;
    const answered = (cid: number) => {
      if (q.dead) return;
      q.port.postMessage({ type: 'abortAnswered', cid });
      q.wake();
    };
    this.host.drain(q);
    const p = this.host.lookup(m.tag);
    const still = !this.host.isClosed() && p !== undefined && p.onQueue[q.index]! > 0;
    for (const cid of m.cids) {
      if (!still) {
        answered(cid);
        continue;
      }
      this.counts.sent++;
      this.host.controller.admin.abort(m.sqid, cid).then(
        (aborted) => {
          if (aborted) this.counts.aborted++;
          else this.counts.declined++;
          answered(cid);
        },
        (err: unknown) => {
          this.counts.declined++;
          this.host.controller.log.warn({ err, sqid: m.sqid, cid }, 'runtime: Abort failed');
          answered(cid);
        },
      );
    }
  }
}
