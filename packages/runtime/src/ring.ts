// A single-producer, single-consumer ring of fixed-size records in a SharedArrayBuffer:
// how the main thread hands I/O requests to the worker that owns a queue pair, and how
// the worker hands completions back. One thread pushes, one thread pops; the head and
// tail are published with Atomics (sequentially consistent), so the record words written
// before a tail store are visible to the thread that loads that tail. Records are
// Float64 words so that LBAs and IOVAs up to 2^53 travel exactly.

const HEAD = 0;
const TAIL = 1;
/** Bumped by the producer on every publish; the consumer can Atomics.wait on it. */
const SEQ = 2;
const HEADER_WORDS = 4; // Int32 words, padded to 16 bytes

/** A ring's shared memory, its capacity in records and the record width in words. */
export interface RingInit {
  sab: SharedArrayBuffer;
  capacity: number;
  width: number;
}

/**
 * A single-producer, single-consumer ring of fixed-size records in a SharedArrayBuffer: requests to a worker and
 * completions back, published with Atomics.
 */
export class Ring {
  readonly capacity: number;
  readonly width: number;
  readonly sab: SharedArrayBuffer;
  /** head, tail, seq. */
  readonly ctl: Int32Array;
  private readonly words: Float64Array;
  private readonly mask: number;

  /** Creates a ring of capacity records (a power of two) of width words each. */
  static create(capacity: number, width: number): Ring {
    if (!Number.isInteger(capacity) || capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two >= 2, got ${capacity}`);
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`ring record width must be a positive integer, got ${width}`);
    const sab = new SharedArrayBuffer(HEADER_WORDS * 4 + capacity * width * 8);
    return new Ring({ sab, capacity, width });
  }

  /** Attaches to a ring another thread created (from its init()). */
  constructor(init: RingInit) {
    this.sab = init.sab;
    this.capacity = init.capacity;
    this.width = init.width;
    this.mask = init.capacity - 1;
    this.ctl = new Int32Array(init.sab, 0, HEADER_WORDS);
    this.words = new Float64Array(init.sab, HEADER_WORDS * 4, init.capacity * init.width);
  }

  /** What another thread needs to attach (structured-clone safe). */
  init(): RingInit {
    return { sab: this.sab, capacity: this.capacity, width: this.width };
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
    const tail = Atomics.load(this.ctl, TAIL);
    if (((tail + k - Atomics.load(this.ctl, HEAD)) | 0) >= this.capacity) return -1;
    return ((tail + k) & this.mask) * this.width;
  }

  /** Producer: makes n reserved records visible, and wakes a consumer waiting in waitForData. */
  publish(n: number): void {
    Atomics.add(this.ctl, TAIL, n);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
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
    const head = Atomics.load(this.ctl, HEAD);
    if (((Atomics.load(this.ctl, TAIL) - head) | 0) <= k) return -1;
    return ((head + k) & this.mask) * this.width;
  }

  /** Consumer: frees n records after reading them. */
  consume(n: number): void {
    Atomics.add(this.ctl, HEAD, n);
  }

  /** The current publish sequence number (for waitForData / waitAsync). */
  get seq(): number {
    return Atomics.load(this.ctl, SEQ);
  }

  /** Consumer (worker threads): blocks until the sequence moves past `seen` or timeoutMs passes. */
  waitForData(seen: number, timeoutMs: number): void {
    Atomics.wait(this.ctl, SEQ, seen, timeoutMs);
  }

  /** Consumer (main thread): resolves when the sequence moves past `seen`, or after timeoutMs. */
  async waitForDataAsync(seen: number, timeoutMs: number): Promise<void> {
    // Atomics.waitAsync is in Node 20 (V8 8.7+), not yet in TypeScript's ES2022 lib.
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.ctl, SEQ, seen, timeoutMs);
    if (r.async) await r.value;
  }
}

interface AtomicsWaitAsync {
  waitAsync(ta: Int32Array, index: number, value: number, timeout?: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
