// fio's human summary ("normal" output; fio 3.33 stat.c show_thread_status_normal,
// show_ddir_status, display_lat, show_clat_percentiles, show_latencies, show_group_stats),
// line for line with fio's formats and unit choices, so that people and scripts that
// read fio's summary read ours.

import { BENCH_VERSION, ctime } from './report-json.js';
import { bsRange } from './bssplit.js';
import { percentilePrecision } from './percentiles.js';
import { IO_READ, IO_TRIM, IO_WRITE, type IoDirection } from './io-target.js';
import type { GroupRunStats, ReportedStat } from './group.js';
import type { ResolvedJob } from './jobfile.js';
import { calcPercentiles } from './histogram.js';
import { num2str, N2S_BYTE, N2S_BYTEPERSEC, N2S_NONE } from './num2str.js';
import { calcDist, calcLat, calcLatDist, totalRwIos, type DirStat, type IoStat, type ThreadStat } from './stat.js';

/** printf("%W.Pf") */
const f = (v: number, w: number, p: number): string => v.toFixed(p).padStart(w);
/** printf("%Wllu") */
const u = (v: number, w: number): string => String(Math.floor(v)).padStart(w);

const SIG_FIGS = 4;
const isPow2 = (n: number) => (n & (n - 1)) === 0;

