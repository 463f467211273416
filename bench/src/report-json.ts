// fio's JSON and JSON+ output (fio stat.c show_thread_status_json, add_ddir_status_json,
// add_ddir_lat_json), with the same keys and units: latencies in ns, bw in KiB/s,
// bw_bytes in B/s, runtime in ms, percentiles keyed "%f" of fio's percentile list, and in
// json+ clat_ns.bins keyed by fio's bin values. The key set is a superset of fio 3.33's
// (bench/src/fixtures); our additions are the per-job "vfio-node" object and, with
// --compare, the top-level "vfio-node compare" object (see compare.ts).

import type { RunResult } from './engine.js';
import type { GroupRunStats, ReportedStat } from './group.js';
import { calcPercentiles, nonEmptyBins, type Plat } from './histogram.js';
import { runEnvironment } from './environment.js';
import { seriesJson, sumSeries } from './job-series.js';
import { calcDist, calcLat, calcLatDist, totalRwIos, DDIR_NAMES, type DirStat, type IoStat, type ThreadStat } from './stat.js';

/** What "fio version" says: this is not fio, but the schema is fio's. */
export const BENCH_VERSION = 'vfio-node-0.1.0';

export interface JsonReportOptions {
  plus: boolean;
  globalOptions: Record<string, string>;
  /** The "vfio-node environment" facts; default: this machine's (environment.ts). */
  environment?: Record<string, string>;
  /** Extra top-level keys (e.g. "vfio-node compare"). */
  extra?: Record<string, unknown>;
  now?: Date;
}

type Json = Record<string, unknown>;

/** Builds fio's JSON report (--output-format=json, json+ with the histogram bins) from a run's results. */
export function buildJsonReport(run: RunResult, stats: readonly ReportedStat[], groups: readonly GroupRunStats[], opts: JsonReportOptions): Json {
  const now = opts.now ?? new Date();
  const root: Json = {
    'fio version': BENCH_VERSION,
    timestamp: Math.floor(now.getTime() / 1000),
    timestamp_ms: now.getTime(),
    // fio prints ctime() without its newline: "Wed Nov 25 18:34:39 2026".
    time: ctime(now),
  };
  if (Object.keys(opts.globalOptions).length) root['global options'] = { ...opts.globalOptions };
  root.jobs = stats.map((s) => jobJson(s, groups.find((g) => g.groupid === s.stat.groupid)!, run, opts.plus, now));
  // fio lists kernel disk utilisation here; a VFIO device has no kernel block device.
  root.disk_util = [];
  // Where it ran (the report's "Where it ran"): machine, kernel, Node, the lab, the commit.
  root['vfio-node environment'] = opts.environment ?? runEnvironment();
  Object.assign(root, opts.extra ?? {});
  return root;
}

function jobJson({ stat: ts, first }: ReportedStat, rs: GroupRunStats, run: RunResult, plus: boolean, now: Date): Json {
  const runt = ts.totalRunTimeMs;
  const o: Json = {
    jobname: ts.name,
    groupid: ts.groupid,
    job_start: run.startedAt.getTime(),
    error: ts.error,
    eta: 0,
    elapsed: Math.max(0, Math.round((now.getTime() - run.startedAt.getTime()) / 1000)),
    'job options': { ...first.job.jobOptions },
  };
  for (let d = 0; d < 3; d++) o[DDIR_NAMES[d]!] = dirJson(ts, ts.dir[d]!, rs, d, plus);
  o.sync = { total_ios: 0, lat_ns: latJson(ts, emptyStat(), undefined, false, false) };
  o.job_runtime = runt;
  o.usr_cpu = runt ? ts.usrTimeUs / 1000 / runt * 100 : 0;
  o.sys_cpu = runt ? ts.sysTimeUs / 1000 / runt * 100 : 0;
  o.ctx = ts.ctx;
  o.majf = ts.majf;
  o.minf = ts.minf;
  const total = totalRwIos(ts);
  o.iodepth_level = keyed(['1', '2', '4', '8', '16', '32', '>=64'], calcDist(ts.ioUMap, total));
  const batchKeys = ['0', '4', '8', '16', '32', '64', '>=64'];
  o.iodepth_submit = keyed(batchKeys, calcDist(ts.ioUSubmit, ts.totalSubmit));
  o.iodepth_complete = keyed(batchKeys, calcDist(ts.ioUComplete, ts.totalComplete));
  const r10 = ['2', '4', '10', '20', '50', '100', '250', '500', '750', '1000'];
  o.latency_ns = keyed(r10, calcLatDist(ts.latN, total));
  o.latency_us = keyed(r10, calcLatDist(ts.latU, total));
  o.latency_ms = keyed([...r10, '2000', '>=2000'], calcLatDist(ts.latM, total));
  o.latency_depth = ts.iodepth;
  o.latency_target = 0;
  o.latency_target_ns = 0;
  o.latency_percentile = 100.0;
  o.latency_window = 0;
  o.latency_window_us = 0;
  const series = seriesOf(first, run);
  o['vfio-node'] = { target: first.target, engine: first.job.options.ioengine, members: ts.members, verify_blocks: ts.verified, ...(ts.error ? { verror: ts.verror } : {}), ...(series ? { series: seriesJson(series) } : {}) };
  return o;
}

