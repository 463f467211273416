// The per-queue worker runtime: each I/O queue pair of an NVMe controller is owned by
// exactly one worker thread (a piscina pool with one long task per queue), which builds
// the submission entries, rings the doorbells and reaps the completions. The main thread
// keeps the controller (admin queue, bring-up, shutdown) and offers two ways in:
//   - runtime.namespace(nsid): read/write/flush/writeZeroes/deallocate with the driver
//     Namespace's call shapes, returning promises, carried to the workers through
//     shared-memory rings (one request ring and one completion ring per queue, no
//     message per I/O);
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
// go to them. The runtime then emits 'error' (see NvmeRuntimeEvents).
//
// An AbortSignal (options.signal) ends a request early (aborts.ts): the promise rejects
// with signal.reason at once, and the request's buffer stays held until every command of
// the request has really completed.

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { shareDma, VfioError, type DmaMemory, type DmaPin } from '@vfio-node/core';
import { DSM_AD, DSM_RANGE_SIZE, NvmOpcode, NvmeController, NvmeStatusError, writeDsmRange, type Namespace, type NvmeControllerOptions, type ResetEvent } from '@vfio-node/nvme';
import { resetWorkerQueue } from './reset-handshake.js';
import { CTL_STOP, STATUS_ABORTED, STATUS_RESET, STATUS_SUBMIT_FAILED, type FromWorker, type NamespaceInfo, type OwnQueueTask } from './protocol.js';
import type { OwnQueueResult } from './worker.js';
import { invalidRuntimeArg, resetInFlight, runtimeClosed, runtimeWorker, submitFailed, workerExit } from './errors.js';
import { RuntimeNamespace, type RuntimeSubmit } from './namespace.js';
import { WorkerQueue } from './worker-queue.js';
import { RequestTable, type Pending } from './dispatch.js';
import { Ring } from './ring.js';
import { RequestAborts, type RuntimeAbortStats } from './aborts.js';

/**
 * How long a dead worker's queue deletion may take before the runtime stops the
 * controller's DMA and resets it instead: well under the one second within which the
 * worker's requests reject.
 */
const RECLAIM_MS = 500;

/** Options of NvmeRuntime.open(): the number of workers, queue depth, interrupts, and the controller's options. */
export interface NvmeRuntimeOptions {
  /** Worker threads, one I/O queue pair each. Default: the number of CPUs less one (the main thread's), at least 1. */
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
  /**
   * How long a thread keeps polling with nothing to do before it sleeps, in
   * microseconds: the main thread for completions while requests are outstanding (letting
   * the event loop run a turn every millisecond meanwhile), a worker for requests and
   * completions. Waking a sleeping thread costs a futex system call and a scheduler
   * wake-up, and an idle CPU's way out of its sleep state (in the lab's emulated guest,
   * about 100-170 µs each way); polling costs a CPU, which on a machine with fewer free
   * CPUs than busy threads slows everything down. Default 1000: a thread sleeps after 1 ms
   * without work, so an idle runtime costs nothing and a busy one never sleeps. 0: sleep at once.
   */
  spinMicroseconds?: number;
  /**
   * How long a worker with commands outstanding sleeps at most before it polls its CQ
   * again, in microseconds (a new request wakes it at once). Default 50.
   */
  pollMicroseconds?: number;
}

/** NvmeRuntimeOptions.spinMicroseconds and pollMicroseconds by default. */
const SPIN_US = 1000;
const POLL_US = 50;

/** Dataset Management takes at most 256 ranges per command (NR is 8 bits, 0's based). */
const MAX_DSM_RANGES = 256;

/**
 * The runtime's events, named and shaped as the driver's (NvmeController):
 * - 'error': a failure in the background that no request reports alone: a worker died
 *   (ERR_WORKER_EXIT, emitted once its queue pair is reclaimed), or a worker's queue could
 *   not be brought back after a controller reset (ERR_RUNTIME_WORKER). Emitted only while
 *   someone listens ('error' without a listener would throw from the runtime's internals);
 *   it is always logged.
 * - 'reset': the controller was reset (a timeout, CSTS.CFS, controller.reset()): emitted
 *   once every worker has emptied its rings, just before their queues are created again;
 *   the driver's reset event ({ externalQids, error }).
 * - 'removal': the kernel asked for the device back (hot unplug, unbind); every request
 *   in flight failed with ERR_DEVICE_GONE; the error.
 */
