// fio's per-job statistics (fio stat.h "struct thread_stat"), kept the way fio keeps
// them so that the numbers mean the same: an io_stat is min/max/mean plus Welford's S
// (add_stat_sample), latency distribution buckets count completions by clat
// (io_u_mark_latency), depth maps count I/Os by queue depth (io_u_mark_depth,
// io_u_mark_submit/complete). Directions are fio's DDIR_READ=0, WRITE=1, TRIM=2.

import { newPlat, platValToIdx, type Plat } from './histogram.js';

export const DDIR_READ = 0;
export const DDIR_WRITE = 1;
export const DDIR_TRIM = 2;
export const DDIR_NAMES = ['read', 'write', 'trim'] as const;

/** fio's struct io_stat: running min, max, mean and S (sum of squared deviations). */
export interface IoStat {
  min: number;
  max: number;
  mean: number;
  S: number;
  samples: number;
}

export const newIoStat = (): IoStat => ({ min: Infinity, max: 0, mean: 0, S: 0, samples: 0 });

/** fio's add_stat_sample(): Welford's online update. */
export function addStatSample(is: IoStat, v: number): void {
  if (v > is.max) is.max = v;
  if (v < is.min) is.min = v;
  const delta = v - is.mean;
  if (delta) {
    is.mean += delta / (is.samples + 1);
    is.S += delta * (v - is.mean);
  }
  is.samples++;
}

/** fio's calc_lat(): min, max, mean and the sample standard deviation sqrt(S/(n-1)); undefined for no samples. */
export function calcLat(is: IoStat): { min: number; max: number; mean: number; stddev: number } | undefined {
  if (is.samples === 0) return undefined;
  return { min: is.min, max: is.max, mean: is.mean, stddev: is.samples > 1 ? Math.sqrt(is.S / (is.samples - 1)) : 0 };
}

/**
 * fio's __sum_stat() (time-based stats: merged means and S, the parallel variance
 * algorithm) or, with pureSum, sum_stat()'s plain addition used for bw/iops samples
 * under group_reporting.
 */
export function sumStat(dst: IoStat, src: IoStat, pureSum: boolean): void {
  if (src.samples === 0) return;
  const first = dst.samples === 0;
  if (pureSum) {
    if (first) Object.assign(dst, src);
    else {
      dst.min += src.min;
      dst.max += src.max;
      dst.samples += src.samples;
      dst.mean += src.mean;
      dst.S += src.S;
    }
    return;
  }
  dst.min = Math.min(dst.min, src.min);
  dst.max = Math.max(dst.max, src.max);
  if (first) {
    dst.mean = src.mean;
    dst.S = src.S;
  } else {
    const delta = src.mean - dst.mean;
    const n = dst.samples + src.samples;
    dst.mean = (src.mean * src.samples + dst.mean * dst.samples) / n;
    dst.S = src.S + dst.S + (delta * delta * dst.samples * src.samples) / n;
  }
  dst.samples += src.samples;
}

/** Per-direction counters. */
export interface DirStat {
  ioBytes: number;
  totalIos: number;
  shortIos: number;
  dropIos: number;
  /** Milliseconds the job ran with this direction active (fio's runtime[ddir]). */
  runtimeMs: number;
  slat: IoStat;
  clat: IoStat;
  lat: IoStat;
  /** KiB/s samples every bw_avg_time (500 ms). */
  bw: IoStat;
  /** IOPS samples every iops_avg_time (500 ms). */
  iops: IoStat;
  clatPlat: Plat;
  latPlat: Plat;
}

export function newDirStat(): DirStat {
  return {
    ioBytes: 0, totalIos: 0, shortIos: 0, dropIos: 0, runtimeMs: 0,
    slat: newIoStat(), clat: newIoStat(), lat: newIoStat(), bw: newIoStat(), iops: newIoStat(),
    clatPlat: newPlat(), latPlat: newPlat(),
  };
}

/** fio's FIO_IO_U_MAP_NR, FIO_IO_U_LAT_N_NR, _U_NR, _M_NR. */
export const FIO_IO_U_MAP_NR = 7;
export const FIO_IO_U_LAT_N_NR = 10;
export const FIO_IO_U_LAT_U_NR = 10;
export const FIO_IO_U_LAT_M_NR = 12;