function dirJson(ts: ThreadStat, d: DirStat, rs: GroupRunStats, ddir: number, plus: boolean): Json {
  const runt = d.runtimeMs;
  const bwBytes = runt ? Math.floor((1000 * d.ioBytes) / runt) : 0;
  const o: Json = {
    io_bytes: d.ioBytes,
    io_kbytes: Math.floor(d.ioBytes / 1024),
    bw_bytes: bwBytes,
    bw: Math.floor(bwBytes / 1024),
    iops: runt ? (1000 * d.totalIos) / runt : 0,
    runtime: runt,
    total_ios: d.totalIos,
    short_ios: d.shortIos,
    drop_ios: d.dropIos,
    // fio has no slat/lat percentiles unless slat_percentiles/lat_percentiles are set.
    slat_ns: latJson(ts, d.slat, undefined, false, false),
    clat_ns: latJson(ts, d.clat, d.clatPlat, ts.clatPercentiles, plus),
    lat_ns: latJson(ts, d.lat, d.latPlat, ts.latPercentiles, plus),
  };
  const bw = calcLat(d.bw);
  // fio's convert_agg_kbytes_percent(): this job's mean bandwidth as a share of the group's.
  const agg = rs.agg[ddir]!;
  o.bw_min = bw ? bw.min : 0;
  o.bw_max = bw ? bw.max : 0;
  o.bw_agg = bw ? (agg > 1024 ? Math.min(100, (bw.mean * 100) / (agg / 1024)) : 100) : 0;
  o.bw_mean = bw ? bw.mean : 0;
  o.bw_dev = bw ? bw.stddev : 0;
  o.bw_samples = d.bw.samples;
  const iops = calcLat(d.iops);
  o.iops_min = iops ? iops.min : 0;
  o.iops_max = iops ? iops.max : 0;
  o.iops_mean = iops ? iops.mean : 0;
  o.iops_stddev = iops ? iops.stddev : 0;
  o.iops_samples = d.iops.samples;
  return o;
}

function latJson(ts: ThreadStat, is: IoStat, plat: Plat | undefined, percentiles: boolean, plus: boolean): Json {
  const l = calcLat(is);
  const o: Json = { min: l ? l.min : 0, max: l ? l.max : 0, mean: l ? l.mean : 0, stddev: l ? l.stddev : 0, N: is.samples };
  if (percentiles && plat && is.samples) {
    const list = [...ts.percentileList].sort((a, b) => a - b);
    const vals = calcPercentiles(plat, is.samples, list);
    o.percentile = Object.fromEntries(list.map((p, i) => [p.toFixed(6), vals[i]]));
    if (plus) o.bins = Object.fromEntries(nonEmptyBins(plat).map(([v, c]) => [String(v), c]));
  }
  return o;
}

/** A reported stat's series: its job's, or under group_reporting the group's jobs' summed. */
function seriesOf(first: ReportedStat['first'], run: RunResult) {
  if (!first.job.options.groupReporting) return first.series;
  const members = run.results.filter((r) => r.job.groupid === first.job.groupid && r.job.options.groupReporting);
  return sumSeries(members.flatMap((r) => (r.series ? [r.series] : [])));
}

const emptyStat = (): IoStat => ({ min: Infinity, max: 0, mean: 0, S: 0, samples: 0 });

function keyed(keys: string[], values: number[]): Record<string, number> {
  return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? 0]));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C's ctime() in local time, without the trailing newline. */
export function ctime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/**
 * Serialises like fio's json.c: two-space indent, " : " between key and value, floats
 * with six decimals ("%f"), integers as integers. With `oneLine` the same values on one
 * line without spaces (--status-interval's JSON lines).
 */
export function stringifyFioJson(value: unknown, oneLine = false): string {
  if (oneLine) return stringifyOneLine(value, undefined, undefined);
  const out: string[] = [];
  const write = (v: unknown, indent: string, key: string | undefined, parent?: string): void => {
    const isFloat = key !== undefined && (FLOAT_KEYS.has(key) || (parent !== undefined && FLOAT_PARENTS.has(parent)));
    if (v === null || v === undefined) out.push('null');
    else if (typeof v === 'number') out.push(Number.isFinite(v) ? (isFloat || !Number.isInteger(v) ? v.toFixed(6) : String(v)) : '0');
    else if (typeof v === 'string' || typeof v === 'boolean') out.push(JSON.stringify(v));
    else if (Array.isArray(v)) {
      if (!v.length) return void out.push('[]');
      out.push('[\n');
      v.forEach((e, i) => {
        out.push(indent + '  ');
        write(e, indent + '  ', undefined);
        out.push(i < v.length - 1 ? ',\n' : '\n');
      });
      out.push(indent + ']');
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      if (!entries.length) return void out.push('{}');
      out.push('{\n');
      entries.forEach(([k, e], i) => {
        out.push(`${indent}  ${JSON.stringify(k)} : `);
        write(e, indent + '  ', k, key);
        out.push(i < entries.length - 1 ? ',\n' : '\n');
      });
      out.push(indent + '}');
    }
  };
  write(value, '', undefined);
  return out.join('');
}

/** stringifyFioJson's one-line form: the same numbers, no newlines or indentation. */
function stringifyOneLine(v: unknown, key: string | undefined, parent: string | undefined): string {
  const isFloat = key !== undefined && (FLOAT_KEYS.has(key) || (parent !== undefined && FLOAT_PARENTS.has(parent)));
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? (isFloat || !Number.isInteger(v) ? v.toFixed(6) : String(v)) : '0';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((e) => stringifyOneLine(e, undefined, undefined)).join(',')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, e]) => `${JSON.stringify(k)}:${stringifyOneLine(e, k, key)}`).join(',')}}`;
}

/** Keys fio always prints as floats, even when the value is whole. */
const FLOAT_KEYS = new Set(['iops', 'mean', 'stddev', 'bw_agg', 'bw_mean', 'bw_dev', 'iops_mean', 'iops_stddev', 'usr_cpu', 'sys_cpu', 'latency_percentile', 'util']);
/** Objects whose values are all floats (percentages). */
const FLOAT_PARENTS = new Set(['iodepth_level', 'iodepth_submit', 'iodepth_complete', 'latency_ns', 'latency_us', 'latency_ms']);
