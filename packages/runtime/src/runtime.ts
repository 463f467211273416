// The per-queue worker runtime: each I/O queue pair of an NVMe controller is owned by
// exactly one worker thread (a piscina pool with one long task per queue), which builds
// the submission entries, rings the doorbells and reaps the completions. The main thread
// keeps the controller (admin queue, bring-up, shutdown) and offers two ways in:
//   - read/write/... returning promises, carried to the workers through shared-memory
//     rings (one request ring and one completion ring per queue, no message per I/O);
//   - call(queue, module, name, args): run your own code on a worker's queue pair (the
//     benchmark does this), with the driver's hot-path API and no cross-thread hop per I/O.
//
// A worker that dies (an exception thrown outside the promise of code run with call(),
// process.exit(), out of memory, worker.terminate()) is noticed when it ends, not at
// close: its queue pair is deleted (Delete I/O SQ, then CQ: the controller ends every
// command of that SQ before it answers), then every request it held rejects with
// ERR_WORKER_EXIT naming the queue. If the controller does not answer the deletion in
// RECLAIM_MS, bus mastering is taken away (no more DMA on any queue) and the controller
// reset, so that the requests can still reject within a second and no late transfer
// reaches a buffer their callers reuse. The other workers go on serving; new requests
// go to them.

import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { shareDma, VfioError, type DmaMemory } from '@vfio-node/core';
import { NvmOpcode, NvmeController, NvmeStatusError, type Namespace, type NvmeControllerOptions } from '@vfio-node/nvme';
import { CPL_WIDTH, CTL_RESET, CTL_RESET_DONE, CTL_STOP, CTL_WORDS, REQ_WIDTH, STATUS_ABORTED, STATUS_RESET, STATUS_SUBMIT_FAILED, type FromWorker, type NamespaceInfo, type OwnQueueTask } from './protocol.js';
import { Ring } from './ring.js';
import type { OwnQueueResult } from './worker.js';
import { workerExit } from './errors.js';

/**
 * How long a dead worker's queue deletion may take before the runtime stops the
 * controller's DMA and resets it instead: well under the one second within which the
 * worker's requests reject.
 */
const RECLAIM_MS = 500;

/** Options of NvmeRuntime.open(): the number of workers, queue depth, interrupts, and the controller's options. */
export interface NvmeRuntimeOptions {
  /** Worker threads, one I/O queue pair each. Default: the number of CPUs. */
  workers?: number;
  /** Entries per I/O queue (2 .. CAP.MQES + 1). Default 256. */
  queueDepth?: number;
  /** DMA memory per worker for its rings, PRP lists and the buffers its calls allocate. Default 16 MiB. */
  workerMemory?: number;
  /** Options for the controller the runtime opens. */
  controller?: NvmeControllerOptions;
  /**
   * Each worker's CQ also raises its MSI-X vector, so that code running on the worker
   * (runtime.call(), e.g. the benchmark's jobs) can sleep until a completion arrives
   * (QueueContext.irqFd) instead of spinning or sleeping blind. Default false: polling only.
   */
  interrupts?: boolean;
}

interface Pending {
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
}

interface Waiting {
  record: number[];
  tag: number;
}

class WorkerQueue {
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