export interface NvmeRuntimeEvents {
  error: [err: Error];
  /** The same payload as the controller's 'reset' (ResetEvent), once the workers' queues exist again. */
  reset: [event: ResetEvent];
  removal: [err: Error];
}

/**
 * NVMe I/O queue pairs owned by worker threads, with the driver's call shapes on the main
 * thread (runtime.namespace(nsid)) and a way to run code next to a queue pair (call()).
 * An EventEmitter: see NvmeRuntimeEvents.
 */
export class NvmeRuntime extends EventEmitter<NvmeRuntimeEvents> implements AsyncDisposable {
  readonly controller: NvmeController;
  private readonly pool: Piscina;
  private readonly queues: WorkerQueue[] = [];
  private readonly namespaces = new Map<number, RuntimeNamespace>();
  /** The promise path's requests, their pieces waiting for room, and the completion pump. */
  private readonly table: RequestTable;
  /** The bell every worker's completion ring rings: the pump sleeps once for all of them. */
  private readonly completionBell = Ring.createBell();
  private closed = false;
  private readonly unsubscribe: (() => void)[];
  private readonly aborts: RequestAborts;
  /** The way in for RuntimeNamespace (kept off the public face). */
  private readonly way: RuntimeSubmit;

  private constructor(controller: NvmeController, pool: Piscina, spinUs: number) {
    super();
    this.controller = controller;
    this.pool = pool;
    this.table = new RequestTable(this.queues, {
      statusError: (status, p) => this.statusError(status, p),
      cancelled: () => {
        this.aborts.counts.cancelled++;
      },
      unwatch: (p) => this.aborts.unwatch(p.tag, p.signal!),
      unpin: (pin) => this.controller.device.dma.unpin(pin),
    }, spinUs / 1000);
    this.way = {
      submit: (ns, opcode, slba, blocks, iova, maxBlocks, flags, what, buffer, signal, registered) => this.submit(ns, opcode, slba, blocks, iova, maxBlocks, flags, what, buffer, signal, registered),
      dma: controller.device.dma,
      submitDatasetManagement: (ns, ranges, signal) => this.submitDatasetManagement(ns, ranges, signal),
      submitBatch: (ns, opcode, slbas, blocks, iovas, count, maxBlocks, flags, what, buffers, signal, registered) =>
        this.submitBatch(ns, opcode, slbas, blocks, iovas, count, maxBlocks, flags, what, buffers, signal, registered),
      oncs: controller.identify.oncs,
      address: controller.address,
      maxTransfer: controller.maxTransfer,
    };
    this.aborts = new RequestAborts({
      lookup: (tag) => this.table.lookup(tag),
      live: () => this.table.live(),
      queues: this.queues,
      controller,
      isClosed: () => this.closed,
      forget: (n) => {
        this.table.outstanding -= n;
      },
      end: (p) => this.table.end(p),
      drain: (q) => this.table.drain(q),
      flush: () => this.table.flush(),
    });
    this.unsubscribe = [
      // A controller reset forgets the workers' queues: each worker empties its rings before they are created again.
      controller.onReset(async (event) => {
        try {
          await this.restartWorkerQueues(event.externalQids);
        } catch (err) {
          this.report(err as Error);
          throw err;
        }
        this.emit('reset', { reason: event.error, resets: controller.resets });
      }),
      controller.onRemoval((err) => this.emit('removal', err)),
    ];
  }

