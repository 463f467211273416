// Promises on top of a queue pair: the convenient API (namespace.read, admin commands)
// sits here, the hot path (queue.ts) stays free of promises and closures.
//
// A request may need several commands (a transfer larger than MDTS is split into
// chunks) and may have to wait for free command identifiers: requests wait in a FIFO
// backlog, and every completion makes room for the next chunk. Entries posted in one
// turn of the event loop go to the controller with one doorbell write (a microtask
// rings once). Completions are reaped by polling (setImmediate while commands are
// outstanding) or from the CQ's MSI-X interrupt.

import { VfioError, type DmaPin, type Vector } from '@vfio-node/core';
import { NvmOpcode } from './commands.js';
import { adminCommandTimeout, noVector } from './errors.js';
import type { QueuePair } from './queue.js';
import { NO_TIMEOUT_TAG, RequestState } from './request.js';
import { NvmeStatusError } from './status.js';

/** One request: a raw command (fill) or an I/O of `total` blocks split into chunks of at most `maxBlocks`. */
export interface Pending {
  /** Writes a raw command into the SQ (admin commands); null for I/O. */
  fill: ((u32: Uint32Array, sqe: number, cid: number) => void) | null;
  /** The command's name, for errors ("Identify (CNS 01h)"). */
  name: string;
  opcode: number;
  nsid: number;
  slba: number;
  /** Blocks in all (I/O); 1 for a raw command. */
  total: number;
  /** Blocks submitted so far. */
  next: number;
  maxBlocks: number;
  /** IOVA of the data for block slba (0 and blockSize 0 for commands without data). */
  iova: number;
  blockSize: number;
  cdw12: number;
  sgl: boolean;
  inflight: number;
  /** Does not keep the poller running (Asynchronous Event Request). */
  background: boolean;
  error: Error | null;
  settled: boolean;
  dw0: number;
  /** Keep DW1 of the completion too (passthrough; other commands leave it reserved). */
  wantDw1: boolean;
  dw1: number;
  /** Called with the completion's DW0 when the request succeeds. */
  resolve: (dw0: number) => void;
  /** Called with the error when the request fails. */
  reject: (err: Error) => void;
  /** The caller's AbortSignal (see CommandQueue.run), or null. */
  signal: AbortSignal | null;
  /** The caller's data buffer (DMA memory), kept out of reuse by holdMemory while an aborted command of this request is still on the device. */
  buffer: Uint8Array | null;
  /** Driver-owned DMA memory the command reads besides (a PRP list, Dataset Management ranges), held likewise. */
  scratch: Uint8Array | null;
  /** Aborted while a command of it was on the device: the promise is settled, the CIDs are not free yet. */
  aborted: boolean;
  /** Ends the hold on buffer (see CommandQueue.holdMemory). */
  unhold: (() => void) | null;
  /** buffer's allocation kept out of reuse from run() until the request's last command ends (see CommandQueue.pins). */
  pin: DmaPin | null;
}

/** A blank Pending request (every field at its neutral value), for the caller to fill. */
export function newPending(): Pending {
  return {
    fill: null,
    name: '',
    opcode: 0,
    nsid: 0,
    slba: 0,
    total: 1,
    next: 0,
    maxBlocks: 1,
    iova: 0,
    blockSize: 0,
    cdw12: 0,
    sgl: false,
    inflight: 0,
    background: false,
    error: null,
    settled: false,
    dw0: 0,
    wantDw1: false,
    dw1: 0,
    resolve: noop,
    reject: noop,
    signal: null,
    buffer: null,
    scratch: null,
    aborted: false,
    unhold: null,
    pin: null,
  };
}

function noop(): void {}

/** Polling rounds between two reads of the clock (a clock read costs more than a round). */
const ROUNDS_PER_CLOCK_CHECK = 64;

const NVM_NAMES: Record<number, string> = {
  [NvmOpcode.Read]: 'Read',
  [NvmOpcode.Write]: 'Write',
  [NvmOpcode.Compare]: 'Compare',
  [NvmOpcode.WriteZeroes]: 'Write Zeroes',
  [NvmOpcode.Flush]: 'Flush',
  [NvmOpcode.DatasetManagement]: 'Dataset Management',
};

