// The controller-reset handshake between the main thread, which owns the controller, and
// a worker, which owns one I/O queue pair. A controller reset forgets every queue; the
// controller creates them again, empty, and a worker that went on ringing doorbells from
// its old tail would make the new queue run stale entries from slot 0. So, in the worker's
// control words (protocol.ts):
//   CTL_RESET       the main thread raises this generation once the controller is reset;
//   CTL_RESET_DONE  the worker stores the generation it has acted on: it reaped what the
//                   controller completed before stopping, failed the rest (STATUS_RESET)
//                   and emptied its rings. Only then does the main thread create the
//                   queue on the controller again.
// The worker looks at CTL_RESET on every turn of its loop and at the start of every
// poll() (the hook QueuePair.beforePoll), so code run with call() answers too.

import { queueReset, type QueuePair } from '@vfio-node/nvme';
import { CTL_RESET, CTL_RESET_DONE } from './protocol.js';
import { waitAsync } from './wait-async.js';

/** The worker's half: acts on the resets the main thread signals in ctl. */
export class WorkerResetSignal {
  private seen: number;

  /** Watches ctl for qp (and hooks itself into qp.poll()). */
  constructor(private readonly qp: QueuePair, private readonly ctl: Int32Array) {
    this.seen = Atomics.load(ctl, CTL_RESET);
    qp.beforePoll = this.check;
  }

  /** One load when nothing happened. Returns true if it handled a reset. */
  readonly check = (): boolean => {
    const g = Atomics.load(this.ctl, CTL_RESET);
    if (g === this.seen) return false;
    this.seen = g;
    const qp = this.qp;
    // Completions the controller posted before it stopped are real: deliver them. The
    // hook is off meanwhile (poll() would call back here).
    qp.beforePoll = null;
    try {
      while (qp.hasCompletion()) qp.poll();
    } finally {
      qp.beforePoll = this.check;
    }
    qp.reset((cid, tag) => qp.onFail?.(cid, tag, queueReset(qp.qid)));
    Atomics.store(this.ctl, CTL_RESET_DONE, g);
    Atomics.notify(this.ctl, CTL_RESET_DONE);
    return true;
  };
}

/**
 * The main thread's half: raises the reset generation in ctl, wakes the worker, and waits
 * until it acknowledged (true), or gave up (false: the worker died; isDead tells). Throws
 * what onTimeout returns when the worker does not answer within timeoutMs.
 */
export async function resetWorkerQueue(ctl: Int32Array, wake: () => void, isDead: () => boolean, timeoutMs: number, onTimeout: () => Error): Promise<boolean> {
  const g = Atomics.add(ctl, CTL_RESET, 1) + 1;
  wake();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(ctl, CTL_RESET_DONE);
    if (seen === g) return true;
    if (isDead()) return false;
    if (Date.now() > deadline) throw onTimeout();
    const r = waitAsync(ctl, CTL_RESET_DONE, seen, 50);
    if (r.async) await r.value;
  }
}
