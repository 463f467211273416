// A submission/completion queue pair in DMA memory: the driver's hot path.
// NVM Express Base Specification 2.0, §3.3.1 "Memory-based Transport Queue Model".
//
// The host writes a 64-byte entry at the SQ tail and advances the tail; the controller
// learns of new entries only when the host writes the new tail to SQyTDBL. Posting and
// ringing are separate calls, so that any number of entries can go with one doorbell
// write. The controller writes 16-byte entries into the CQ, flipping the Phase Tag each
// time it wraps; the host consumes entries whose tag matches the phase it expects, and
// writes the new head to CQyHDBL so the controller may reuse the slots. Each CQE also
// carries SQHD, how far the controller has consumed the SQ.
//
// Reaping and the doorbells run in C, through one native handle per queue pair (NvmeQueue
// in native/src/nvme_queue.cc): one N-API call per batch. Nothing here allocates per
// command: CIDs come from a free list, PRP lists are preallocated per CID, and completions
// land in one preallocated Uint32Array (the handle's host words).

import { native, type DmaMemory, type DmaSource, type Mapping, type Tracer, type Vector } from '@vfio-node/core';
import { SQE_DWORDS, SQE_SIZE, sqeReadWrite } from './commands.js';
import { decodeSqe } from './decode.js';
import { CQE_SIZE, decodeStatus, statusName } from './status.js';
import { setPrps, setSglDataBlock } from './prp.js';
import { RequestState, RequestTable } from './request.js';
import { cqHeadDoorbell, sqTailDoorbell } from './registers.js';
import { shadowSlots, type ShadowDoorbells } from './shadow-doorbells.js';
import { barNotMapped, queueFull, queueMemoryNotDma, queueReset } from './errors.js';

// The native queue handle's class, looked up once. (It is read from the addon object itself
// when the package's named exports do not list it.)
const NativeQueue: typeof native.NvmeQueue =
  typeof native.NvmeQueue === 'function' ? native.NvmeQueue : (native as unknown as { default: typeof native }).default.NvmeQueue;

/**
 * The queue pair's hot path: the shape of the native `NvmeQueue` handle (native/index.d.ts).
 * It reaps completions into the host words (`QueueHandleInit.host`: [head, phase, then 4
 * words per completion]) and writes the doorbells (through the shadow doorbells when the
 * queue has them). Only unit tests make another one (a fake over plain memory).
 */
export interface QueueHandle {
  /** Reaps up to max completions into host[2..], advances host[0..1]; writes CQyHDBL once unless announce is false. Returns the count. */
  poll(bar: ArrayBuffer, max: number, announce?: boolean): number;
  /** poll() for a traced queue pair: returns count * 2, plus 1 when the CQ head was written to CQyHDBL (not only to its shadow entry). */
  pollTraced(bar: ArrayBuffer, max: number, announce?: boolean): number;
  /** Writes the SQ tail (force: to the register even when the shadow doorbell would do). Returns whether the register was written. */
  ring(bar: ArrayBuffer, tail: number, force?: boolean): boolean;
  /** Writes the CQ head host[0]. Returns whether the register was written. */
  announceHead(bar: ArrayBuffer): boolean;
  /** Drops the handle (and its pins on the memory). */
  close(): void;
}

/** What a queue handle is made from (QueuePairInit.handle). */
export interface QueueHandleInit {
  qid: number;
  /** The CQ ring (16-byte entries; its depth is the SQ's). */
  cq: DmaMemory;
  /** The host words (a SharedArrayBuffer): [CQ head, expected phase, then 4 words per completion: cid, status, sqhd, dw0]. */
  host: Uint32Array;
  /** The shadow doorbell pages (null: none) and this pair's dword indices in them. */
  shadow: ShadowDoorbells | null;
  sqShadow: number;
  sqEventIdx: number;
  cqShadow: number;
  cqEventIdx: number;
  /** Byte offsets of SQyTDBL and CQyHDBL in BAR0. */
  sqDoorbell: number;
  cqDoorbell: number;
}

