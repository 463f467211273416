// fio's log options (HOWTO "write_bw_log", "write_iops_log", "write_lat_log",
// "write_hist_log", "log_avg_msec", "log_hist_msec", "log_offset", "per_job_logs"),
// parsed into FioLogOptions (fio-logs.ts writes the files), and where the files go:
// fio writes `<prefix>_<kind>.<job>.log` in the working directory, or under the
// directories the prefix names. options.ts takes LOG_SETTERS into its table.

import path from 'node:path';
import type { FioLogFile, FioLogOptions } from './fio-logs.js';
import type { JobOptions } from './options.js';
import { parseBool, parseInteger } from './units.js';

/** fio's defaults: no log, one line per I/O, histogram at the end, no offsets, the job number in the name. */
export function defaultLogOptions(): FioLogOptions {
  return { avgMsec: 0, histMsec: 0, logOffset: false, perJobLogs: true };
}

/** Whether a job asked for any of fio's log files. */
export const wantsLogs = (l: FioLogOptions): boolean => !!(l.bwPrefix || l.iopsPrefix || l.latPrefix || l.histPrefix);

/** fio: a write_*_log without a value names its files after the job. */
const prefix = (o: JobOptions, v: string | undefined): string => (v === undefined || v === '' ? o.name : v);
const bool = (k: string, v: string | undefined): boolean => (v === undefined || v === '' ? true : parseBool(k, v));

/** The log options, as options.ts's setters (o, value, key). */
export const LOG_SETTERS: Record<string, (o: JobOptions, v: string | undefined, k: string) => void> = {
  write_bw_log: (o, v) => { o.logs.bwPrefix = prefix(o, v); },
  write_iops_log: (o, v) => { o.logs.iopsPrefix = prefix(o, v); },
  write_lat_log: (o, v) => { o.logs.latPrefix = prefix(o, v); },
  write_hist_log: (o, v) => { o.logs.histPrefix = prefix(o, v); },
  // fio: integers in milliseconds (no unit suffix).
  log_avg_msec: (o, v, k) => { o.logs.avgMsec = parseInteger(k, v === undefined ? '' : v, 0, 86_400_000); },
  log_hist_msec: (o, v, k) => { o.logs.histMsec = parseInteger(k, v === undefined ? '' : v, 0, 86_400_000); },
  log_offset: (o, v, k) => { o.logs.logOffset = bool(k, v); },
  per_job_logs: (o, v, k) => { o.logs.perJobLogs = bool(k, v); },
};

/** The log options that are flags on the command line (a bare --log_offset means 1). */
export const LOG_FLAG_OPTIONS: readonly string[] = ['log_offset', 'per_job_logs'];

/**
 * The files of several jobs as they land on disk: with per_job_logs=0 the jobs share one
 * file per kind (fio appends them), so texts with the same name are joined in job order.
 */
export function mergeLogFiles(files: readonly FioLogFile[]): FioLogFile[] {
  const byName = new Map<string, string>();
  for (const f of files) byName.set(f.name, (byName.get(f.name) ?? '') + f.text);
  return [...byName].map(([name, text]) => ({ name, text }));
}

/**
 * Where a log file goes when fio's logs are redirected under `dir` (the lab's shared
 * folder): relative names under dir/rel, absolute ones under dir/abs, so the host can
 * put each back where the name says (logFileHome).
 */
export function logFileUnder(dir: string, name: string): string {
  return path.isAbsolute(name) ? path.join(dir, 'abs', name) : path.join(dir, 'rel', name);
}

/** The inverse of logFileUnder: a path under dir (relative to it) back to where the log's name points, from `cwd`. */
export function logFileHome(relUnderDir: string, cwd: string): string | undefined {
  const parts = relUnderDir.split(path.sep);
  const rest = parts.slice(1).join(path.sep);
  if (!rest) return undefined;
  if (parts[0] === 'abs') return path.sep + rest;
  if (parts[0] === 'rel') return path.resolve(cwd, rest);
  return undefined;
}