/**
 * Promises on top of a queue pair: requests wait for free command identifiers in a FIFO backlog, transfers
 * larger than MDTS are split, entries posted in one turn of the event loop share one doorbell write, completions
 * are reaped by polling or from the CQ's MSI-X vector.
 */
export class CommandQueue {
  /** The request owning each CID. */
  private readonly owners: Array<Pending | null>;
  private backlog: Array<Pending | undefined> = [];
  private backlogHead = 0;
  private foreground = 0;
  private ringScheduled = false;
  /** A polling chain is running (a round queued as a microtask, or a setImmediate). */
  private polling = false;
  private dead: (() => Error) | null = null;
  /** hold(): no more reaping (the controller is closing). */
  private held = false;
  private unsubscribe: (() => void) | null = null;
  /**
   * Requests aborted (AbortSignal) while commands of theirs were on the device: their
   * promises are settled, their CIDs and buffers not free until those commands complete
   * or the controller is reset. The poller keeps running for them.
   */
  private readonly aborted = new Set<Pending>();
  /**
   * The signals of unsettled requests: one 'abort' listener per signal, however many
   * requests share it (no listener per request, no MaxListeners warning at a deep queue).
   */
  private readonly signals = new Map<AbortSignal, { requests: Set<Pending>; listener: () => void }>();
  /** Requests whose buffer overlaps one of `aborted`'s: they wait until it is free. */
  private parked: Pending[] = [];
  /**
   * Sends an NVMe Abort (Base 2.0 §5.1) for command cid of this queue: set by the
   * controller; null sends none (the command then ends by itself or by the watchdog).
   */
  sendAbort: ((cid: number) => void) | null = null;
  /** Keeps DMA memory out of reuse until the returned function runs (DmaAllocator.hold); set by the controller. */
  holdMemory: ((view: Uint8Array) => () => void) | null = null;
  /**
   * Keeps the allocation of each request's buffer out of reuse while a command may still
   * reach it (DmaAllocator.pin/unpin): a caller that releases the buffer before the
   * request ends must not have its range handed to the next alloc() while the controller
   * still writes it. Set by the controller; null pins nothing (queues over plain memory).
   */
  pins: {
    /** Pins the allocation view lies in (null: not allocator memory). */
    pin(view: Uint8Array): DmaPin | null;
    /** Ends one pin. */
    unpin(pin: DmaPin): void;
  } | null = null;
  /**
   * What AbortSignals did here: requests rejected before any command of theirs reached
   * the device (already aborted, or taken out of the software queue); requests aborted
   * with commands on the device; Abort commands asked for them; and such requests whose
   * commands have since ended (completed, or failed by a reset), freeing their buffers.
   */
  readonly abortStats = { beforeSubmit: 0, inFlight: 0, abortsSent: 0, retired: 0 };
  private readonly ringTask = (): void => {
    this.ringScheduled = false;
    try {
      this.qp.ring();
    } catch (err) {
      // The BAR is gone (unmapped by close, or the device removed): nothing posted will complete.
      this.failAll(() => err as Error);
      return;
    }
    if (this.foreground > 0) this.startPolling();
  };

