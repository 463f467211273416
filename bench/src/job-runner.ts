// One job instance driving one IoTarget: fio's thread_main()/do_io() loop reduced to a
// polled queue. Each step() reaps what completed (one clock read per batch), then fills
// every free slot and rings the doorbell once (one clock read before, one after: slat is
// the batch's preparation and submission time, clat runs from the doorbell to the reap,
// lat is both). Offsets are fio's: sequential per direction, or random over a random map
// that covers each block once (norandommap: independent draws). Phases: ramp (I/O runs,
// nothing is recorded), run (until size bytes are issued, or runtime ends; time_based
// wraps the region), verify (reads back every written block), done.

import { VfioError } from '@vfio-node/core';
import { IO_READ, IO_TRIM, IO_WRITE, type IoDirection, type IoTarget } from './io-target.js';
import type { ResolvedJob } from './jobfile.js';
import { rwHasReads, rwHasTrims, rwHasWrites, rwIsRandom, type JobOptions } from './options.js';
import { checkTrimOptions } from './trim.js';
import { FIO_RAND_MIX_OFF, FIO_RAND_POISSON2_OFF, FIO_RAND_POISSON_OFF, FIO_RAND_ZONE_OFF, fioBlockSeed, fioDistributionSeed, fioSeed, jobSeed, RandomMap, Taus88 } from './rand.js';
import { blockPicker, ZoneTable, type BlockPicker } from './random-distribution.js';
import { FioJobLogs, type FioLogFile } from './fio-logs.js';
import { wantsLogs } from './job-logs.js';
import { DEFAULT_SERIES_MS, SeriesRecorder, type JobSeries } from './job-series.js';
import { RATE_WAIT, rateActive, RatePacer, type RateDirection } from './rate.js';
import { Thinktime, ThinkState } from './thinktime.js';
import { allBlockSizes, BlockSizes, bsRange, fioBsSeeds } from './bssplit.js';
import { RwMix } from './rwmix.js';
import { RwSequencer } from './rw-sequencer.js';
import { addLatencies, addStatSample, cloneThreadStat, markComplete, markDepth, markSubmit, newThreadStat, type ThreadStat } from './stat.js';
import { checkVerifyBlock, fillVerifyBlock } from './verify.js';

/** Directions in words, for error messages. */
const DIR_WORDS = ['read', 'write', 'trim'] as const;
/** fio's error numbers for the two ways a job fails here. */
const EIO = 5;
const EILSEQ = 84;
/** fio's bw_avg_time and iops_avg_time defaults: one bandwidth/IOPS sample per 500 ms. */
const AVG_TIME_NS = 500e6;
/** nextIo(): no I/O may start yet (a rate limit or a thinktime); not the end of the phase. */
const IO_WAIT = -2;

/** 'init' is a job that has not started yet (a worker job before its first progress report). */
export type JobPhase = 'init' | 'ramp' | 'run' | 'verify' | 'done';

/** Counters the status line reads while the job runs. */
export interface JobProgress {
  phase: JobPhase;
  rw: JobOptions['rw'];
  /** Bytes completed per direction (read, write, trim) since the job started (ramp included). */
  bytes: [number, number, number];
  /** I/Os completed per direction (read, write, trim) since the job started. */
  ios: [number, number, number];
  /** Fraction done in [0, 1] and seconds left, as far as can be known. */
  fraction: number;
  etaSec: number;
  /**
   * The job's time (s since it started) when the counters were taken; rates are computed
   * over this clock when it is given (a worker publishes its counters on its own tick).
   */
  atSec?: number;
}

/**
 * One job instance driving one IoTarget: fio's I/O loop reduced to a polled queue. Call step() until done; the
 * statistics accumulate in `stat`.
 */
