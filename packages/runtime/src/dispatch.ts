// The main thread's half of the promise path: requests in, promises out, with nothing
// allocated per request but the promise itself (and its resolve/reject functions, which
// the record's executor, made once per record, keeps in the record: two stores).
//
// A request is a Pending record from a pool, found again by its tag: tag = slot +
// generation * SLOTS, so a lookup is an array index and a stale tag (a slot used again)
// does not match. Each piece of a request (a transfer larger than MDTS is split) is one
// record written straight into a worker's request ring; when that queue is full (depth -
// 1 commands in its ring or on its controller queue) the piece waits on the main thread,
// in order, and moves into the ring as completions free room.
//
// Who writes what (see ring.ts for the ring's own words):
//   request ring:    the main thread writes records as they are posted, and TAIL once
//                    per batch: the pieces posted in one run of JavaScript (one
//                    synchronous stretch, e.g. the callbacks of one drain's settled
//                    promises) are staged and published together by flush(), from a
//                    microtask the first of them queues, or earlier by the pump (a futex
//                    wake only when the worker said it sleeps); the worker HEAD.
//   completion ring: the worker writes [tag, status] records and TAIL, once per batch
//                    of completions; the main thread reads them all in one drain, settles
//                    their promises, and moves HEAD once per drain.
// The pump (run) waits for completions while anything is outstanding: it drains, yields
// once so that the callbacks of the settled promises run (and post their next requests),
// polls for a short while (spinMs) and only then sleeps (one Atomics.waitAsync on the bell
// all completion rings share, which a worker's publish rings only when its SLEEP word says
// the main thread waits). While it polls and settles, the event loop's other work waits;
// every YIELD_MS the pump lets one turn of the loop run.

import type { DmaMemory, DmaPin } from '@vfio-node/core';
import { STATUS_CANCELLED } from './protocol.js';
import type { Ring } from './ring.js';
import type { WorkerQueue } from './worker-queue.js';
import { tooManyRequests } from './errors.js';

/** Slots per generation: at most this many requests pending at once (waiting ones included). */
const SLOTS = 2 ** 20;
/** Generations before a slot's tags repeat: tags stay below 2^31 (an int32 for the slot arithmetic). */
const GENERATIONS = 2 ** 11;
/** What a request's status means, as an error (the runtime knows the controller's address and the status codes). */
export type StatusError = (status: number, p: Pending) => Error;

/** The record of one request, from submission until its last piece completes; pooled (see RequestTable). */
export class Pending {
  /** slot + generation * SLOTS: the ring records' tag. */
  tag: number;
  resolve: (value: void) => void = noop;
  reject: (err: Error) => void = noop;
  /**
   * The request's promise is new Promise(p.executor), made right after open(): this keeps
   * its resolve and reject in the record (one function per record, not per request).
   */
  readonly executor = (resolve: (value: void) => void, reject: (err: Error) => void): void => {
    this.resolve = resolve;
    this.reject = reject;
  };
  /** Pieces still outstanding (a transfer larger than MDTS is split). */
  parts = 0;
  error: Error | null = null;
  /** For error messages only (formatted when one is needed): command name, blocks, first LBA, namespace. */
  what = '';
  blocks = 0;
  slba = 0;
  nsid = 0;
  /** The caller's buffer, referenced until every piece completed (an aborted request's memory must not be handed out again before). */
  buffer: Uint8Array | null = null;
  /** A batch's buffers (readBatch, writeBatch), referenced as `buffer` is. */
  buffers: readonly Uint8Array[] | null = null;
  /** DMA memory the runtime allocated for the request (a Dataset Management range list), released when it ends. */
  own: DmaMemory | null = null;
  signal: AbortSignal | null = null;
  /**
   * Ends what keeps the buffer's memory mapped and out of reuse until the last piece
   * completes: the registration's retain (registered caller memory) from submission, and
   * the allocator's hold taken when the signal aborted the request with pieces on the device.
   */
  holds: (() => void) | null = null;
  /** The allocator's pin on `buffer` (memory from allocBuffer) from submission to the last piece: a release meanwhile does not let its range be reused. */
  pin: DmaPin | null = null;
  /** The promise settled early (its signal aborted); the pieces still count down. */
  settled = false;
  /** In use (between open and end). */
  live = false;
  /** Pieces on each worker queue (by index): waiting on the main thread, in its request ring, or on its controller queue. */
  readonly onQueue: Int32Array;