  /**
   * Polling: each round reaps what is posted and returns to the microtask queue, so the
   * promise continuations (which often submit the next command) run between rounds
   * without a trip through the event loop. After a budget of rounds the event loop gets
   * its turn (setImmediate), so timers and I/O of the rest of the program wait at most
   * that long. A turn of the event loop costs microseconds on hardware but more than a
   * millisecond under an emulator, so the budget adapts: at least pollBudgetMs, and at
   * least 50 times what the last turns cost (yielding then takes under 2% of the time),
   * at most maxPollBudgetMs.
   */
  pollBudgetMs = 2;
  maxPollBudgetMs = 50;
  private roundsLeft = 0;
  private budgetEnd = 0;
  private yieldedAt = 0;
  private turnCost = 0;
  private readonly pollTask = (): void => {
    const now = performance.now();
    this.turnCost = this.turnCost * 0.75 + (now - this.yieldedAt) * 0.25;
    this.budgetEnd = now + this.budget();
    this.roundsLeft = ROUNDS_PER_CLOCK_CHECK;
    this.pollRound();
  };
  private budget(): number {
    return Math.min(this.maxPollBudgetMs, Math.max(this.pollBudgetMs, 50 * this.turnCost));
  }
  private readonly pollRound = (): void => {
    if (this.dead || this.held) {
      this.polling = false;
      return;
    }
    try {
      this.drain();
    } catch (err) {
      this.polling = false;
      this.failAll(() => err as Error);
      return;
    }
    if (this.qp.completion !== 'poll') {
      this.polling = false; // interrupt mode: the next interrupt calls us
      return;
    }
    if (this.foreground === 0 && this.aborted.size === 0) {
      this.polling = false;
      return;
    }
    if (--this.roundsLeft > 0) {
      queueMicrotask(this.pollRound);
      return;
    }
    this.roundsLeft = ROUNDS_PER_CLOCK_CHECK;
    const now = performance.now();
    if (now < this.budgetEnd) {
      queueMicrotask(this.pollRound);
    } else {
      this.yieldedAt = now;
      setImmediate(this.pollTask);
    }
  };

  constructor(
    readonly qp: QueuePair,
    private readonly device: string,
  ) {
    this.owners = new Array(qp.requests.ids.count).fill(null);
    qp.onComplete = (cid, status, dw0, tag) => this.complete(cid, status, dw0, tag);
    if (qp.completion === 'interrupt') {
      const vector = qp.vector;
      if (!vector) throw noVector(this.device, `queue pair ${qp.qid} in interrupt mode`);
      this.subscribe(vector);
    }
  }

  private subscribe(vector: Vector): void {
    const qp = this.qp;
    this.unsubscribe = vector.onInterrupt((count) => {
      qp.interrupted(vector.vector, count); // traced when tracing: which CQ it woke, what it holds
      this.lateAt = -1;
      this.pollRound();
    });
  }

  /**
   * Interrupt mode with a safety net: how often (ms) a queue switched by listenTo looks at
   * its CQ head. An entry that stays there unannounced for two looks means the vector does
   * not reach us (QEMU 7.2 ties vector 0 to the admin CQ only if MSI-X was on at CC.EN = 1),
   * and the queue goes back to polling for good (onInterruptsLost tells).
   */
  safetyPollMs = 200;
  /** Told once when listenTo's queue gives up on its vector and polls again. */
  onInterruptsLost: (() => void) | null = null;
  private safetyTimer: ReturnType<typeof setInterval> | null = null;
  /** The safety poll's last look saw an unannounced entry (-1: it did not). */
  private lateAt = -1;
  private readonly safetyPoll = (): void => {
    if (this.dead || this.held || this.qp.completion !== 'interrupt') return;
    if (!this.qp.hasCompletion()) {
      this.lateAt = -1;
      return;
    }
    if (this.lateAt < 0) {
      this.lateAt = 0; // give its interrupt one more period
      return;
    }
    this.stopListening();
    this.qp.listenTo(null);
    this.onInterruptsLost?.();
    this.pollRound();
    if (this.foreground > 0 || this.aborted.size > 0) this.startPolling();
  };

  /**
   * Switches a polled queue (the admin queue, once MSI-X is enabled) to vector's interrupts,
   * reaping what is already posted, with a slow safety poll (safetyPollMs) that falls back
   * to polling when an entry waits unannounced.
   */
  listenTo(vector: Vector): void {
    if (this.qp.completion === 'interrupt') return;
    this.qp.listenTo(vector);
    vector.waitSync(0); // forget what it counted while we polled: those entries are reaped already
    this.subscribe(vector);
    this.safetyTimer = setInterval(this.safetyPoll, this.safetyPollMs);
    this.safetyTimer.unref();
    this.pollRound();
  }