export class JobRunner {
  readonly stat: ThreadStat;
  phase: JobPhase;
  private readonly o: JobOptions;
  /** The smallest size per direction (read, write, trim). */
  private readonly bs: [number, number, number];
  /** The directions the job issues (reads, writes, trims), not counting verify reads. */
  private readonly does: [boolean, boolean, boolean];
  private readonly regionStart: number;
  readonly regionBytes: number;
  private readonly depth: number;
  private readonly buffers: Uint8Array[];
  // Per-slot state, indexed by slot number.
  private readonly slotDir: Uint8Array;
  private readonly slotOffset: Float64Array;
  private readonly slotLen: Float64Array;
  private readonly slotStart: Float64Array;
  private readonly slotIssue: Float64Array;
  /** 1 when the I/O counts in the stats (issued after ramp). */
  private readonly slotCounted: Uint8Array;
  private readonly freeSlots: Uint32Array;
  private freeTop: number;
  private readonly batch: Uint32Array;
  private readonly cSlots: Uint32Array;
  private readonly cStatus: Int32Array;
  // Completions of the current step whose statistics are still to be recorded.
  private readonly doneDir: Uint8Array;
  private readonly doneLen: Float64Array;
  private readonly doneSlat: Float64Array;
  private readonly doneClat: Float64Array;
  private readonly doneLat: Float64Array;
  private readonly doneOffset: Float64Array;
  inFlight = 0;
  // Time series: every job's per-interval rates (job-series.ts), and fio's log files when asked (fio-logs.ts).
  private readonly seriesRec: SeriesRecorder;
  private readonly logs: FioJobLogs | undefined;
  /** The job's series, once it is done. */
  series: JobSeries | undefined;
  // Offsets.
  private readonly rng: Taus88;
  /** rw=rw/randrw: fio's read/write choice (rwmix.ts). */
  private readonly mix: RwMix | undefined;
  /** Whether a size fits before the end of the region (fio's io_u_fits; bssplit.ts). */
  private readonly fits: (dir: IoDirection, len: number) => boolean;
  private readonly dataRng: Taus88;
  private readonly map: RandomMap | undefined;
  /** random_distribution= other than random: fio's zipf/pareto/normal block picker. */
  private readonly picker: BlockPicker | undefined;
  /** random_distribution=zoned or zoned_abs: which part of the region each random I/O draws from. */
  private readonly zones: ZoneTable | undefined;
  private readonly seqPos: [number, number, number] = [0, 0, 0];
  /** trimwrite: the next I/O is the write of the block just trimmed. */
  private trimWriteDue = false;
  private issuedBytes = 0;
  private loopExhausted = false;
  private numberio = 0;
  // Verify.
  private readonly verifyMethod: 'crc32c' | 'md5' | undefined;
  private readonly written: Map<number, number> | undefined;
  private verifyList: Array<[number, number]> = [];
  private verifyNext = 0;
  // Time (ns, the engine's clock).
  private startNs = 0;
  private statsStartNs = 0;
  private rampEndNs = 0;
  private runEndNs = Infinity;
  private endNs = 0;
  private stopIssuing = false;
  /** stop() was called: the job ends after its in-flight I/O, without a verify phase. */
  private stopped = false;
  // Bandwidth/IOPS sampling.
  private lastSampleNs = 0;
  private readonly lastSampleBytes: [number, number, number] = [0, 0, 0];
  private readonly lastSampleIos: [number, number, number] = [0, 0, 0];
  readonly progress: JobProgress;
  // Pacing (rate=, thinktime=): undefined when the job has none.
  private readonly pacer: RatePacer | undefined;
  private readonly think: Thinktime | undefined;
  /** Each I/O's size (bs=, or a draw from bssplit=). */
  private readonly sizes: BlockSizes;
  /** rw=randread:N: which I/Os take a new random offset; undefined without a modifier. */
  private readonly sequencer: RwSequencer | undefined;
  /** Per direction, the start and the end of its last I/O (relative to the region), -1 before the first. */
  private readonly lastStart: [number, number, number] = [-1, -1, -1];
  private readonly lastEnd: [number, number, number] = [-1, -1, -1];
  /** A direction the mix chose that had to wait for its rate; issued before a new one is drawn. */
  private heldDir = -1;
  /**
   * Set by step(): when the job has nothing in flight and must not issue before a time, that
   * time (ns), so the engine may sleep until then; 0 otherwise (the job must be stepped).
   */
  idleUntilNs = 0;