/** The native handle (NvmeQueue): it pins the CQ and shadow pages by their DMA buffer ids. */
function nativeHandle(h: QueueHandleInit): QueueHandle {
  const id = (m: DmaMemory | undefined) => (m as { native?: { id?: unknown } } | undefined)?.native?.id;
  if (typeof id(h.cq) !== 'number') throw queueMemoryNotDma(h.qid, 'completion queue memory', h.cq);
  const sh = h.shadow?.memory;
  if (h.shadow !== null && typeof id(sh) !== 'number') throw queueMemoryNotDma(h.qid, 'shadow doorbell memory', sh);
  return new NativeQueue(
    h.cq.native.id, h.cq.offset, h.cq.size,
    h.host,
    sh ? sh.native.id : 0, sh ? sh.offset : 0, sh ? sh.size : 0,
    h.sqDoorbell, h.cqDoorbell,
    h.sqShadow, h.sqEventIdx, h.cqShadow, h.cqEventIdx,
  );
}

/** How a queue pair learns of completions. */
export type CompletionMode = 'poll' | 'interrupt';

/** Called for each completion reaped by poll(): the CID, the status (0 = success), DW0 and the caller's tag. */
export type CompletionHandler = (cid: number, status: number, dw0: number, tag: number) => void;

export interface QueuePairInit {
  /** Queue identifier: 0 is the admin queue pair. */
  qid: number;
  /** Entries per queue (the SQ and CQ have the same size here). At most CAP.MQES + 1. */
  depth: number;
  /** CAP.DSTRD. */
  dstrd: number;
  /** Memory page size (CC.MPS) in bytes. */
  pageSize: number;
  /** The largest transfer one command may carry (MDTS), to size the PRP lists. */
  maxTransfer: number;
  /** Where the rings and PRP lists go: the device's DmaAllocator, or a worker's DmaArena. */
  dma: DmaSource;
  /**
   * BAR0's mapping, which the doorbells are written through: a Region mapped as a whole
   * (`device.bar(0)`), or a worker's `{ mapping: mapSharedBar(...) }`.
   */
  bar: { readonly mapping: Pick<Mapping, 'buffer'> | undefined };
  completion: CompletionMode;
  /**
   * The controller's shadow doorbell buffers (Doorbell Buffer Config), for an I/O queue
   * pair: doorbells then go to memory and reach the registers only when the controller's
   * EventIdx asks for it. Omit for the admin queue pair or a controller without them.
   */
  shadow?: ShadowDoorbells | null;
  /**
   * Makes the hot path's handle; the default is the native `NvmeQueue`, which needs the CQ
   * and the shadow pages in native DMA buffers. Unit tests pass a fake over plain memory.
   */
  handle?: (init: QueueHandleInit) => QueueHandle;
  /** Trace every entry, doorbell and completion of this queue pair (null or absent: off). */
  tracer?: Tracer | null;
  /** Who the trace lines name (the controller's address, with the worker when not the main thread). */
  traceWho?: string;
}

/**
 * With shadow doorbells, a doorbell the controller missed (a race its model does not
 * close) would leave commands waiting forever: after this many empty polls in a row with
 * commands outstanding, the SQ tail is written to the register as well.
 */
const KICK_AFTER_EMPTY_POLLS = 4096;

/**
 * Lazy CQ head doorbell (polled I/O queues of at least this many entries). The host may
 * tell the controller the CQ head whenever it likes, as long as the controller never
 * finds the CQ full while a command is outstanding: with U entries reaped but not yet
 * announced and M commands outstanding, U + M <= depth - 1 keeps room for every
 * completion. poll() announces the head once U passes depth / 4, and ring() announces it
 * first whenever a new command would break that bound. Why: QEMU 7.2's controller sets
 * the CQ EventIdx to the head it last read, so with shadow doorbells every CQ head
 * update is still a trap into the device model (its trace shows one per I/O at depth 1,
 * between a completion and the next command). Interrupt-driven CQs announce every batch.
 */
