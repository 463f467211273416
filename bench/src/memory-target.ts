// A test double of IoTarget backed by an ArrayBuffer, for unit tests of the engine's
// pure logic (offsets, mixes, stats, verify). It is not a device and its numbers say
// nothing about any device. Completions can be delayed by a number of poll() calls and
// any I/O can be made to fail, so the tests reach the engine's queueing and error paths.

import { IO_TRIM, IO_WRITE, type IoDirection, type IoTarget } from './io-target.js';

/** The size and geometry of a MemoryTarget, and what it logs. */
export interface MemoryTargetOptions {
  /** Size of the emulated namespace in bytes. */
  capacityBytes: number;
  /** Logical block size in bytes (default 512). */
  blockSize?: number;
  /** Most I/Os in flight (default 1023). */
  maxQueueDepth?: number;
  /** Largest transfer per I/O in bytes (default 1 MiB). */
  maxTransferBytes?: number;
  /** Completions become visible after this many poll() calls (default 0: at the next poll). */
  latencyPolls?: number;
  /** Returns a nonzero status to fail an I/O. */
  fail?: (dir: IoDirection, offset: number, length: number) => number;
  /** When false, writes are not stored (like fio's null engine). Default true. */
  store?: boolean;
  /** Name in reports (default "memory"). */
  name?: string;
}

/** Every I/O the target saw, for assertions. */
export interface MemoryTargetLog {
  dir: number[];
  offset: number[];
  length: number[];
  /** I/Os queued per flush(). */
  batches: number[];
  maxInFlight: number;
}

export class MemoryTarget implements IoTarget {
  readonly blockSize: number;
  readonly capacityBytes: number;
  readonly maxQueueDepth: number;
  readonly maxTransferBytes: number;
  readonly name: string;
  readonly data: Uint8Array;
  readonly log: MemoryTargetLog = { dir: [], offset: [], length: [], batches: [], maxInFlight: 0 };
  private buffers: Uint8Array[] = [];
  private queued: Array<{ dir: IoDirection; offset: number; length: number; slot: number }> = [];
  private inFlight: Array<{ slot: number; status: number; due: number }> = [];
  private polls = 0;
  closed = false;

  constructor(private readonly opts: MemoryTargetOptions) {
    this.name = opts.name ?? 'memory';
    this.blockSize = opts.blockSize ?? 512;
    this.capacityBytes = opts.capacityBytes;
    this.maxQueueDepth = opts.maxQueueDepth ?? 1023;
    this.maxTransferBytes = opts.maxTransferBytes ?? 1 << 20;
    this.data = new Uint8Array(opts.store === false ? 0 : opts.capacityBytes);
  }

  allocSlots(slots: number, length: number): Uint8Array[] {
    this.buffers = Array.from({ length: slots }, () => new Uint8Array(length));
    return this.buffers;
  }

  submit(dir: IoDirection, offset: number, length: number, slot: number): void {
    if (offset % this.blockSize || length % this.blockSize || offset + length > this.capacityBytes) {
      throw new RangeError(`memory target: bad I/O offset ${offset} length ${length}`);
    }
    this.queued.push({ dir, offset, length, slot });
  }

  flush(): void {
    this.log.batches.push(this.queued.length);
    for (const q of this.queued) {
      this.log.dir.push(q.dir);
      this.log.offset.push(q.offset);
      this.log.length.push(q.length);
      const status = this.opts.fail?.(q.dir, q.offset, q.length) ?? 0;
      if (status === 0 && this.opts.store !== false) {
        const buf = this.buffers[q.slot]!;
        if (q.dir === IO_WRITE) this.data.set(buf.subarray(0, q.length), q.offset);
        // A trim: the blocks read back as zeroes, as a controller whose DLFEAT says so.
        else if (q.dir === IO_TRIM) this.data.fill(0, q.offset, q.offset + q.length);
        else buf.set(this.data.subarray(q.offset, q.offset + q.length));
      }
      this.inFlight.push({ slot: q.slot, status, due: this.polls + (this.opts.latencyPolls ?? 0) });
    }
    this.queued = [];
    this.log.maxInFlight = Math.max(this.log.maxInFlight, this.inFlight.length);
    if (this.inFlight.length > this.maxQueueDepth) throw new RangeError(`memory target: ${this.inFlight.length} I/Os in flight, more than ${this.maxQueueDepth}`);
  }

  poll(slots: Uint32Array, status: Int32Array, max: number): number {
    this.polls++;
    let n = 0;
    while (n < max && this.inFlight.length && this.inFlight[0]!.due < this.polls) {
      const c = this.inFlight.shift()!;
      slots[n] = c.slot;
      status[n] = c.status;
      n++;
    }
    return n;
  }

  close(): void {
    this.closed = true;
  }
}