  constructor(readonly job: ResolvedJob, readonly target: IoTarget) {
    const o = (this.o = job.options);
    this.stat = newJobStat(job);
    checkTrimOptions(o);
    // The smallest size per direction (bs=, or the smallest of a bssplit); every size is checked.
    this.bs = [bsRange(o, IO_READ).min, bsRange(o, IO_WRITE).min, o.bs.trim];
    this.does = [rwHasReads(o.rw), rwHasWrites(o.rw), rwHasTrims(o.rw)];
    const trims = this.does[IO_TRIM];
    // Buffers hold data for reads and writes; a trim moves none (a Dataset Management range
    // fits in any block), so its size counts only for the region, never for MDTS.
    const bufBytes = Math.max(...allBlockSizes(o));
    const maxBs = trims ? Math.max(bufBytes, o.bs.trim) : bufBytes;
    if (trims && o.bs.trim % target.blockSize) throw benchError('ERR_BENCH_BS', `${o.name}: trim bs=${o.bs.trim} is not a multiple of the ${target.blockSize}-byte logical block of ${target.name}`, `Use bs=${target.blockSize} or a multiple of it.`);
    for (const b of allBlockSizes(o)) {
      if (b % target.blockSize) throw benchError('ERR_BENCH_BS', `${o.name}: bs=${b} is not a multiple of the ${target.blockSize}-byte logical block of ${target.name}`, `Use bs=${target.blockSize} or a multiple of it.`);
      if (b > target.maxTransferBytes) throw benchError('ERR_BENCH_BS', `${o.name}: bs=${b} is larger than the ${target.maxTransferBytes}-byte maximum transfer of ${target.name}`, `Use bs=${target.maxTransferBytes} or less.`);
    }
    if (o.iodepth > target.maxQueueDepth) throw benchError('ERR_BENCH_IODEPTH', `${o.name}: iodepth=${o.iodepth} is deeper than the ${target.maxQueueDepth} I/Os ${target.name}'s queue holds`, `Use iodepth=${target.maxQueueDepth} or less.`);
    const cap = target.capacityBytes;
    const bsMin = Math.min(this.bs[0], this.bs[1], trims ? this.bs[2] : Infinity);
    const start = 'percent' in o.offset ? Math.floor((cap * o.offset.percent) / 100) : o.offset.bytes;
    this.regionStart = start - (start % target.blockSize);
    if (this.regionStart >= cap) throw benchError('ERR_BENCH_SIZE', `${o.name}: offset=${this.regionStart} is beyond the end of ${target.name} (${cap} bytes)`, 'Use a smaller offset.');
    const want = o.size === undefined ? cap - this.regionStart : 'percent' in o.size ? Math.floor((cap * o.size.percent) / 100) : o.size.bytes;
    const region = Math.min(want, cap - this.regionStart);
    this.regionBytes = region - (region % bsMin);
    if (this.regionBytes < maxBs) throw benchError('ERR_BENCH_SIZE', `${o.name}: size=${want} leaves no room for one ${maxBs}-byte I/O at offset ${this.regionStart} on ${target.name}`, 'Use a larger size or a smaller offset.');

    this.depth = o.iodepth;
    this.buffers = target.allocSlots(this.depth, bufBytes);
    this.slotDir = new Uint8Array(this.depth);
    this.slotOffset = new Float64Array(this.depth);
    this.slotLen = new Float64Array(this.depth);
    this.slotStart = new Float64Array(this.depth);
    this.slotIssue = new Float64Array(this.depth);
    this.slotCounted = new Uint8Array(this.depth);
    this.freeSlots = new Uint32Array(this.depth);
    for (let i = 0; i < this.depth; i++) this.freeSlots[i] = this.depth - 1 - i;
    this.freeTop = this.depth;
    this.batch = new Uint32Array(this.depth);
    this.cSlots = new Uint32Array(this.depth);
    this.cStatus = new Int32Array(this.depth);
    this.doneDir = new Uint8Array(this.depth);
    this.doneLen = new Float64Array(this.depth);
    this.doneSlat = new Float64Array(this.depth);
    this.doneClat = new Float64Array(this.depth);
    this.doneLat = new Float64Array(this.depth);
    this.doneOffset = new Float64Array(this.depth);
    this.seriesRec = new SeriesRecorder(o.logs.avgMsec || DEFAULT_SERIES_MS, o.rampTimeUs / 1000, [rwHasReads(o.rw) || o.verify !== 'none', rwHasWrites(o.rw), rwHasTrims(o.rw)]);
    // fio numbers its jobs from 1 across the whole run (thread_number): the number in the log file names.
    this.logs = wantsLogs(o.logs) ? new FioJobLogs(o.logs, job.index + 1) : undefined;

    const seed = jobSeed(o.randseed, o.randrepeat, job.index);
    // Offsets use fio 3.33's seeds (rand.ts), so a job picks fio's blocks for the same
    // thread number (1-based over the run) and, for zipf/pareto/normal, file name (fio's
    // default name is jobname.clone.0).
    const threadNumber = job.index + 1;
    this.rng = new Taus88(fioBlockSeed(o.randseed, o.randrepeat, threadNumber));
    // rwmix, bssplit and Poisson gaps draw from fio 3.33's generators with its seeds (rwmix.ts, bssplit.ts, rate.ts).
    this.mix = rwHasReads(o.rw) && rwHasWrites(o.rw) && !trims ? new RwMix(o.rwmixread, fioSeed(FIO_RAND_MIX_OFF, o.randseed, o.randrepeat, threadNumber)) : undefined;
    this.dataRng = new Taus88(seed ^ 0x27d4eb2f);
    this.pacer = rateActive(o.rate) ? new RatePacer(o.rate, [this.bs[0], this.bs[1]], [fioSeed(FIO_RAND_POISSON_OFF, o.randseed, o.randrepeat, threadNumber), fioSeed(FIO_RAND_POISSON2_OFF, o.randseed, o.randrepeat, threadNumber)], o.kbBase) : undefined;
    this.think = o.thinktime.us > 0 ? new Thinktime(o.thinktime) : undefined;
    // One map in units of the block size when reads and writes use the same one; fio's
    // map is per file, so reads and writes of randrw share it.
    this.sizes = new BlockSizes(o, fioBsSeeds(o, threadNumber));
    // fio checks a size against the I/O's offset, chosen before it: a sequential job's position; random offsets come after the size here, so the bytes issued stand in.
    this.fits = rwIsRandom(o.rw) ? (_dir, len) => this.issuedBytes + len <= this.regionBytes : (dir, len) => this.seqPos[dir] + len <= this.regionBytes;
    this.sequencer = rwIsRandom(o.rw) && o.rwSuffix > 1 ? new RwSequencer(o.rwSuffix) : undefined;
    if (!rwIsRandom(o.rw) && o.rwSuffix % target.blockSize) throw benchError('ERR_BENCH_BS', `${o.name}: rw=${o.rw}:${o.rwSuffix} skips ${o.rwSuffix} bytes, not a multiple of the ${target.blockSize}-byte logical block of ${target.name}`, `Skip a multiple of ${target.blockSize} bytes (rw=${o.rw}:${target.blockSize}).`);
    // rw=randread:N: fio holds the random draws to the random map and does not mark the
    // I/Os that follow them (io_u.c: IO_U_F_BUSY_OK), as its iolog shows.
    // randtrim has its own size (bs= third part) and no split.
    const mapBs = trims ? this.bs[IO_TRIM] : this.bs[0];
    const oneSize = trims || (this.bs[0] === this.bs[1] && !this.sizes.varies[0] && !this.sizes.varies[1]);
    // fio counts a distribution's blocks in the smaller of the read and write sizes
    // (filesetup.c __init_rand_distribution). Any random_distribution but random turns the
    // random map off in fio 3.33 (init.c fixup_options: norandommap = 1), zoned included.
    const rangeBytes = Math.min(this.bs[0], this.bs[1]);
    const fileName = o.filename ?? `${o.name}.${job.clone}.0`;
    this.picker = rwIsRandom(o.rw) ? blockPicker(o.randomDistribution, Math.ceil(this.regionBytes / rangeBytes), fioDistributionSeed(fileName, o.randseed, o.randrepeat, threadNumber)) : undefined;
    this.map = rwIsRandom(o.rw) && !o.norandommap && oneSize && o.randomDistribution.kind === 'random' ? new RandomMap(Math.floor(this.regionBytes / mapBs)) : undefined;
    const rd = o.randomDistribution;
    this.zones = rwIsRandom(o.rw) && (rd.kind === 'zoned' || rd.kind === 'zoned_abs') ? new ZoneTable(rd, this.bs.map((b) => Math.floor(this.regionBytes / b)), this.bs, fioSeed(FIO_RAND_ZONE_OFF, o.randseed, o.randrepeat, threadNumber)) : undefined;
    const over = this.zones?.overflow() ?? -1;
    if (over >= 0) throw benchError('ERR_BENCH_SIZE', `${o.name}: random_distribution=zoned_abs zones reach past the ${this.regionBytes}-byte region`, 'Make the zones add up to size= or less (fio: "zoned_abs sizes exceed file size").');
    this.verifyMethod = o.verify === 'none' ? undefined : o.verify;
    this.written = this.verifyMethod && rwHasWrites(o.rw) && o.doVerify ? new Map() : undefined;
    // Without verify, write buffers hold random bytes from the start (fio's default
    // buffer contents), filled once, not per I/O.
    if (!this.verifyMethod && rwHasWrites(o.rw)) for (const b of this.buffers) fillRandom(b, this.dataRng);
    this.phase = o.rampTimeUs > 0 ? 'ramp' : 'run';
    this.progress = { phase: this.phase, rw: o.rw, bytes: [0, 0, 0], ios: [0, 0, 0], fraction: 0, etaSec: 0 };
  }

