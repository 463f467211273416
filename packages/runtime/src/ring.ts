// A single-producer, single-consumer ring of fixed-size records in a SharedArrayBuffer:
// how the main thread hands I/O requests to the worker that owns a queue pair, and how
// the worker hands completions back. One thread pushes, one thread pops; the head and
// tail are published with Atomics (sequentially consistent), so the record words written
// before a tail store are visible to the thread that loads that tail. Records are
// Float64 words so that LBAs and IOVAs up to 2^53 travel exactly.
//
// Waking the consumer costs a futex system call and a thread wake-up, so a publish does
// it only when the consumer said it is going to sleep. SEQ and SLEEP are the ring's
// "bell": its own header words, or two words shared by several rings that have one
// consumer (the main thread sleeps once for all its workers' completion rings). Who
// writes which word:
//   HEAD   the consumer (consume), after it has read the records;
//   TAIL   the producer (publish), after it has written the records;
//   SLEEP  the consumer sets it to 1 before its last look at TAIL and its wait; wake()
//          (from publish when SLEEP is 1, or directly) sets it back to 0, bumps SEQ, notifies;
//          the consumer clears it when it stops waiting (woken or timed out);
//   SEQ    bumped by whoever wakes the consumer; the consumer waits on it.
// All four are sequentially consistent Atomics, so of "producer: TAIL += n, then read
// SLEEP" and "consumer: SLEEP = 1, then read TAIL" at least one sees the other's store:
// either the consumer finds the records, or the producer finds it asleep and wakes it.

import { waitAsync } from './wait-async.js';

const HEAD = 0;
const TAIL = 1;
/** The ring's own bell: header words 2 and 3. */
const OWN_BELL = 2;
const HEADER_WORDS = 4; // Int32 words, padded to 16 bytes
/** In a bell: bumped to wake the consumer; the consumer waits on it. */
const SEQ = 0;
/** In a bell: 1 while the consumer is (about to be) asleep on SEQ. */
const SLEEP = 1;

/** A ring's shared memory, its capacity in records and the record width in words; and the bell it shares with other rings, if any. */
export interface RingInit {
  sab: SharedArrayBuffer;
  capacity: number;
  width: number;
  /** Two Int32 words (SEQ, SLEEP) shared by rings that have one consumer (Ring.createBell()); absent: the ring's own. */
  bell?: SharedArrayBuffer;
}

/**
 * A single-producer, single-consumer ring of fixed-size records in a SharedArrayBuffer: requests to a worker and
 * completions back, published with Atomics.
 */
export class Ring {
  readonly capacity: number;
  readonly width: number;
  readonly sab: SharedArrayBuffer;
  /** The header: head, tail, and the ring's own bell words. */
  readonly ctl: Int32Array;
  /** The bell: SEQ and SLEEP (the ring's own header words, or shared). */
  readonly bell: Int32Array;
  private readonly bellSab: SharedArrayBuffer | undefined;
  private readonly words: Float64Array;
  private readonly mask: number;
  // Each side keeps its own index in a plain field (it is the only writer of that word) and
  // the last value it loaded of the other side's, which can only have moved on since: so
  // reserve() and peek() load the other side's word only when the value they have is not
  // enough, about once per batch instead of twice per record.
  /** Producer: TAIL as this side last published it. */
  private tail: number;
  /** Producer: HEAD as last loaded (the consumer's; at most what it is now). */
  private headSeen: number;
  /** Consumer: HEAD as this side last stored it. */
  private head: number;
  /** Consumer: TAIL as last loaded (the producer's; at most what it is now). */
  private tailSeen: number;

