// A job's statistics in shared memory, on request: how a job that runs on another thread
// (a runtime worker that owns its queue pair) answers --status-interval. The main thread
// bumps a request word; the job looks at it on its progress tick (a few times a second,
// never per I/O), copies its statistics so far (JobRunner.statSoFar: counters, latency
// stats and the histogram bins) into the block, and stores the request's number as its
// answer. The main thread reads the copy once it sees the answer; the job writes again
// only after the next request, so a copy is never read while it is written. The block is
// a SharedArrayBuffer: runtime.call()'s structured clone shares it with the worker.
//
// Layout:
//   Int32 [0] REQUEST     main → job: how many copies were asked for
//         [1] ANSWER      job → main: the request the copy in the block answers
//         [2] TARGET_LEN  bytes of the target's name (UTF-8) at byte 16
//         [3] VERROR_LEN  bytes of the job's error text (UTF-8) at byte 272
//   Float64 at byte 1296: the ThreadStat's numbers in STAT_FIELDS order (writeStat/readStat).

import { newJobStat } from './job-runner.js';
import type { JobResult } from './engine.js';
import type { ResolvedJob } from './jobfile.js';
import { FIO_IO_U_PLAT_NR } from './histogram.js';
import { FIO_IO_U_LAT_M_NR, FIO_IO_U_LAT_N_NR, FIO_IO_U_LAT_U_NR, FIO_IO_U_MAP_NR, type IoStat, type ThreadStat } from './stat.js';

const W_REQUEST = 0;
const W_ANSWER = 1;
const W_TARGET_LEN = 2;
const W_VERROR_LEN = 3;
const TARGET_AT = 16;
const TARGET_MAX = 256;
const VERROR_AT = TARGET_AT + TARGET_MAX;
const VERROR_MAX = 1024;
const F64_AT = VERROR_AT + VERROR_MAX;

/** The whole-job numbers of a ThreadStat, in their order in the block. */
const SCALARS = ['members', 'error', 'totalRunTimeMs', 'usrTimeUs', 'sysTimeUs', 'ctx', 'majf', 'minf', 'totalSubmit', 'totalComplete', 'verified'] as const;
/** The whole-job arrays, in their order, with their lengths. */
const ARRAYS = [['ioUMap', FIO_IO_U_MAP_NR], ['ioUSubmit', FIO_IO_U_MAP_NR], ['ioUComplete', FIO_IO_U_MAP_NR], ['latN', FIO_IO_U_LAT_N_NR], ['latU', FIO_IO_U_LAT_U_NR], ['latM', FIO_IO_U_LAT_M_NR]] as const;
/** A direction's counters and running stats, in their order. */
const DIR_COUNTERS = ['ioBytes', 'totalIos', 'shortIos', 'dropIos', 'runtimeMs'] as const;
const DIR_STATS = ['slat', 'clat', 'lat', 'bw', 'iops'] as const;
const IO_STAT_FIELDS = ['min', 'max', 'mean', 'S', 'samples'] as const;
const DIR_F64 = DIR_COUNTERS.length + DIR_STATS.length * IO_STAT_FIELDS.length + 2 * FIO_IO_U_PLAT_NR;
/** How many numbers one ThreadStat takes. */
const STAT_F64 = SCALARS.length + ARRAYS.reduce((n, [, len]) => n + len, 0) + 3 * DIR_F64;

/**
 * Copies the numbers of `ts` into `f` (STAT_F64 of them): every counter, the running
 * latency/bandwidth stats and both histograms of each direction.
 */
export function writeStat(f: Float64Array, ts: ThreadStat): void {
  let i = 0;
  for (const k of SCALARS) f[i++] = ts[k];
  for (const [k, len] of ARRAYS) {
    f.set(ts[k], i);
    i += len;
  }
  for (const d of ts.dir) {
    for (const k of DIR_COUNTERS) f[i++] = d[k];
    for (const s of DIR_STATS) for (const k of IO_STAT_FIELDS) f[i++] = d[s][k];
    f.set(d.clatPlat, i);
    i += FIO_IO_U_PLAT_NR;
    f.set(d.latPlat, i);
    i += FIO_IO_U_PLAT_NR;
  }
}

