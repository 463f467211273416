// An NVMe controller driven from userspace: bring-up, admin queue, I/O queue pairs,
// namespaces, watchdog (timeouts, fatal status, surprise removal) and shutdown.
// NVM Express Base Specification 2.0: §3.5.1 "Memory-based Controller Initialization
// (PCIe)", §3.6 "Shutdown Processing", §3.7 "Resets", §3.1.3 the registers.

import { EventEmitter } from 'node:events';
import { asyncEventsStopped, closeCommandTimeout, controllerFatal, deviceGone, noVector, notDeletableQueuePair, queuePairDeleted, readyTimeout, resetError, resetFailed, timeoutError } from './errors.js';
import { Device, Tracer, VfioError, registerCleanup, type DmaMemory, type Logger, type Region, type TraceOption, type Vector } from '@vfio-node/core';
import { AdminCommands, type AsyncEvent } from './admin.js';
import { CommandQueue } from './command-queue.js';
import { SQES_LOG2 } from './commands.js';
import { OACS, type IdentifyController } from './identify.js';
import { Namespace, checkSignal, type IoOptions } from './namespace.js';
import { runPassthru, type PassthruCommand, type PassthruResult } from './passthru.js';
import { QueuePair, type CompletionMode } from './queue.js';
import { RequestState } from './request.js';
import { ShadowDoorbellBuffer } from './shadow-doorbells.js';
import {
  AQA, CC, CC_AMS_RR, CC_CSS_NVM, CC_SHN_NORMAL, CSTS, CSTS_SHST_COMPLETE, Register, decodeCap, formatVersion, getField, registerNames, setField, REGISTER_SECTIONS,
  type Capabilities,
} from './registers.js';
import { CQES_LOG2, NvmeStatusError } from './status.js';

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
}

/** The largest transfer per command we allow when MDTS says "no limit" (bounds the PRP list memory per CID). */
const MAX_TRANSFER_CAP = 2 * 1024 * 1024;
/** The watchdog period: timeouts count in ticks of this length. */
const TICK_MS = 250;
/** Time allowed for one admin command during close (which must not wait forever). */
const CLOSE_COMMAND_MS = 2000;

/** The rings of a queue pair another thread owns, as createExternalQueuePair was given them. */
interface ExternalPair {
  depth: number;
  sqIova: number;
  cqIova: number;
  /** The CQ raises MSI-X vector qid (its owner may sleep on the vector's eventfd). */
  interrupts: boolean;
}

/**
 * Told about a controller reset, before the external queue pairs (qids) are created
 * again. Their owner must, before the returned promise settles, fail its in-flight
 * commands (the controller forgot them) and restart its rings: SQ tail and CQ head 0,
 * expected phase 1, the CQ zeroed. Until then its doorbell writes must stop.
 */
export type ResetListener = (event: { externalQids: number[]; error: Error }) => void | Promise<void>;

/**
 * A command that outlived timeoutMs: which one (its submission tick tells it from a later
 * command with the same CID) and what the Abort sent for it returned.
 */
interface TimedOut {
  epoch: number;
  opcode: number;
  abort: AbortOutcome;
}

/**
 * What the Abort command (Base 2.0 §5.1) sent for a timed-out command returned: DW0 bit 0
 * clear, 'aborted' (its own completion follows, with status Command Abort Requested);
 * set, 'not aborted'; 'no answer' yet; 'failed' (the Abort itself failed: a reset
 * caught it, or an error status); 'not sent' for an admin command (Abort names I/O SQs
 * here: an admin command that hangs means the admin queue is stuck).
 */
export type AbortOutcome = 'aborted' | 'not aborted' | 'no answer' | 'failed' | 'not sent';

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

/** An I/O queue pair with its promise layer. */
interface IoPair {
  qp: QueuePair;
  queue: CommandQueue | null;
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

