// The worker's side of aborting a request (AbortSignal): its records still in the request
// ring are cancelled there, and the CIDs it holds on the controller are reported to the
// main thread, which sends an NVMe Abort for each (Base 2.0 §5.1, "Abort command") from
// the admin queue. A CID so reported is not used for another command until the main
// thread says that its Abort was answered: an Abort that reached the controller after the
// command completed must not find a new command under the same CID.

import type { MessagePort } from 'node:worker_threads';
import { RequestState, type QueuePair } from '@vfio-node/nvme';
import { OP_CANCELLED, type FromWorker } from './protocol.js';
import type { Ring } from './ring.js';

export class WorkerAborts {
  /** CIDs reported for an Abort whose command has not completed yet. */
  private readonly reported = new Set<number>();
  /** CIDs whose command completed while their Abort was unanswered: kept out of use (Abandoned). */
  private readonly held = new Set<number>();

  constructor(
    private readonly qp: QueuePair,
    private readonly req: Ring,
    private readonly port: MessagePort,
  ) {}

  /** Whether any CID is reported (the completion handler's cheap test). */
  get active(): boolean {
    return this.reported.size !== 0;
  }

  /**
   * The main thread aborted request `tag`. Its records still in the request ring are
   * marked cancelled (this thread is the ring's consumer: the producer does not touch
   * records between head and tail), so they complete with STATUS_CANCELLED without
   * reaching the controller; the CIDs it holds on the controller go to the main thread.
   */
  abort(tag: number): void {
    const req = this.req;
    const rd = req.data;
    for (let k = 0, at = req.peek(0); at >= 0; at = req.peek(++k)) if (rd[at + 6] === tag) rd[at] = OP_CANCELLED;
    const r = this.qp.requests;
    const cids: number[] = [];
    for (let cid = 0; cid < r.ids.count; cid++) {
      if (r.state[cid] === RequestState.Outstanding && r.tags[cid] === tag) {
        cids.push(cid);
        this.reported.add(cid);
      }
    }
    if (cids.length) this.port.postMessage({ type: 'inflight', tag, sqid: this.qp.qid, cids } satisfies FromWorker);
  }

  /**
   * From the completion handler: cid completed (QueuePair.poll freed it just before the
   * handler, so it is the top of the LIFO free list). If its Abort is unanswered, take it
   * back at once and keep it Abandoned until answered().
   */
  completed(cid: number): void {
    if (!this.reported.delete(cid)) return;
    const r = this.qp.requests;
    const got = r.ids.acquire();
    if (got === cid) {
      r.state[cid] = RequestState.Abandoned;
      this.held.add(cid);
    } else if (got >= 0) r.ids.release(got); // not the one just freed: leave the list as it was
  }

  /** The main thread's Abort for cid was answered (or not sent): the CID may be used again. */
  answered(cid: number): void {
    this.reported.delete(cid);
    if (!this.held.delete(cid)) return;
    const r = this.qp.requests;
    // A controller reset frees Abandoned CIDs itself (QueuePair.reset): only release one still held.
    if (r.state[cid] !== RequestState.Abandoned) return;
    r.state[cid] = RequestState.Free;
    r.ids.release(cid);
  }

  /** A controller reset failed cid: it is free now, and its Abort moot. */
  failed(cid: number): void {
    this.reported.delete(cid);
  }
}
