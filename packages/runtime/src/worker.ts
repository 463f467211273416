// The worker side: one thread owns one NVMe I/O queue pair for its whole life. It lays
// the rings out in DMA memory the main thread mapped for it, maps BAR0 for its
// doorbells, and then loops: take requests from the request ring, post them, ring the
// doorbell once per batch, reap completions (in C), hand them back through the
// completion ring. Nothing on this path allocates. Between batches it runs calls: code
// that wants the queue pair for itself (the benchmark's jobs).
/**
 * The worker side of the runtime: the piscina task that takes over one NVMe queue pair and
 * serves the main thread's requests through the shared-memory rings. Loaded by
 * `NvmeRuntime`'s workers, not by programs.
 *
 * @module @vfio-node/runtime/worker
 */

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { DmaArena, Tracer, mapSharedBar, openSharedDma } from '@vfio-node/core';
import { NvmOpcode, QueuePair, sqeDatasetManagement, setPrps } from '@vfio-node/nvme';
import type { QueueContext } from './context.js';
import { CTL_MSG, CTL_STOP, CPL_WIDTH, OP_CANCELLED, REQ_WIDTH, STATUS_ABORTED, STATUS_CANCELLED, STATUS_RESET, STATUS_SUBMIT_FAILED, type FromWorker, type OwnQueueTask, type ToWorker } from './protocol.js';
import { WorkerResetSignal } from './reset-handshake.js';
import { Ring } from './ring.js';
import { WorkerAborts } from './worker-aborts.js';

/** How long an idle worker sleeps between looks at its request ring (it is woken early by any request). */
const IDLE_WAIT_MS = 20;
/** How long a stopping worker waits for its outstanding commands. */
const DRAIN_MS = 5000;

/** What a worker did with its queue pair by the time it stopped. */
export interface OwnQueueResult {
  submitted: number;
  completed: number;
}

/** The worker's task: takes over one queue pair and serves requests until told to stop. */
export default async function ownQueue(task: OwnQueueTask): Promise<OwnQueueResult> {
  const port = task.port;
  const send = (m: FromWorker) => port.postMessage(m);
  const arena = new DmaArena(openSharedDma(task.arena));
  const mapping = mapSharedBar(task.bar);
  // The shadow doorbell pages are the controller's (one for all queues); this worker writes only its own qid's entries.
  const shadowMemory = task.shadow ? openSharedDma(task.shadow.memory) : null;
  const shadow = shadowMemory && task.shadow
    ? { words: new Uint32Array(shadowMemory.bytes.buffer, shadowMemory.bytes.byteOffset, shadowMemory.bytes.byteLength / 4), eventIdx: task.shadow.eventIdx, memory: shadowMemory }
    : null;
  let qp: QueuePair | undefined;
  try {
    // The rings and PRP lists go in the arena; BAR0 is needed only for its mapping (the doorbells).
    qp = new QueuePair({
      qid: task.qid, depth: task.depth, dstrd: task.dstrd, pageSize: task.pageSize, maxTransfer: task.maxTransfer,
      dma: arena, bar: { mapping }, completion: 'poll', shadow,
      // --trace / VFIO_NODE_TRACE (workers start with a copy of the environment): this worker's entries, doorbells and completions.
      tracer: Tracer.shared(), traceWho: `${task.address} worker ${task.index}`,
    });
    send({ type: 'ready', sqIova: qp.sqIova, cqIova: qp.cqIova });
    const req = new Ring(task.requests);
    const cpl = new Ring(task.completions);
    const ctl = new Int32Array(task.control);
    // A controller reset (on the main thread) reaches the queue pair through the control words.
    const reset = new WorkerResetSignal(qp, ctl);
    const first = await waitMessage(port, req, ctl);
    if (!first || first.type !== 'go') return { submitted: 0, completed: 0 };
    const ctx: QueueContext = { index: task.index, qid: task.qid, address: task.address, qp, namespaces: task.namespaces, arena, maxTransfer: task.maxTransfer, pageSize: task.pageSize, irqFd: task.irqFd };
    return await serve(ctx, port, req, cpl, ctl, reset, task.spinUs / 1000, task.pollUs / 1000);
  } finally {
    qp?.release();
    shadowMemory?.release();
    mapping.unmap();
    arena.release();
  }
}