  /** Starts the job's clocks at `now` (ns). */
  start(now: number): void {
    this.startNs = now;
    this.rampEndNs = now + this.o.rampTimeUs * 1000;
    this.pacer?.start(now);
    if (this.phase === 'run') this.beginRun(now);
  }

  private beginRun(now: number): void {
    this.phase = 'run';
    this.statsStartNs = now;
    this.lastSampleNs = now;
    if (this.o.runtimeUs > 0) this.runEndNs = now + this.o.runtimeUs * 1000;
    // fio resets its rate counters when the ramp ends.
    this.pacer?.start(now);
  }

  /**
   * Stops issuing new I/O (Ctrl-C, or another job's error); in-flight I/O still completes
   * and what was measured is reported. A stopped job skips its verify phase, as fio's
   * terminated jobs do.
   */
  stop(): void {
    this.stopIssuing = true;
    this.stopped = true;
  }

  /** True once every phase (ramp, run, verify) has ended. */
  get done(): boolean {
    return this.phase === 'done';
  }

  /**
   * One round: reap, then issue. `clock()` returns the time in ns. Returns true when
   * anything completed or was submitted.
   */
  step(clock: () => number): boolean {
    let progressed = false;
    const n = this.inFlight ? this.target.poll(this.cSlots, this.cStatus, this.depth) : 0;
    // Nothing completed and no slot to fill: nothing needs the time. (Reading the clock
    // on every empty poll is not free: in the lab the guest's clock is the emulated HPET,
    // and each read traps into QEMU under the lock its device models also need.)
    if (n === 0 && this.inFlight > 0 && (this.freeTop === 0 || this.stopIssuing)) return false;
    let now = clock();
    const reapNow = now;
    // Completions free their slots (and are verified) now; their statistics are recorded
    // after the next I/Os are submitted, so the device works while we count (at iodepth 1
    // the statistics would otherwise sit between one completion and the next command).
    let counted = 0;
    if (n > 0) {
      progressed = true;
      for (let k = 0; k < n; k++) counted = this.complete(this.cSlots[k]!, this.cStatus[k]!, now, counted);
      this.inFlight -= n;
      this.think?.completed(n);
      markComplete(this.stat, n);
    }
    if (this.phase === 'ramp' && now >= this.rampEndNs) this.beginRun(now);
    if (this.phase === 'run') {
      if (now >= this.lastSampleNs + AVG_TIME_NS) this.sample(now);
      if (now >= this.runEndNs) this.stopIssuing = true;
      if (this.pacer) this.checkMinRate(now);
    }
    if (this.phase === 'done') return progressed;
    let count = 0;
    let t0 = 0;
    let waiting = false;
    this.idleUntilNs = 0;
    while (this.freeTop > 0 && !this.stopIssuing) {
      const dir = this.nextIo(now);
      if (dir < 0) {
        waiting = dir === IO_WAIT;
        break;
      }
      if (count === 0) t0 = now;
      const slot = this.freeSlots[--this.freeTop]!;
      this.prepare(slot, dir as IoDirection, now);
      this.target.submit(dir as IoDirection, this.slotOffset[slot]!, this.slotLen[slot]!, slot);
      this.batch[count++] = slot;
    }
    if (count > 0) {
      this.target.flush();
      now = clock();
      for (let k = 0; k < count; k++) {
        const s = this.batch[k]!;
        this.slotStart[s] = t0;
        this.slotIssue[s] = now;
      }
      this.inFlight += count;
      markSubmit(this.stat, count);
      markDepth(this.stat, this.inFlight, count);
      progressed = true;
    }
    for (let k = 0; k < counted; k++) {
      const dir = this.doneDir[k]! as IoDirection;
      const d = this.stat.dir[dir]!;
      d.ioBytes += this.doneLen[k]!;
      d.totalIos++;
      addLatencies(this.stat, d, this.doneSlat[k]!, this.doneClat[k]!, this.doneLat[k]!);
      // fio's logs count from the end of the ramp, as its statistics do.
      this.logs?.complete((reapNow - this.statsStartNs) / 1e6, dir, this.doneLen[k]!, this.doneOffset[k]!, this.doneClat[k]!, this.doneLat[k]!, this.doneSlat[k]!);
    }
    if (waiting && this.inFlight === 0 && count === 0) this.idleUntilNs = this.think && this.think.state !== ThinkState.Issuing ? this.think.sleepUntil(now) : this.pacer!.wakeNs;
    if (this.inFlight === 0 && !waiting && (count === 0 || this.stopIssuing)) this.finishPhase(now);
    return progressed;
  }