  private readonly options: Required<Omit<NvmeControllerOptions, 'logger' | 'trace'>>;
  /** The tracer when tracing is on (see the trace option). */
  private readonly tracer: Tracer | null;
  private adminQp!: QueuePair;
  private adminQueue!: CommandQueue;
  private readonly pairs: IoPair[] = [];
  /**
   * Queue pairs whose rings another thread owns: reserved ids (null) and created pairs
   * with their ring IOVAs, which a controller reset uses to create them again.
   */
  private readonly external = new Map<number, ExternalPair | null>();
  private aerRunning = false;
  /** The device's answers to the Abort commands sent for aborted requests (AbortStats). */
  private readonly abortAnswers = { aborted: 0, notAborted: 0, failed: 0 };
  private readonly resetListeners = new Set<ResetListener>();
  private resetting: Promise<void> | null = null;
  /** Controller resets done since open (timeouts, CSTS.CFS, reset()). */
  resets = 0;
  private readonly namespaces = new Map<number, Namespace>();
  private watchdog: NodeJS.Timeout | null = null;
  private epoch = 0;
  private state: 'open' | 'resetting' | 'gone' | 'closed' = 'open';
  private unregisterCleanup: () => void = () => {};
  private unsubscribeRemoval: () => void = () => {};
  /** Why the device is gone (removal request, or registers reading all ones). */
  private goneError: (() => Error) | null = null;
  private closed = false;
  /** close()'s promise, once called. */
  private closing: Promise<void> | null = null;
  /** The close is done (finishClose ran): set by whichever of close() and closeSync() got there. */
  private finished = false;
  /** At close: the device was gone without a removal request (no shutdown then). */
  private closeWasGone = false;
  /** The Shadow Doorbell and EventIdx pages given to Doorbell Buffer Config, when in use. */
  private shadowBuffer: ShadowDoorbellBuffer | null = null;
  /** Commands that outlived timeoutMs, per queue pair, by CID (the watchdog's bookkeeping). */
  private readonly timedOut = new Map<QueuePair, Map<number, TimedOut>>();
  /** Bus Master Enable as we last set it: off, the controller cannot fetch commands (no admin command can run). */
  private busMaster = false;

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
      await ctrl.bringUp();
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
    if (this.tracer) {
      this.bar.traceTo(this.tracer, this.address, REGISTER_SECTIONS);
      // Read before the names were known: said here.
      this.tracer.emit(this.address, 'reg', `read CAP -> 0x${this.capRaw.toString(16)} (MQES ${this.cap.maxQueueEntries - 1}, DSTRD ${this.cap.dstrd}, TO ${this.cap.timeoutMs} ms)`, REGISTER_SECTIONS.CAP);
      this.tracer.emit(this.address, 'reg', `read VS -> 0x${this.vs.toString(16)} (NVMe ${formatVersion(this.vs)})`, REGISTER_SECTIONS.VS);
    }
    if (!this.cap.nvmCommandSet) {
      throw new VfioError({ code: 'ERR_NVME_NO_NVM_COMMAND_SET', message: `${this.address}: CAP.CSS does not include the NVM command set`, device: this.address });
    }
    // Host pages are 4 KiB: use them unless the controller's smallest page is larger.
    this.pageSize = Math.max(4096, this.cap.mpsMinBytes);
    if (this.pageSize > this.cap.mpsMaxBytes) {
      throw new VfioError({ code: 'ERR_NVME_PAGE_SIZE', message: `${this.address}: no usable memory page size (CAP.MPSMIN ${this.cap.mpsMinBytes}, MPSMAX ${this.cap.mpsMaxBytes})`, device: this.address });
    }
    if (this.options.queueDepth > this.cap.maxQueueEntries) {
      throw new VfioError({
        code: 'ERR_INVALID_ARG',
        message: `queueDepth ${this.options.queueDepth} is larger than the controller allows (CAP.MQES + 1 = ${this.cap.maxQueueEntries})`,
        hint: `Use a queueDepth of 2 to ${this.cap.maxQueueEntries}.`,
      });
    }
  }

  // ---- bring-up, §3.5.1 ------------------------------------------------------------

  private async bringUp(): Promise<void> {
    const o = this.options;
    this.log.info({ cap: `0x${this.capRaw.toString(16)}`, version: formatVersion(this.vs) }, 'NVMe controller');
    // The controller reads queues and data from our memory: allow it to master the bus.
    this.startDma();
    this.unregisterCleanup = registerCleanup(() => this.closeSync());

    // Admin queue memory (allocated before the reset so that a failure leaves nothing half done).
    this.adminQp = new QueuePair({
      qid: 0, depth: o.adminQueueDepth, dstrd: this.cap.dstrd, pageSize: this.pageSize, maxTransfer: 2 * this.pageSize,
      dma: this.device.dma, bar: this.bar, completion: 'poll', tracer: this.tracer, traceWho: this.address,
    });
    this.adminQueue = new CommandQueue(this.adminQp, this.address);
    this.admin = new AdminCommands(this.adminQueue, this.device.dma, this.pageSize, () => this.maxTransfer);

    await this.enable();

    // MSI-X before any CQ that interrupts: vector 0 for the admin CQ, vector q for I/O CQ q.
    const msix = this.device.irq.info('msix').count;
    if (msix > 0) this.vectors = this.device.irq.enableMsix(Math.min(msix, o.maxIoQueues + 1));

    // Step 6: Identify Controller (CNS 01h) – what the controller can do.
    this.identify = await this.admin.identifyController();
    const id = this.identify;
    if ((id.sqes & 0xf) > SQES_LOG2 || (id.sqes >> 4) < SQES_LOG2 || (id.cqes & 0xf) > CQES_LOG2 || (id.cqes >> 4) < CQES_LOG2) {
      throw new VfioError({ code: 'ERR_NVME_ENTRY_SIZE', message: `${this.address}: SQES ${id.sqes.toString(16)}h / CQES ${id.cqes.toString(16)}h do not allow 64/16-byte entries`, device: this.address });
    }
    // MDTS is a power of two in units of CAP.MPSMIN; 0 means no limit (we cap it ourselves).
    if (id.mdts > 0) this.maxTransfer = Math.min(MAX_TRANSFER_CAP, 2 ** id.mdts * this.cap.mpsMinBytes);
    if (o.sgl && (id.sgls & 3) === 0) {
      throw new VfioError({ code: 'ERR_NVME_SGL_UNSUPPORTED', message: `${this.address} does not support SGLs (Identify Controller SGLS = ${id.sgls})`, hint: 'Leave the sgl option off: PRPs work everywhere.', device: this.address });
    }
    this.log.info({ sn: id.sn, mn: id.mn, fr: id.fr, mdts: id.mdts, nn: id.nn, oncs: id.oncs }, 'Identify Controller');

    // Steps 7-8: the active namespaces (CNS 02h), and Identify Namespace (CNS 00h) for each.
    this.namespaceIds = await this.admin.activeNamespaces();
    for (const nsid of this.namespaceIds) {
      const info = await this.admin.identifyNamespace(nsid);
      this.namespaces.set(nsid, new Namespace(this, nsid, info));
    }

    // Step 9: Set Features – Number of Queues. The controller may grant fewer than asked.
    this.queuesAllocated = await this.admin.setNumberOfQueues(o.maxIoQueues, o.maxIoQueues);
    const n = Math.min(o.ioQueues, this.queuesAllocated.nsqa, this.queuesAllocated.ncqa);
    if (n < 1) throw new VfioError({ code: 'ERR_NVME_NO_IO_QUEUES', message: `${this.address} granted no I/O queues`, device: this.address });

    // Shadow doorbells, before any I/O queue exists (each queue starts at 0 in them).
    await this.configureShadowDoorbells();

    // Steps 10-11: Create I/O Completion Queues, then the Submission Queues bound to them.
    for (let q = 1; q <= n; q++) {
      const qp = await this.createPair(q, o.queueDepth, o.completion);
      this.pairs.push({ qp, queue: this.promiseLayer(qp) });
    }

    // Leave the device quiet if the kernel asks for it back (hot unplug, unbind).
    try {
      this.unsubscribeRemoval = this.device.irq.onRemovalRequest(() => this.onRemovalRequest());
    } catch {
      // an old kernel without the request interrupt: nothing to watch
    }
    this.watchdog = setInterval(() => this.tick(), TICK_MS);
    this.watchdog.unref();
    // The first 'asyncEvent' listener starts the Asynchronous Event Request loop (after it
    // is added: 'newListener' comes first).
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name === 'asyncEvent' && !this.aerRunning && (this.state === 'open' || this.state === 'resetting')) queueMicrotask(() => void this.aerLoop());
    });
  }

  /**
   * Disables the controller if needed, programs the admin queue and CC, and enables it
   * (§3.5.1 steps 1-5). Also the restart half of a controller reset.
   */
  private async enable(): Promise<void> {
    // Step 1: a previous owner (a crashed process) may have left the controller enabled:
    // CC.EN = 0 resets it (§3.7.2 Controller Reset); then wait for CSTS.RDY = 0.
    const cc0 = this.bar.read32(Register.CC);
    if (getField(cc0, CC.EN) === 1) {
      this.log.warn('controller was left enabled (a previous user did not shut it down): resetting it');
      this.bar.write32(Register.CC, setField(cc0, CC.EN, 0));
    }
    await this.waitReady(0);

    // Step 2: the admin queue: sizes (0's based) in AQA, base addresses in ASQ and ACQ.
    const depth = this.adminQp.depth;
    this.bar.write32(Register.AQA, setField(setField(0, AQA.ASQS, depth - 1), AQA.ACQS, depth - 1));
    this.bar.write64(Register.ASQ, BigInt(this.adminQp.sqIova));
    this.bar.write64(Register.ACQ, BigInt(this.adminQp.cqIova));

    // Step 3: CC: NVM command set, memory page size, round robin arbitration, and the
    // I/O entry sizes (64-byte SQEs, 16-byte CQEs) needed later to create I/O queues.
    let cc = 0;
    cc = setField(cc, CC.CSS, CC_CSS_NVM);
    cc = setField(cc, CC.MPS, Math.log2(this.pageSize) - 12);
    cc = setField(cc, CC.AMS, CC_AMS_RR);
    cc = setField(cc, CC.IOSQES, SQES_LOG2);
    cc = setField(cc, CC.IOCQES, CQES_LOG2);
    this.bar.write32(Register.CC, cc);
    // Step 4: CC.EN = 1.
    this.bar.write32(Register.CC, setField(cc, CC.EN, 1));
    // Step 5: wait for CSTS.RDY = 1, within CAP.TO.
    await this.waitReady(1);
  }

  /**
   * Waits for CSTS.RDY to equal rdy within CAP.TO × 500 ms, checking for a vanished
   * device at every read, and for CSTS.CFS while enabling (a reset, RDY → 0, is how a
   * host recovers from CFS, so it does not stop there).
   */
  private async waitReady(rdy: 0 | 1): Promise<void> {
    const deadline = Date.now() + this.cap.timeoutMs;
    // Traced as one line: how many reads of CSTS and how long until RDY said so.
    const poll = this.tracer?.poll(this.address, 'Base 2.0 §3.5.1');
    this.bar.traceMuted = poll !== undefined;
    try {
      for (;;) {
        poll?.read();
        const csts = rdy === 1 ? this.readCsts() : this.bar.read32(Register.CSTS);
        if (csts === 0xffffffff) throw deviceGone(this.address);
        if (getField(csts, CSTS.RDY) === rdy) {
          poll?.done(`CSTS.RDY=${rdy}`);
          return;
        }
        if (Date.now() > deadline) throw readyTimeout(this.address, rdy, this.cap.timeoutMs, csts);
        await sleep(1);
      }
    } finally {
      this.bar.traceMuted = false;
    }
  }

  /** CSTS, throwing ERR_DEVICE_GONE (all ones) or ERR_NVME_CONTROLLER_FATAL (CSTS.CFS). */
  private readCsts(): number {
    const csts = this.bar.read32(Register.CSTS);
    if (csts === 0xffffffff) throw deviceGone(this.address);
    if (getField(csts, CSTS.CFS) === 1) throw controllerFatal(this.address);
    return csts;
  }

  private async createPair(qid: number, depth: number, completion: CompletionMode): Promise<QueuePair> {
    if (completion === 'interrupt' && !this.vectors[qid]) {
      throw noVector(this.address, `I/O queue ${qid}`, this.vectors.length);
    }
    const qp = new QueuePair({
      qid, depth, dstrd: this.cap.dstrd, pageSize: this.pageSize, maxTransfer: this.maxTransfer, dma: this.device.dma, bar: this.bar, completion,
      shadow: this.shadowBuffer?.doorbells ?? null, tracer: this.tracer, traceWho: this.address,
    });
    if (completion === 'interrupt') qp.vector = this.vectors[qid]!;
    // The watchdog's clock, now: a command posted before the next tick would otherwise
    // carry tick 0 and look as old as the controller (timed out at the first tick).
    qp.epoch = this.epoch;
    try {
      await this.admin.createIoCq(qid, depth, qp.cqIova, completion === 'interrupt' ? qid : null);
      await this.admin.createIoSq(qid, depth, qp.sqIova, qid);
    } catch (err) {
      qp.release();
      throw err;
    }
    return qp;
  }

  /**
   * Doorbell Buffer Config (§5.8) when the controller has it and the option is on: zeroed
   * pages, then the command. Also after each reset (the controller forgets the buffers).
   * A controller that refuses it is driven with register doorbells.
   */
  private async configureShadowDoorbells(): Promise<void> {
    if (!this.options.shadowDoorbells || !this.supportsDoorbellBufferConfig) return;
    this.shadowBuffer ??= new ShadowDoorbellBuffer(this.device.dma, this.pageSize);
    this.shadowBuffer.clear();
    try {
      await this.admin.doorbellBufferConfig(this.shadowBuffer.shadowIova, this.shadowBuffer.eventIdxIova);
      this.log.debug({ iova: this.shadowBuffer.shadowIova }, 'shadow doorbells on');
    } catch (err) {
      if (!(err instanceof NvmeStatusError)) throw err;
      // Only before any I/O queue uses them: a pair created with the buffer would wait forever.
      if (this.pairs.length > 0 || [...this.external.values()].some((e) => e !== null)) throw err;
      this.log.warn({ err }, 'Doorbell Buffer Config failed: using doorbell registers');
      this.shadowBuffer.release();
      this.shadowBuffer = null;
    }
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
    if (!ns) {
      throw new VfioError({
        code: 'ERR_NVME_NO_SUCH_NAMESPACE',
        message: `${this.address} has no active namespace ${nsid}`,
        hint: `Active namespaces: ${this.namespaceIds.join(', ') || 'none'}.`,
        device: this.address,
      });
    }
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
    if (!q) throw new VfioError({ code: 'ERR_NVME_NO_IO_QUEUES', message: `no I/O queue pair ${index + 1} with a promise layer`, device: this.address });
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
  private promiseLayer(qp: QueuePair): CommandQueue {
    const q = new CommandQueue(qp, this.address);
    q.holdMemory = (view) => this.device.dma.hold(view);
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
  private deliver<K extends keyof NvmeControllerEvents>(name: K, ...args: NvmeControllerEvents[K]): void {
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
    const qp = await this.createPair(qid, depth, options.completion ?? 'poll');
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
    this.external.set(qid, null);
    return qid;
  }

  /** Gives back a queue id reserved and never created. */
  releaseQueueId(qid: number): void {
    this.external.delete(qid);
  }

  /**
   * Creates the I/O CQ and SQ of a reserved queue id over rings at the given IOVAs (§5.4,
   * §5.5). The owner polls the CQ; with `interrupts`, the CQ also raises MSI-X vector qid
   * (Interrupts Enabled, §5.4), whose eventfd (vectorFd(qid)) the owner may sleep on while
   * it has nothing else to do, instead of spinning.
   */
  async createExternalQueuePair(qid: number, depth: number, sqIova: number, cqIova: number, options: { interrupts?: boolean } = {}): Promise<void> {
    this.checkUsable();
    if (!this.external.has(qid)) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `queue id ${qid} was not reserved with reserveQueueId()` });
    this.checkDepth(depth);
    const interrupts = options.interrupts === true;
    if (interrupts && !this.vectors[qid]) {
      throw noVector(this.address, `I/O queue ${qid}`, this.vectors.length);
    }
    await this.admin.createIoCq(qid, depth, cqIova, interrupts ? qid : null);
    try {
      await this.admin.createIoSq(qid, depth, sqIova, qid);
    } catch (err) {
      await this.admin.deleteIoCq(qid).catch(() => 0);
      throw err;
    }
    // Kept so that a controller reset can create the queues again (see onReset).
    this.external.set(qid, { depth, sqIova, cqIova, interrupts });
  }

  /** The eventfd of MSI-X vector `qid` (an external queue pair created with interrupts), for a worker's eventfdWait. */
  vectorFd(qid: number): number {
    const v = this.vectors[qid];
    if (!v) throw noVector(this.address, `queue ${qid}`, this.vectors.length);
    return v.fd;
  }

  /** Deletes a queue pair made by createExternalQueuePair (SQ first, then its CQ, §5.6/§5.7) and frees its id. */
  async deleteExternalQueuePair(qid: number): Promise<void> {
    if (!this.external.has(qid)) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `queue ${qid} is not an external queue pair of ${this.address}` });
    // A reset that is running creates the queue again once its listeners settle: let it
    // finish, or the deletion races the re-creation (the SQ deleted before it exists, then
    // the CQ refused because the SQ came back).
    while (this.resetting) await this.resetting.catch(() => undefined);
    this.external.delete(qid);
    if (this.state !== 'open') return;
    // A queue the controller no longer has (a reset that could not recreate it) is deleted already:
    // Invalid Queue Identifier (sct 1h, sc 01h) is success here.
    const gone = (err: unknown) => {
      if (!(err instanceof NvmeStatusError && err.sct === 1 && err.sc === 1)) throw err;
      return 0;
    };
    await this.admin.deleteIoSq(qid).catch(gone);
    await this.admin.deleteIoCq(qid).catch(gone);
  }

  private freeQid(): number {
    const max = Math.min(this.queuesAllocated.nsqa, this.queuesAllocated.ncqa);
    const used = new Set([...this.pairs.map((p) => p.qp.qid), ...this.external.keys()]);
    for (let q = 1; q <= max; q++) if (!used.has(q)) return q;
    throw new VfioError({ code: 'ERR_NVME_NO_IO_QUEUES', message: `the controller granted ${max} I/O queue pairs, all in use`, hint: 'Open the controller with a larger maxIoQueues.', device: this.address });
  }

  private checkDepth(depth: number): number {
    if (!Number.isInteger(depth) || depth < 2 || depth > this.cap.maxQueueEntries) {
      throw new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid queue depth ${depth} (expected 2 to ${this.cap.maxQueueEntries}, CAP.MQES + 1)` });
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
    if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid timeoutMs: ${ms} (expected an integer from 1 to 3600000)` });
    this.options.timeoutMs = ms;
  }

  /** @internal the options namespaces read (sgl). */
  get useSgl(): boolean {
    return this.options.sgl;
  }

  /** @internal throws ERR_DEVICE_GONE / ERR_CLOSED when no command may be submitted. */
  checkUsable(): void {
    if (this.state === 'gone') throw (this.goneError ?? (() => deviceGone(this.address)))();
    if (this.state === 'closed') throw new VfioError({ code: 'ERR_CLOSED', message: `NVMe controller ${this.address} is closed`, device: this.address });
  }

  // ---- watchdog: timeouts, fatal status, removal ---------------------------------------

  private tick(): void {
    if (this.state !== 'open') return;
    this.epoch++;
    const csts = this.bar.read32(Register.CSTS);
    // All ones: the device is gone, or it stopped decoding memory and BAR0's mapping
    // faulted (the native guard then reads all ones there instead of dying of SIGBUS).
    if (csts === 0xffffffff || this.bar.gone) return this.markGone(this.bar.gone ? 'BAR0 no longer decodes: its mapping faulted' : 'registers read all ones');
    if (getField(csts, CSTS.CFS) === 1) {
      this.log.error('CSTS.CFS: controller fatal status; resetting the controller');
      this.recover(() => controllerFatal(this.address)).catch((e) => this.resetFailedInBackground(e));
      return;
    }
    // Completions of background admin commands (Asynchronous Event Request) are reaped here.
    if (this.adminQueue.pending === 0) this.adminQueue.drain();
    const defaultTicks = Math.max(1, Math.ceil(this.options.timeoutMs / TICK_MS));
    const owners = [this.adminQp, ...this.pairs.map((p) => p.qp)];
    for (const qp of owners) {
      qp.epoch = this.epoch;
      const r = qp.requests;
      const late = this.timedOut.get(qp);
      // Forget timed-out commands that completed after all (their Abort worked, or they were just slow).
      if (late) for (const [cid, t] of late) if (r.state[cid] === RequestState.Free || r.epoch[cid] !== t.epoch) late.delete(cid);
      for (let cid = 0; cid < r.ids.count; cid++) {
        const s = r.state[cid];
        if (s === RequestState.Free || s === RequestState.Abandoned || r.tags[cid] === -1) continue;
        const age = this.epoch - r.epoch[cid]!;
        const own = r.timeoutMs[cid]!; // a passthrough command's own timeoutMs
        const ticks = own === 0 ? defaultTicks : Math.max(1, Math.ceil(own / TICK_MS));
        if (s === RequestState.Outstanding && age > ticks) {
          // First the gentle way: Abort (§5.1). The controller may abort it (then its own
          // completion follows and ends it as usual), decline, or never answer.
          r.state[cid] = RequestState.AbortSent;
          const t: TimedOut = { epoch: r.epoch[cid]!, opcode: r.opcode[cid]!, abort: qp.qid === 0 ? 'not sent' : 'no answer' };
          this.timedOutOn(qp).set(cid, t);
          if (qp.qid !== 0) {
            this.log.warn({ qid: qp.qid, cid, opcode: t.opcode }, 'command timed out: sending Abort');
            this.admin.abort(qp.qid, cid).then(
              (aborted) => {
                t.abort = aborted ? 'aborted' : 'not aborted';
                this.log.warn({ qid: qp.qid, cid, abort: t.abort }, 'Abort answered');
              },
              () => {
                t.abort = 'failed';
              },
            );
          }
        } else if (s === RequestState.AbortSent && (qp.qid === 0 || age > 2 * ticks)) {
          // Still outstanding: the controller may still transfer its data. Its caller must
          // not hear of the failure (and reuse the buffer) before that is impossible, so
          // the reset stops the controller's DMA first and only then fails the command
          // (ERR_NVME_TIMEOUT) and everything else in flight (ERR_NVME_RESET).
          this.log.error({ qid: qp.qid, cid }, 'command still outstanding after Abort: resetting the controller');
          this.recover(() => resetError(this.address, `a command on queue ${qp.qid} timed out`)).catch((e) => this.resetFailedInBackground(e));
          return;
        }
      }
    }
  }

  /** A reset the watchdog started failed: 'error' (ERR_NVME_RESET_FAILED), unless the device is gone (markGone told already). */
  private resetFailedInBackground(e: unknown): void {
    if ((e as VfioError).code === 'ERR_DEVICE_GONE' || this.state === 'closed') return;
    this.deliver('error', resetFailed(this.address, e));
  }

  private timedOutOn(qp: QueuePair): Map<number, TimedOut> {
    let m = this.timedOut.get(qp);
    if (!m) this.timedOut.set(qp, (m = new Map()));
    return m;
  }

  /**
   * The error for command cid of qp failed by a reset: ERR_NVME_TIMEOUT (with what its
   * Abort returned) when it had outlived timeoutMs, else err().
   */
  private failureOf(qp: QueuePair, err: () => Error): (cid: number) => Error {
    return (cid) => {
      const t = this.timedOut.get(qp)?.get(cid);
      if (t && t.epoch === qp.requests.epoch[cid]) return timeoutError(this.address, qp.qid, cid, t, this.options.timeoutMs);
      return err();
    };
  }

  /**
   * Fails what the controller holds on every queue pair, each command with its error
   * (failureOf). Only once the controller can no longer transfer data (disabled, or Bus
   * Master Enable clear): a caller told of a failure may reuse the buffer at once.
   */
  private failInflight(err: () => Error): void {
    for (const p of this.pairs) {
      const errOf = this.failureOf(p.qp, err);
      if (p.queue) {
        p.queue.drain();
        p.queue.failInflight(errOf);
      } else {
        p.qp.poll();
        p.qp.reset((cid, tag) => p.qp.onFail?.(cid, tag, errOf(cid)), true);
      }
    }
    this.adminQueue.failInflight(this.failureOf(this.adminQp, err));
    this.adminQueue.failAll(err);
    this.timedOut.clear();
  }

  /** Sets Bus Master Enable (PCI Command register bit 2): the controller may read and write our memory. */
  private startDma(): void {
    this.device.config.enableBusMaster();
    this.busMaster = true;
  }

  /**
   * Clears Bus Master Enable: the function may start no more DMA. Before any pending
   * command fails on close, reset and removal, so that no late transfer of it reaches a
   * buffer its caller has since reused. (An emulated controller may finish a transfer it
   * had already mapped; disabling the controller, CC.EN = 0, waits for those.)
   */
  private stopDma(): void {
    this.busMaster = false;
    try {
      this.device.config.disableBusMaster();
    } catch (err) {
      this.log.warn({ err }, 'clearing Bus Master Enable failed');
    }
  }

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
    return this.recover(() => resetError(this.address, 'reset() was called'));
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
    this.stopDma();
    // A reset already running ends with DMA allowed again: run one more after it.
    while (this.resetting) await this.resetting.catch(() => undefined);
    if (this.state !== 'open') return; // closed or gone meanwhile: DMA stays off
    await this.recover(() => resetError(this.address, why));
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
          if (this.state === 'resetting' || (err as VfioError).code === 'ERR_NVME_RESET') {
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
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
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

  /**
   * Controller reset (§3.7.2): stops the controller's DMA (Bus Master Enable off, CC.EN =
   * 0, CSTS.RDY = 0), then fails every in-flight command (with err(), or ERR_NVME_TIMEOUT
   * for one that timed out), allows DMA again, re-enables the controller and recreates
   * the I/O queues in the same memory.
   */
  private recover(err: () => Error): Promise<void> {
    if (this.resetting) return this.resetting;
    if (this.state !== 'open') return Promise.resolve();
    this.resetting = this.resetAndRestart(err).finally(() => {
      this.resetting = null;
    });
    return this.resetting;
  }

  private async resetAndRestart(err: () => Error): Promise<void> {
    this.state = 'resetting';
    this.resets++;
    const internal = this.pairs.map((p) => p.qp);
    // Until the queues exist again, doorbell writes wait (entries may still be posted).
    for (const qp of internal) qp.suspend();
    try {
      // No more DMA from here on: Bus Master Enable off first (it takes effect at once),
      // then CC.EN 1 → 0, which resets the controller: it forgets every queue and every
      // command (§3.7.2); CSTS.RDY = 0 says it has stopped.
      this.stopDma();
      this.bar.write32(Register.CC, setField(this.bar.read32(Register.CC), CC.EN, 0));
      await this.waitReady(0);
      // Only now may callers hear of failures and reuse their buffers. What the
      // controller completed before stopping is delivered; what it was given and did not
      // complete fails; what it never saw (waiting for a CID, or posted and not rung)
      // stays and goes out once the queues exist again.
      this.failInflight(err);
      this.startDma();
      await this.enable();
      await this.admin.setNumberOfQueues(this.options.maxIoQueues, this.options.maxIoQueues);
      await this.configureShadowDoorbells();
      for (const qp of internal) {
        await this.admin.createIoCq(qp.qid, qp.depth, qp.cqIova, qp.completion === 'interrupt' ? qp.qid : null);
        await this.admin.createIoSq(qp.qid, qp.depth, qp.sqIova, qp.qid);
      }
      this.state = 'open';
      for (const qp of internal) qp.resume();
      for (const p of this.pairs) p.queue?.drain(); // submit what waited for CIDs
      // Worker-owned pairs: their owners restart their rings first (see ResetListener).
      const external = [...this.external].filter((e): e is [number, ExternalPair] => e[1] !== null);
      const error = err();
      await Promise.all([...this.resetListeners].map(async (l) => l({ externalQids: external.map(([q]) => q), error })));
      for (const [qid, e] of external) {
        await this.admin.createIoCq(qid, e.depth, e.cqIova, e.interrupts ? qid : null);
        await this.admin.createIoSq(qid, e.depth, e.sqIova, qid);
      }
      this.log.warn({ resets: this.resets }, 'controller reset and queues recreated');
      this.deliver('reset', { reason: error, resets: this.resets });
    } catch (e) {
      this.log.error({ err: e }, 'controller reset failed');
      if ((e as VfioError).code === 'ERR_DEVICE_GONE') this.markGone('registers read all ones during reset');
      else {
        // The queues may not exist: fail what waits on them rather than let it hang.
        for (const p of this.pairs) {
          if (p.queue) p.queue.failAll(() => e as Error);
          else p.qp.reset((cid, tag) => p.qp.onFail?.(cid, tag, e as Error));
        }
        if (this.state === 'resetting') this.state = 'open';
        for (const qp of internal) qp.resume();
      }
      throw e;
    }
  }

  private markGone(why: string): void {
    if (this.state === 'gone' || this.state === 'closed') return;
    this.log.error(`device gone (${why}): failing every pending command`);
    this.state = 'gone';
    // No DMA from now on, before any caller hears that its command failed and reuses its
    // buffer: a function that only stopped decoding memory can still master the bus.
    // (Config space goes through pread/pwrite, not the BAR; a vanished device ignores it.)
    if (!this.device.closed) this.stopDma();
    const err = () => deviceGone(this.address);
    for (const p of this.pairs) {
      if (p.queue) p.queue.kill(err);
      else p.qp.reset((cid, tag) => p.qp.onFail?.(cid, tag, err()));
    }
    this.adminQueue.kill(err);
    this.deliver('error', err());
  }

  private onRemovalRequest(): void {
    if (this.closed || this.goneError) return; // the kernel repeats its request until we let go
    this.log.warn('the kernel asks for the device back (removal request): failing pending I/O and closing');
    const err = () => new VfioError({ code: 'ERR_DEVICE_GONE', message: `${this.address} is being removed`, hint: 'The device was unplugged or unbound; open it again once it is back.', device: this.address });
    // No DMA from now on, before any caller hears that its command failed.
    this.stopDma();
    for (const p of this.pairs) {
      if (p.queue) p.queue.kill(err);
      else p.qp.reset((cid, tag) => p.qp.onFail?.(cid, tag, err()));
    }
    // From now on every call says the device was removed, not merely that it is closed.
    this.state = 'gone';
    this.goneError = err;
    this.deliver('removal', err());
    // The orderly shutdown (the device still answers) takes a while under emulation: let
    // the rejections reach their callers first, then close, which releases the device.
    // (closeSync: the kernel's unbind waits for the device, which goes back in one piece.)
    setImmediate(() => this.closeSync());
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
      if (this.mayShutDown()) this.shutdown(!takingOver);
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
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
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
      if (this.mayShutDown()) await this.shutdownAsync();
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
    const closedErr = () => new VfioError({ code: 'ERR_CLOSED', message: `NVMe controller ${this.address} was closed with the command pending`, device: this.address });
    if (!wasGone && !this.device.closed) this.stopDma();
    for (const p of this.pairs) {
      // kill, not just fail: a polling round still queued must not touch released rings.
      if (p.queue) p.queue.kill(closedErr);
      else if (p.qp.outstanding > 0) p.qp.reset((cid, tag) => p.qp.onFail?.(cid, tag, closedErr()));
      p.queue?.close();
    }
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
    this.adminQueue?.kill(closedErr);
    for (const p of this.pairs) p.qp.release();
    this.adminQp?.release();
    this.shadowBuffer?.release();
    this.device.close();
    // Last: until here, process exit must still finish the close.
    this.unregisterCleanup();
  }

  /** The spinning shutdown of closeSync(); deleteQueues false when a close() already began it. */
  private shutdown(deleteQueues: boolean): void {
    const csts = this.bar.read32(Register.CSTS);
    if (csts === 0xffffffff) return;
    if (getField(csts, CSTS.RDY) === 1 && getField(csts, CSTS.CFS) === 0) {
      // Delete the I/O queues, submission queues before their completion queues (§3.6, step 1).
      // Not after a removal request took bus mastering away: the controller could not
      // fetch the admin commands.
      for (const p of deleteQueues && this.busMaster ? [...this.pairs].reverse() : []) {
        try {
          this.admin.deleteIoQueuePairSync(p.qp.qid, CLOSE_COMMAND_MS);
        } catch (err) {
          this.log.warn({ err, qid: p.qp.qid }, 'deleting an I/O queue pair failed');
          break;
        }
      }
      // CC.SHN = 01b (normal shutdown); wait for CSTS.SHST = 10b (shutdown complete), within
      // RTD3E when the controller reports it, else CAP.TO.
      const cc = this.bar.read32(Register.CC);
      this.bar.write32(Register.CC, setField(cc, CC.SHN, CC_SHN_NORMAL));
      const limit = this.shutdownLimitMs();
      const deadline = Date.now() + limit;
      while (getField(this.bar.read32(Register.CSTS), CSTS.SHST) !== CSTS_SHST_COMPLETE) {
        if (Date.now() > deadline) {
          this.log.warn(`shutdown did not complete within ${limit} ms`);
          break;
        }
      }
    }
    // Disable as well, so the controller stops all activity before its DMA memory is unmapped.
    this.bar.write32(Register.CC, setField(this.bar.read32(Register.CC), CC.EN, 0));
    const deadline = Date.now() + this.cap.timeoutMs;
    while (getField(this.bar.read32(Register.CSTS), CSTS.RDY) !== 0 && Date.now() < deadline) {
      // spin: closeSync() does not yield
    }
  }

  /**
   * The shutdown of close(): the same steps as shutdown(), waiting with timers. After
   * each wait it stops if closeSync() took over (process exit), which finishes the job.
   */
  private async shutdownAsync(): Promise<void> {
    const csts = this.bar.read32(Register.CSTS);
    if (csts === 0xffffffff) return;
    if (getField(csts, CSTS.RDY) === 1 && getField(csts, CSTS.CFS) === 0) {
      // §3.6 step 1, as in shutdown().
      for (const p of this.busMaster ? [...this.pairs].reverse() : []) {
        try {
          await this.closeCommand(this.admin.deleteIoSq(p.qp.qid), `Delete I/O Submission Queue ${p.qp.qid}`);
          if (this.finished) return;
          await this.closeCommand(this.admin.deleteIoCq(p.qp.qid), `Delete I/O Completion Queue ${p.qp.qid}`);
          if (this.finished) return;
        } catch (err) {
          if (this.finished) return;
          this.log.warn({ err, qid: p.qp.qid }, 'deleting an I/O queue pair failed');
          break;
        }
      }
      const cc = this.bar.read32(Register.CC);
      this.bar.write32(Register.CC, setField(cc, CC.SHN, CC_SHN_NORMAL));
      const limit = this.shutdownLimitMs();
      const deadline = Date.now() + limit;
      // Read CSTS after a timer, never in a loop that does not yield.
      for (;;) {
        await sleep(1);
        if (this.finished) return;
        if (getField(this.bar.read32(Register.CSTS), CSTS.SHST) === CSTS_SHST_COMPLETE) break;
        if (Date.now() > deadline) {
          this.log.warn(`shutdown did not complete within ${limit} ms`);
          break;
        }
      }
    }
    this.bar.write32(Register.CC, setField(this.bar.read32(Register.CC), CC.EN, 0));
    const deadline = Date.now() + this.cap.timeoutMs;
    while (getField(this.bar.read32(Register.CSTS), CSTS.RDY) !== 0 && Date.now() < deadline) {
      await sleep(1);
      if (this.finished) return;
    }
  }

  /** RTD3E when the controller reports it, else CAP.TO (ms). */
  private shutdownLimitMs(): number {
    return Math.max(this.identify?.rtd3e ? this.identify.rtd3e / 1000 : 0, this.cap.timeoutMs);
  }

  /** An admin command of close(), which must not wait forever: rejects after CLOSE_COMMAND_MS. */
  private closeCommand(command: Promise<number>, name: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(closeCommandTimeout(this.address, name, CLOSE_COMMAND_MS)), CLOSE_COMMAND_MS);
    });
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
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
      const gone = (err: unknown) => {
        if (!(err instanceof NvmeStatusError && err.sct === 1 && err.sc === 1)) throw err;
        return 0;
      };
      await this.admin.deleteIoSq(qp.qid).catch(gone);
      await this.admin.deleteIoCq(qp.qid).catch(gone);
    }
    // The controller has let go of the rings (or close() got here first and released them).
    const at = this.pairs.findIndex((p) => p.qp === qp);
    if (at < 0) return;
    this.pairs.splice(at, 1);
    this.timedOut.delete(qp);
    if (qp.outstanding > 0) {
      const err = () => queuePairDeleted(this.address, qp.qid);
      qp.reset((cid, tag) => qp.onFail?.(cid, tag, err()));
    }
    qp.release();
  }
}

function checkOptions(o: Required<Omit<NvmeControllerOptions, 'logger' | 'trace'>>): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid option ${name}: ${v} (expected an integer from ${min} to ${max})` });
  };
  int('ioQueues', o.ioQueues, 1, 65535);
  int('queueDepth', o.queueDepth, 2, 65536);
  int('adminQueueDepth', o.adminQueueDepth, 2, 4096);
  int('timeoutMs', o.timeoutMs, 1, 3_600_000);
  if (o.completion !== 'poll' && o.completion !== 'interrupt') {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid option completion: ${String(o.completion)} (expected 'poll' or 'interrupt')` });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
