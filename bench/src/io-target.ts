// The one interface the benchmark engine drives: a block device with a submission queue.
// It is shaped like an NVMe queue pair so that the adapter is thin and the hot path stays
// batch-in, count-out (STYLE.md §5): the engine owns `iodepth` slots, each with one
// buffer the target allocated (so it can be DMA memory), queues I/Os by slot number,
// rings the doorbell once per batch with flush(), and reaps completions into arrays it
// allocated once. No promise, closure or object per I/O.

/** An I/O direction, numbered as fio's DDIR_READ and DDIR_WRITE. */
export const IO_READ = 0;
/** Write, fio's DDIR_WRITE. */
export const IO_WRITE = 1;
/**
 * Trim, fio's DDIR_TRIM: the blocks' data is no longer needed (NVMe: Dataset Management
 * with the Deallocate attribute). Moves no data; the slot's buffer is the target's to use.
 */
export const IO_TRIM = 2;
/** IO_READ, IO_WRITE or IO_TRIM. */
export type IoDirection = typeof IO_READ | typeof IO_WRITE | typeof IO_TRIM;

/** A block device the engine can run a job against. One target per job (per queue pair). */
export interface IoTarget {
  /** Logical block size in bytes: every offset and length is a multiple of it. */
  readonly blockSize: number;
  /** Bytes addressable from offset 0. */
  readonly capacityBytes: number;
  /** Most I/Os the target accepts in flight at once (an NVMe I/O queue holds size - 1). */
  readonly maxQueueDepth: number;
  /** Largest single transfer in bytes (NVMe: MDTS); the engine refuses bs above it. */
  readonly maxTransferBytes: number;
  /** A name for reports ("0000:00:03.0/1"). */
  readonly name: string;

  /**
   * Allocates the buffers for `slots` I/Os of up to `length` bytes, once, before the run.
   * Slot i's buffer is `result[i]`; the engine fills it before a write and reads it after
   * a read completes. The target keeps whatever it needs (the IOVA) indexed by slot.
   */
  allocSlots(slots: number, length: number): Uint8Array[];

  /**
   * Queues one I/O on slot `slot` (its buffer, first `length` bytes) at byte `offset`;
   * a trim covers `length` bytes at `offset` and may use the slot's buffer for its own
   * descriptor (an NVMe Dataset Management range).
   * Does not start it: nothing reaches the device before flush(). The engine never
   * queues more than maxQueueDepth I/Os in flight, nor reuses a slot still in flight.
   */
  submit(dir: IoDirection, offset: number, length: number, slot: number): void;

  /** Starts every I/O queued since the last flush (one doorbell write for the batch). */
  flush(): void;

  /**
   * Reaps up to `max` completions without blocking. For each, writes its slot into
   * `slots[k]` and its status into `status[k]` (0 = success; otherwise a target-specific
   * nonzero code, e.g. NVMe (SCT << 8) | SC). Returns how many it wrote.
   */
  poll(slots: Uint32Array, status: Int32Array, max: number): number;

  /**
   * Optional: resolves when a completion may be ready or after `timeoutMs` (a target with
   * interrupts), or waits synchronously and returns nothing (a short sleep, or none at
   * all when spinning is cheaper). Without it the engine spins on poll(), yielding to the
   * event loop every few milliseconds.
   */
  wait?(timeoutMs: number): Promise<void> | void;

  /**
   * Optional: why the I/O last completed on `slot` failed, in words (an error message the
   * target got instead of a status), for the job's error report.
   */
  failure?(slot: number): string | undefined;

  /** Releases the queue and buffers. */
  close(): void | Promise<void>;
}

/** Opens the target a job names (one per job instance); the CLI provides the NVMe one. */
export type TargetOpener = (filename: string | undefined, jobIndex: number) => Promise<IoTarget>;