/** The lines fio prints before a run: one per job definition ("..." for clones), version, "Starting N ...". */
export function formatRunHeader(jobs: readonly ResolvedJob[]): string {
  const lines: string[] = [];
  for (const j of jobs) {
    if (j.clone > 0) {
      if (j.clone === 1) lines.push('...');
      continue;
    }
    const o = j.options;
    // fio prints each direction's smallest and largest size (they differ under bssplit).
    const bs = (d: IoDirection) => `${bsRange(o, d).min}B-${bsRange(o, d).max}B`;
    lines.push(`${o.name}: (g=${j.groupid}): rw=${o.rw}, bs=(R) ${bs(IO_READ)}, (W) ${bs(IO_WRITE)}, (T) ${bs(IO_TRIM)}, ioengine=${o.ioengine}, iodepth=${o.iodepth}`);
  }
  lines.push(BENCH_VERSION);
  lines.push(`Starting ${jobs.length} thread${jobs.length === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}

/** The whole summary: every reported stat, then every group's run status. */
export function formatNormalReport(stats: readonly ReportedStat[], groups: readonly GroupRunStats[], now = new Date()): string {
  let out = '\n';
  for (const s of stats) out += formatThreadStatus(s.stat, groups.find((g) => g.groupid === s.stat.groupid)!, now);
  for (const g of groups) out += formatGroupStats(g);
  return out;
}

export function formatThreadStatus(ts: ThreadStat, rs: GroupRunStats, now: Date, pid = process.pid): string {
  if (!totalRwIos(ts) && !ts.dir.some((d) => d.ioBytes)) {
    return ts.error ? `${ts.name}: (groupid=${ts.groupid}, jobs=${ts.members}): err=${u(ts.error, 2)} (${ts.verror}): pid=${pid}: ${ctime(now)}\n` : '';
  }
  let out = ts.error
    ? `${ts.name}: (groupid=${ts.groupid}, jobs=${ts.members}): err=${u(ts.error, 2)} (${ts.verror}): pid=${pid}: ${ctime(now)}\n`
    : `${ts.name}: (groupid=${ts.groupid}, jobs=${ts.members}): err=${u(ts.error, 2)}: pid=${pid}: ${ctime(now)}\n`;
  const names = ['read', 'write', 'trim'];
  for (let d = 0; d < 3; d++) if (ts.dir[d]!.ioBytes) out += formatDirStatus(ts, ts.dir[d]!, rs, d, names[d]!);
  out += formatLatencies(ts);
  const runt = ts.totalRunTimeMs;
  const usr = runt ? (ts.usrTimeUs / 1000) * 100 / runt : 0;
  const sys = runt ? (ts.sysTimeUs / 1000) * 100 / runt : 0;
  out += `  cpu          : usr=${f(usr, 3, 2)}%, sys=${f(sys, 3, 2)}%, ctx=${ts.ctx}, majf=${ts.majf}, minf=${ts.minf}\n`;
  const depth = calcDist(ts.ioUMap, totalRwIos(ts));
  out += `  IO depths    : 1=${f(depth[0]!, 3, 1)}%, 2=${f(depth[1]!, 3, 1)}%, 4=${f(depth[2]!, 3, 1)}%, 8=${f(depth[3]!, 3, 1)}%, 16=${f(depth[4]!, 3, 1)}%, 32=${f(depth[5]!, 3, 1)}%, >=64=${f(depth[6]!, 3, 1)}%\n`;
  const batch = (m: number[]) => `0=${f(m[0]!, 3, 1)}%, 4=${f(m[1]!, 3, 1)}%, 8=${f(m[2]!, 3, 1)}%, 16=${f(m[3]!, 3, 1)}%, 32=${f(m[4]!, 3, 1)}%, 64=${f(m[5]!, 3, 1)}%, >=64=${f(m[6]!, 3, 1)}%`;
  out += `     submit    : ${batch(calcDist(ts.ioUSubmit, ts.totalSubmit))}\n`;
  out += `     complete  : ${batch(calcDist(ts.ioUComplete, ts.totalComplete))}\n`;
  const [r, w, t] = ts.dir;
  out += `     issued rwts: total=${r.totalIos},${w.totalIos},${t.totalIos},0 short=${r.shortIos},${w.shortIos},${t.shortIos},0 dropped=${r.dropIos},${w.dropIos},${t.dropIos},0\n`;
  out += `     latency   : target=0, window=0, percentile=100.00%, depth=${ts.iodepth}\n`;
  return out;
}

function formatDirStatus(ts: ThreadStat, d: DirStat, rs: GroupRunStats, ddir: number, name: string): string {
  if (!d.runtimeMs) return '';
  const i2p = isPow2(rs.kbBase);
  const runt = d.runtimeMs;
  const bw = Math.floor((1000 * d.ioBytes) / runt);
  const iops = Math.floor((1000 * d.totalIos) / runt);
  let out = `  ${name}: IOPS=${num2str(iops, SIG_FIGS, 1, false, N2S_NONE)}, BW=${num2str(bw, SIG_FIGS, 1, i2p, N2S_BYTEPERSEC)} (${num2str(bw, SIG_FIGS, 1, !i2p, N2S_BYTEPERSEC)})(${num2str(d.ioBytes, SIG_FIGS, 1, i2p, N2S_BYTE)}/${runt}msec)\n`;
  out += displayLat('slat', d.slat) + displayLat('clat', d.clat) + displayLat(' lat', d.lat);
  const precision = percentilePrecision(ts.percentileList);
  if (ts.clatPercentiles && d.clat.samples) out += formatPercentiles(d.clatPlat, d.clat.samples, ts.percentileList, 'clat', precision);
  if (ts.latPercentiles && d.lat.samples) out += formatPercentiles(d.latPlat, d.lat.samples, ts.percentileList, 'lat', precision);
  const b = calcLat(d.bw);
  if (b) {
    let { min, max, mean, stddev } = b;
    let unit = i2p ? 'KiB' : 'kB';
    const agg = rs.agg[ddir]!;
    const per = agg > 1024 ? Math.min(100, (mean * 100) / (agg / 1024)) : 100;
    if (mean > rs.kbBase * rs.kbBase) {
      min /= rs.kbBase;
      max /= rs.kbBase;
      mean /= rs.kbBase;
      stddev /= rs.kbBase;
      unit = 'MiB';
    }
    out += `   bw (${unit.padStart(5)}/s): min=${u(min, 5)}, max=${u(max, 5)}, per=${f(per, 3, 2)}%, avg=${f(mean, 5, 2)}, stdev=${f(stddev, 5, 2)}, samples=${d.bw.samples}\n`;
  }
  const io = calcLat(d.iops);
  if (io) out += `   iops        : min=${u(io.min, 5)}, max=${u(io.max, 5)}, avg=${f(io.mean, 5, 2)}, stdev=${f(io.stddev, 5, 2)}, samples=${d.iops.samples}\n`;
  return out;
}

/** fio's display_lat() with nsec_to_msec()/nsec_to_usec() unit choice. */
export function displayLat(name: string, is: IoStat): string {
  const l = calcLat(is);
  if (!l) return '';
  let { min, max, mean, stddev } = l;
  let base = '(nsec)';
  if (min > 2_000_000 && max > 99_999_999 && stddev > 1_000_000) {
    min = Math.floor(min / 1e6);
    max = Math.floor(max / 1e6);
    mean /= 1e6;
    stddev /= 1e6;
    base = '(msec)';
  } else if (min > 2000 && max > 99_999 && stddev > 1000) {
    min = Math.floor(min / 1000);
    max = Math.floor(max / 1000);
    mean /= 1000;
    stddev /= 1000;
    base = '(usec)';
  }
  return `    ${name} ${base}: min=${num2str(min, 6, 1, false, N2S_NONE)}, max=${num2str(max, 6, 1, false, N2S_NONE)}, avg=${f(mean, 5, 2)}, stdev=${f(stddev, 5, 2)}\n`;
}

/** fio's show_clat_percentiles(): nsec unless the range calls for usec or msec; 4 per line at precision 2. */
export function formatPercentiles(plat: Float64Array, n: number, list: readonly number[], pre: string, precision = 2): string {
  const sorted = [...list].sort((a, b) => a - b);
  const vals = calcPercentiles(plat, n, sorted);
  if (!vals.length) return '';
  const minv = Math.min(...vals);
  const maxv = Math.max(...vals);
  let scaleDown = 0;
  let divisor = 1;
  let unit = 'nsec';
  if (minv > 2_000_000 && maxv > 99_999_999) [scaleDown, divisor, unit] = [2, 1_000_000, 'msec'];
  else if (minv > 2000 && maxv > 99_999) [scaleDown, divisor, unit] = [1, 1000, 'usec'];
  let out = `    ${pre} percentiles (${unit}):\n     |`;
  const timeWidth = Math.max(5, Math.floor(Math.log10(Math.floor(maxv / divisor)) + 1));
  const perLine = Math.floor((80 - 7) / (precision + 10 + timeWidth));
  for (let j = 0; j < sorted.length; j++) {
    if (j !== 0 && j % perLine === 0) out += '     |';
    const last = j === sorted.length - 1;
    let v = vals[j]!;
    for (let i = 0; i < scaleDown; i++) v = Math.floor((v + 999) / 1000);
    out += ` ${f(sorted[j]!, precision + 3, precision)}th=[${u(v, timeWidth)}]${last ? '\n' : ','}`;
    if (last) break;
    if (j % perLine === perLine - 1) out += '\n';
  }
  return out;
}

/** fio's show_latencies(): "  lat (usec)   : 250=50.78%, ..." five per line, per unit. */
export function formatLatencies(ts: ThreadStat): string {
  const total = totalRwIos(ts);
  const r10 = ['2=', '4=', '10=', '20=', '50=', '100=', '250=', '500=', '750=', '1000='];
  return showLat(calcLatDist(ts.latN, total), r10, 'nsec') + showLat(calcLatDist(ts.latU, total), r10, 'usec') + showLat(calcLatDist(ts.latM, total), [...r10, '2000=', '>=2000='], 'msec');
}

function showLat(pct: number[], ranges: string[], msg: string): string {
  let out = '';
  let line = 0;
  let newLine = true;
  let shown = false;
  for (let i = 0; i < pct.length; i++) {
    if (pct[i]! <= 0) continue;
    shown = true;
    if (newLine) {
      if (line) out += '\n';
      out += `  lat (${msg})   : `;
      newLine = false;
      line = 0;
    }
    if (line) out += ', ';
    out += `${ranges[i]}${f(pct[i]!, 3, 2)}%`;
    line++;
    if (line === 5) newLine = true;
  }
  return shown ? out + '\n' : out;
}

/** fio's show_group_stats(). */
export function formatGroupStats(rs: GroupRunStats): string {
  const i2p = isPow2(rs.kbBase);
  const str = ['   READ', '  WRITE', '   TRIM'];
  let out = `\nRun status group ${rs.groupid} (all jobs):\n`;
  for (let d = 0; d < 3; d++) {
    if (!rs.maxRun[d]) continue;
    const n = (v: number, p2: boolean, unit: number) => num2str(v, SIG_FIGS, 1, p2, unit);
    out += `${str[d]}: bw=${n(rs.agg[d]!, i2p, N2S_BYTEPERSEC)} (${n(rs.agg[d]!, !i2p, N2S_BYTEPERSEC)}), ${n(rs.minBw[d]!, i2p, N2S_BYTEPERSEC)}-${n(rs.maxBw[d]!, i2p, N2S_BYTEPERSEC)} (${n(rs.minBw[d]!, !i2p, N2S_BYTEPERSEC)}-${n(rs.maxBw[d]!, !i2p, N2S_BYTEPERSEC)}), io=${n(rs.ioBytes[d]!, i2p, N2S_BYTE)} (${n(rs.ioBytes[d]!, !i2p, N2S_BYTE)}), run=${rs.minRun[d]}-${rs.maxRun[d]}msec\n`;
  }
  return out;
}