  private stopListening(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.safetyTimer !== null) clearInterval(this.safetyTimer);
    this.safetyTimer = null;
  }

  /** Requests not yet completed (including those waiting for a CID). */
  get pending(): number {
    return this.foreground;
  }

  /** Requests aborted while on the device whose commands have not ended yet (their buffers are still the controller's). */
  get abortedInFlight(): number {
    return this.aborted.size;
  }

  /**
   * Queues a request; resolves with DW0 of its (last) completion, rejects with an
   * NvmeStatusError or a VfioError.
   *
   * With p.signal: already aborted, it rejects with signal.reason and submits nothing.
   * Aborted later, it rejects with signal.reason at once: a request still in the software
   * queue is taken out; for each of its commands on the device an NVMe Abort is sent
   * (sendAbort) and its CID stays held until the command really ends (its completion, or
   * a controller reset: the watchdog resets the controller when it outlives twice the
   * timeout), with p.buffer held out of reuse (holdMemory) until then. A later request
   * whose buffer overlaps it waits for that. The abort listener is removed when the
   * request settles.
   */
  run(p: Pending): Promise<number> {
    if (this.dead) return Promise.reject(this.dead());
    const signal = p.signal;
    if (signal !== null && signal.aborted) {
      this.abortStats.beforeSubmit++;
      return Promise.reject(signal.reason);
    }
    const promise = new Promise<number>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    if (p.buffer !== null && this.pins !== null) p.pin = this.pins.pin(p.buffer);
    if (!p.background) this.foreground++;
    if (signal !== null) {
      let s = this.signals.get(signal);
      if (s === undefined) {
        const requests = new Set<Pending>();
        const listener = () => {
          this.signals.delete(signal);
          for (const r of requests) this.abortRequest(r);
        };
        s = { requests, listener };
        this.signals.set(signal, s);
        signal.addEventListener('abort', listener, { once: true });
      }
      s.requests.add(p);
    }
    if (this.aborted.size > 0 && this.overlapsAborted(p)) {
      this.parked.push(p);
      if (this.qp.completion === 'poll') this.startPolling();
      return promise;
    }
    this.backlog.push(p);
    this.pump();
    return promise;
  }

  /** The signal of request p fired (see run). */
  private abortRequest(p: Pending): void {
    if (p.settled) return;
    const reason: unknown = p.signal!.reason;
    p.next = p.total; // no further chunks
    if (p.inflight > 0) {
      // On the device (or posted for the next doorbell, which an Abort follows): ask the
      // controller to abort each command; the CIDs stay held until they end.
      p.aborted = true;
      this.aborted.add(p);
      this.abortStats.inFlight++;
      const hold = this.holdMemory;
      if (hold !== null && (p.buffer !== null || p.scratch !== null)) {
        const a = p.buffer !== null ? hold(p.buffer) : null;
        const b = p.scratch !== null ? hold(p.scratch) : null;
        p.unhold = () => {
          a?.();
          b?.();
        };
      }
      const state = this.qp.requests.state;
      for (let cid = 0; cid < this.owners.length; cid++) {
        // AbortSent already: the watchdog sent one (the command outlived the timeout).
        if (this.owners[cid] !== p || state[cid] !== RequestState.Outstanding) continue;
        state[cid] = RequestState.AbortSent;
        this.abortStats.abortsSent++;
        this.sendAbort?.(cid);
      }
    } else {
      // Only in the software queue (the backlog or parked): pump() skips it once settled.
      this.abortStats.beforeSubmit++;
      this.unpin(p);
    }
    p.settled = true;
    if (!p.background) this.foreground--;
    this.forgetSignal(p);
    p.reject(reason as Error);
  }

  /** p settles: its signal no longer concerns it (the listener goes with the signal's last request). */
  private forgetSignal(p: Pending): void {
    const signal = p.signal!;
    const s = this.signals.get(signal);
    if (s === undefined) return;
    s.requests.delete(p);
    if (s.requests.size > 0) return;
    this.signals.delete(signal);
    signal.removeEventListener('abort', s.listener);
  }

  /** The last command of an aborted request ended: its CIDs and buffer are free. */
  private retire(p: Pending): void {
    p.aborted = false;
    this.aborted.delete(p);
    this.abortStats.retired++;
    p.unhold?.();
    p.unhold = null;
    this.unpin(p);
    p.buffer = null;
    p.scratch = null;
    if (this.parked.length === 0) return;
    const waiting = this.parked;
    this.parked = [];
    for (const q of waiting) {
      if (q.settled) continue;
      if (this.overlapsAborted(q)) this.parked.push(q);
      else this.backlog.push(q);
    }
    this.pump();
  }

  /** Whether p's buffer overlaps the buffer of a request aborted on the device. */
  private overlapsAborted(p: Pending): boolean {
    const b = p.buffer;
    if (b === null) return false;
    for (const a of this.aborted) {
      const o = a.buffer;
      if (o !== null && o.buffer === b.buffer && o.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < o.byteOffset + o.byteLength) return true;
    }
    return false;
  }

  /**
   * Runs a raw command synchronously: submits, rings, and spins on the CQ until it
   * completes or timeoutMs passes (for close() and process exit, which cannot wait).
   */
  runSync(fill: (u32: Uint32Array, sqe: number, cid: number) => void, name: string, timeoutMs: number): number {
    if (this.dead) throw this.dead();
    let done = false;
    let result = 0;
    let failure: Error | null = null;
    const p = newPending();
    p.fill = fill;
    p.name = name;
    p.resolve = (dw0) => {
      done = true;
      result = dw0;
    };
    p.reject = (err) => {
      done = true;
      failure = err;
    };
    this.foreground++;
    this.backlog.push(p);
    this.pump();
    this.qp.ring();
    const deadline = Date.now() + timeoutMs;
    while (!done) {
      this.drain();
      if (!done && Date.now() > deadline) {
        throw adminCommandTimeout(this.device, name, timeoutMs);
      }
    }
    if (failure) throw failure;
    return result;
  }

  /** Reaps every posted completion and submits what the freed CIDs allow. */
  drain(): void {
    if (this.held) return;
    while (this.qp.poll() > 0) {
      // keep reaping: completions may have arrived while we handled the last batch
    }
    if (this.backlogHead < this.backlog.length) this.pump();
  }

  /**
   * Fails the requests the controller holds (a command of theirs was announced to it)
   * with err(cid) and empties the rings, as a controller reset requires: call it only once
   * the controller has stopped (disabled), or a late transfer could reach a buffer its
   * caller has reused. Requests it never saw stay: those waiting for a CID, and those
   * posted but not yet rung (they move to the start of the SQ and go out when the queue
   * is resumed).
   */
  failInflight(err: (cid: number) => Error): void {
    this.qp.reset((cid) => this.failCid(cid, err), true);
  }

  /** Fails every outstanding and waiting request with err() and forgets the queue contents. */
  failAll(err: () => Error): void {
    this.qp.reset((cid) => this.failCid(cid, err));
    for (let i = this.backlogHead; i < this.backlog.length; i++) {
      const p = this.backlog[i];
      if (!p) continue;
      if (!p.error) p.error = err();
      p.next = p.total;
      if (p.inflight === 0) this.settle(p);
    }
    this.backlog = [];
    this.backlogHead = 0;
    for (const p of this.parked.splice(0)) {
      if (!p.error) p.error = err();
      this.settle(p);
    }
  }

  /** Fails the request owning cid with err() (its command was given up: QueuePair.abandon). */
  failCommand(cid: number, err: () => Error): void {
    this.failCid(cid, err);
  }

  private failCid(cid: number, err: (cid: number) => Error): void {
    const p = this.owners[cid];
    this.owners[cid] = null;
    if (!p) return;
    p.inflight--;
    if (!p.error) p.error = err(cid);
    p.next = p.total; // its remaining chunks are not submitted
    if (p.inflight === 0) {
      if (p.aborted) this.retire(p);
      this.settle(p);
    }
  }

  /**
   * From now on every request fails at once with err() (the device is gone, or the
   * controller closed); the polling chain stops at its next round. The first reason stays.
   */
  kill(err: () => Error): void {
    if (!this.dead) this.dead = err;
    this.failAll(err);
  }

  /**
   * Stops reaping completions (the controller is closing: what is pending then fails with
   * the error kill() gives once DMA is off, not with whatever the queue deletion posts).
   */
  hold(): void {
    this.held = true;
  }

  /** Stops listening to the interrupt vector. */
  close(): void {
    this.stopListening();
  }

  private startPolling(): void {
    if (this.polling || this.qp.completion !== 'poll') return;
    this.polling = true;
    this.roundsLeft = ROUNDS_PER_CLOCK_CHECK;
    // A new polling chain gets no fresh budget: only a real turn of the event loop renews
    // it (pollTask). Otherwise a program whose commands all complete in one round, then
    // submits again from the continuations, would restart the chain forever and starve
    // its timers and I/O (seen in the lab: a setInterval never fired under 64 looping reads).
    const now = performance.now();
    if (now < this.budgetEnd) queueMicrotask(this.pollRound);
    else {
      this.yieldedAt = now;
      setImmediate(this.pollTask);
    }
  }

  private scheduleRing(): void {
    if (this.ringScheduled) return;
    this.ringScheduled = true;
    queueMicrotask(this.ringTask);
  }

  /** Submits waiting requests, chunk by chunk, while CIDs are free. */
  private pump(): void {
    const qp = this.qp;
    let posted = false;
    while (this.backlogHead < this.backlog.length) {
      const p = this.backlog[this.backlogHead]!;
      if (p.settled) {
        // aborted (AbortSignal) while it waited here
        this.backlog[this.backlogHead++] = undefined;
        continue;
      }
      while (p.next < p.total && qp.canSubmit) {
        let cid: number;
        try {
          if (p.fill !== null) {
            cid = qp.submitCommand(p.fill, p.background ? NO_TIMEOUT_TAG : 0);
            p.next = p.total;
          } else {
            const n = Math.min(p.maxBlocks, p.total - p.next);
            const slba = p.slba + p.next;
            const length = n * p.blockSize;
            cid = qp.submitIo(p.opcode, p.nsid, slba, n, p.iova + p.next * p.blockSize, length, slba, p.cdw12, p.sgl);
            p.next += n;
          }
        } catch (err) {
          p.error = err as Error;
          p.next = p.total;
          break;
        }
        this.owners[cid] = p;
        p.inflight++;
        posted = true;
      }
      if (p.next < p.total) break; // out of CIDs: wait for completions
      this.backlog[this.backlogHead++] = undefined;
      if (p.inflight === 0) this.settle(p); // failed before anything was submitted
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog.length = 0;
      this.backlogHead = 0;
    }
    if (posted) this.scheduleRing();
  }

  private complete(cid: number, status: number, dw0: number, tag: number): void {
    const p = this.owners[cid];
    if (!p) return;
    this.owners[cid] = null;
    p.inflight--;
    p.dw0 = dw0;
    if (p.wantDw1) p.dw1 = this.qp.reapedDw1();
    if (status !== 0 && p.error === null) {
      p.error = new NvmeStatusError(status, describe(p, tag), this.device, p.fill === null ? { nsid: p.nsid, lba: tag, qid: this.qp.qid, cid } : { qid: this.qp.qid, cid });
      p.next = p.total; // submit no further chunks
      // Chunks already waiting in the backlog are dropped with the request.
    }
    if (p.inflight === 0) {
      if (p.aborted) this.retire(p);
      if (p.next >= p.total) this.settle(p);
    }
  }

  private settle(p: Pending): void {
    if (p.settled) return;
    p.settled = true;
    if (p.inflight === 0) this.unpin(p);
    if (p.signal !== null) this.forgetSignal(p);
    if (!p.background) this.foreground--;
    if (p.error) p.reject(p.error);
    else p.resolve(p.dw0);
  }

  /** p's last command ended (or none was submitted): its buffer's range may be reused once released. */
  private unpin(p: Pending): void {
    const pin = p.pin;
    if (pin === null) return;
    p.pin = null;
    this.pins?.unpin(pin);
  }
}

function describe(p: Pending, chunkLba: number): string {
  if (p.fill !== null) return p.name;
  return `${NVM_NAMES[p.opcode] ?? `opcode ${p.opcode}`} of nsid ${p.nsid} at LBA ${chunkLba}`;
}