const LAZY_CQ_MIN_DEPTH = 16;

/**
 * A submission/completion queue pair in DMA memory, the driver's hot path (Base 2.0 §3.3.1): post entries, ring
 * the doorbell once per batch, poll completions in C. No promises here: the command queue builds them on top.
 */
export class QueuePair implements AsyncDisposable {
  /** Queue identifier (0: the admin queue pair). */
  readonly qid: number;
  /** Entries per queue (the SQ keeps one empty, so at most depth - 1 outstanding). */
  readonly depth: number;
  /** How completions are noticed: polling or the CQ's MSI-X vector. */
  readonly completion: CompletionMode;
  /** The SQ and CQ rings. */
  readonly sq: DmaMemory;
  /** The CQ ring (16-byte entries). */
  readonly cq: DmaMemory;
  /** IOVAs of the rings as numbers (for Create I/O SQ/CQ, ASQ and ACQ). */
  readonly sqIova: number;
  /** IOVA of the CQ ring. */
  readonly cqIova: number;
  /** Byte offsets of SQyTDBL and CQyHDBL in BAR0. */
  readonly sqDoorbell: number;
  /** Byte offset of CQyHDBL in BAR0. */
  readonly cqDoorbell: number;
  /** Per-CID state. At most depth - 1 commands are outstanding (a full queue keeps one slot empty). */
  readonly requests: RequestTable;
  /** [CQ head, expected phase], shared with the C loop. The phase starts at 1: the CQ memory is zeroed. */
  readonly cqState: Uint32Array;
  /** Completions of the last poll(): 4 words each, [cid, status, sqhd, dw0]. */
  readonly completions: Uint32Array;
  /**
   * cqState and completions: the host's own state, so never in DMA memory (the allocator
   * maps whole chunks for the device). A SharedArrayBuffer cannot be detached, so the
   * native queue handle can keep a pointer into it and skip its per-call argument checks.
   */
  private readonly host: Uint32Array;
  /** The hot path (the native NvmeQueue): the memory checked once, the doorbell and reap sequences. */
  private readonly handle: QueueHandle;
  /** The SQ head as last reported by the controller (CQE.SQHD). */
  sqHead = 0;
  /** Called for every completion poll() reaps. Set it once; it is not a per-command callback. */
  onComplete: CompletionHandler | null = null;
  /** Called for each outstanding command failed by a controller reset or removal (when no promise layer owns this pair). */
  onFail: ((cid: number, tag: number, err: Error) => void) | null = null;
  /**
   * Called at the start of every poll() when set: the owner's look at news from another
   * thread before reaping (the runtime's worker checks there whether the main thread reset
   * the controller: packages/runtime, reset-handshake.ts). It may poll() itself if it
   * clears this hook first.
   */
  beforePoll: (() => void) | null = null;
  /** The MSI-X vector of this CQ in interrupt mode. */
  vector: Vector | null = null;

  /**
   * @internal From now on completions are announced by vector (the admin pair, once MSI-X is
   * enabled at bring-up step 9); with null, polled again (its interrupts were lost).
   */
  listenTo(vector: Vector | null): void {
    (this as { completion: CompletionMode }).completion = vector ? 'interrupt' : 'poll';
    this.vector = vector;
  }
  /** @internal Set by NvmeController.createQueuePair: deletes the pair on the controller (asyncDispose). */
  disposer: ((qp: QueuePair) => Promise<void>) | null = null;
  /** Current timer tick (advanced by the controller's watchdog). */
  epoch = 0;
  /** Memory page size (CC.MPS) in bytes, the unit of PRP entries. */
  readonly pageSize: number;
  /** ring() calls that announced entries, and how many of them wrote SQyTDBL (fewer with shadow doorbells). */
  readonly doorbellStats = { rings: 0, sqRegisterWrites: 0, cqHeadWrites: 0 };

