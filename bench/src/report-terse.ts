// fio's terse output (--output-format=terse, --terse-version=2|3|4|5; fio 3.33 stat.c
// show_thread_status_terse_all and show_ddir_status_terse; HOWTO "Terse output"): one line
// of semicolon-separated fields per reported job. Version 3, fio's default, in this order:
//   terse version; fio version; jobname; groupid; error
//   read, then write (version 3 has no trim), each 41 fields:
//     io KiB; bw KiB/s; IOPS; runtime ms
//     slat min; max; mean; stdev (µs)      clat min; max; mean; stdev (µs)
//     20 clat percentiles "P%=µs" (lat percentiles under lat_percentiles; "0%=0" past the list)
//     lat min; max; mean; stdev (µs)
//     bw min; max; aggregate %; mean; stdev (KiB/s)
//   usr cpu %; sys cpu %; context switches; major faults; minor faults
//   7 I/O depth shares (<=1 ... >=64)
//   10 completion latency shares in µs (<=2 ... 1000; the ns buckets count in the first)
//   12 in ms (<=2 ... 2000, >=2000)
//   [the job's description, when it has one]
// 121 fields without a description. The other versions, as fio 3.33 prints them (checked
// against its lines for the same jobs, fixtures fio-3.33-*.terse-v*.txt):
//   2: "2; jobname; groupid; error" (no fio version), then read, write and trim (41 fields
//      each); a description goes on a line of its own, ";description" (161 fields);
//   4: version 3 with the trim fields after write's (162 fields);
//   5: version 4 where each direction adds, after its bw fields, the number of bw samples and
//      the IOPS samples' min; max; mean; stdev; count (47 fields a direction, 180 in all).
// fio's disk utilisation fields follow the ms shares when fio saw a kernel disk (versions 3
// and up); a VFIO device has none, so there are none (as fio prints for its null engine).
// Integers are printed as fio's %llu (µs values are ns / 1000 rounded down), floats as %f.

import type { GroupRunStats, ReportedStat } from './group.js';
import { calcPercentiles } from './histogram.js';
import { BENCH_VERSION } from './report-json.js';
import { calcDist, calcLat, calcLatDist, totalRwIos, DDIR_READ, DDIR_TRIM, DDIR_WRITE, type IoStat, type ThreadStat } from './stat.js';

/** The terse versions we print: fio 3.33's, all of them (its default is 3). */
export const TERSE_VERSIONS = [2, 3, 4, 5] as const;

/** One of {@link TERSE_VERSIONS}. */
export type TerseVersion = (typeof TERSE_VERSIONS)[number];

/** fio's FIO_IO_U_LIST_MAX_LEN: terse always prints this many percentile fields per direction. */
export const TERSE_PERCENTILE_FIELDS = 20;

/** Fields of a version 3 line without a description. */
export const TERSE_V3_FIELDS = 121;

/** printf("%f") */
const f6 = (v: number): string => v.toFixed(6);
/** printf("%llu") of a value in ns shown in µs. */
const us = (ns: number): string => String(Math.floor(ns / 1000));

/** The terse lines of every reported stat, one per line, each ending in a newline (version 3 unless told). */
export function formatTerseReport(stats: readonly ReportedStat[], groups: readonly GroupRunStats[], version: TerseVersion = 3): string {
  return stats.map((s) => formatTerseLine(s.stat, groups.find((g) => g.groupid === s.stat.groupid)!, s.first.job.options.description, version)).join('');
}

/**
 * One job's (or one group_reporting group's) terse line, with its newline; in version 2 a
 * description follows on a second line, as fio prints it.
 */
export function formatTerseLine(ts: ThreadStat, rs: GroupRunStats, description = '', version: TerseVersion = 3): string {
  const fields: string[] = version === 2 ? ['2', ts.name, String(ts.groupid), String(ts.error)] : [String(version), BENCH_VERSION, ts.name, String(ts.groupid), String(ts.error)];
  const ddirs = version === 3 ? [DDIR_READ, DDIR_WRITE] : [DDIR_READ, DDIR_WRITE, DDIR_TRIM];
  for (const d of ddirs) fields.push(...ddirFields(ts, rs, d, version));
  const runt = ts.totalRunTimeMs;
  const usr = runt ? (ts.usrTimeUs / 1000) * 100 / runt : 0;
  const sys = runt ? (ts.sysTimeUs / 1000) * 100 / runt : 0;
  fields.push(`${f6(usr)}%`, `${f6(sys)}%`, String(ts.ctx), String(ts.majf), String(ts.minf));
  const total = totalRwIos(ts);
  for (const p of calcDist(ts.ioUMap, total)) fields.push(`${p.toFixed(1)}%`);
  // fio's stat_calc_lat_nu(): "to keep the terse format unaltered" the ns buckets all count in the first µs one.
  const latU = calcLatDist(ts.latU, total);
  if (total) latU[0]! += (100 * ts.latN.reduce((a, b) => a + b, 0)) / total;
  for (const p of latU) fields.push(`${p.toFixed(2)}%`);
  for (const p of calcLatDist(ts.latM, total)) fields.push(`${p.toFixed(2)}%`);
  if (!description) return fields.join(';') + '\n';
  // fio: version 2 starts a new line before the description's ";".
  return version === 2 ? `${fields.join(';')}\n;${description}\n` : `${fields.join(';')};${description}\n`;
}