  /** Picks the next I/O: sets this.pending* and returns its direction, or -1 when there is none. */
  private pendingOffset = 0;
  private pendingLen = 0;
  private nextIo(now: number): number {
    const o = this.o;
    if (this.phase === 'verify') {
      if (this.verifyNext >= this.verifyList.length) return -1;
      const [off, len] = this.verifyList[this.verifyNext++]!;
      this.pendingOffset = off;
      this.pendingLen = len;
      return IO_READ;
    }
    if (this.think) {
      if (!this.think.mayIssue(now, this.inFlight)) return IO_WAIT;
      // rate_ignore_thinktime: the pause is not made up for.
      if (this.think.pausedNs && this.pacer) {
        this.pacer.skip(IO_READ, this.think.pausedNs);
        this.pacer.skip(IO_WRITE, this.think.pausedNs);
      }
    }
    if (this.trimWriteDue) {
      // trimwrite: the write of the block just trimmed (the pair counts once toward size).
      this.trimWriteDue = false;
      const at = this.lastStart[IO_TRIM];
      const len = at + this.bs[IO_WRITE] <= this.regionBytes ? this.bs[IO_WRITE] : this.regionBytes - at;
      this.lastStart[IO_WRITE] = at;
      this.lastEnd[IO_WRITE] = at + len;
      this.think?.issued();
      this.pendingOffset = this.regionStart + at;
      this.pendingLen = len;
      return IO_WRITE;
    }
    let dir: IoDirection = this.heldDir >= 0 ? (this.heldDir as IoDirection) : this.does[IO_TRIM] ? IO_TRIM : !rwHasWrites(o.rw) ? IO_READ : !rwHasReads(o.rw) ? IO_WRITE : this.mix!.next();
    this.heldDir = -1;
    if (this.pacer) {
      // A job with a rate has no trims (checkTrimOptions).
      const d = this.pacer.choose(dir as RateDirection, now, rwHasReads(o.rw) && rwHasWrites(o.rw));
      if (d === RATE_WAIT) {
        this.heldDir = dir;
        return IO_WAIT;
      }
      dir = d as IoDirection;
    }
    // fio: a job is done once size bytes went out (with bssplit the last I/O of a mixed job may
    // pass it), or when not even the smallest size fits; time_based loops over the region.
    let bs = this.issuedBytes >= this.regionBytes || this.loopExhausted ? 0 : this.sizes.next(dir, this.fits);
    if (!bs || (!this.sizes.varies[dir] && this.issuedBytes + bs > this.regionBytes)) {
      if (!o.timeBased) return -1;
      this.issuedBytes = 0;
      this.loopExhausted = false;
      this.seqPos[0] = this.seqPos[1] = this.seqPos[2] = 0;
      this.map?.reset();
      bs = this.sizes.next(dir, this.fits);
      if (!bs || bs > this.regionBytes) return -1;
    }
    let rel = -1;
    /** A random draw standing in for a follow-up that had no room: fio consults its map but does not mark it. */
    let standIn = false;
    if (this.sequencer && !this.sequencer.newRandom()) {
      // rw=randread:N between two random offsets: follow (or repeat) this direction's last I/O.
      if (o.rwSequencer === 'identical') rel = Math.max(0, this.lastStart[dir]);
      else if (this.lastEnd[dir] >= 0 && this.lastEnd[dir] + bs <= this.regionBytes) rel = this.lastEnd[dir];
      else if (this.lastEnd[dir] < 0) rel = 0;
      standIn = rel < 0;
    }
    if (rel >= 0) {
      // Taken from the sequencer above.
    } else if (this.picker) {
      // fio: block × the direction's smallest size; one that would run past the region
      // (a larger size than the one the blocks are counted in) folds back into it.
      const unit = this.bs[dir];
      rel = (this.picker.next() % (Math.floor((this.regionBytes - bs) / unit) + 1)) * unit;
    } else if (rwIsRandom(o.rw) && this.sizes.varies[dir]) {
      // Mixed sizes: offsets aligned to the direction's smallest size, drawn without a map.
      const unit = this.bs[dir];
      rel = this.rng.below(Math.floor((this.regionBytes - bs) / unit) + 1) * unit;
    } else if (rwIsRandom(o.rw)) {
      let blocks = Math.floor(this.regionBytes / bs);
      let first = 0;
      if (this.zones) {
        this.zones.pick(dir);
        blocks = this.zones.count;
        first = this.zones.start;
      }
      const b = this.rng.below(blocks);
      if (this.map) {
        // (No zones here: they come without a map.)
        const got = standIn ? this.map.nextFree(b) : this.map.claim(b);
        if (got < 0) {
          this.loopExhausted = true;
          return o.timeBased ? this.nextIo(now) : -1;
        }
        rel = got * bs;
      } else rel = (b + first) * bs;
    } else {
      if (this.seqPos[dir] + bs > this.regionBytes) this.seqPos[dir] = 0;
      rel = this.seqPos[dir];
      // rw=read:4k: sequential with a hole after each I/O.
      this.seqPos[dir] += bs + o.rwSuffix;
    }
    this.lastStart[dir] = rel;
    this.lastEnd[dir] = rel + bs;
    this.issuedBytes += bs;
    this.pacer?.issued(dir as RateDirection, bs);
    this.mix?.issued(dir as RateDirection);
    this.think?.issued();
    this.pendingOffset = this.regionStart + rel;
    this.pendingLen = bs;
    if (dir === IO_TRIM && o.rw === 'trimwrite') this.trimWriteDue = true;
    return dir;
  }