  private readonly sqU32: Uint32Array;
  /** The CQ as dwords, read with Atomics.load so that every check really reads memory the controller writes. */
  private readonly cqI32: Int32Array;
  private readonly barBuffer: ArrayBuffer;
  private tail = 0;
  private ringedTail = 0;
  /** The CQ slot of the entry poll() is handing to onComplete (reapedDw1). */
  private reapSlot = 0;
  /** The shadow doorbell buffers (null: every doorbell is a register write) and this pair's dword indices in them. */
  private readonly shadow: Uint32Array | null;
  private readonly sqShadow: number;
  private readonly sqEventIdx: number;
  private readonly cqShadow: number;
  private readonly cqEventIdx: number;
  private emptyPolls = 0;
  /** Lazy CQ head doorbell: announce after this many reaped entries (0: every poll). */
  private readonly lazyCqLimit: number;
  /** CQ entries reaped and not yet announced to the controller (lazy mode). */
  private cqUnrung = 0;
  private released = false;
  /** While the controller resets, doorbell writes wait (the queue does not exist on the controller). */
  private suspended = false;
  /** The tracer when tracing is on (one test of this field per call when it is off). */
  private readonly tracer: Tracer | null;
  private readonly traceWho: string;

  constructor(init: QueuePairInit) {
    this.tracer = init.tracer ?? null;
    this.traceWho = init.traceWho ?? `queue ${init.qid}`;
    this.qid = init.qid;
    this.depth = init.depth;
    this.completion = init.completion;
    this.pageSize = init.pageSize;
    const mapping = init.bar.mapping;
    if (!mapping) throw barNotMapped();
    this.barBuffer = mapping.buffer;
    this.sqDoorbell = sqTailDoorbell(init.qid, init.dstrd);
    this.cqDoorbell = cqHeadDoorbell(init.qid, init.dstrd);
    this.sq = init.dma.alloc(init.depth * SQE_SIZE, { align: init.pageSize, internal: true });
    try {
      this.cq = init.dma.alloc(init.depth * CQE_SIZE, { align: init.pageSize, internal: true });
      try {
        this.requests = new RequestTable(init.dma, init.depth - 1, init.maxTransfer, init.pageSize);
      } catch (err) {
        this.cq.release();
        throw err;
      }
    } catch (err) {
      this.sq.release();
      throw err;
    }
    this.sqIova = Number(this.sq.iova);
    this.cqIova = Number(this.cq.iova);
    this.sqU32 = new Uint32Array(this.sq.bytes.buffer, this.sq.bytes.byteOffset, (init.depth * SQE_SIZE) / 4);
    this.cqI32 = new Int32Array(this.cq.bytes.buffer, this.cq.bytes.byteOffset, (init.depth * CQE_SIZE) / 4);
    this.host = new Uint32Array(new SharedArrayBuffer(8 + 16 * init.depth));
    this.cqState = this.host.subarray(0, 2);
    this.cqState[1] = 1;
    this.completions = this.host.subarray(2);
    const slots = shadowSlots(init.qid, init.dstrd, init.shadow?.eventIdx ?? 0);
    this.shadow = init.qid > 0 && init.shadow ? init.shadow.words : null;
    this.sqShadow = slots.sqTail;
    this.sqEventIdx = slots.sqEventIdx;
    this.cqShadow = slots.cqHead;
    this.cqEventIdx = slots.cqEventIdx;
    try {
      this.handle = (init.handle ?? nativeHandle)({
        qid: this.qid, cq: this.cq, host: this.host, shadow: this.shadow !== null ? init.shadow! : null,
        sqShadow: this.sqShadow, sqEventIdx: this.sqEventIdx, cqShadow: this.cqShadow, cqEventIdx: this.cqEventIdx,
        sqDoorbell: this.sqDoorbell, cqDoorbell: this.cqDoorbell,
      });
    } catch (err) {
      this.requests.release();
      this.cq.release();
      this.sq.release();
      throw err;
    }
    this.lazyCqLimit = init.qid > 0 && init.completion === 'poll' && init.depth >= LAZY_CQ_MIN_DEPTH ? init.depth >> 2 : 0;
    this.clearShadow();
  }