/** min; max; mean; stdev in µs, or zeros without samples. */
function latFields(is: IoStat): string[] {
  const l = calcLat(is);
  return l ? [us(l.min), us(l.max), f6(l.mean / 1000), f6(l.stddev / 1000)] : ['0', '0', f6(0), f6(0)];
}

function ddirFields(ts: ThreadStat, rs: GroupRunStats, ddir: number, version: TerseVersion): string[] {
  const d = ts.dir[ddir]!;
  const runt = d.runtimeMs;
  const bw = runt ? Math.floor(Math.floor((1000 * d.ioBytes) / runt) / 1024) : 0;
  const iops = runt ? Math.floor((1000 * d.totalIos) / runt) : 0;
  const out = [String(Math.floor(d.ioBytes / 1024)), String(bw), String(iops), String(runt)];
  out.push(...latFields(d.slat), ...latFields(d.clat));
  // lat_percentiles wins over clat_percentiles; with neither, every field is "0%=0".
  const [plat, n] = ts.latPercentiles ? [d.latPlat, d.lat.samples] : ts.clatPercentiles ? [d.clatPlat, d.clat.samples] : [undefined, 0];
  const list = plat ? [...ts.percentileList].sort((a, b) => a - b).slice(0, TERSE_PERCENTILE_FIELDS) : [];
  const vals = plat ? calcPercentiles(plat, n, list) : [];
  for (let i = 0; i < TERSE_PERCENTILE_FIELDS; i++) out.push(i < list.length ? `${f6(list[i]!)}%=${us(vals[i] ?? 0)}` : '0%=0');
  out.push(...latFields(d.lat));
  const b = calcLat(d.bw);
  if (b) {
    // fio: mean * 100 / (agg / 1024) with the integer division, at most 100%; 100% without an aggregate.
    const aggKiB = Math.floor(rs.agg[ddir]! / 1024);
    const pOfAgg = rs.agg[ddir] ? Math.min(100, aggKiB ? (b.mean * 100) / aggKiB : Infinity) : 100;
    out.push(String(Math.floor(b.min)), String(Math.floor(b.max)), `${f6(pOfAgg)}%`, f6(b.mean), f6(b.stddev));
  } else out.push('0', '0', `${f6(0)}%`, f6(0), f6(0));
  if (version === 5) {
    // The bw samples' count (0 without any), then the IOPS samples as fio's calc_lat gives them.
    out.push(String(b ? d.bw.samples : 0));
    const i = calcLat(d.iops);
    out.push(...(i ? [String(Math.floor(i.min)), String(Math.floor(i.max)), f6(i.mean), f6(i.stddev), String(d.iops.samples)] : ['0', '0', f6(0), f6(0), '0']));
  }
  return out;
}

/**
 * The field table of a line of the given version, one name per field in order (after the
 * HOWTO's short names in "Terse output"), for tests and for anyone who reads a line by name.
 * A description, when there is one, follows these fields (on its own line in version 2).
 */
export function terseFieldNames(version: TerseVersion): readonly string[] {
  const names = version === 2 ? ['terse_version_2', 'jobname', 'groupid', 'error'] : [`terse_version_${version}`, 'fio_version', 'jobname', 'groupid', 'error'];
  for (const d of version === 3 ? ['read', 'write'] : ['read', 'write', 'trim']) {
    names.push(`${d}_kb`, `${d}_bandwidth_kb`, `${d}_iops`, `${d}_runtime_ms`);
    for (const l of ['slat', 'clat']) names.push(`${d}_${l}_min_us`, `${d}_${l}_max_us`, `${d}_${l}_mean_us`, `${d}_${l}_dev_us`);
    for (let i = 1; i <= TERSE_PERCENTILE_FIELDS; i++) names.push(`${d}_clat_pct${String(i).padStart(2, '0')}`);
    names.push(`${d}_lat_min_us`, `${d}_lat_max_us`, `${d}_lat_mean_us`, `${d}_lat_dev_us`);
    names.push(`${d}_bw_min_kb`, `${d}_bw_max_kb`, `${d}_bw_agg_pct`, `${d}_bw_mean_kb`, `${d}_bw_dev_kb`);
    if (version === 5) names.push(`${d}_bw_samples`, `${d}_iops_min`, `${d}_iops_max`, `${d}_iops_mean`, `${d}_iops_dev`, `${d}_iops_samples`);
  }
  names.push('cpu_user', 'cpu_sys', 'cpu_csw', 'cpu_mjf', 'cpu_minf');
  for (const l of ['1', '2', '4', '8', '16', '32', '64']) names.push(`iodepth_${l}`);
  for (const l of ['2', '4', '10', '20', '50', '100', '250', '500', '750', '1000']) names.push(`lat_${l}us`);
  for (const l of ['2', '4', '10', '20', '50', '100', '250', '500', '750', '1000', '2000']) names.push(`lat_${l}ms`);
  names.push('lat_over_2000ms');
  return names;
}

/** The field table of a version 3 line ({@link terseFieldNames} of 3). */
export const TERSE_V3_FIELD_NAMES: readonly string[] = terseFieldNames(3);
