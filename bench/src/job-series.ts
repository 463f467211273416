// Per-interval IOPS and bandwidth of one job, per direction (reads, writes, trims), recorded for every job
// whether or not fio's log options were given: the report's "over time" charts come from
// these. Intervals are fixed windows of log_avg_msec (1000 ms when not given) counted from
// the job's start, ramp included (the report marks where the ramp ends; fio's own log
// files start after it). A window in which nothing completed is a point at 0: a stall is
// worth seeing. The last, partial window is a point over the time it lasted, when it lasted
// at least half a window (or the job was shorter than one window).

/** One direction's series: [ms since the job started, value] at the end of each window. */
export interface DirectionSeries {
  /** I/Os per second over each window. */
  iops: [ms: number, value: number][];
  /** Bytes per second over each window. */
  bw: [ms: number, value: number][];
}

/** A job's series, as they go into the JSON ("vfio-node": { "series": ... }). */
export interface JobSeries {
  /** The window, ms. */
  intervalMs: number;
  /** The job's ramp_time, ms: points before it were not counted in the statistics. */
  rampMs: number;
  read?: DirectionSeries;
  write?: DirectionSeries;
  /** Trims (rw=trim, randtrim, trimwrite): fio's DDIR_TRIM, direction 2 in its logs. */
  trim?: DirectionSeries;
}

/** The directions in their order (fio's DDIR_READ, DDIR_WRITE, DDIR_TRIM). */
const DIRS = ['read', 'write', 'trim'] as const;

/** The window when log_avg_msec is not given: one point per second. */
export const DEFAULT_SERIES_MS = 1000;

/** Counts completions into windows; add() per completion (two additions, one comparison). */
export class SeriesRecorder {
  private readonly ios = new Float64Array(3);
  private readonly bytes = new Float64Array(3);
  private windowEnd: number;
  private last = 0;
  private readonly out: Array<DirectionSeries | undefined>;

  /**
   * @param intervalMs the window (log_avg_msec, or DEFAULT_SERIES_MS)
   * @param rampMs the job's ramp time, recorded with the series
   * @param dirs which directions the job does (read, write, trim; a missing trim is false): only those get points
   */
  constructor(
    private readonly intervalMs: number,
    private readonly rampMs: number,
    dirs: readonly boolean[],
  ) {
    this.windowEnd = intervalMs;
    this.out = DIRS.map((_, d) => (dirs[d] ? { iops: [], bw: [] } : undefined));
  }

  /** One completion at `nowMs` (ms since the job started), direction 0 read, 1 write or 2 trim, `len` bytes. */
  add(nowMs: number, dir: number, len: number): void {
    if (nowMs >= this.windowEnd) this.close(nowMs);
    this.ios[dir]! += 1;
    this.bytes[dir]! += len;
    this.last = nowMs;
  }

  /** Closes every window that ended before `nowMs`, empty ones as 0. */
  private close(nowMs: number): void {
    while (nowMs >= this.windowEnd) {
      this.point(this.windowEnd, this.intervalMs);
      this.windowEnd += this.intervalMs;
    }
  }

  private point(t: number, spanMs: number): void {
    for (let d = 0; d < 3; d++) {
      const s = this.out[d];
      if (s) {
        s.iops.push([t, Math.round((this.ios[d]! * 1000) / spanMs)]);
        s.bw.push([t, Math.round((this.bytes[d]! * 1000) / spanMs)]);
      }
      this.ios[d] = 0;
      this.bytes[d] = 0;
    }
  }

  /** The job ended at `nowMs`: the last partial window becomes a point when anything completed in it and it lasted half a window or more. */
  finish(nowMs: number): JobSeries {
    const end = Math.max(nowMs, this.last);
    if (end >= this.windowEnd) this.close(end);
    const start = this.windowEnd - this.intervalMs;
    // After a first whole window, a tail shorter than half a window is left out: the
    // completions drained after the job's end would read as a spike (32 I/Os in 0.1 ms is
    // 320k IOPS). They are in the totals. A job shorter than one window keeps its one point.
    const tailOk = start === 0 || end - start >= this.intervalMs / 2;
    if (end > start && tailOk && this.ios[0]! + this.ios[1]! + this.ios[2]! > 0) this.point(Math.round(end), end - start);
    return withDirections({ intervalMs: this.intervalMs, rampMs: this.rampMs }, this.out);
  }
}

/** `base` with each direction of `dirs` (read, write, trim) that is defined. */
function withDirections(base: JobSeries, dirs: ReadonlyArray<DirectionSeries | undefined>): JobSeries {
  const out = { ...base };
  DIRS.forEach((k, d) => {
    if (dirs[d]) out[k] = dirs[d];
  });
  return out;
}

/**
 * Several jobs' series summed window by window (group_reporting, numjobs, a peer's jobs):
 * values at the same time add up. Jobs with different windows are summed by time anyway.
 */
export function sumSeries(all: readonly JobSeries[]): JobSeries | undefined {
  if (!all.length) return undefined;
  const sum = (pick: (s: JobSeries) => DirectionSeries | undefined): DirectionSeries | undefined => {
    const parts = all.map(pick).filter((x): x is DirectionSeries => !!x);
    if (!parts.length) return undefined;
    const add = (k: 'iops' | 'bw') => {
      const m = new Map<number, number>();
      for (const p of parts) for (const [t, v] of p[k]) m.set(t, (m.get(t) ?? 0) + v);
      return [...m].sort((a, b) => a[0] - b[0]);
    };
    return { iops: add('iops'), bw: add('bw') };
  };
  return withDirections({ intervalMs: all[0]!.intervalMs, rampMs: all[0]!.rampMs }, DIRS.map((k) => sum((s) => s[k])));
}

/** The series as JSON (keys in fio's snake case; bandwidth in bytes per second; fio's read, write, trim). */
export function seriesJson(s: JobSeries): Record<string, unknown> {
  const out: Record<string, unknown> = { interval_ms: s.intervalMs, ramp_ms: s.rampMs };
  for (const k of DIRS) {
    const d = s[k];
    if (d) out[k] = { iops: d.iops, bw_bytes: d.bw };
  }
  return out;
}