/** The reverse of writeStat(): sets the numbers of `ts` from `f`; returns `ts`. */
export function readStat(f: Float64Array, ts: ThreadStat): ThreadStat {
  let i = 0;
  for (const k of SCALARS) ts[k] = f[i++]!;
  for (const [k, len] of ARRAYS) {
    ts[k].set(f.subarray(i, i + len));
    i += len;
  }
  for (const d of ts.dir) {
    for (const k of DIR_COUNTERS) d[k] = f[i++]!;
    for (const s of DIR_STATS) {
      const st: IoStat = d[s];
      for (const k of IO_STAT_FIELDS) st[k] = f[i++]!;
    }
    d.clatPlat.set(f.subarray(i, i + FIO_IO_U_PLAT_NR));
    i += FIO_IO_U_PLAT_NR;
    d.latPlat.set(f.subarray(i, i + FIO_IO_U_PLAT_NR));
    i += FIO_IO_U_PLAT_NR;
  }
  return ts;
}

/**
 * A job's statistics in shared memory, copied on request (see the file's comment): the
 * main thread asks with request() and reads with read() once answered(); the job answers
 * with answer() when `requested`.
 */
export class StatBlock {
  /** Size of one block in bytes. */
  static readonly BYTES = F64_AT + STAT_F64 * 8;
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly f64: Float64Array;

  /** Wraps `buffer` (a block another thread made), or makes a new zeroed one. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(StatBlock.BYTES)) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < StatBlock.BYTES) {
      throw new TypeError(`a stat block is a SharedArrayBuffer of at least ${StatBlock.BYTES} bytes`);
    }
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, TARGET_AT / 4);
    this.bytes = new Uint8Array(buffer, 0, F64_AT);
    this.f64 = new Float64Array(buffer, F64_AT, STAT_F64);
  }

  /** Main side: asks the job for a copy of its statistics; returns the request's number (for answered()). */
  request(): number {
    return Atomics.add(this.words, W_REQUEST, 1) + 1;
  }

  /** Main side: true once the copy in the block answers request `n` (or a later one). */
  answered(n: number): boolean {
    return Atomics.load(this.words, W_ANSWER) >= n;
  }

  /** Job side: true when a request is not answered yet. */
  get requested(): boolean {
    return Atomics.load(this.words, W_REQUEST) !== Atomics.load(this.words, W_ANSWER);
  }

  /**
   * Job side: copies `stat` (the job's statistics so far) and its target's name into the
   * block and marks the pending request answered. The answer's store comes after the
   * copy, so a reader that sees it sees the copy.
   */
  answer(stat: ThreadStat, target: string): void {
    const n = Atomics.load(this.words, W_REQUEST);
    writeStat(this.f64, stat);
    Atomics.store(this.words, W_TARGET_LEN, this.writeText(TARGET_AT, TARGET_MAX, target));
    Atomics.store(this.words, W_VERROR_LEN, this.writeText(VERROR_AT, VERROR_MAX, stat.verror));
    Atomics.store(this.words, W_ANSWER, n);
  }

  /** Main side: the job's result as last copied (call after answered()); `job` gives the names and options. */
  read(job: ResolvedJob): JobResult {
    const stat = readStat(this.f64, newJobStat(job));
    stat.verror = this.readText(VERROR_AT, Atomics.load(this.words, W_VERROR_LEN));
    return { job, stat, target: this.readText(TARGET_AT, Atomics.load(this.words, W_TARGET_LEN)) };
  }

  /** Writes `text` as UTF-8 at `at`, cut to `max` bytes; returns the bytes written. */
  private writeText(at: number, max: number, text: string): number {
    // encodeInto() cuts at a character boundary; a shared buffer takes a copy (TextEncoder refuses shared views).
    const tmp = new Uint8Array(max);
    const { written } = new TextEncoder().encodeInto(text, tmp);
    this.bytes.set(tmp.subarray(0, written), at);
    return written;
  }

  private readText(at: number, len: number): string {
    return new TextDecoder().decode(this.bytes.slice(at, at + Math.min(len, F64_AT - at)));
  }
}