  private prepare(slot: number, dir: IoDirection, now: number): void {
    this.slotDir[slot] = dir;
    this.slotOffset[slot] = this.pendingOffset;
    this.slotLen[slot] = this.pendingLen;
    this.slotCounted[slot] = this.phase === 'ramp' ? 0 : 1;
    if (dir === IO_WRITE && this.verifyMethod) {
      fillVerifyBlock(this.buffers[slot]!, this.pendingLen, this.verifyMethod, {
        offset: this.pendingOffset, seed: this.dataRng.next(), numberio: this.numberio++, thread: this.job.index, timeNs: now,
      }, this.dataRng);
    }
  }

  /**
   * Frees the slot of a completed I/O and verifies it; its latencies go to the done* arrays
   * at index `counted` when it counts in the statistics. Returns the new count.
   */
  private complete(slot: number, status: number, now: number, counted: number): number {
    this.freeSlots[this.freeTop++] = slot;
    const dir = this.slotDir[slot]! as IoDirection;
    const len = this.slotLen[slot]!;
    const offset = this.slotOffset[slot]!;
    if (status !== 0) {
      const why = this.target.failure?.(slot);
      this.fail(EIO, `${DIR_WORDS[dir]} at offset ${offset} length ${len} failed with status 0x${status.toString(16)}${why ? `: ${why}` : ''}`);
      return counted;
    }
    this.progress.bytes[dir] += len;
    this.progress.ios[dir]++;
    this.seriesRec.add((now - this.startNs) / 1e6, dir, len);
    if (this.verifyMethod && dir === IO_READ && (this.phase === 'verify' || !rwHasWrites(this.o.rw))) {
      const bad = checkVerifyBlock(this.buffers[slot]!, len, offset, this.verifyMethod);
      if (bad) {
        this.fail(EILSEQ, `verify: ${bad}`);
        return counted;
      }
      this.stat.verified++;
    }
    if (this.written && dir === IO_WRITE) this.written.set(offset, len);
    if (!this.slotCounted[slot]) return counted;
    const start = this.slotStart[slot]!;
    const issue = this.slotIssue[slot]!;
    this.doneDir[counted] = dir;
    this.doneLen[counted] = len;
    this.doneSlat[counted] = Math.round(issue - start);
    this.doneClat[counted] = Math.round(now - issue);
    this.doneLat[counted] = Math.round(now - start);
    this.doneOffset[counted] = offset;
    this.endNs = now;
    return counted + 1;
  }