// The loop's turn, and who writes which shared word (see also ring.ts):
//   request ring    the main thread writes records and TAIL; this thread HEAD, after posting;
//   completion ring this thread writes [tag, status] records and TAIL, once per turn for
//                   all the completions of that turn (a wake only if the main thread sleeps);
//   CTL_MSG         the main thread bumps it after posting a message: only then does this
//                   thread look at its port (receiveMessageOnPort is a call into C++);
//   CTL_RESET       the main thread; read here every turn (reset.check(): one load; reset-handshake.ts);
//   CTL_STOP        the main thread, always followed by a CTL_MSG bump: read here when CTL_MSG moved.
// A turn that found nothing to post and no completion is followed by more turns for
// spinMs, then by a sleep on the request ring (a publish wakes it only then: ring.ts), of
// at most pollMs while commands are outstanding (to poll the CQ again).
async function serve(ctx: QueueContext, port: MessagePort, req: Ring, cpl: Ring, ctl: Int32Array, reset: WorkerResetSignal, spinMs: number, pollMs: number): Promise<OwnQueueResult> {
  const qp = ctx.qp;
  const rd = req.data;
  const cd = cpl.data;
  let submitted = 0;
  let completed = 0;
  let posted = 0; // completions written since the last publish
  const aborts = new WorkerAborts(qp, req, port);
  const onComplete = (cid: number, status: number, _dw0: number, tag: number) => {
    if (aborts.active) aborts.completed(cid);
    const at = cpl.reserve(posted++);
    cd[at] = tag;
    cd[at + 1] = status;
  };
  const complete = (tag: number, status: number) => {
    const at = cpl.reserve(posted);
    if (at < 0) return false;
    cd[at] = tag;
    cd[at + 1] = status;
    posted++;
    return true;
  };
  const onFail = (cid: number, tag: number) => {
    aborts.failed(cid);
    complete(tag, STATUS_RESET);
  };
  qp.onComplete = onComplete;
  qp.onFail = onFail;
  let stopping = 0;
  // The port is read on the first turn whatever CTL_MSG says.
  let msgSeen = Atomics.load(ctl, CTL_MSG) - 1;
  let idleSince = -1;
  let idleTurns = 0;
  for (;;) {
    // Read before the last look at every source of work: a wake() after this returns the wait at once.
    const seen = req.seq;
    const msg = Atomics.load(ctl, CTL_MSG);
    if (msg !== msgSeen) {
      // Calls: code that takes the queue pair for itself, between batches.
      const m = receiveMessageOnPort(port)?.message as ToWorker | undefined;
      if (m === undefined) {
        msgSeen = msg; // every message posted before that bump is taken
        // close() stores CTL_STOP before it bumps CTL_MSG (wake()): STOP needs a look only when MSG moved.
        if (!stopping && Atomics.load(ctl, CTL_STOP)) stopping = Date.now();
      } else {
        if (m.type === 'call') {
          await runCall(ctx, port, m);
          qp.onComplete = onComplete;
          qp.onFail = onFail;
        } else if (m.type === 'abort') aborts.abort(m.tag);
        else if (m.type === 'abortAnswered') aborts.answered(m.cid);
        continue;
      }
    }
    reset.check();

    // Post what the main thread asked for, as long as CIDs and completion slots last. The
    // completion ring's free slots are read once per turn (the main thread only frees more).
    const free = cpl.free;
    let k = 0;
    if (!stopping) {
      const room = free - qp.outstanding;
      for (let at = req.peek(0); at >= 0 && k < room && qp.canSubmit; at = req.peek(++k)) {
        const op = rd[at]!;
        try {
          if (op === OP_CANCELLED) complete(rd[at + 6]!, STATUS_CANCELLED);
          else if (op === NvmOpcode.DatasetManagement) submitDatasetManagement(qp, ctx.pageSize, rd, at);
          else qp.submitIo(op, rd[at + 1]!, rd[at + 2]!, rd[at + 3]!, rd[at + 4]!, rd[at + 5]!, rd[at + 6]!, rd[at + 7]!);
        } catch {
          complete(rd[at + 6]!, STATUS_SUBMIT_FAILED);
        }
      }
      if (k) {
        req.consume(k);
        qp.ring();
        submitted += k;
      }
    }

    // Reap: one C call and one CQ doorbell for the whole batch.
    if (qp.outstanding) {
      const before = posted;
      qp.poll(Math.min(qp.depth, free - posted));
      completed += posted - before;
    }
    const ended = posted;
    if (posted) {
      cpl.publish(posted);
      posted = 0;
    }

    if (stopping) {
      if (qp.outstanding === 0 || Date.now() - stopping > DRAIN_MS) break;
      continue;
    }
    if (k !== 0 || ended !== 0) {
      idleSince = -1;
      continue;
    }
    // Nothing posted and nothing completed this turn. Look again for spinMs (the clock
    // read every 64 turns), then sleep until a request (or a message, or stop) arrives;
    // with commands outstanding at most pollMs, since their completions wake nobody (the
    // CQ is polled). A sleeping thread leaves its CPU to others (the device's emulation
    // in a VM, the main thread), which a polling one does not.
    if (spinMs > 0) {
      if (idleSince < 0) {
        idleSince = performance.now();
        idleTurns = 0;
      }
      if ((++idleTurns & 63) !== 0 || performance.now() - idleSince < spinMs) continue;
    }
    req.waitForData(seen, qp.outstanding !== 0 ? pollMs : IDLE_WAIT_MS);
    idleSince = -1;
  }
  // Requests that were never posted fail as aborted; the main thread rejects what is left.
  for (let k = 0, at = req.peek(0); at >= 0; at = req.peek(++k)) if (!complete(rd[at + 6]!, STATUS_ABORTED)) break;
  if (posted) cpl.publish(posted);
  qp.onComplete = null;
  qp.onFail = null;
  return { submitted, completed };
}