/** One job's (or one reporting group's) statistics. */
export interface ThreadStat {
  name: string;
  groupid: number;
  /** Jobs summed into this stat (fio's "jobs=" in the normal output). */
  members: number;
  error: number;
  /** fio's verror: what went wrong, when error != 0. */
  verror: string;
  dir: [DirStat, DirStat, DirStat];
  /** fio's total_run_time (ms) and the CPU time spent meanwhile (µs). */
  totalRunTimeMs: number;
  usrTimeUs: number;
  sysTimeUs: number;
  ctx: number;
  majf: number;
  minf: number;
  ioUMap: Float64Array;
  ioUSubmit: Float64Array;
  ioUComplete: Float64Array;
  totalSubmit: number;
  totalComplete: number;
  latN: Float64Array;
  latU: Float64Array;
  latM: Float64Array;
  /** The job's iodepth (fio reports it as latency_depth). */
  iodepth: number;
  kbBase: 1000 | 1024;
  percentileList: number[];
  clatPercentiles: boolean;
  latPercentiles: boolean;
  /** Verify: blocks checked, and the first mismatch if any. */
  verified: number;
}

export function newThreadStat(name: string, groupid: number): ThreadStat {
  return {
    name, groupid, members: 1, error: 0, verror: '',
    dir: [newDirStat(), newDirStat(), newDirStat()],
    totalRunTimeMs: 0, usrTimeUs: 0, sysTimeUs: 0, ctx: 0, majf: 0, minf: 0,
    ioUMap: new Float64Array(FIO_IO_U_MAP_NR), ioUSubmit: new Float64Array(FIO_IO_U_MAP_NR), ioUComplete: new Float64Array(FIO_IO_U_MAP_NR),
    totalSubmit: 0, totalComplete: 0,
    latN: new Float64Array(FIO_IO_U_LAT_N_NR), latU: new Float64Array(FIO_IO_U_LAT_U_NR), latM: new Float64Array(FIO_IO_U_LAT_M_NR),
    iodepth: 1, kbBase: 1024, percentileList: [], clatPercentiles: true, latPercentiles: false, verified: 0,
  };
}

/** fio's "2 4 10 20 50 100 250 500 750 1000" bucket of a value below 1000 (io_u_mark_lat_nsec/usec). */
function bucket3(v: number): number {
  if (v >= 750) return 9;
  if (v >= 500) return 8;
  if (v >= 250) return 7;
  if (v >= 100) return 6;
  if (v >= 50) return 5;
  if (v >= 20) return 4;
  if (v >= 10) return 3;
  if (v >= 4) return 2;
  if (v >= 2) return 1;
  return 0;
}

/** fio's io_u_mark_latency(): one completion's clat into the ns, µs or ms buckets. */
export function markLatency(ts: ThreadStat, nsec: number): void {
  if (nsec < 1000) ts.latN[bucket3(nsec)]!++;
  else if (nsec < 1_000_000) ts.latU[bucket3(Math.floor(nsec / 1000))]!++;
  else {
    const msec = Math.floor(nsec / 1_000_000);
    ts.latM[msec >= 2000 ? 11 : msec >= 1000 ? 10 : bucket3(msec)]!++;
  }
}

/** fio's io_u_mark_depth(): `nr` I/Os issued while `curDepth` were in flight. */
export function markDepth(ts: ThreadStat, curDepth: number, nr: number): void {
  const idx = curDepth >= 64 ? 6 : curDepth >= 32 ? 5 : curDepth >= 16 ? 4 : curDepth >= 8 ? 3 : curDepth >= 4 ? 2 : curDepth >= 2 ? 1 : 0;
  ts.ioUMap[idx]! += nr;
}

/** fio's __io_u_mark_map(): buckets 0, 1-4, 5-8, 9-16, 17-32, 33-64, >64 by batch size. */
function batchIdx(nr: number): number {
  return nr > 64 ? 6 : nr > 32 ? 5 : nr > 16 ? 4 : nr > 8 ? 3 : nr > 4 ? 2 : nr > 0 ? 1 : 0;
}
export function markSubmit(ts: ThreadStat, nr: number): void {
  ts.ioUSubmit[batchIdx(nr)]!++;
  ts.totalSubmit++;
}
export function markComplete(ts: ThreadStat, nr: number): void {
  ts.ioUComplete[batchIdx(nr)]!++;
  ts.totalComplete++;
}

