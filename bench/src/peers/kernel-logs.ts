// The kernel peer's time series and log files: fio itself writes them (its iops and bw
// logs, per job), in a scratch directory on the machine where it ran (inside the lab,
// the guest), and they are read back there. fio's log times count from the end of
// ramp_time (its reset_all_stats() restarts the job's epoch), ours from the job's start:
// the kernel's points are moved by the ramp so that both sides share one time axis.

import path from 'node:path';
import type { FioLogFile } from '../fio-logs.js';
import { DEFAULT_SERIES_MS, type DirectionSeries, type JobSeries } from '../job-series.js';
import type { JobOptions } from '../options.js';

/** The prefix fio's logs get in the scratch directory. */
const SCRATCH_PREFIX = 'kernel';

/**
 * fio's log options for the kernel peer: iops and bw logs always (the report's series),
 * averaged over our log_avg_msec (one line per I/O when ours are), and the lat and hist
 * logs when the job asked for them; every file under `dir`, one set per job.
 */
export function kernelLogArgs(o: JobOptions, dir: string): string[] {
  const p = path.join(dir, SCRATCH_PREFIX);
  const l = o.logs;
  const args = [`--write_iops_log=${p}`, `--write_bw_log=${p}`, `--log_avg_msec=${l.avgMsec || DEFAULT_SERIES_MS}`, '--per_job_logs=1'];
  if (l.avgMsec === 0 && (l.iopsPrefix || l.bwPrefix)) args[2] = '--log_avg_msec=0';
  if (l.latPrefix) args.push(`--write_lat_log=${p}`);
  if (l.histPrefix) args.push(`--write_hist_log=${p}`, `--log_hist_msec=${l.histMsec}`);
  if (l.logOffset) args.push('--log_offset=1');
  return args;
}

/** The log kinds fio writes for `o` (the names after the prefix). */
function kinds(o: JobOptions): Array<{ kind: string; prefix: string | undefined }> {
  const l = o.logs;
  return [
    { kind: 'iops', prefix: l.iopsPrefix }, { kind: 'bw', prefix: l.bwPrefix },
    { kind: 'lat', prefix: l.latPrefix }, { kind: 'clat', prefix: l.latPrefix }, { kind: 'slat', prefix: l.latPrefix },
    { kind: 'clat_hist', prefix: l.histPrefix },
  ];
}

/**
 * The kernel's log files the job asked for, renamed beside ours: `<dir>/kernel-<prefix
 * base>_<kind>.<job>.log` (per_job_logs=0: the jobs' files joined, without the number).
 */
export function kernelUserLogs(o: JobOptions, dir: string, read: (p: string) => string | undefined): FioLogFile[] {
  const out: FioLogFile[] = [];
  for (const { kind, prefix } of kinds(o)) {
    if (!prefix) continue;
    const target = path.join(path.dirname(prefix), `kernel-${path.basename(prefix)}`);
    const texts: string[] = [];
    for (let j = 1; j <= o.numjobs; j++) {
      const text = read(path.join(dir, `${SCRATCH_PREFIX}_${kind}.${j}.log`));
      if (text === undefined) continue;
      if (o.logs.perJobLogs) out.push({ name: `${target}_${kind}.${j}.log`, text });
      else texts.push(text);
    }
    if (!o.logs.perJobLogs && texts.length) out.push({ name: `${target}_${kind}.log`, text: texts.join('') });
  }
  return out;
}

/** Parsed log lines: time ms, value, direction, block size. */
function lines(text: string): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = [];
  for (const line of text.split('\n')) {
    const f = line.split(',').map((s) => Number(s.trim()));
    if (f.length >= 4 && f.slice(0, 4).every(Number.isFinite)) out.push([f[0]!, f[1]!, f[2]!, f[3]!]);
  }
  return out;
}

/**
 * The kernel's series from its iops and bw logs (every job's, summed by time): averaged
 * lines are the points (bw from KiB/s to B/s); per-I/O lines are counted into 1 s windows
 * (IOPS: lines per window; bandwidth: their block sizes). Undefined when fio wrote none.
 * Trims are fio's direction 2.
 * @param dirs which directions the job does (read, write, trim; a missing trim is false)
 */
export function kernelSeries(o: JobOptions, dir: string, read: (p: string) => string | undefined, dirs: readonly boolean[]): JobSeries | undefined {
  const ramp = o.rampTimeUs / 1000;
  const avg = o.logs.avgMsec === 0 && (o.logs.iopsPrefix || o.logs.bwPrefix) ? 0 : o.logs.avgMsec || DEFAULT_SERIES_MS;
  const interval = avg || DEFAULT_SERIES_MS;
  const acc = [0, 1, 2].map(() => ({ iops: new Map<number, number>(), bw: new Map<number, number>() }));
  let any = false;
  const add = (m: Map<number, number>, t: number, v: number) => m.set(t, (m.get(t) ?? 0) + v);
  for (let j = 1; j <= o.numjobs; j++) {
    const iops = read(path.join(dir, `${SCRATCH_PREFIX}_iops.${j}.log`));
    const bw = read(path.join(dir, `${SCRATCH_PREFIX}_bw.${j}.log`));
    if (iops === undefined) continue;
    any = true;
    if (avg > 0) {
      for (const [t, v, d] of lines(iops)) if (acc[d]) add(acc[d]!.iops, t + ramp, v);
      for (const [t, v, d] of lines(bw ?? '')) if (acc[d]) add(acc[d]!.bw, t + ramp, v * 1024);
    } else {
      for (const [t, , d, bs] of lines(iops)) {
        if (!acc[d]) continue;
        const end = (Math.floor(t / interval) + 1) * interval + ramp;
        add(acc[d]!.iops, end, 1000 / interval);
        add(acc[d]!.bw, end, (bs * 1000) / interval);
      }
    }
  }
  if (!any) return undefined;
  const series = (d: number): DirectionSeries | undefined => {
    if (!dirs[d]) return undefined;
    const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([t, v]) => [t, Math.round(v)] as [number, number]);
    return { iops: sorted(acc[d]!.iops), bw: sorted(acc[d]!.bw) };
  };
  const r = series(0);
  const w = series(1);
  const t = series(2);
  return { intervalMs: interval, rampMs: ramp, ...(r ? { read: r } : {}), ...(w ? { write: w } : {}), ...(t ? { trim: t } : {}) };
}