/**
 * Dataset Management (NVM Command Set 1.0, §3.2.3): NR ranges in a list at iova
 * (16 bytes each, at most 256: one page, so PRP1 alone describes it), attributes in CDW11.
 * Not the hot path: a fill closure per command is fine here.
 */
function submitDatasetManagement(qp: QueuePair, pageSize: number, rd: Float64Array, at: number): void {
  const nsid = rd[at + 1]!;
  const ranges = rd[at + 3]!;
  const iova = rd[at + 4]!;
  const length = rd[at + 5]!;
  const attributes = rd[at + 7]!;
  qp.submitCommand((u32, sqe, cid) => {
    sqeDatasetManagement(u32, sqe, cid, nsid, ranges, attributes);
    setPrps(u32, sqe, iova, length, pageSize, qp.prpList(cid));
  }, rd[at + 6]!);
}

async function runCall(ctx: QueueContext, port: MessagePort, m: Extract<ToWorker, { type: 'call' }>): Promise<void> {
  try {
    const mod = (await import(m.module)) as Record<string, unknown>;
    const fn = mod[m.name];
    if (typeof fn !== 'function') throw new Error(`${m.module} has no exported function ${m.name}`);
    const value = await (fn as (c: QueueContext, a: unknown) => unknown)(ctx, m.args);
    port.postMessage({ type: 'result', id: m.id, value } satisfies FromWorker);
  } catch (err) {
    const e = err as { message?: string; code?: string; hint?: string; stack?: string };
    port.postMessage({ type: 'error', id: m.id, error: { message: String(e?.message ?? err), code: e?.code, hint: e?.hint, stack: e?.stack } } satisfies FromWorker);
  }
}

/** Waits (without spinning) for the next message on port; undefined if told to stop first. */
async function waitMessage(port: MessagePort, req: Ring, ctl: Int32Array): Promise<ToWorker | undefined> {
  for (;;) {
    const seen = req.seq;
    const m = receiveMessageOnPort(port)?.message as ToWorker | undefined;
    if (m) return m;
    if (Atomics.load(ctl, CTL_STOP)) return undefined;
    const woken = req.waitForDataAsync(seen, IDLE_WAIT_MS);
    if (woken) await woken;
    req.awake();
  }
}

export { REQ_WIDTH, CPL_WIDTH };
