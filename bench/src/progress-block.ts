// A job's progress in shared memory, for jobs that run on another thread (a runtime
// worker that owns the job's queue pair). The worker publishes its counters with Atomics
// stores a few times a second (never per I/O: the engine's progress tick does it), and
// reads one word the main thread sets to stop the job (Ctrl-C). The main thread reads
// the counters on its own timer to draw fio's status line. The block is a
// SharedArrayBuffer, so it crosses to the worker in runtime.call()'s args (structured
// clone shares it, it does not copy it).
//
// Layout (88 bytes):
//   Int32   [0] STOP      main → worker: 1 = stop issuing, finish what is in flight
//           [1] PHASE     worker → main: 0 init, 1 ramp, 2 run, 3 verify, 4 done
//           [2] UPDATES   worker → main: how many times the counters were published
//           [3] (unused)
//   BigInt64 at byte 16, worker → main:
//           [0..2] bytes done (read, write, trim)   [3..5] I/Os done (read, write, trim)
//           [6] job time of this publish (ns since the job started)
//           [7] fraction done (parts per million)   [8] eta (ms)

import type { JobPhase, JobProgress } from './job-runner.js';
import type { RwMode } from './options.js';

const W_STOP = 0;
const W_PHASE = 1;
const W_UPDATES = 2;
const B_OFFSET = 16;
const B_BYTES = 0;
const B_IOS = 3;
const B_AT_NS = 6;
const B_FRACTION_PPM = 7;
const B_ETA_MS = 8;
const B_COUNT = 9;

const PHASES: readonly JobPhase[] = ['init', 'ramp', 'run', 'verify', 'done'];

/**
 * A job's progress in shared memory, for jobs that run on a worker: the worker publishes its counters, the main
 * thread reads them for the status line and sets a word to stop the job.
 */
export class ProgressBlock {
  /** Size of one block in bytes. */
  static readonly BYTES = B_OFFSET + B_COUNT * 8;
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly big: BigInt64Array;

  /** Wraps `buffer` (a block another thread made), or makes a new zeroed one. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(ProgressBlock.BYTES)) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < ProgressBlock.BYTES) {
      throw new TypeError(`a progress block is a SharedArrayBuffer of at least ${ProgressBlock.BYTES} bytes`);
    }
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, B_OFFSET / 4);
    this.big = new BigInt64Array(buffer, B_OFFSET, B_COUNT);
  }

  /** Worker side: stores a job's counters; `atSec` is the job's time when they were taken. */
  publish(p: JobProgress, atSec: number): void {
    const b = this.big;
    for (let d = 0; d < 3; d++) {
      Atomics.store(b, B_BYTES + d, BigInt(p.bytes[d]!));
      Atomics.store(b, B_IOS + d, BigInt(p.ios[d]!));
    }
    Atomics.store(b, B_AT_NS, BigInt(Math.max(0, Math.round(atSec * 1e9))));
    Atomics.store(b, B_FRACTION_PPM, BigInt(Math.round(Math.min(1, Math.max(0, p.fraction)) * 1e6)));
    Atomics.store(b, B_ETA_MS, BigInt(Math.max(0, Math.round(p.etaSec * 1000))));
    Atomics.store(this.words, W_PHASE, Math.max(0, PHASES.indexOf(p.phase)));
    Atomics.add(this.words, W_UPDATES, 1);
  }

  /** Main side: the job's last published progress (`rw` is the job's, for the status line's letters). */
  read(rw: RwMode): JobProgress {
    const b = this.big;
    const n = (i: number) => Number(Atomics.load(b, i));
    return {
      phase: PHASES[Atomics.load(this.words, W_PHASE)] ?? 'init',
      rw,
      bytes: [n(B_BYTES), n(B_BYTES + 1), n(B_BYTES + 2)],
      ios: [n(B_IOS), n(B_IOS + 1), n(B_IOS + 2)],
      fraction: n(B_FRACTION_PPM) / 1e6,
      etaSec: n(B_ETA_MS) / 1000,
      atSec: n(B_AT_NS) / 1e9,
    };
  }

  /** How many times the worker published (0: the job has not started). */
  get updates(): number {
    return Atomics.load(this.words, W_UPDATES);
  }

  /** Main side: asks the job to stop issuing I/O (Ctrl-C); it still reports what it did. */
  requestStop(): void {
    Atomics.store(this.words, W_STOP, 1);
  }

  /** Worker side: true once the main thread asked the job to stop. */
  get stopRequested(): boolean {
    return Atomics.load(this.words, W_STOP) !== 0;
  }
}

/**
 * Main side: calls `onProgress` every `intervalMs` with each source's progress and the
 * seconds since the call (fio redraws its status line once a second). Returns a stop function.
 */
export function pollProgress(
  sources: ReadonlyArray<() => JobProgress>,
  onProgress: (progress: JobProgress[], elapsedSec: number) => void,
  intervalMs = 1000,
  clock: () => number = () => performance.now(),
): () => void {
  const t0 = clock();
  const timer = setInterval(() => onProgress(sources.map((s) => s()), (clock() - t0) / 1000), intervalMs);
  // The status line must never keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