  constructor(slot: number, queues: number) {
    this.tag = slot;
    this.onQueue = new Int32Array(queues);
  }
}

function noop(): void {}

/**
 * How long the pump may keep the event loop's other work waiting while it polls and
 * settles (ms): then it lets one turn of the loop run (setImmediate) and goes on.
 */
const YIELD_MS = 1;

/** Looks at the completion rings per polling turn of the pump, between which queued microtasks run. */
const POLL_LOOKS = 64;
/** Polling turns of the idle pump per read of the clock (the end of its spin) and per turn of the event loop. */
const CLOCK_TURNS = 16;

/** A promise that settles in the event loop's next check phase, after its timers and I/O callbacks. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A settled promise: then() on it runs a function as a microtask. */
const resolved = Promise.resolve();


/** What the table calls back into the runtime for. */
export interface RequestHooks {
  /** The error for a piece that completed with a non-zero status (not STATUS_CANCELLED). */
  statusError: StatusError;
  /** A piece was cancelled by its worker before it was posted (its signal aborted). */
  cancelled(): void;
  /** The request ended: stop watching its signal. */
  unwatch(p: Pending): void;
  /** The request ended: its buffer's allocation may be reused once released (DmaAllocator.unpin). */
  unpin(pin: DmaPin): void;
}

/** Pending requests, the pieces waiting for room, and the completion pump, for a set of worker queues. */
export class RequestTable {
  /** Pieces waiting on the main thread, in request rings or on the controllers' queues. */
  outstanding = 0;
  /** How long the pump polls the completion rings before it sleeps (ms; 0: sleep at once). */
  spinMs: number;
  private readonly slots: Pending[] = [];
  private readonly free: number[] = [];
  private rr = 0;
  private pumping = false;
  /** A flush() is queued (a microtask) for the pieces staged since the last one. */
  private flushQueued = false;
  /** The pump is waiting for the callbacks of a drain to run, and flushes when it resumes: no microtask needed. */
  private pumpFlushes = false;
  /** flush, bound once: what the microtask runs. */
  private readonly flushTask = (): void => this.flush();
  private active = 0;
  /** The completion rings (the queues' cpl, taken when the pump first sleeps: the queues are all there by then). */
  private ringList: Ring[] | null = null;

  /**
   * The table for these worker queues (the array may still grow while the runtime opens).
   * Their completion rings must share one bell (WorkerQueue's completionBell), on which the pump sleeps.
   */
  constructor(
    private readonly queues: readonly WorkerQueue[],
    private readonly hooks: RequestHooks,
    spinMs = 0,
    /** How long the pump may keep the event loop's other work waiting (ms; tests). */
    private readonly yieldMs = YIELD_MS,
  ) {
    this.spinMs = spinMs;
  }

  private get rings(): Ring[] {
    if (this.ringList === null || this.ringList.length !== this.queues.length) this.ringList = this.queues.map((q) => q.cpl);
    return this.ringList;
  }

  /** Requests pending (between open and end). */
  get pending(): number {
    return this.active;
  }

  /** The request with this tag, if it is still pending. */
  lookup(tag: number): Pending | undefined {
    const p = this.slots[tag & (SLOTS - 1)];
    return p !== undefined && p.live && p.tag === tag ? p : undefined;
  }

  /** Every pending request (for close() and the abort statistics: not the hot path). */
  *live(): IterableIterator<Pending> {
    for (const p of this.slots) if (p.live) yield p;
  }

