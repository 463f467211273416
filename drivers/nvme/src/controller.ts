// An NVMe controller driven from userspace: the public face. It opens the device, keeps
// the state the other files share, and composes them: bringup.ts (Base 2.0 §3.5.1, the
// steps in the specification's numbers), recovery.ts (watchdog, CSTS.CFS, timeout → Abort
// → reset, device gone, removal request; §3.7.2), shutdown.ts (§3.6), queue-registry.ts
// (queue pairs whose rings a worker thread owns). NVM Express Base Specification 2.0;
// §3.1.3 the registers.

import { EventEmitter } from 'node:events';
import { Device, Tracer, hasCode, registerCleanup, type DmaMemory, type Logger, type Region, type TraceOption, type Vector } from '@vfio-node/core';
import { AdminCommands, type AsyncEvent } from './admin.js';
import { bringUp, createPair, MAX_TRANSFER_CAP, type BringupObserver } from './bringup.js';
import { CommandQueue } from './command-queue.js';
import {
  asyncEventsStopped, closedWithCommandPending, controllerClosed, deviceGone, invalidControllerOption, invalidQueueDepth, invalidTimeoutMs, noIoQueues, noNvmCommandSet, noSuchNamespace,
  noVector, notDeletableQueuePair, pageSizeUnusable, queueDepthTooLarge, queuePairDeleted, resetError,
} from './errors.js';
import { OACS, type IdentifyController } from './identify.js';
import { Namespace, checkSignal, type IoOptions } from './namespace.js';
import { runPassthru, type PassthruCommand, type PassthruResult } from './passthru.js';
import { QueuePair, type CompletionMode } from './queue.js';
import { alreadyDeleted, QueueRegistry, type ResetListener } from './queue-registry.js';
import { Recovery, TICK_MS, failPairs, failPending, onRemovalRequest, recover, startDma, stopDma, type IoPair } from './recovery.js';
import { ShadowDoorbellBuffer } from './shadow-doorbells.js';
import { decodeCap, formatVersion, registerNames, Register, REGISTER_SECTIONS, type Capabilities } from './registers.js';
import { shutdownAsync, shutdownSync } from './shutdown.js';

/**
 * Options of NvmeController.open(): queue pairs and depths, timeouts, interrupts or polling, SGLs, shadow
 * doorbells, a logger.
 */
export interface NvmeControllerOptions {
  /** A pino logger (default: core's logger, level from VFIO_NODE_LOG). */
  logger?: Logger;
  /** I/O queue pairs created at open; the first serves the namespaces' promise API. Default 1. */
  ioQueues?: number;
  /**
   * I/O queue pairs to ask the controller for (Set Features – Number of Queues): room for
   * pairs created later with createQueuePair, or laid out by worker threads (the runtime).
   * Default: ioQueues.
   */
  maxIoQueues?: number;
  /** Entries per I/O queue (2 .. CAP.MQES + 1). Default 256. */
  queueDepth?: number;
  /** How the I/O queue pairs created at open learn of completions. Default 'poll'. */
  completion?: CompletionMode;
  /** Entries of the admin queues. Default 32. */
  adminQueueDepth?: number;
  /** A command outstanding longer than this is aborted, then the controller reset. Default 30 000 ms. */
  timeoutMs?: number;
  /** Describe I/O data with SGLs instead of PRPs (needs Identify Controller SGLS). Default false. */
  sgl?: boolean;
  /**
   * Use shadow doorbells (Doorbell Buffer Config, OACS bit 8) on the I/O queues when the
   * controller offers them: emulated controllers (QEMU's) then read most doorbells from
   * memory instead of trapping each register write. Default true.
   */
  shadowDoorbells?: boolean;
  /**
   * Watch the driver work: every register access by name (CSTS polling in one line), every
   * submission and completion entry decoded, every doorbell, with the specification's
   * sections. true (text on stderr), 'json' (JSON lines), or a Tracer. Default: the
   * VFIO_NODE_TRACE environment variable (1 or json), else off.
   */
  trace?: TraceOption;
  /**
   * Told of each step of the bring-up (Base 2.0 §3.5.1) once it is done, with what the
   * driver wrote and what the controller answered; open() waits for the promise it
   * returns. For teaching (`vfio-node nvme bringup --explain`). Default: none.
   */
  bringupObserver?: BringupObserver;
}

export type { AbortOutcome } from './recovery.js';
export type { ResetListener } from './queue-registry.js';

/** An asynchronous event with the log page it names (null when reading the page failed). */
export type AsyncEventWithLog = AsyncEvent & { log: Uint8Array | null };