/** fio's stat_calc_dist(): percentages of a depth map, with a floor of 0.1% for non-empty buckets. */
export function calcDist(map: Float64Array, total: number): number[] {
  return Array.from(map, (v) => {
    if (!total) return 0;
    const p = (v / total) * 100;
    return p < 0.1 && v ? 0.1 : p;
  });
}

/** fio's stat_calc_lat(): bucket percentages of all I/Os, with a floor of 0.01%. */
export function calcLatDist(buckets: Float64Array, totalIos: number): number[] {
  return Array.from(buckets, (v) => {
    if (!totalIos) return 0;
    const p = (v / totalIos) * 100;
    return p < 0.01 && v ? 0.01 : p;
  });
}

export const totalRwIos = (ts: ThreadStat): number => ts.dir[0].totalIos + ts.dir[1].totalIos + ts.dir[2].totalIos;

/** fio's sum_thread_stats(): adds src into dst for group_reporting. */
export function sumThreadStats(dst: ThreadStat, src: ThreadStat): void {
  for (let d = 0; d < 3; d++) {
    const a = dst.dir[d]!;
    const b = src.dir[d]!;
    sumStat(a.clat, b.clat, false);
    sumStat(a.slat, b.slat, false);
    sumStat(a.lat, b.lat, false);
    sumStat(a.bw, b.bw, true);
    sumStat(a.iops, b.iops, true);
    a.ioBytes += b.ioBytes;
    a.totalIos += b.totalIos;
    a.shortIos += b.shortIos;
    a.dropIos += b.dropIos;
    if (a.runtimeMs < b.runtimeMs) a.runtimeMs = b.runtimeMs;
    for (let i = 0; i < a.clatPlat.length; i++) {
      a.clatPlat[i]! += b.clatPlat[i]!;
      a.latPlat[i]! += b.latPlat[i]!;
    }
  }
  dst.usrTimeUs += src.usrTimeUs;
  dst.sysTimeUs += src.sysTimeUs;
  dst.ctx += src.ctx;
  dst.majf += src.majf;
  dst.minf += src.minf;
  for (let k = 0; k < FIO_IO_U_MAP_NR; k++) {
    dst.ioUMap[k]! += src.ioUMap[k]!;
    dst.ioUSubmit[k]! += src.ioUSubmit[k]!;
    dst.ioUComplete[k]! += src.ioUComplete[k]!;
  }
  for (let k = 0; k < FIO_IO_U_LAT_N_NR; k++) dst.latN[k]! += src.latN[k]!;
  for (let k = 0; k < FIO_IO_U_LAT_U_NR; k++) dst.latU[k]! += src.latU[k]!;
  for (let k = 0; k < FIO_IO_U_LAT_M_NR; k++) dst.latM[k]! += src.latM[k]!;
  dst.totalRunTimeMs += src.totalRunTimeMs;
  dst.totalSubmit += src.totalSubmit;
  dst.totalComplete += src.totalComplete;
  dst.verified += src.verified;
  if (!dst.error && src.error) {
    dst.error = src.error;
    dst.verror = src.verror;
  }
}

/** A deep copy, so that group sums never change a job's own stat. */
export function cloneThreadStat(ts: ThreadStat): ThreadStat {
  const dir = ts.dir.map((d) => ({
    ...d, slat: { ...d.slat }, clat: { ...d.clat }, lat: { ...d.lat }, bw: { ...d.bw }, iops: { ...d.iops },
    clatPlat: d.clatPlat.slice(), latPlat: d.latPlat.slice(),
  })) as ThreadStat['dir'];
  return {
    ...ts, dir, ioUMap: ts.ioUMap.slice(), ioUSubmit: ts.ioUSubmit.slice(), ioUComplete: ts.ioUComplete.slice(),
    latN: ts.latN.slice(), latU: ts.latU.slice(), latM: ts.latM.slice(), percentileList: [...ts.percentileList],
  };
}

/** Records one completed I/O's latencies (ns) into a direction, as fio's add_*_sample do. */
export function addLatencies(ts: ThreadStat, d: DirStat, slat: number, clat: number, lat: number): void {
  addStatSample(d.slat, slat);
  addStatSample(d.clat, clat);
  addStatSample(d.lat, lat);
  d.clatPlat[platValToIdx(clat)]!++;
  d.latPlat[platValToIdx(lat)]!++;
  markLatency(ts, clat);
}