  /** Creates a ring of capacity records (a power of two) of width words each; with bell (createBell()), its wake-ups go through those shared words. */
  static create(capacity: number, width: number, bell?: SharedArrayBuffer): Ring {
    if (!Number.isInteger(capacity) || capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two >= 2, got ${capacity}`);
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`ring record width must be a positive integer, got ${width}`);
    const sab = new SharedArrayBuffer(HEADER_WORDS * 4 + capacity * width * 8);
    return new Ring({ sab, capacity, width, bell });
  }

  /** Shared bell words for rings with one consumer: pass to create(). */
  static createBell(): SharedArrayBuffer {
    return new SharedArrayBuffer(2 * 4);
  }

  /** Attaches to a ring another thread created (from its init()). */
  constructor(init: RingInit) {
    this.sab = init.sab;
    this.capacity = init.capacity;
    this.width = init.width;
    this.mask = init.capacity - 1;
    this.ctl = new Int32Array(init.sab, 0, HEADER_WORDS);
    this.bellSab = init.bell;
    this.bell = init.bell ? new Int32Array(init.bell, 0, 2) : new Int32Array(init.sab, OWN_BELL * 4, 2);
    this.words = new Float64Array(init.sab, HEADER_WORDS * 4, init.capacity * init.width);
    this.tail = this.tailSeen = Atomics.load(this.ctl, TAIL);
    this.head = this.headSeen = Atomics.load(this.ctl, HEAD);
  }

  /** What another thread needs to attach (structured-clone safe). */
  init(): RingInit {
    return this.bellSab ? { sab: this.sab, capacity: this.capacity, width: this.width, bell: this.bellSab } : { sab: this.sab, capacity: this.capacity, width: this.width };
  }

  /** Records waiting to be popped. */
  get length(): number {
    return (Atomics.load(this.ctl, TAIL) - Atomics.load(this.ctl, HEAD)) | 0;
  }

  /** Records that can be pushed before the ring is full. */
  get free(): number {
    return this.capacity - this.length;
  }

  /**
   * Producer: reserves the next record and returns the index of its first word in
   * `words` (write the record there, then publish()), or -1 when the ring is full.
   */
  reserve(k: number): number {
    const tail = this.tail;
    if (((tail + k - this.headSeen) | 0) >= this.capacity) {
      // Full as far as this side knows: see how far the consumer got.
      this.headSeen = Atomics.load(this.ctl, HEAD);
      if (((tail + k - this.headSeen) | 0) >= this.capacity) return -1;
    }
    return ((tail + k) & this.mask) * this.width;
  }

  /** Producer: makes n reserved records visible, and wakes the consumer if it sleeps in waitForData (only then). */
  publish(n: number): void {
    this.tail = (this.tail + n) | 0;
    Atomics.store(this.ctl, TAIL, this.tail);
    if (Atomics.load(this.bell, SLEEP) !== 0) this.wake();
  }

  /** Wakes the consumer if it sleeps, whether or not there are records (a message, stop, reset). */
  wake(): void {
    // SLEEP back to 0 first: the publishes that follow, until the consumer sleeps again, do not notify.
    Atomics.store(this.bell, SLEEP, 0);
    Atomics.add(this.bell, SEQ, 1);
    Atomics.notify(this.bell, SEQ);
  }

  /** Producer convenience: pushes one record; false when full. */
  push(record: ArrayLike<number>): boolean {
    const at = this.reserve(0);
    if (at < 0) return false;
    for (let i = 0; i < this.width; i++) this.words[at + i] = record[i] ?? 0;
    this.publish(1);
    return true;
  }

  /** The record storage (index with reserve()/peek() results). */
  get data(): Float64Array {
    return this.words;
  }

  /** Consumer: index of the k-th waiting record's first word, or -1 if there are not that many. */
  peek(k: number): number {
    const head = this.head;
    if (((this.tailSeen - head) | 0) <= k) {
      // Not that many as far as this side knows: see how far the producer got.
      this.tailSeen = Atomics.load(this.ctl, TAIL);
      if (((this.tailSeen - head) | 0) <= k) return -1;
    }
    return ((head + k) & this.mask) * this.width;
  }

  /**
   * Consumer: the records waiting now (one load of TAIL); read them at at(0) .. at(n - 1),
   * then consume(n).
   */
  available(): number {
    this.tailSeen = Atomics.load(this.ctl, TAIL);
    return (this.tailSeen - this.head) | 0;
  }

  /** Consumer: index of the k-th waiting record's first word, for k below what available() returned (not checked). */
  at(k: number): number {
    return ((this.head + k) & this.mask) * this.width;
  }

  /** Consumer: frees n records after reading them. */
  consume(n: number): void {
    this.head = (this.head + n) | 0;
    Atomics.store(this.ctl, HEAD, this.head);
  }

  /** The current publish sequence number (for waitForData / waitAsync). */
  get seq(): number {
    return Atomics.load(this.bell, SEQ);
  }

  /**
   * Consumer (worker threads): unless records are waiting, blocks until woken (a publish,
   * wake()) or timeoutMs passes. `seen` is the sequence read before the caller's last look
   * at its other sources of work (messages): a wake() since then returns at once.
   */
  waitForData(seen: number, timeoutMs: number): void {
    Atomics.store(this.bell, SLEEP, 1);
    if (this.length === 0) Atomics.wait(this.bell, SEQ, seen, timeoutMs);
    Atomics.store(this.bell, SLEEP, 0);
  }

  /**
   * Consumer (main thread): waitForData without blocking: a promise that settles when
   * woken or after timeoutMs, or undefined when there is no need to wait. With others
   * (rings sharing this ring's bell), records in any of them count too. Call awake() once
   * the promise settled.
   */
  waitForDataAsync(seen: number, timeoutMs: number, others?: readonly Ring[]): Promise<unknown> | undefined {
    Atomics.store(this.bell, SLEEP, 1);
    let ready = this.length !== 0;
    if (others) for (const r of others) ready ||= r.length !== 0;
    if (ready) {
      Atomics.store(this.bell, SLEEP, 0);
      return undefined;
    }
    const r = waitAsync(this.bell, SEQ, seen, timeoutMs);
    return r.async ? r.value : undefined;
  }

  /** Consumer: it stopped waiting (waitForDataAsync's promise settled): publishes need not wake it. */
  awake(): void {
    Atomics.store(this.bell, SLEEP, 0);
  }
}