/** What the 'reset' event carries. */
export interface ResetEvent {
  /** Why the controller was reset: the error in-flight commands failed with (ERR_NVME_RESET, ERR_NVME_CONTROLLER_FATAL). */
  reason: Error;
  /** Controller resets since open, this one included (controller.resets). */
  resets: number;
}

/**
 * The events of an NvmeController (a typed EventEmitter). Listeners run synchronously,
 * once the driver's state is consistent; one that throws is logged and does not stop the
 * others or the driver.
 *
 * - `'error'` (err): a failure in the background that no call of yours would report:
 *   ERR_NVME_RESET_FAILED (a reset the watchdog started, for a timeout or CSTS.CFS,
 *   failed: pending commands failed, and the controller may not work until a reset()
 *   succeeds or it is reopened); ERR_DEVICE_GONE (the registers read all ones without a
 *   removal request: every pending command failed, every later call fails);
 *   ERR_NVME_ASYNC_EVENTS_STOPPED (the Asynchronous Event Request failed: no more
 *   'asyncEvent's, I/O still works). Unlike Node's convention, an 'error' without a
 *   listener is not thrown (it would come from a timer and end the process): it is
 *   logged at level error, and the failed commands reject as always.
 * - `'reset'` (ResetEvent): the controller was reset (a timeout, CSTS.CFS, reset(),
 *   haltAndReset()) and is back: queues created again, new commands go through.
 * - `'removal'` (err, ERR_DEVICE_GONE): the kernel asks for the device back (hot unplug,
 *   unbind): every pending command has failed; the controller closes itself in the next
 *   turn of the event loop.
 * - `'asyncEvent'` (AsyncEventWithLog): an NVMe Asynchronous Event; the first listener
 *   starts the Asynchronous Event Request loop.
 */
export interface NvmeControllerEvents {
  error: [err: Error];
  reset: [event: ResetEvent];
  removal: [err: Error];
  asyncEvent: [event: AsyncEventWithLog];
}

/**
 * What AbortSignals did on the controller's promise queues (namespace I/O), and how the
 * controller answered the Abort commands sent for requests aborted on the device.
 */
export interface AbortStats {
  /** Requests rejected before any command of theirs reached the device (already aborted, or taken out of the software queue). */
  beforeSubmit: number;
  /** Requests aborted with commands on the device. */
  inFlight: number;
  /** NVMe Abort commands sent for them. */
  abortsSent: number;
  /** Answers: aborted (DW0 bit 0 clear), not aborted (bit 0 set: QEMU always declines), the Abort itself failed. */
  aborted: number;
  notAborted: number;
  failed: number;
  /** Requests of inFlight whose commands have since ended (completed, or failed by a reset): their buffers are free again. */
  retired: number;
  /** Requests of inFlight whose commands are still on the device. */
  pending: number;
}

/**
 * An NVMe controller driven from userspace through VFIO: NvmeController.open(address) brings it up in the
 * specification's order, then offers its namespaces, admin commands, I/O queue pairs, and recovery (timeouts,
 * reset, removal) reported as events (NvmeControllerEvents); close() shuts it down normally.
 */
export class NvmeController extends EventEmitter<NvmeControllerEvents> implements Disposable, AsyncDisposable {
  /** The VFIO device under the controller. */
  readonly device: Device;
  /** Canonical PCI address, 0000:00:03.0. */
  readonly address: string;
  /** The controller's logger (pino, a child of the device's). */
  readonly log: Logger;
  /** BAR0: the controller registers and doorbells. */
  readonly bar: Region;
  /** CAP as read at open, and decoded. */
  readonly capRaw: bigint;
  /** CAP, the Controller Capabilities register, decoded at open. */
  readonly cap: Capabilities;
  /** VS, e.g. 0x00010400 for NVMe 1.4. */
  readonly vs: number;
  /** Memory page size in use (CC.MPS), bytes. */
  readonly pageSize: number;
  /** The Identify Controller data. */
  identify!: IdentifyController;
  /** Admin commands (Identify, features, log pages, ...). */
  admin!: AdminCommands;
  /** Largest transfer per command in bytes (from MDTS). */
  maxTransfer = MAX_TRANSFER_CAP;
  /** I/O queues the controller granted (Set Features – Number of Queues). */
  queuesAllocated = { nsqa: 0, ncqa: 0 };
  /** MSI-X vectors (vector 0 serves the admin CQ, vector q the I/O CQ q in interrupt mode). */
  vectors: Vector[] = [];
  /** Active namespace IDs. */
  namespaceIds: number[] = [];