  /** Whether doorbells go through the shadow doorbell buffer. */
  get usesShadowDoorbells(): boolean {
    return this.shadow !== null;
  }

  /** A new queue starts at tail 0 and head 0: so must its shadow entries (an earlier queue with this qid may have left values). */
  private clearShadow(): void {
    const w = this.shadow;
    if (w === null) return;
    w[this.sqShadow] = 0;
    w[this.cqShadow] = 0;
  }

  /** Commands submitted and not yet completed. */
  get outstanding(): number {
    return this.requests.ids.count - this.requests.ids.available;
  }

  /** True when a command can be submitted now (a CID is free). */
  get canSubmit(): boolean {
    return this.requests.ids.available > 0;
  }

  /** Entries posted but not yet announced with ring(). */
  get unrung(): number {
    return (this.tail - this.ringedTail + this.depth) % this.depth;
  }

  /**
   * Takes a CID and the SQ slot at the tail. Returns the CID; the entry's dword index is
   * tail * 16 (see slot()). Throws ERR_NVME_QUEUE_FULL when no CID is free.
   */
  private claim(tag: number, opcode: number): number {
    const r = this.requests;
    const cid = r.ids.acquire();
    if (cid < 0) throw queueFull(this.qid, this.depth);
    r.tags[cid] = tag;
    r.epoch[cid] = this.epoch;
    r.state[cid] = RequestState.Outstanding;
    r.opcode[cid] = opcode;
    r.timeoutMs[cid] = 0;
    return cid;
  }

  private advance(): void {
    if (++this.tail === this.depth) this.tail = 0;
  }

  /**
   * Posts an NVM Read/Write/Compare (or any command with SLBA/NLB and a data buffer):
   * `length` bytes at IOVA `iova`, described with PRPs (or one SGL Data Block when sgl).
   * `length` 0 means no data pointer (Write Zeroes). Returns the CID. Does not ring.
   */
  submitIo(opcode: number, nsid: number, slba: number, nlb: number, iova: number, length: number, tag: number, cdw12Flags = 0, sgl = false): number {
    const cid = this.claim(tag, opcode);
    const sqe = this.tail * SQE_DWORDS;
    const u32 = this.sqU32;
    sqeReadWrite(u32, sqe, opcode, cid, nsid, slba, nlb, cdw12Flags);
    if (length > 0) {
      try {
        if (sgl) setSglDataBlock(u32, sqe, iova, length);
        else setPrps(u32, sqe, iova, length, this.pageSize, this.requests.prpLists[cid]!);
      } catch (err) {
        this.unclaim(cid);
        throw err;
      }
    }
    if (this.tracer !== null) this.traceSqe(sqe);
    this.advance();
    return cid;
  }

  /**
   * Posts any command: fill(u32, sqe, cid) writes the entry at dword sqe of u32 (start with
   * sqeInit). For admin commands and rare I/O commands; the I/O hot path uses submitIo.
   */
  submitCommand(fill: (u32: Uint32Array, sqe: number, cid: number) => void, tag: number): number {
    const cid = this.claim(tag, 0);
    const sqe = this.tail * SQE_DWORDS;
    try {
      fill(this.sqU32, sqe, cid);
    } catch (err) {
      this.unclaim(cid);
      throw err;
    }
    this.requests.opcode[cid] = this.sqU32[sqe]! & 0xff;
    if (this.tracer !== null) this.traceSqe(sqe);
    this.advance();
    return cid;
  }