  /**
   * A new request of `parts` pieces; make its promise at once with new Promise(p.executor).
   * Fill in what error messages need, then post() each piece.
   * @throws ERR_INVALID_ARG when SLOTS requests are pending already
   */
  open(parts: number, what: string, blocks: number, slba: number, nsid: number): Pending {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.slots.length === SLOTS) throw tooManyRequests(SLOTS);
      slot = this.slots.length;
      this.slots.push(new Pending(slot, this.queues.length));
    }
    const p = this.slots[slot]!;
    p.live = true;
    this.active++;
    p.parts = parts;
    p.error = null;
    p.what = what;
    p.blocks = blocks;
    p.slba = slba;
    p.nsid = nsid;
    p.settled = false;
    return p;
  }

  /** The live worker queue next in turn (round robin); the caller checked that one is alive. */
  nextQueue(): WorkerQueue {
    const queues = this.queues;
    let q = queues[this.rr++ % queues.length]!;
    while (q.dead) q = queues[this.rr++ % queues.length]!;
    return q;
  }

  /**
   * One piece of p: written into q's request ring now (staged: published with the rest of
   * this batch by flush()), or queued behind the pieces waiting for room there.
   */
  post(q: WorkerQueue, p: Pending, opcode: number, nsid: number, slba: number, nlb: number, iova: number, length: number, flags: number): void {
    this.outstanding++;
    p.onQueue[q.index]!++;
    // Back-pressure: a queue holds depth - 1 commands; the rest wait here, in order.
    if (q.waiting.length === 0 && q.inflight < q.depth - 1) {
      const ring = q.req;
      const at = ring.reserve(q.staged);
      if (at >= 0) {
        const d = ring.data;
        d[at] = opcode;
        d[at + 1] = nsid;
        d[at + 2] = slba;
        d[at + 3] = nlb;
        d[at + 4] = iova;
        d[at + 5] = length;
        d[at + 6] = p.tag;
        d[at + 7] = flags;
        this.staged(q);
        if (!this.pumping) void this.run();
        return;
      }
    }
    q.waiting.push({ record: [opcode, nsid, slba, nlb, iova, length, p.tag, flags], tag: p.tag });
    if (!this.pumping) void this.run();
  }

  /** A record was written at q.req.reserve(q.staged): count it, and make sure a flush() follows. */
  private staged(q: WorkerQueue): void {
    q.staged++;
    q.inflight++;
    if (!this.flushQueued && !this.pumpFlushes) {
      this.flushQueued = true;
      // Not queueMicrotask: Node's makes an AsyncResource and a bound function each time.
      void resolved.then(this.flushTask);
    }
  }

  /** Publishes the staged records of every queue: one TAIL store (and at most one wake) per queue. */
  flush(): void {
    this.flushQueued = false;
    for (const q of this.queues) {
      const n = q.staged;
      if (n === 0) continue;
      q.staged = 0;
      q.req.publish(n);
    }
  }

  /** Takes every completion q published: settles what ended, then moves waiting pieces into the room freed. Returns the records taken. */
  drain(q: WorkerQueue): number {
    const ring = q.cpl;
    const n = ring.available();
    if (n === 0) return 0;
    const d = ring.data;
    const index = q.index;
    const slots = this.slots;
    let done = 0;
    for (let k = 0; k < n; k++) {
      const at = ring.at(k);
      const tag = d[at]!;
      const p = slots[tag & (SLOTS - 1)];
      // Not pending (a stale tag), or no piece on this queue: failed already (its worker died, the runtime closed).
      if (p === undefined || !p.live || p.tag !== tag || p.onQueue[index] === 0) continue;
      p.onQueue[index]!--;
      done++;
      this.finish(p, d[at + 1]!);
    }
    ring.consume(n);
    q.inflight = q.inflight > done ? q.inflight - done : 0;
    this.outstanding -= done;
    if (q.waiting.length !== 0 && !q.dead) this.refill(q);
    return n;
  }

  /** Moves waiting pieces into q's request ring while there is room. */
  refill(q: WorkerQueue): void {
    const w = q.waiting;
    const ring = q.req;
    const d = ring.data;
    let i = 0;
    while (i < w.length && q.inflight < q.depth - 1) {
      const at = ring.reserve(q.staged);
      if (at < 0) break;
      const record = w[i]!.record;
      for (let j = 0; j < record.length; j++) d[at + j] = record[j]!;
      this.staged(q);
      i++;
    }
    if (i === w.length) w.length = 0;
    else if (i) w.splice(0, i);
  }

  /** A piece of p ended with status (0: success). */
  finish(p: Pending, status: number): void {
    if (status === STATUS_CANCELLED) this.hooks.cancelled();
    else if (status !== 0 && !p.error && !p.settled) p.error = this.hooks.statusError(status, p);
    if (--p.parts === 0) this.end(p);
  }

  /** The request's last piece is done: settle its promise (unless its signal did), let go of its buffer and memory, free its slot. */
  end(p: Pending): void {
    p.holds?.();
    p.holds = null;
    if (p.pin !== null) {
      this.hooks.unpin(p.pin);
      p.pin = null;
    }
    p.own?.release();
    p.own = null;
    if (p.signal) this.hooks.unwatch(p);
    p.signal = null;
    p.buffer = null;
    p.buffers = null;
    p.live = false;
    this.active--;
    const resolve = p.resolve;
    const reject = p.reject;
    p.resolve = noop;
    p.reject = noop;
    // The next request in this slot gets another tag: a late record with this one does not match it.
    p.tag = (p.tag + SLOTS) % (SLOTS * GENERATIONS);
    this.free.push(p.tag & (SLOTS - 1));
    if (p.settled) return;
    p.settled = true;
    if (p.error) reject(p.error);
    else resolve();
  }

  /** Fails every request with pieces on q (err()): its worker died. The pieces waiting for q go too. */
  failQueue(q: WorkerQueue, err: () => Error): void {
    const i = q.index;
    for (const p of this.slots) {
      const n = p.live ? p.onQueue[i]! : 0;
      if (n === 0) continue;
      p.onQueue[i] = 0;
      this.outstanding -= n;
      if (!p.error) p.error = err();
      p.parts -= n;
      if (p.parts === 0) this.end(p);
    }
    q.waiting.length = 0;
    q.inflight = 0;
    // Records staged for it go nowhere (their requests failed above).
    q.staged = 0;
    this.wake();
  }

  /** Wakes the pump if it sleeps (something it waits for changed on this thread). */
  wake(): void {
    this.queues[0]?.cpl.wake();
  }

  /**
   * The pump: reaps the completion rings while anything is outstanding (see the top of
   * this file). One runs at a time; post() starts it.
   */
  private async run(): Promise<void> {
    this.pumping = true;
    const queues = this.queues;
    /** Turns since the pump last found completions. */
    let idle = 0;
    /** Until when an idle pump polls before it sleeps (performance.now() ms). */
    let spinUntil = 0;
    /** When the pump next lets the event loop run a turn (timers, sockets) while it keeps polling. */
    let yieldAt = performance.now() + this.yieldMs;
    try {
      while (this.outstanding > 0) {
        let got = 0;
        // A dead worker's ring too: what it published before it died is real (the rest was failed, and is skipped).
        for (const q of queues) got += this.drain(q);
        if (got !== 0) {
          idle = 0;
          // Let the callbacks of what just settled run (they often post the next requests)
          // before looking again, and hand what they posted over in one batch.
          this.pumpFlushes = true;
          await undefined;
          this.pumpFlushes = false;
          this.flush();
        } else {
          if (idle === 0) spinUntil = performance.now() + this.spinMs;
          // The spin is over (the clock read every CLOCK_TURNS turns): sleep, which is itself an event-loop turn.
          if (this.spinMs === 0 || (++idle % CLOCK_TURNS === 0 && performance.now() >= spinUntil)) {
            if (this.outstanding > 0) await this.sleep();
            idle = 0;
            yieldAt = performance.now() + this.yieldMs;
            continue;
          }
          // Poll a little, then let the microtasks queued meanwhile run: the code awaiting
          // what just settled posts its next requests there, and must not wait for the spin.
          // Every CLOCK_TURNS turns, a turn of the event loop too: requests that come from
          // I/O (a socket's data, a timer) must not wait for the spin either.
          if (this.poll()) continue;
          if (idle % CLOCK_TURNS !== 0) {
            await undefined;
            continue;
          }
          await nextTurn();
          yieldAt = performance.now() + this.yieldMs;
          continue;
        }
        // Polling and settling run as microtasks, which keep the event loop's own work
        // (timers, sockets, other callbacks) waiting: give it a turn every YIELD_MS.
        if (performance.now() >= yieldAt) {
          await nextTurn();
          yieldAt = performance.now() + this.yieldMs;
        }
      }
    } finally {
      this.pumping = false;
      this.pumpFlushes = false;
    }
  }

  /** Looks at the completion rings up to POLL_LOOKS times; true as soon as one has records. */
  private poll(): boolean {
    const queues = this.queues;
    for (let k = 0; k < POLL_LOOKS; k++) {
      for (const q of queues) if (q.cpl.length !== 0) return true;
    }
    return false;
  }

  /**
   * Sleeps until a worker publishes completions, or wake(). Every worker's completion
   * ring rings the same bell (the runtime creates them so), so that one wait covers all.
   */
  private async sleep(): Promise<void> {
    const first = this.queues[0]!.cpl;
    const w = first.waitForDataAsync(first.seq, Infinity, this.rings);
    if (w) await w;
    first.awake();
  }
}