  /** @internal the options, completed with their defaults */
  readonly options: Required<Omit<NvmeControllerOptions, 'logger' | 'trace' | 'bringupObserver'>>;
  /** @internal the tracer when tracing is on (see the trace option) */
  readonly tracer: Tracer | null;
  /** @internal the admin queue pair (qid 0) */
  adminQp!: QueuePair;
  /** @internal the promise layer over the admin queue pair */
  adminQueue!: CommandQueue;
  /** @internal the I/O queue pairs this thread owns: those of open() (with promise layers), then createQueuePair's */
  readonly pairs: IoPair[] = [];
  /** @internal queue pairs whose rings another thread owns (queue-registry.ts) */
  readonly registry: QueueRegistry = new QueueRegistry(this);
  /** @internal the watchdog and its bookkeeping (recovery.ts) */
  readonly recovery: Recovery = new Recovery(this);
  private aerRunning = false;
  /** The device's answers to the Abort commands sent for aborted requests (AbortStats). */
  private readonly abortAnswers = { aborted: 0, notAborted: 0, failed: 0 };
  /** @internal the controller reset under way, if any */
  resetting: Promise<void> | null = null;
  /** Controller resets done since open (timeouts, CSTS.CFS, reset()). */
  resets = 0;
  /** @internal the namespaces, by NSID */
  readonly namespaces = new Map<number, Namespace>();
  /** @internal open, resetting (a controller reset under way), gone (removed, or registers reading all ones), closed */
  state: 'open' | 'resetting' | 'gone' | 'closed' = 'open';
  private unregisterCleanup: () => void = () => {};
  private unsubscribeRemoval: () => void = () => {};
  /** @internal why the device is gone after a removal request (null: not removed) */
  goneError: (() => Error) | null = null;
  /** @internal close() or closeSync() began: no command may be submitted */
  closed = false;
  /** close()'s promise, once called. */
  private closing: Promise<void> | null = null;
  /** @internal the close is done (finishClose ran): set by whichever of close() and closeSync() got there */
  finished = false;
  /** At close: the device was gone without a removal request (no shutdown then). */
  private closeWasGone = false;
  /** @internal the Shadow Doorbell and EventIdx pages given to Doorbell Buffer Config, when in use */
  shadowBuffer: ShadowDoorbellBuffer | null = null;
  /** @internal Bus Master Enable as we last set it: off, the controller cannot fetch commands (no admin command can run) */
  busMaster = false;
  /** The bring-up's observer (the bringupObserver option), until open() is done. */
  private observer: BringupObserver | null;

  /**
   * Opens the controller at a PCI address (bound to vfio-pci) and brings it up: reset,
   * admin queue, enable, Identify, namespaces, I/O queue pairs.
   * @throws VfioError from the VFIO layer, ERR_NVME_READY_TIMEOUT, ERR_NVME_CONTROLLER_FATAL, NvmeStatusError.
   */
  static async open(address: string, options: NvmeControllerOptions = {}): Promise<NvmeController> {
    const device = Device.open(address, { logger: options.logger });
    let ctrl: NvmeController | undefined;
    try {
      ctrl = new NvmeController(device, options);
      ctrl.log.info({ cap: `0x${ctrl.capRaw.toString(16)}`, version: formatVersion(ctrl.vs) }, 'NVMe controller');
      ctrl.unregisterCleanup = registerCleanup(() => ctrl!.closeSync());
      await bringUp(ctrl, ctrl.observer);
      ctrl.observer = null;
      ctrl.watch();
      return ctrl;
    } catch (err) {
      if (ctrl) await ctrl.close();
      else device.close();
      throw err;
    }
  }