  /** A background failure: logged, and emitted as 'error' to whoever listens. */
  private report(err: Error): void {
    this.controller.log.error({ err }, 'runtime: background failure');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** How long a worker gets to empty its rings after a controller reset (it may be inside a call that polls rarely). */
  private static readonly RESET_ACK_MS = 10_000;

  private async restartWorkerQueues(qids: number[]): Promise<void> {
    // A dead worker restarts nothing; its queue is being deleted.
    const queues = this.queues.filter((q) => q.created && !q.dead && qids.includes(q.qid));
    await Promise.all(queues.map((q) => resetWorkerQueue(q.ctl, () => q.wake(), () => q.dead !== null, NvmeRuntime.RESET_ACK_MS, () => runtimeWorker(
      `worker ${q.index} (queue ${q.qid}) did not restart its rings within ${NvmeRuntime.RESET_ACK_MS} ms after a controller reset; its queue is not created again`,
      'Code run with call() must keep polling its queue pair (poll() notices the reset).',
    ))));
  }

  /**
   * Opens the controller at address and starts one worker per I/O queue pair.
   * @throws VfioError from the controller or the VFIO layer; ERR_RUNTIME_WORKER if a worker fails to start.
   */
  static async open(address: string, options: NvmeRuntimeOptions = {}): Promise<NvmeRuntime> {
    const workers = options.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw invalidRuntimeArg(`invalid workers ${workers} (expected 1 to 64)`, 'One worker per I/O queue pair; the CPU count is a good start.');
    }
    const depth = options.queueDepth ?? 256;
    const spinUs = options.spinMicroseconds ?? SPIN_US;
    if (typeof spinUs !== 'number' || !(spinUs >= 0 && spinUs <= 1_000_000)) {
      throw invalidRuntimeArg(`invalid spinMicroseconds ${String(spinUs)} (expected 0 to 1000000)`, 'A few tens of microseconds cover a fast device\'s latency; 0 never spins.');
    }
    const pollUs = options.pollMicroseconds ?? POLL_US;
    if (typeof pollUs !== 'number' || !(pollUs > 0 && pollUs <= 1_000_000)) {
      throw invalidRuntimeArg(`invalid pollMicroseconds ${String(pollUs)} (expected more than 0, at most 1000000)`);
    }
    const memory = options.workerMemory ?? 16 * 1024 * 1024;
    const ctrl = await NvmeController.open(address, { ioQueues: 1, ...options.controller, maxIoQueues: workers + (options.controller?.ioQueues ?? 1) });
    const pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: Number.MAX_SAFE_INTEGER, concurrentTasksPerWorker: 1 });
    const rt = new NvmeRuntime(ctrl, pool, spinUs);
    try {
      for (let i = 0; i < workers; i++) await rt.startWorker(i, depth, memory, options.interrupts === true, spinUs, pollUs);
    } catch (err) {
      await rt.close();
      throw err;
    }
    return rt;
  }

  private async startWorker(index: number, depth: number, memory: number, interrupts: boolean, spinUs: number, pollUs: number): Promise<void> {
    const ctrl = this.controller;
    const arena = ctrl.device.dma.alloc(memory, { align: 2 * 1024 * 1024 });
    const { port1, port2 } = new MessageChannel();
    const q = new WorkerQueue(index, depth, port1, arena, this.completionBell);
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
      irqFd: interrupts ? ctrl.vectorFd(q.qid) : -1, spinUs, pollUs,
    };
    const ready = new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve) => q.listen(resolve, (m) => this.aborts.sendAborts(q, m)));
    q.done = this.pool.run(task, { transferList: [port2] }) as Promise<OwnQueueResult>;
    const first = await Promise.race([ready, q.done.then(() => null)]);
    if (!first) throw runtimeWorker(`worker ${index} ended before it laid out its queue pair`);
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
    this.table.drain(q);
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
      q.failCalls(q.dead!());
      this.table.failQueue(q, q.dead!);
      if (deleted) {
        q.arena.release();
        q.arenaReleased = true;
      }
      this.report(q.dead!());
    })()
      .catch((err: unknown) => this.controller.log.error({ err }, 'reclaiming a dead worker\'s queue pair failed'))
      .finally(() => {
        q.reclaiming = null;
      });
  }

  /** DMA memory every worker's queue can transfer to and from (page aligned, zeroed). */
  allocBuffer(size: number): DmaMemory {
    return this.controller.allocBuffer(size);
  }

  /**
   * Namespace nsid, with the driver Namespace's call shapes (read, write, readAt, writeAt,
   * flush, writeZeroes, deallocate), each command carried to a worker's queue pair.
   * @throws ERR_NVME_NO_SUCH_NAMESPACE, ERR_CLOSED
   */
  namespace(nsid: number): RuntimeNamespace {
    this.checkOpen();
    let ns = this.namespaces.get(nsid);
    if (!ns) this.namespaces.set(nsid, (ns = new RuntimeNamespace(this.way, this.controller.namespace(nsid))));
    return ns;
  }

  /** What aborted requests (AbortSignal) came to so far. */
  get abortStats(): RuntimeAbortStats {
    return this.aborts.stats();
  }

  /**
   * Runs `name` exported by `module` (a URL or path a worker can import) on worker `queue`,
   * as fn(ctx: QueueContext, args). The worker's queue pair is the function's alone
   * while it runs. Resolves with what it returns (structured clone).
   */
  call<T>(queue: number, module: string, name: string, args: unknown): Promise<T> {
    this.checkOpen();
    const q = this.queues[queue];
    if (!q) throw invalidRuntimeArg(`no worker queue ${queue} (the runtime has ${this.queues.length})`);
    return q.call<T>(module, name, args);
  }

  /**
   * One request: `blocks` blocks from slba of ns in pieces of at most maxBlocks (MDTS, or
   * NLB's 65536), each a record in a worker's request ring, all under one tag and one
   * promise. iova 0 and buffer null: no data (Flush, Write Zeroes).
   */
  private submit(
    ns: Namespace, opcode: number, slba: number, blocks: number, iova: number, maxBlocks: number, flags: number,
    what: string, buffer: Uint8Array | null, signal: AbortSignal | undefined, registered: boolean,
  ): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.anyAlive()) return Promise.reject(this.queues[0]!.dead!()); // every worker died
    const nsid = ns.nsid;
    const table = this.table;
    let p: Pending;
    try {
      p = table.open(blocks <= maxBlocks ? 1 : Math.ceil(blocks / maxBlocks), what, blocks, slba, nsid);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<void>(p.executor);
    if (buffer !== null) {
      p.buffer = buffer;
      // Until the last piece completes, registered caller memory stays mapped, and memory from
      // allocBuffer stays out of reuse even if the caller releases it meanwhile.
      if (registered) p.holds = this.controller.device.dma.retain(buffer) ?? null;
      else p.pin = this.controller.device.dma.pin(buffer);
    }
    if (signal) this.aborts.watch(p.tag, p, signal);
    if (blocks <= maxBlocks) {
      table.post(table.nextQueue(), p, opcode, nsid, slba, blocks, iova, buffer === null ? 0 : blocks * ns.blockSize, flags);
      return promise;
    }
    // Larger than MDTS: split into pieces, all under one tag, spread over the queues.
    const bs = buffer === null ? 0 : ns.blockSize;
    for (let done = 0; done < blocks; done += maxBlocks) {
      const n = Math.min(maxBlocks, blocks - done);
      table.post(table.nextQueue(), p, opcode, nsid, slba + done, n, bs === 0 ? 0 : iova + done * bs, n * bs, flags);
    }
    return promise;
  }

  /**
   * A batch (readBatch, writeBatch): count transfers of `blocks` blocks, each from slbas[i]
   * at iovas[i] (checked), in pieces of at most maxBlocks, all under one tag and one promise.
   */
  private submitBatch(
    ns: Namespace, opcode: number, slbas: Float64Array, blocks: number, iovas: Float64Array, count: number, maxBlocks: number, flags: number,
    what: string, buffers: readonly Uint8Array[], signal: AbortSignal | undefined, registered: Uint8Array[] | null,
  ): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.anyAlive()) return Promise.reject(this.queues[0]!.dead!());
    const nsid = ns.nsid;
    const table = this.table;
    const per = blocks <= maxBlocks ? 1 : Math.ceil(blocks / maxBlocks);
    let p: Pending;
    try {
      p = table.open(count * per, `${what} (a batch of ${count} transfers; the first)`, blocks, slbas[0]!, nsid);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<void>(p.executor);
    p.buffers = buffers;
    // Until the batch's last piece completes, registered caller memory stays mapped, and memory
    // from allocBuffer stays out of reuse even if the caller releases it meanwhile.
    const dma = this.controller.device.dma;
    const held: (() => void)[] = [];
    const pins: DmaPin[] = [];
    for (const b of buffers) {
      if (registered !== null && registered.includes(b)) {
        const h = dma.retain(b);
        if (h !== undefined) held.push(h);
      } else {
        const pin = dma.pin(b);
        if (pin !== null) pins.push(pin);
      }
    }
    p.holds = () => {
      for (const h of held) h();
      for (const pin of pins) dma.unpin(pin);
    };
    if (signal) this.aborts.watch(p.tag, p, signal);
    const bs = ns.blockSize;
    const length = blocks * bs;
    if (per === 1) {
      for (let i = 0; i < count; i++) table.post(table.nextQueue(), p, opcode, nsid, slbas[i]!, blocks, iovas[i]!, length, flags);
      return promise;
    }
    for (let i = 0; i < count; i++) {
      for (let done = 0; done < blocks; done += maxBlocks) {
        const n = Math.min(maxBlocks, blocks - done);
        table.post(table.nextQueue(), p, opcode, nsid, slbas[i]! + done, n, iovas[i]! + done * bs, n * bs, flags);
      }
    }
    return promise;
  }

  /** Whether a worker is serving (not every one died). */
  private anyAlive(): boolean {
    for (const q of this.queues) if (q.dead === null) return true;
    return false;
  }

  /** Dataset Management with the Deallocate attribute: the range lists in one DMA buffer, at most 256 ranges (one page) per command. */
  private submitDatasetManagement(ns: Namespace, ranges: readonly (readonly [number, number])[], signal: AbortSignal | undefined): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.anyAlive()) return Promise.reject(this.queues[0]!.dead!());
    const commands = Math.ceil(ranges.length / MAX_DSM_RANGES);
    const what = `Dataset Management (deallocate ${ranges.length} ranges)`;
    let p: Pending;
    try {
      p = this.table.open(commands, what, ranges.length, ranges[0]![0], ns.nsid);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<void>(p.executor);
    // 256 ranges of 16 bytes are one 4 KiB page: each command's list starts on a page of its own.
    const list = this.controller.allocBuffer(commands * MAX_DSM_RANGES * DSM_RANGE_SIZE);
    ranges.forEach(([lba, n], k) => writeDsmRange(list.view, k * DSM_RANGE_SIZE, lba, n));
    p.own = list;
    if (signal) this.aborts.watch(p.tag, p, signal);
    for (let i = 0; i < commands; i++) {
      const nr = Math.min(MAX_DSM_RANGES, ranges.length - i * MAX_DSM_RANGES);
      const at = i * MAX_DSM_RANGES * DSM_RANGE_SIZE;
      this.table.post(this.table.nextQueue(), p, NvmOpcode.DatasetManagement, ns.nsid, 0, nr, Number(list.iova) + at, nr * DSM_RANGE_SIZE, DSM_AD);
    }
    return promise;
  }

  /** What a piece's non-zero status means, as the error its request rejects with. */
  private statusError(status: number, p: Pending): Error {
    const what = `${p.what} of ${p.blocks} blocks at LBA ${p.slba} (namespace ${p.nsid})`;
    return status === STATUS_SUBMIT_FAILED ? submitFailed(what)
      : status === STATUS_ABORTED ? runtimeClosed(`${what}: the runtime closed before the command was posted`)
      : status === STATUS_RESET ? resetInFlight(what)
      : new NvmeStatusError(status, what, this.controller.address);
  }

  private closedError(): VfioError {
    return runtimeClosed(`the runtime on ${this.controller.address} is closed`);
  }

  private checkOpen(): void {
    if (this.closed) throw this.closedError();
  }

  /**
   * Stops the workers (each finishes or fails its in-flight I/O), deletes their queue
   * pairs, shuts the controller down and ends every thread. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribe) u();
    // Pieces posted in this same run of JavaScript are still staged: the workers must see them before STOP (they fail them as aborted).
    this.table.flush();
    for (const q of this.queues) {
      Atomics.store(q.ctl, CTL_STOP, 1);
      q.wake();
    }
    const results = await Promise.allSettled(this.queues.map((q) => q.done ?? Promise.resolve()));
    // A dead worker's queue pair may still be being reclaimed: let that finish.
    await Promise.all(this.queues.map((q) => q.reclaiming));
    const table = this.table;
    for (const q of this.queues) table.drain(q);
    const closedErr = () => runtimeClosed(`the runtime on ${this.controller.address} closed with the command pending`);
    for (const q of this.queues) {
      const waiting = q.waiting.splice(0);
      for (const w of waiting) {
        const p = table.lookup(w.tag);
        if (!p) continue;
        p.onQueue[q.index]!--;
        table.finish(p, STATUS_ABORTED);
      }
      q.failCalls(closedErr());
      q.port.close();
    }
    table.outstanding = 0;
    table.wake();
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
    for (const p of [...table.live()]) {
      if (!p.error) p.error = closedErr();
      table.end(p);
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
/**
 * One worker per CPU but one: the main thread, which submits and settles the promise
 * path's requests, polls too and needs a CPU of its own. At least one.
 */
function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

function workerFile(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/worker.js', here).href : new URL('./worker.js', here).href;
}