  /** rate_min/rate_iops_min: ends the job with fio's EIO when a cycle fell short. */
  private checkMinRate(now: number): void {
    const r = this.stat.dir[IO_READ]!;
    const w = this.stat.dir[IO_WRITE]!;
    const why = this.pacer!.checkMin(now, [r.ioBytes, w.ioBytes], [r.totalIos, w.totalIos]);
    if (why) this.fail(EIO, why);
  }

  private fail(errno: number, why: string): void {
    if (!this.stat.error) {
      this.stat.error = errno;
      this.stat.verror = why;
    }
    this.stopIssuing = true;
  }

  /** All issued I/O completed and nothing more to issue in this phase. */
  private finishPhase(now: number): void {
    if (this.phase === 'ramp') {
      // The job ran out of work (size) before the ramp ended: nothing was measured.
      if (!this.stopIssuing && !this.o.timeBased) this.stopIssuing = true;
      if (!this.stopIssuing) return;
      this.beginRun(now);
    }
    if (this.phase === 'run') {
      const endNs = Math.max(this.endNs, this.statsStartNs);
      this.stat.totalRunTimeMs = Math.max(1, Math.floor((endNs - this.statsStartNs) / 1e6));
      if (this.written && this.written.size && !this.stat.error && !this.stopped) {
        // fio verifies in offset order once the writes are done.
        this.verifyList = [...this.written.entries()].sort((a, b) => a[0] - b[0]);
        this.written.clear();
        this.phase = 'verify';
        this.progress.phase = 'verify';
        this.stopIssuing = false;
        this.runEndNs = Infinity;
        return;
      }
    }
    if (this.phase === 'verify' && this.endNs > this.statsStartNs) {
      this.stat.totalRunTimeMs = Math.max(1, Math.floor((this.endNs - this.statsStartNs) / 1e6));
    }
    // fio's runtime[ddir]: the job's runtime for every direction that moved data, or that the job does.
    for (const d of [IO_READ, IO_WRITE, IO_TRIM]) {
      const dir = this.stat.dir[d]!;
      if (dir.ioBytes > 0) dir.runtimeMs = this.stat.totalRunTimeMs;
    }
    this.phase = 'done';
    this.progress.phase = 'done';
    this.series = this.seriesRec.finish((now - this.startNs) / 1e6);
    this.logs?.finish((now - this.statsStartNs) / 1e6);
  }