  private constructor(device: Device, options: NvmeControllerOptions) {
    super();
    this.device = device;
    this.address = device.address;
    this.log = device.log.child({ driver: 'nvme' });
    this.options = {
      ioQueues: options.ioQueues ?? 1,
      maxIoQueues: Math.max(options.maxIoQueues ?? 0, options.ioQueues ?? 1),
      queueDepth: options.queueDepth ?? 256,
      completion: options.completion ?? 'poll',
      adminQueueDepth: options.adminQueueDepth ?? 32,
      timeoutMs: options.timeoutMs ?? 30_000,
      sgl: options.sgl ?? false,
      shadowDoorbells: options.shadowDoorbells ?? true,
    };
    checkOptions(this.options);
    this.bar = device.bar(0);
    // CAP: MQES, DSTRD, TO, CSS, MPSMIN/MPSMAX (§3.1.3.1).
    this.capRaw = this.bar.read64(Register.CAP);
    if (this.capRaw === 0xffff_ffff_ffff_ffffn) throw deviceGone(this.address);
    this.cap = decodeCap(this.capRaw);
    this.vs = this.bar.read32(Register.VS);
    this.bar.setRegisterNames(registerNames(this.cap.dstrd, 64));
    this.tracer = Tracer.from(options.trace);
    this.observer = options.bringupObserver ?? null;
    if (this.tracer) {
      this.bar.traceTo(this.tracer, this.address, REGISTER_SECTIONS);
      // Read before the names were known: said here.
      this.tracer.emit(this.address, 'reg', `read CAP -> 0x${this.capRaw.toString(16)} (MQES ${this.cap.maxQueueEntries - 1}, DSTRD ${this.cap.dstrd}, TO ${this.cap.timeoutMs} ms)`, REGISTER_SECTIONS.CAP);
      this.tracer.emit(this.address, 'reg', `read VS -> 0x${this.vs.toString(16)} (NVMe ${formatVersion(this.vs)})`, REGISTER_SECTIONS.VS);
    }
    if (!this.cap.nvmCommandSet) {
      throw noNvmCommandSet(this.address);
    }
    // Host pages are 4 KiB: use them unless the controller's smallest page is larger.
    this.pageSize = Math.max(4096, this.cap.mpsMinBytes);
    if (this.pageSize > this.cap.mpsMaxBytes) {
      throw pageSizeUnusable(this.address, this.cap.mpsMinBytes, this.cap.mpsMaxBytes);
    }
    if (this.options.queueDepth > this.cap.maxQueueEntries) {
      throw queueDepthTooLarge(this.options.queueDepth, this.cap.maxQueueEntries);
    }
  }