  /**
   * DW1 (command specific) of the completion onComplete is handling; only valid inside
   * onComplete (passthrough hands it to its caller; no other command uses DW1). The slot
   * cannot have been overwritten yet: the controller writes it again only after filling
   * every other slot of the CQ, more completions than the commands still outstanding.
   */
  reapedDw1(): number {
    return Atomics.load(this.cqI32, this.reapSlot * 4 + 1) >>> 0;
  }

  /** The PRP list pages reserved for a CID (for submitCommand fills that need a list). */
  prpList(cid: number) {
    return this.requests.prpLists[cid]!;
  }

  private unclaim(cid: number): void {
    this.requests.state[cid] = RequestState.Free;
    this.requests.ids.release(cid);
  }

  /** Writes the SQ tail doorbell if entries were posted since the last ring (held while suspended). */
  ring(): void {
    if (this.tail === this.ringedTail || this.suspended) return;
    if (this.cqUnrung !== 0 && this.outstanding + this.cqUnrung > this.depth - 1) this.announceCqHead();
    const wrote = this.handle.ring(this.barBuffer, this.tail);
    this.ringedTail = this.tail;
    this.doorbellStats.rings++;
    if (wrote) this.doorbellStats.sqRegisterWrites++;
    if (this.tracer !== null) this.traceDoorbell(`SQ${this.qid}TDBL`, this.tail, wrote);
  }

  // ---- tracing (off: one null test per call above) -------------------------------------

  private traceSqe(sqe: number): void {
    const d = decodeSqe(this.sqU32, sqe, this.qid === 0);
    this.tracer!.emit(this.traceWho, 'sqe', `SQ${this.qid}[${sqe / SQE_DWORDS}] ${d.text}`, d.section || undefined);
  }

  /** wrote: whether the register was written (the native handle says so for every doorbell write). */
  private traceDoorbell(name: string, value: number, wrote: boolean): void {
    const how = this.shadow === null ? '' : wrote ? ' (shadow doorbell, EventIdx crossed: register written)' : ' (shadow doorbell only: EventIdx not crossed, no MMIO)';
    this.tracer!.emit(this.traceWho, 'doorbell', `${name} <- ${value}${how}`, this.shadow === null ? 'PCIe Transport 1.0, doorbells' : 'Base 2.0 §5.8, shadow doorbells');
  }

  /** poll()'s reap when tracing: the native pollTraced says whether the CQ head reached the register. */
  private pollTraced(max: number, lazy: boolean): number {
    const r = this.handle.pollTraced(this.barBuffer, max, !lazy);
    const n = r >>> 1;
    if (n > 0) {
      this.traceCompletions(n, this.cqState[0]! - n + this.depth);
      if (!lazy) this.traceDoorbell(`CQ${this.qid}HDBL`, this.cqState[0]!, (r & 1) === 1);
    }
    return n;
  }

  /**
   * An interrupt of this CQ's MSI-X vector arrived (`vector`: the MSI-X table entry, the IV
   * given at Create I/O Completion Queue; `count`: the eventfd's count, interrupts since it was
   * last read, when the waiter knows it: eventfdWait consumes it without saying). The caller
   * reaps next. Traced when tracing (which CQ it woke and how many entries it finds posted
   * there); otherwise one test of a null field.
   */
  interrupted(vector: number, count?: number | bigint): void {
    if (this.tracer !== null) this.traceInterrupt(vector, count);
  }

  private traceInterrupt(vector: number, count: number | bigint | undefined): void {
    // Count the entries the controller posted (Phase Tag = the expected phase) from the head,
    // without consuming them: the reap that follows takes them (and any posted meanwhile).
    let head = this.cqState[0]!;
    let phase = this.cqState[1]!;
    let posted = 0;
    while (posted < this.depth && ((Atomics.load(this.cqI32, head * 4 + 3) >>> 16) & 1) === phase) {
      posted++;
      if (++head === this.depth) {
        head = 0;
        phase ^= 1;
      }
    }
    const what = posted === 0 ? 'nothing new (reaped already)' : `${posted} new entr${posted === 1 ? 'y' : 'ies'} from CQ${this.qid}[${this.cqState[0]}]`;
    const how = count === undefined ? 'eventfdWait returned' : `eventfd count ${count}`;
    this.tracer!.emit(this.traceWho, 'irq', `MSI-X vector ${vector} (${how}) woke CQ${this.qid}: ${what}`, 'PCIe Transport 1.0, MSI-X interrupts; IV of Create I/O CQ, Base 2.0 §5.4');
  }