  listen(onReady: (m: Extract<FromWorker, { type: 'ready' }>) => void): void {
    this.port.on('message', (m: FromWorker) => {
      if (m.type === 'ready') onReady(m);
      else {
        const c = this.calls.get(m.id);
        if (!c) return;
        this.calls.delete(m.id);
        if (m.type === 'result') c.resolve(m.value);
        else c.reject(Object.assign(new VfioError({ code: m.error.code ?? 'ERR_WORKER_CALL', message: m.error.message, hint: m.error.hint }), { stack: m.error.stack }));
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

/**
 * An NVMe controller whose I/O queue pairs are each owned by a worker thread: promises for I/O (carried through
 * shared-memory rings) and call() to run code next to a queue pair. Open with NvmeRuntime.open(address,
 * options).
 */
export class NvmeRuntime implements AsyncDisposable {
  readonly controller: NvmeController;
  private readonly pool: Piscina;
  private readonly queues: WorkerQueue[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextTag = 1;
  private rr = 0;
  private outstanding = 0;
  private pumping = false;
  private closed = false;
  private readonly unsubscribeReset: () => void;

  private constructor(controller: NvmeController, pool: Piscina) {
    this.controller = controller;
    this.pool = pool;
    // A controller reset forgets the workers' queues: each worker empties its rings before they are created again.
    this.unsubscribeReset = controller.onReset(({ externalQids }) => this.restartWorkerQueues(externalQids));
  }

  /** How long a worker gets to empty its rings after a controller reset (it may be inside a call that polls rarely). */
  private static readonly RESET_ACK_MS = 10_000;

  private async restartWorkerQueues(qids: number[]): Promise<void> {
    // A dead worker restarts nothing; its queue is being deleted.
    const queues = this.queues.filter((q) => q.created && !q.dead && qids.includes(q.qid));
    await Promise.all(queues.map(async (q) => {
      const g = Atomics.add(q.ctl, CTL_RESET, 1) + 1;
      q.wake();
      const deadline = Date.now() + NvmeRuntime.RESET_ACK_MS;
      for (;;) {
        const seen = Atomics.load(q.ctl, CTL_RESET_DONE);
        if (seen === g || q.dead) return;
        if (Date.now() > deadline) {
          throw new VfioError({
            code: 'ERR_RUNTIME_WORKER',
            message: `worker ${q.index} (queue ${q.qid}) did not restart its rings within ${NvmeRuntime.RESET_ACK_MS} ms after a controller reset; its queue is not created again`,
            hint: 'Code run with call() must keep polling its queue pair (poll() notices the reset).',
          });
        }
        // Atomics.waitAsync is in Node 20, not yet in TypeScript's ES2022 lib.
        const r = (Atomics as unknown as { waitAsync(ta: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown } }).waitAsync(q.ctl, CTL_RESET_DONE, seen, 50);
        if (r.async) await r.value;
      }
    }));
  }

  /**
   * Opens the controller at address and starts one worker per I/O queue pair.
   * @throws VfioError from the controller or the VFIO layer; ERR_RUNTIME_WORKER if a worker fails to start.
   */
  static async open(address: string, options: NvmeRuntimeOptions = {}): Promise<NvmeRuntime> {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid workers ${workers} (expected 1 to 64)`, hint: 'One worker per I/O queue pair; the CPU count is a good start.' });
    }
    const depth = options.queueDepth ?? 256;
    const memory = options.workerMemory ?? 16 * 1024 * 1024;
    const ctrl = await NvmeController.open(address, { ioQueues: 1, ...options.controller, maxIoQueues: workers + (options.controller?.ioQueues ?? 1) });
    const pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: Number.MAX_SAFE_INTEGER, concurrentTasksPerWorker: 1 });
    const rt = new NvmeRuntime(ctrl, pool);
    try {
      for (let i = 0; i < workers; i++) await rt.startWorker(i, depth, memory, options.interrupts === true);
    } catch (err) {
      await rt.close();
      throw err;
    }
    return rt;
  }

  private async startWorker(index: number, depth: number, memory: number, interrupts: boolean): Promise<void> {
    const ctrl = this.controller;
    const arena = ctrl.device.dma.alloc(memory, { align: 2 * 1024 * 1024 });
    const { port1, port2 } = new MessageChannel();
    const q = new WorkerQueue(index, depth, port1, arena);
    this.queues.push(q);
    q.qid = ctrl.reserveQueueId();
    const namespaces: NamespaceInfo[] = ctrl.namespaceIds.map((nsid) => {
      const ns = ctrl.namespace(nsid);
      return { nsid, blockSize: ns.blockSize, blocks: Number(ns.blocks) };
    });
    const shadow = ctrl.shadowDoorbells;
    const task: OwnQueueTask = {
      index, qid: q.qid, address: ctrl.address, bar: ctrl.device.shareBar(0), arena: shareDma(arena), depth,
      shadow: shadow ? { memory: shareDma(shadow.memory), eventIdx: shadow.eventIdx } : null,
      dstrd: ctrl.cap.dstrd, pageSize: ctrl.pageSize, maxTransfer: ctrl.maxTransfer, namespaces,
      requests: q.req.init(), completions: q.cpl.init(), control: q.control, port: port2,
      irqFd: interrupts ? ctrl.vectorFd(q.qid) : -1,
    };
    const ready = new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve) => q.listen(resolve));
    q.done = this.pool.run(task, { transferList: [port2] }) as Promise<OwnQueueResult>;
    const first = await Promise.race([ready, q.done.then(() => null)]);
    if (!first) throw new VfioError({ code: 'ERR_RUNTIME_WORKER', message: `worker ${index} ended before it laid out its queue pair` });
    await ctrl.createExternalQueuePair(q.qid, depth, first.sqIova, first.cqIova, { interrupts });
    q.created = true;
    // From now on the worker's end is watched: before close() it is a death.
    q.done.then((r) => this.workerEnded(q, r, null), (err: unknown) => this.workerEnded(q, null, err));
    q.port.postMessage({ type: 'go' });
    q.wake();
  }

  /** Worker threads (= I/O queue pairs) started, dead ones included (see alive). */
  get workers(): number {
    return this.queues.length;
  }

  /** Whether worker `queue` is serving (it has not died). */
  alive(queue: number): boolean {
    const q = this.queues[queue];
    return q !== undefined && q.dead === null;
  }

  /**
   * A worker ended outside close(): it died (or its loop returned). Its queue pair is
   * reclaimed, then its requests reject with ERR_WORKER_EXIT (see the top of this file).
   */
  private workerEnded(q: WorkerQueue, result: OwnQueueResult | null, reason: unknown): void {
    if (this.closed || q.dead) return;
    const why = reason ?? new Error(`its task returned (${JSON.stringify(result)})`);
    let reclaimed = 'being deleted';
    q.dead = () => workerExit(q.index, q.qid, why, reclaimed);
    this.controller.log.error({ worker: q.index, qid: q.qid, err: why }, 'a runtime worker died: reclaiming its queue pair');
    // Completions it published before it died are real.
    this.drain(q);
    q.reclaiming = (async () => {
      const deleted = await Promise.race([
        this.controller.deleteExternalQueuePair(q.qid).then(() => true, () => false),
        new Promise<false>((r) => setTimeout(() => r(false), RECLAIM_MS).unref()),
      ]);
      if (deleted) reclaimed = 'deleted (Delete I/O SQ and CQ)';
      else {
        // No answer in time: no DMA from now on, on any queue, and a reset to recover.
        reclaimed = 'not deleted in time: the controller was halted (Bus Master Enable off) and reset';
        try {
          this.controller.haltAndReset(`runtime worker ${q.index} died`).catch((err: unknown) => this.controller.log.error({ err }, 'reset after a worker died failed'));
        } catch {
          // closed or gone: no DMA either way
        }
      }
      q.created = false;
      this.failQueue(q, q.dead!);
      if (deleted) {
        q.arena.release();
        q.arenaReleased = true;
      }
    })()
      .catch((err: unknown) => this.controller.log.error({ err }, 'reclaiming a dead worker\'s queue pair failed'))
      .finally(() => {
        q.reclaiming = null;
      });
  }

  /** Rejects every request with pieces on q (err), and its calls. */
  private failQueue(q: WorkerQueue, err: () => VfioError): void {
    q.failCalls(err());
    for (const [tag, n] of q.tags) {
      this.outstanding -= n;
      const p = this.pending.get(tag);
      if (!p) continue;
      if (!p.error) p.error = err();
      p.parts -= n;
      if (p.parts === 0) {
        this.pending.delete(tag);
        p.reject(p.error);
      }
    }
    q.tags.clear();
    q.waiting.length = 0;
    q.inflight = 0;
  }

  /** DMA memory every worker's queue can transfer to and from (page aligned, zeroed). */
  allocBuffer(size: number): DmaMemory {
    return this.controller.allocBuffer(size);
  }

  /** Reads blocks at lba of namespace nsid into buffer (DMA memory from allocBuffer). */
  read(nsid: number, lba: number, blocks: number, buffer: Uint8Array): Promise<void> {
    return this.transfer(NvmOpcode.Read, nsid, lba, blocks, buffer, 0, 'Read');
  }

  /** Writes blocks at lba of namespace nsid from buffer; fua forces them to media before completion. */
  write(nsid: number, lba: number, blocks: number, buffer: Uint8Array, options: { fua?: boolean } = {}): Promise<void> {
    return this.transfer(NvmOpcode.Write, nsid, lba, blocks, buffer, options.fua ? 1 << 30 : 0, 'Write');
  }

  /**
   * Runs `name` exported by `module` (a URL or path a worker can import) on worker `queue`,
   * as fn(ctx: QueueContext, args). The worker's queue pair is the function's alone
   * while it runs. Resolves with what it returns (structured clone).
   */
  call<T>(queue: number, module: string, name: string, args: unknown): Promise<T> {
    this.checkOpen();
    const q = this.queues[queue];
    if (!q) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `no worker queue ${queue} (the runtime has ${this.queues.length})` });
    return q.call<T>(module, name, args);
  }

  private transfer(opcode: number, nsid: number, lba: number, blocks: number, buffer: Uint8Array, flags: number, what: string): Promise<void> {
    this.checkOpen();
    const ns: Namespace = this.controller.namespace(nsid);
    const slba = ns.checkRange(lba, blocks);
    const iova = ns.checkBuffer(buffer, blocks, false);
    const maxBlocks = Math.max(1, Math.min(65536, Math.floor(this.controller.maxTransfer / ns.blockSize)));
    const parts = Math.ceil(blocks / maxBlocks);
    if (!this.queues.some((q) => q.dead === null)) throw this.queues[0]!.dead!(); // every worker died
    const tag = this.nextTag++;
    if (this.nextTag > 2 ** 31) this.nextTag = 1;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(tag, { resolve, reject, parts, error: null, what, blocks, slba, nsid });
      // Larger than MDTS: split into pieces, all under one tag, spread over the queues.
      for (let done = 0; done < blocks; done += maxBlocks) {
        const n = Math.min(maxBlocks, blocks - done);
        this.enqueue([opcode, nsid, slba + done, n, iova + done * ns.blockSize, n * ns.blockSize, tag, flags], tag);
      }
    });
  }

  private enqueue(record: number[], tag: number): void {
    // Round robin over the live workers (transfer() checked that one is).
    let q = this.queues[this.rr++ % this.queues.length]!;
    while (q.dead) q = this.queues[this.rr++ % this.queues.length]!;
    this.outstanding++;
    q.tags.set(tag, (q.tags.get(tag) ?? 0) + 1);
    // Back-pressure: a queue holds depth - 1 commands; the rest wait here, in order.
    if (q.waiting.length || q.inflight >= q.depth - 1 || !q.req.push(record)) q.waiting.push({ record, tag });
    else q.inflight++;
    if (!this.pumping) void this.pump();
  }

  /** Reaps completion rings while anything is outstanding; resolves and rejects the promises. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.outstanding > 0) {
        let got = 0;
        const seqs = this.queues.map((q) => q.cpl.seq);
        for (const q of this.queues) if (!q.dead) got += this.drain(q);
        if (got === 0) {
          if (this.queues.length === 1) await this.queues[0]!.cpl.waitForDataAsync(seqs[0]!, 50);
          else await Promise.race(this.queues.map((q, i) => q.cpl.waitForDataAsync(seqs[i]!, 50)));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private drain(q: WorkerQueue): number {
    const d = q.cpl.data;
    let k = 0;
    let done = 0;
    for (let at = q.cpl.peek(0); at >= 0; at = q.cpl.peek(++k)) {
      const tag = d[at]!;
      const n = q.tags.get(tag);
      if (n === undefined) continue; // failed already (its worker died)
      if (n > 1) q.tags.set(tag, n - 1);
      else q.tags.delete(tag);
      done++;
      this.finish(tag, d[at + 1]!);
    }
    if (k) {
      q.cpl.consume(k);
      q.inflight = Math.max(0, q.inflight - done);
      this.outstanding -= done;
      if (q.dead) return k;
      // Move waiting requests into the freed room.
      while (q.waiting.length && q.inflight < q.depth - 1 && q.req.push(q.waiting[0]!.record)) {
        q.waiting.shift();
        q.inflight++;
      }
    }
    return k;
  }

  private finish(tag: number, status: number): void {
    const p = this.pending.get(tag);
    if (!p) return;
    if (status !== 0 && !p.error) {
      const what = `${p.what} of ${p.blocks} blocks at LBA ${p.slba} (namespace ${p.nsid})`;
      p.error =
        status === STATUS_SUBMIT_FAILED ? new VfioError({ code: 'ERR_NVME_SUBMIT_FAILED', message: `${what}: the worker could not post the command` })
        : status === STATUS_ABORTED ? new VfioError({ code: 'ERR_CLOSED', message: `${what}: the runtime closed before the command was posted` })
        : status === STATUS_RESET ? new VfioError({ code: 'ERR_NVME_RESET', message: `${what}: the controller was reset with the command in flight`, hint: 'The command may or may not have been carried out; retry it.' })
        : new NvmeStatusError(status, what, this.controller.address);
    }
    if (--p.parts === 0) {
      this.pending.delete(tag);
      if (p.error) p.reject(p.error);
      else p.resolve();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new VfioError({ code: 'ERR_CLOSED', message: `the runtime on ${this.controller.address} is closed` });
  }

  /**
   * Stops the workers (each finishes or fails its in-flight I/O), deletes their queue
   * pairs, shuts the controller down and ends every thread. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeReset();
    for (const q of this.queues) {
      Atomics.store(q.ctl, CTL_STOP, 1);
      q.wake();
    }
    const results = await Promise.allSettled(this.queues.map((q) => q.done ?? Promise.resolve()));
    // A dead worker's queue pair may still be being reclaimed: let that finish.
    await Promise.all(this.queues.map((q) => q.reclaiming));
    for (const q of this.queues) this.drain(q);
    const closedErr = () => new VfioError({ code: 'ERR_CLOSED', message: `the runtime on ${this.controller.address} closed with the command pending` });
    for (const q of this.queues) {
      for (const w of q.waiting) this.finish(w.tag, STATUS_ABORTED);
      q.waiting.length = 0;
      q.failCalls(closedErr());
      q.port.close();
    }
    this.outstanding = 0;
    for (const q of this.queues) {
      try {
        if (q.created) await this.controller.deleteExternalQueuePair(q.qid);
        else if (q.qid && !q.dead) this.controller.releaseQueueId(q.qid);
      } catch {
        // the controller may be gone; shutdown below still runs
      }
    }
    await this.pool.destroy();
    for (const q of this.queues) if (!q.arenaReleased) q.arena.release();
    // The controller shut down (its DMA stopped) before the commands a worker could not
    // finish fail: their callers may reuse the buffers at once.
    await this.controller.close();
    for (const [tag, p] of this.pending) {
      this.pending.delete(tag);
      p.reject(closedErr());
    }
    // A worker that died was reported through its requests already.
    const failed = results.find((r, i) => r.status === 'rejected' && !this.queues[i]!.dead);
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** close(), for `await using rt = await NvmeRuntime.open(address)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The compiled worker: from dist/ when running compiled, from ../dist/ when tests run the sources. */
function workerFile(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/worker.js', here).href : new URL('./worker.js', here).href;
}