  /**
   * The statistics so far, as if the job ended at `now` (fio's __show_running_run_stats(),
   * for --status-interval): a copy whose run time, and each direction's that moved data,
   * runs from the end of the ramp to now. A finished job's copy is its final stat.
   */
  statSoFar(now: number): ThreadStat {
    const s = cloneThreadStat(this.stat);
    if (this.phase === 'done') return s;
    const ms = this.phase === 'ramp' ? 0 : Math.max(1, Math.floor((now - this.statsStartNs) / 1e6));
    s.totalRunTimeMs = ms;
    for (const d of s.dir) d.runtimeMs = d.ioBytes > 0 ? ms : 0;
    return s;
  }

  /** fio's log files of this job (empty when no log option was given), once it is done. */
  logFiles(): FioLogFile[] {
    return this.logs?.files() ?? [];
  }

  /** fio's add_bw_samples()/add_iops_samples(): one KiB/s and one IOPS sample per direction the job does. */
  private sample(now: number): void {
    const spentMs = (now - this.lastSampleNs) / 1e6;
    for (const d of [IO_READ, IO_WRITE, IO_TRIM] as const) {
      if (!this.does[d]) continue;
      const dir = this.stat.dir[d]!;
      const bytes = dir.ioBytes - this.lastSampleBytes[d];
      const ios = dir.totalIos - this.lastSampleIos[d];
      addStatSample(dir.bw, Math.floor((bytes * 1000) / spentMs / this.o.kbBase));
      addStatSample(dir.iops, Math.floor((ios * 1000) / spentMs));
      this.lastSampleBytes[d] = dir.ioBytes;
      this.lastSampleIos[d] = dir.totalIos;
    }
    this.lastSampleNs = now;
  }

  /** Refreshes `progress.fraction` and `etaSec` for the status line. */
  updateProgress(now: number): JobProgress {
    const p = this.progress;
    p.phase = this.phase;
    const o = this.o;
    const elapsed = (now - this.startNs) / 1e9;
    const ramp = o.rampTimeUs / 1e6;
    p.atSec = elapsed;
    if (this.phase === 'done') {
      p.fraction = 1;
      p.etaSec = 0;
    } else if (o.timeBased || (o.runtimeUs > 0 && this.phase !== 'verify')) {
      const total = ramp + o.runtimeUs / 1e6;
      const byTime = total > 0 ? Math.min(1, elapsed / total) : 0;
      const bySize = o.timeBased ? 0 : (p.bytes[0] + p.bytes[1] + p.bytes[2]) / (this.regionBytes * (o.rw === 'trimwrite' ? 2 : 1));
      p.fraction = Math.max(byTime, bySize);
      p.etaSec = p.fraction > 0 ? Math.max(0, (elapsed / p.fraction) - elapsed) : 0;
    } else {
      // Every pass over the region: trims, writes or reads, and the verify reads.
      const totalBytes = this.regionBytes * ((o.rw === 'trimwrite' ? 2 : 1) + (this.written ? 1 : 0));
      p.fraction = Math.min(1, (p.bytes[0] + p.bytes[1] + p.bytes[2]) / totalBytes);
      p.etaSec = p.fraction > 0 ? elapsed / p.fraction - elapsed : 0;
    }
    return p;
  }
}

/**
 * A job's empty statistics: its name and group, and the options its reports show (iodepth,
 * kb_base, the percentiles asked for).
 */
export function newJobStat(job: ResolvedJob): ThreadStat {
  const o = job.options;
  return Object.assign(newThreadStat(o.name, job.groupid), { iodepth: o.iodepth, kbBase: o.kbBase, percentileList: o.percentileList, clatPercentiles: o.clatPercentiles, latPercentiles: o.latPercentiles });
}

function fillRandom(buf: Uint8Array, rng: Taus88): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  for (; i + 4 <= buf.byteLength; i += 4) dv.setUint32(i, rng.next(), true);
  for (; i < buf.byteLength; i++) buf[i] = rng.next() & 0xff;
}

function benchError(code: string, message: string, hint: string): VfioError {
  return new VfioError({ code, message, hint });
}