  private traceCompletions(n: number, first: number): void {
    const c = this.completions;
    for (let i = 0, at = 0; i < n; i++, at += 4) {
      const st = decodeStatus(c[at + 1]!);
      const status = statusName(st.sct, st.sc);
      this.tracer!.emit(this.traceWho, 'cqe', `CQ${this.qid}[${(first + i) % this.depth}] cid=${c[at]} status=${status}${st.dnr ? ' DNR' : ''} sqhd=${c[at + 2]} dw0=0x${c[at + 3]!.toString(16)}`, 'Base 2.0, Completion Queue Entry');
    }
  }

  /** Tells the controller the CQ head (lazy mode): through the shadow doorbell, or CQyHDBL. */
  private announceCqHead(): void {
    if (this.suspended) return;
    const wrote = this.handle.announceHead(this.barBuffer);
    if (this.tracer !== null) this.traceDoorbell(`CQ${this.qid}HDBL`, this.cqState[0]!, wrote);
    this.cqUnrung = 0;
    this.doorbellStats.cqHeadWrites++;
  }

  /**
   * Writes the SQ tail to its register even though the shadow doorbell holds it already:
   * the cure for a doorbell the controller may have missed (see KICK_AFTER_EMPTY_POLLS).
   */
  kick(): void {
    this.emptyPolls = 0;
    if (this.suspended || this.outstanding === 0) return;
    this.handle.ring(this.barBuffer, this.ringedTail, true);
    this.doorbellStats.sqRegisterWrites++;
    if (this.tracer !== null) this.tracer.emit(this.traceWho, 'doorbell', `SQ${this.qid}TDBL <- ${this.ringedTail} (kick: the register written again after ${KICK_AFTER_EMPTY_POLLS} empty polls)`, 'Base 2.0 §5.8, shadow doorbells');
  }

  /**
   * Reaps up to max completions (one C call, one CQ head doorbell write), frees their
   * CIDs and calls onComplete for each. Returns the number reaped.
   */
  poll(max = this.depth): number {
    const before = this.beforePoll;
    if (before !== null) before();
    // The common case when polling is "nothing yet": answer it in JavaScript, without
    // crossing into native code.
    if (!this.hasCompletion()) {
      if (this.shadow !== null && ++this.emptyPolls >= KICK_AFTER_EMPTY_POLLS) this.kick();
      return 0;
    }
    this.emptyPolls = 0;
    const c = this.completions;
    const lazy = this.lazyCqLimit !== 0;
    const m = max < this.depth ? max : this.depth;
    const n = this.tracer === null ? this.handle.poll(this.barBuffer, m, !lazy) : this.pollTraced(m, lazy);
    if (lazy) {
      this.cqUnrung += n;
      if (this.cqUnrung > this.lazyCqLimit) this.announceCqHead();
    } else if (n > 0) this.doorbellStats.cqHeadWrites++;
    const r = this.requests;
    const count = r.ids.count;
    const handler = this.onComplete;
    // The CQ slot of the first entry reaped (the head has moved past all n): see reapedDw1.
    const first = this.cqState[0]! - n + this.depth;
    for (let i = 0, at = 0; i < n; i++, at += 4) {
      const cid = c[at]!;
      this.sqHead = c[at + 2]!;
      // A CID we do not hold (already failed by a reset, or a controller bug): drop it.
      if (cid >= count || r.state[cid] === RequestState.Free) continue;
      const given = r.state[cid] === RequestState.Abandoned;
      r.state[cid] = RequestState.Free;
      r.ids.release(cid);
      if (given) continue; // failed already (abandon): the late answer only frees the CID
      if (handler !== null) {
        this.reapSlot = (first + i) % this.depth;
        handler(cid, c[at + 1]!, c[at + 3]!, r.tags[cid]!);
      }
    }
    return n;
  }