  /**
   * After the bring-up: the removal request, the watchdog, and the Asynchronous Event
   * Request loop once something listens (§3.5.1 step 12).
   */
  private watch(): void {
    // Leave the device quiet if the kernel asks for it back (hot unplug, unbind).
    try {
      this.unsubscribeRemoval = this.device.irq.onRemovalRequest(() => onRemovalRequest(this));
    } catch {
      // an old kernel without the request interrupt: nothing to watch
    }
    this.recovery.start();
    // The first 'asyncEvent' listener starts the Asynchronous Event Request loop (after it
    // is added: 'newListener' comes first).
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name === 'asyncEvent' && !this.aerRunning && (this.state === 'open' || this.state === 'resetting')) queueMicrotask(() => void this.aerLoop());
    });
  }

  /** @internal Bus Master Enable on (recovery.ts) */
  startDma(): void {
    startDma(this);
  }

  /**
   * The shadow doorbell buffers the I/O queue pairs use (null when the controller lacks
   * them or they are off). A queue pair laid out by another thread must be given them
   * (QueuePairInit.shadow) or its doorbells will not reach the controller.
   */
  get shadowDoorbells(): { memory: DmaMemory; eventIdx: number } | null {
    const b = this.shadowBuffer;
    return b ? { memory: b.memory, eventIdx: b.doorbells.eventIdx } : null;
  }

  // ---- public API ----------------------------------------------------------------------

  /** The namespace nsid (an active one). @throws ERR_NVME_NO_SUCH_NAMESPACE */
  namespace(nsid = this.namespaceIds[0] ?? 1): Namespace {
    const ns = this.namespaces.get(nsid);
    if (!ns) throw noSuchNamespace(this.address, nsid, this.namespaceIds);
    return ns;
  }

  /** The I/O queue pairs created at open (qid 1..n), for the hot-path API (submit, ring, poll). */
  get queuePairs(): readonly QueuePair[] {
    return this.pairs.map((p) => p.qp);
  }

  /** The promise layer over I/O queue pair 1, used by the namespaces. */
  ioQueue(index = 0): CommandQueue {
    this.checkUsable();
    const q = this.pairs[index]?.queue;
    if (!q) throw noIoQueues(this.address, `no I/O queue pair ${index + 1} with a promise layer`);
    return q;
  }

  /**
   * Any I/O command, as the caller builds it (see PassthruCommand; passthru.ts), on the
   * promise layer of I/O queue pair index + 1 (as ioQueue). namespace(nsid).passthru fills in the nsid.
   * @throws ERR_NVME_PASSTHRU_INVALID, ERR_NVME_PASSTHRU_DIRECTION, ERR_NVME_TRANSFER_TOO_LARGE, ERR_NVME_BUFFER_NOT_DMA, NvmeStatusError
   */
  async ioPassthru(command: PassthruCommand, index = 0, options: IoOptions = {}): Promise<PassthruResult> {
    const signal = checkSignal(options.signal) ?? undefined;
    return runPassthru({ queue: this.ioQueue(index), dma: this.device.dma, pageSize: this.pageSize, maxTransfer: this.maxTransfer, admin: false, signal }, command);
  }

  /**
   * The promise layer over an I/O queue pair, with what AbortSignals need: an NVMe Abort
   * (Base 2.0 §5.1, CDW10 = SQID | CID << 16) for a command aborted on the device, and the
   * DMA allocator's hold on its buffer until the command ends.
   */
  /** @internal */
  promiseLayer(qp: QueuePair): CommandQueue {
    const q = new CommandQueue(qp, this.address);
    q.holdMemory = (view) => this.device.dma.hold(view);
    q.pins = this.device.dma;
    q.sendAbort = (cid) => {
      this.log.debug({ qid: qp.qid, cid }, 'request aborted by its signal: sending Abort');
      this.admin.abort(qp.qid, cid).then(
        (aborted) => void (aborted ? this.abortAnswers.aborted++ : this.abortAnswers.notAborted++),
        () => void this.abortAnswers.failed++,
      );
    };
    return q;
  }

  /** What AbortSignals did on the namespaces' queues, and the device's answers to the Aborts sent (see AbortStats). */
  get abortStats(): AbortStats {
    const t = { beforeSubmit: 0, inFlight: 0, abortsSent: 0, retired: 0, pending: 0 };
    for (const p of this.pairs) {
      if (!p.queue) continue;
      const s = p.queue.abortStats;
      t.beforeSubmit += s.beforeSubmit;
      t.inFlight += s.inFlight;
      t.abortsSent += s.abortsSent;
      t.retired += s.retired;
      t.pending += p.queue.abortedInFlight;
    }
    return { ...t, ...this.abortAnswers };
  }

  /**
   * Calls the listeners of `name` (see NvmeControllerEvents): each in turn, a throwing one
   * logged. 'error' without a listener is logged, not thrown.
   */
  /** @internal */
  deliver<K extends keyof NvmeControllerEvents>(name: K, ...args: NvmeControllerEvents[K]): void {
    const listeners = this.rawListeners(name) as Array<(...a: unknown[]) => void>;
    if (name === 'error' && listeners.length === 0) {
      this.log.error({ err: args[0] }, "background failure (no 'error' listener on the controller)");
      return;
    }
    for (const l of listeners) {
      try {
        l.apply(this, args);
      } catch (err) {
        this.log.error({ err, event: name }, 'a listener of the controller threw');
      }
    }
  }

  /**
   * Creates one more I/O queue pair for the hot-path API: submitIo/submitCommand, ring,
   * poll (set onComplete first). At most the number the controller granted at open.
   * deleteQueuePair (or `await using`) gives it back; close() deletes it otherwise.
   */
  async createQueuePair(options: { depth?: number; completion?: CompletionMode } = {}): Promise<QueuePair> {
    this.checkUsable();
    const qid = this.freeQid();
    const depth = this.checkDepth(options.depth ?? this.options.queueDepth);
    const qp = await createPair(this, qid, depth, options.completion ?? 'poll');
    this.pairs.push({ qp, queue: null });
    qp.disposer = (q) => this.deleteQueuePair(q);
    return qp;
  }

  /**
   * Reserves an I/O queue id for a queue pair whose rings another thread lays out (a
   * worker of the runtime owns it); create it with createExternalQueuePair.
   */
  reserveQueueId(): number {
    this.checkUsable();
    const qid = this.freeQid();
    this.registry.reserve(qid);
    return qid;
  }

  /** Gives back a queue id reserved and never created. */
  releaseQueueId(qid: number): void {
    this.registry.release(qid);
  }

  /**
   * Creates the I/O CQ and SQ of a reserved queue id over rings at the given IOVAs (§5.4,
   * §5.5). The owner polls the CQ; with `interrupts`, the CQ also raises MSI-X vector qid
   * (Interrupts Enabled, §5.4), whose eventfd (vectorFd(qid)) the owner may sleep on while
   * it has nothing else to do, instead of spinning.
   */
  async createExternalQueuePair(qid: number, depth: number, sqIova: number, cqIova: number, options: { interrupts?: boolean } = {}): Promise<void> {
    this.checkUsable();
    await this.registry.create(qid, depth, sqIova, cqIova, options.interrupts === true);
  }

  /** The eventfd of MSI-X vector `qid` (an external queue pair created with interrupts), for a worker's eventfdWait. */
  vectorFd(qid: number): number {
    const v = this.vectors[qid];
    if (!v) throw noVector(this.address, `queue ${qid}`, this.vectors.length);
    return v.fd;
  }

  /** Deletes a queue pair made by createExternalQueuePair (SQ first, then its CQ, §5.6/§5.7) and frees its id. */
  async deleteExternalQueuePair(qid: number): Promise<void> {
    await this.registry.delete(qid);
  }

  private freeQid(): number {
    const max = Math.min(this.queuesAllocated.nsqa, this.queuesAllocated.ncqa);
    const used = new Set([...this.pairs.map((p) => p.qp.qid), ...this.registry.ids()]);
    for (let q = 1; q <= max; q++) if (!used.has(q)) return q;
    throw noIoQueues(this.address, `the controller granted ${max} I/O queue pairs, all in use`);
  }

  private checkDepth(depth: number): number {
    if (!Number.isInteger(depth) || depth < 2 || depth > this.cap.maxQueueEntries) {
      throw invalidQueueDepth(depth, this.cap.maxQueueEntries);
    }
    return depth;
  }

  /** DMA memory for I/O buffers (page aligned, zeroed). Release it when done. */
  allocBuffer(size: number) {
    return this.device.dma.alloc(size, { align: this.pageSize });
  }

  /**
   * Registers memory the caller owns for I/O without copies (as spdk_mem_register): the
   * view must start and end on page boundaries (allocUserMemory / pageAlignedSubarray from
   * @vfio-node/core). release() the handle when done; it unmaps once no command uses it.
   * @throws as DmaAllocator.register
   */
  registerMemory(view: ArrayBufferView) {
    return this.device.dma.register(view);
  }

  /** True when the controller's Doorbell Buffer Config command exists (OACS bit 8). */
  get supportsDoorbellBufferConfig(): boolean {
    return (this.identify.oacs & OACS.DoorbellBufferConfig) !== 0;
  }

  /** How long a command may be outstanding before the watchdog aborts it (then resets the controller), ms. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Sets the command timeout, 1 to 3 600 000 ms. */
  set timeoutMs(ms: number) {
    if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw invalidTimeoutMs(ms);
    this.options.timeoutMs = ms;
  }

  /** @internal the options namespaces read (sgl). */
  get useSgl(): boolean {
    return this.options.sgl;
  }

  /** @internal throws ERR_DEVICE_GONE / ERR_CLOSED when no command may be submitted. */
  checkUsable(): void {
    if (this.state === 'gone') throw (this.goneError ?? (() => deviceGone(this.address)))();
    if (this.state === 'closed') throw controllerClosed(this.address);
  }

  // ---- recovery (recovery.ts): reset, events ------------------------------------------

  /**
   * Resets the controller (§3.7.2 Controller Reset) and brings it back: every command in
   * flight fails with ERR_NVME_RESET (a promise rejects; a raw queue pair's onFail is
   * called), the I/O queues are created again in the same memory, and requests that had
   * not reached the controller (waiting for a CID, or submitted while the reset runs)
   * wait and go to the controller once their queue exists again.
   * Worker-owned queue pairs are created again too, after the onReset listeners settle.
   * A reset already running is joined, not repeated.
   * @throws ERR_DEVICE_GONE, ERR_CLOSED, ERR_NVME_READY_TIMEOUT, NvmeStatusError (re-creating a queue failed)
   */
  reset(): Promise<void> {
    this.checkUsable();
    return recover(this, () => resetError(this.address, 'reset() was called'));
  }

  /**
   * Takes bus mastering away at once (Bus Master Enable off: no more DMA, on any queue),
   * then resets the controller, whose restart allows DMA again (see reset()). For a caller
   * that must fail its requests now and cannot wait for the controller to answer a
   * command that would end them (the runtime, when a worker died and the Delete I/O
   * Submission Queue it sent for the worker's queue goes unanswered).
   * @throws as reset()
   */
  async haltAndReset(why: string): Promise<void> {
    this.checkUsable();
    stopDma(this);
    // A reset already running ends with DMA allowed again: run one more after it.
    while (this.resetting) await this.resetting.catch(() => undefined);
    if (this.state !== 'open') return; // closed or gone meanwhile: DMA stays off
    await recover(this, () => resetError(this.address, why));
  }

  /**
   * Subscribes to Asynchronous Events (Base 2.0, "Asynchronous Event Request command"):
   * the controller keeps one AER outstanding from the first subscription on; each event
   * is delivered with the log page it names, read (which clears the event so that the
   * controller may report the next of its kind). Events the controller masks are enabled
   * with Set Features – Asynchronous Event Configuration (FID 0Bh). Returns the function
   * that unsubscribes.
   */
  onAsyncEvent(listener: (event: AsyncEventWithLog) => void): () => void {
    this.checkUsable();
    this.on('asyncEvent', listener);
    return () => void this.off('asyncEvent', listener);
  }

  private async aerLoop(): Promise<void> {
    this.aerRunning = true;
    try {
      while (this.listenerCount('asyncEvent') > 0 && (this.state === 'open' || this.state === 'resetting')) {
        let ev: AsyncEvent;
        try {
          ev = await this.admin.asyncEventRequest();
        } catch (err) {
          // Failed by a reset: ask again once the controller is back; closed or gone: stop.
          if (this.state === 'resetting' || hasCode(err, 'ERR_NVME_RESET')) {
            await new Promise((r) => setTimeout(r, TICK_MS));
            continue;
          }
          // Closed or gone: the loop ends with the controller. Anything else stops it: say so.
          if (this.state === 'open') this.deliver('error', asyncEventsStopped(this.address, err));
          return;
        }
        const log = await this.admin.getLogPage(ev.logPage, 512).catch(() => null);
        this.log.info({ type: ev.type, info: ev.info, logPage: ev.logPage }, 'asynchronous event');
        this.deliver('asyncEvent', { ...ev, log });
      }
    } finally {
      this.aerRunning = false;
    }
  }

  /**
   * Subscribes to controller resets (timeouts, CSTS.CFS, reset()); see ResetListener.
   * Returns the function that unsubscribes. (Awaited before worker-owned queue pairs are
   * created again, for their owners; the 'reset' event comes once the reset is done.)
   */
  onReset(listener: ResetListener): () => void {
    this.registry.resetListeners.add(listener);
    return () => this.registry.resetListeners.delete(listener);
  }

  /**
   * Subscribes to the kernel's removal request (VFIO's device request interrupt: hot
   * unplug, unbind). When the listener runs, every pending command has failed with
   * ERR_DEVICE_GONE (the rejections are delivered right after); the controller shuts down
   * and closes in the next turn of the event loop, which lets the kernel finish the
   * removal. Returns the function that unsubscribes.
   */
  onRemoval(listener: (err: Error) => void): () => void {
    this.on('removal', listener);
    return () => void this.off('removal', listener);
  }

  // ---- shutdown, §3.6 ------------------------------------------------------------------

  /**
   * Normal shutdown (§3.6): delete the I/O submission and completion queues, set
   * CC.SHN = 01b and wait for CSTS.SHST = 10b, then disable the controller; release the
   * queue memory and close the device. The waits are timers: the event loop runs
   * meanwhile (closeSync() spins instead). Pending commands fail with ERR_CLOSED once the
   * controller can no longer transfer data. Idempotent: every call returns the same
   * promise. If the process exits first, the exit handler finishes it synchronously.
   */
  close(): Promise<void> {
    this.closing ??= this.finished ? Promise.resolve() : this.closeAsync();
    return this.closing;
  }

  /**
   * close() without yielding: it spins on CSTS for the shutdown (up to RTD3E or CAP.TO)
   * and blocks the thread meanwhile. For exit handlers, which cannot wait; it also
   * finishes a close() under way. Idempotent.
   */
  closeSync(): void {
    if (this.finished) return;
    // closed already: a close() is under way (its admin commands may be in flight), so
    // no queue deletion here: the shutdown notification covers the queues as well.
    const takingOver = this.closed;
    if (!takingOver) this.beginClose();
    try {
      if (this.mayShutDown()) shutdownSync(this, !takingOver);
    } catch (err) {
      this.log.warn({ err }, 'shutdown was not clean');
    }
    this.finishClose();
  }

  /** closeSync(), for `using ctrl = ...`. */
  [Symbol.dispose](): void {
    this.closeSync();
  }

  /** close(), for `await using ctrl = ...`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** From now on no command may be submitted and the watchdog is off. */
  private beginClose(): void {
    this.closed = true;
    // Gone without asking (registers read all ones): no shutdown. Removal on request: shut down.
    this.closeWasGone = this.state === 'gone' && this.goneError === null;
    this.state = this.goneError ? 'gone' : 'closed';
    this.recovery.stop();
    this.unsubscribeRemoval();
  }

  private mayShutDown(): boolean {
    return !this.closeWasGone && this.adminQp !== undefined && !this.device.closed;
  }

  private async closeAsync(): Promise<void> {
    this.beginClose();
    // What is pending fails with ERR_CLOSED once DMA is off, as in closeSync (where no
    // polling round can run during the shutdown): the promise layers stop reaping now (a
    // queue deletion would otherwise complete their commands as aborted), and no
    // doorbell is written to a queue that is being deleted.
    for (const p of this.pairs) {
      p.queue?.hold();
      p.qp.suspend();
    }
    // A controller reset under way ends first: its steps and the shutdown's must not
    // interleave (it may set the state back to open: closed it is).
    while (this.resetting) {
      await this.resetting.catch(() => undefined);
      if (this.finished) return;
    }
    if (this.state === 'open' || this.state === 'resetting') this.state = 'closed';
    for (const p of this.pairs) p.qp.suspend();
    try {
      if (this.mayShutDown()) await shutdownAsync(this);
    } catch (err) {
      this.log.warn({ err }, 'shutdown was not clean');
    }
    this.finishClose();
  }

  /**
   * After the shutdown: bus mastering off, then what was pending fails (a raw queue pair's
   * onFail may reuse the buffer at once), a function-level reset, memory released, the
   * device closed. Once, whichever close gets here first.
   */
  private finishClose(): void {
    if (this.finished) return;
    this.finished = true;
    const wasGone = this.closeWasGone;
    const closedErr = () => closedWithCommandPending(this.address);
    if (!wasGone && !this.device.closed) stopDma(this);
    // For good, not just failed: a polling round still queued must not touch released rings.
    failPairs(this, () => closedErr, 'for good');
    for (const p of this.pairs) p.queue?.close();
    // Leave the function as we found it: a function-level reset after the shutdown (the data
    // is flushed by now). Without it, QEMU 7.2's controller model, once it has served I/O
    // queues, hangs the next driver that opens it (seen with qemu-img's userspace driver).
    // (A synchronous ioctl: the kernel waits for the function, about 100 ms.)
    if (!wasGone && !this.device.closed) {
      try {
        this.device.reset();
      } catch (err) {
        this.log.debug({ err }, 'function-level reset after shutdown failed');
      }
    }
    if (this.adminQueue) {
      failPending({ qp: this.adminQp, queue: this.adminQueue }, closedErr, 'for good');
      this.adminQueue.close(); // its vector 0 listener and safety poll (interrupt mode)
    }
    for (const p of this.pairs) p.qp.release();
    this.adminQp?.release();
    this.shadowBuffer?.release();
    this.device.close();
    // Last: until here, process exit must still finish the close.
    this.unregisterCleanup();
  }

  // ---- queue pairs made with createQueuePair -------------------------------------------

  /**
   * Deletes a queue pair made by createQueuePair (Delete I/O SQ, then its CQ, §5.6/§5.7),
   * fails what it still holds with ERR_CLOSED, and frees its memory and queue id. Also
   * what `await using qp = await ctrl.createQueuePair()` does at the end of the block.
   * Idempotent; after close() there is nothing left to delete.
   * @throws ERR_INVALID_ARG for a pair that is not this controller's; NvmeStatusError.
   */
  async deleteQueuePair(qp: QueuePair): Promise<void> {
    const i = this.pairs.findIndex((p) => p.qp === qp);
    if (i < 0) {
      if (this.closed) return;
      throw notDeletableQueuePair(this.address, qp.qid, 'was not made by createQueuePair()');
    }
    if (this.pairs[i]!.queue) throw notDeletableQueuePair(this.address, qp.qid, "serves the namespaces' promise API; close the controller instead");
    while (this.resetting) await this.resetting.catch(() => undefined);
    if (this.closed || !this.pairs.some((p) => p.qp === qp)) return;
    qp.suspend();
    if (this.state === 'open') {
      await this.admin.deleteIoSq(qp.qid).catch(alreadyDeleted);
      await this.admin.deleteIoCq(qp.qid).catch(alreadyDeleted);
    }
    // The controller has let go of the rings (or close() got here first and released them).
    const at = this.pairs.findIndex((p) => p.qp === qp);
    if (at < 0) return;
    this.pairs.splice(at, 1);
    this.recovery.forget(qp);
    failPending({ qp, queue: null }, () => queuePairDeleted(this.address, qp.qid), 'for good');
    qp.release();
  }
}

function checkOptions(o: Required<Omit<NvmeControllerOptions, 'logger' | 'trace' | 'bringupObserver'>>): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw invalidControllerOption(name, String(v), `an integer from ${min} to ${max}`);
  };
  int('ioQueues', o.ioQueues, 1, 65535);
  int('queueDepth', o.queueDepth, 2, 65536);
  int('adminQueueDepth', o.adminQueueDepth, 2, 4096);
  int('timeoutMs', o.timeoutMs, 1, 3_600_000);
  if (o.completion !== 'poll' && o.completion !== 'interrupt') {
    throw invalidControllerOption('completion', String(o.completion), "'poll' or 'interrupt'");
  }
}