  /** Whether the entry at the CQ head is posted (cheap check, no doorbell). */
  hasCompletion(): boolean {
    const dw3 = Atomics.load(this.cqI32, this.cqState[0]! * 4 + 3);
    return ((dw3 >>> 16) & 1) === this.cqState[1];
  }

  /**
   * Forgets the outstanding commands and empties both rings, as after a controller reset
   * (the controller forgets its queues then too). Calls fail(cid, tag) for each command
   * forgotten. With keepUnrung, entries posted but never announced by ring() (the
   * controller cannot have seen them) survive: they move to the start of the SQ, keep
   * their CIDs, and go out with the next ring().
   */
  reset(fail?: (cid: number, tag: number) => void, keepUnrung = false): void {
    const r = this.requests;
    const kept = keepUnrung ? this.unrung : 0;
    const saved = new Uint32Array(kept * SQE_DWORDS);
    const keep = new Set<number>();
    for (let i = 0; i < kept; i++) {
      const slot = (this.ringedTail + i) % this.depth;
      saved.set(this.sqU32.subarray(slot * SQE_DWORDS, (slot + 1) * SQE_DWORDS), i * SQE_DWORDS);
      keep.add(this.sqU32[slot * SQE_DWORDS]! >>> 16); // CDW0 bits 31:16: CID
    }
    for (let cid = 0; cid < r.ids.count; cid++) {
      if (r.state[cid] !== RequestState.Free && !keep.has(cid)) {
        const given = r.state[cid] === RequestState.Abandoned;
        r.state[cid] = RequestState.Free;
        r.ids.release(cid);
        if (!given) fail?.(cid, r.tags[cid]!);
      }
    }
    // A kept command starts its life on the controller now: the watchdog must time it from
    // here, not judge it by the age (and an Abort) it had before the reset.
    for (const cid of keep) {
      r.epoch[cid] = this.epoch;
      if (r.state[cid] === RequestState.AbortSent) r.state[cid] = RequestState.Outstanding;
    }
    this.sq.bytes.fill(0);
    this.cq.bytes.fill(0);
    this.sqU32.set(saved, 0);
    this.tail = kept;
    this.ringedTail = 0;
    this.clearShadow();
    this.sqHead = 0;
    this.cqState[0] = 0;
    this.cqState[1] = 1;
    this.cqUnrung = 0;
  }

  /**
   * Gives up on an outstanding command (it timed out): its owner is told now, by the
   * caller; the CID stays held, so that a late completion cannot be taken for a new
   * command's, and is freed by that completion (not reported) or by reset().
   */
  abandon(cid: number): void {
    if (this.requests.state[cid] !== RequestState.Free) this.requests.state[cid] = RequestState.Abandoned;
  }

  /**
   * Holds doorbell writes (the controller is being reset and this queue does not exist
   * on it): entries may still be posted; resume() announces them once the queue is
   * created again.
   */
  suspend(): void {
    this.suspended = true;
  }

  /** Ends suspend() and rings the doorbell for whatever was posted meanwhile. */
  resume(): void {
    this.suspended = false;
    this.ring();
  }

  /** True between suspend() and resume(). */
  get isSuspended(): boolean {
    return this.suspended;
  }

  /**
   * For `await using qp = await ctrl.createQueuePair()`: a pair made by the controller is
   * deleted there first (NvmeController.deleteQueuePair); any other pair (laid out by a
   * worker over rings another thread created) is released.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.disposer) await this.disposer(this);
    else this.release();
  }

  /** Frees the ring and PRP list memory. The controller must no longer use the queues. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.handle.close();
    this.requests.release();
    this.cq.release();
    this.sq.release();
  }
}
