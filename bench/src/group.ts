// fio's end-of-run bookkeeping (__show_run_stats): jobs with group_reporting in the same
// group are summed into one thread_stat (sum_thread_stats), and every group gets its
// group_run_stats: min/max runtime and bandwidth over its members, total bytes and the
// aggregate bandwidth (bytes * 1000 / max runtime).

import type { JobResult } from './engine.js';
import { cloneThreadStat, sumThreadStats, type ThreadStat } from './stat.js';

/** fio's struct group_run_stats, per direction (read, write, trim). */
export interface GroupRunStats {
  /** fio's group id (new_group / stonewall start a new group). */
  groupid: number;
  /** Shortest job run time of the group per direction, ms. */
  minRun: [number, number, number];
  /** Longest job run time of the group per direction, ms. */
  maxRun: [number, number, number];
  /** Lowest job bandwidth of the group per direction, bytes/s. */
  minBw: [number, number, number];
  /** Highest job bandwidth of the group per direction, bytes/s. */
  maxBw: [number, number, number];
  /** Bytes transferred by the group per direction. */
  ioBytes: [number, number, number];
  /** Aggregate bandwidth in bytes/s. */
  agg: [number, number, number];
  /** fio's kb_base: 1024 (IEC units) or 1000 (SI). */
  kbBase: 1000 | 1024;
}

/** A stat to report, and the job it was built from (the first, when summed). */
export interface ReportedStat {
  stat: ThreadStat;
  first: JobResult;
}

/**
 * Sums group_reporting jobs of a group into one stat (in job order, named after the
 * first), leaves the others alone, and computes each group's run stats.
 */
export function summarize(results: readonly JobResult[]): { stats: ReportedStat[]; groups: GroupRunStats[] } {
  const stats: ReportedStat[] = [];
  const byGroup = new Map<number, ReportedStat>();
  for (const r of results) {
    const gr = r.job.options.groupReporting;
    const prev = gr ? byGroup.get(r.job.groupid) : undefined;
    if (prev) {
      sumThreadStats(prev.stat, r.stat);
      prev.stat.members++;
      continue;
    }
    const rs: ReportedStat = { stat: cloneThreadStat(r.stat), first: r };
    stats.push(rs);
    if (gr) byGroup.set(r.job.groupid, rs);
  }
  const groups = new Map<number, GroupRunStats>();
  for (const { stat } of stats) {
    let g = groups.get(stat.groupid);
    if (!g) {
      g = { groupid: stat.groupid, minRun: [0, 0, 0], maxRun: [0, 0, 0], minBw: [Infinity, Infinity, Infinity], maxBw: [0, 0, 0], ioBytes: [0, 0, 0], agg: [0, 0, 0], kbBase: stat.kbBase };
      groups.set(stat.groupid, g);
    }
    for (let d = 0; d < 3; d++) {
      const dir = stat.dir[d]!;
      if (!dir.runtimeMs) continue;
      if (dir.runtimeMs < g.minRun[d]! || !g.minRun[d]) g.minRun[d] = dir.runtimeMs;
      if (dir.runtimeMs > g.maxRun[d]!) g.maxRun[d] = dir.runtimeMs;
      const bw = Math.floor((dir.ioBytes * 1000) / dir.runtimeMs);
      if (bw < g.minBw[d]!) g.minBw[d] = bw;
      if (bw > g.maxBw[d]!) g.maxBw[d] = bw;
      g.ioBytes[d]! += dir.ioBytes;
    }
  }
  for (const g of groups.values()) {
    for (let d = 0; d < 3; d++) {
      if (g.maxRun[d]) g.agg[d] = Math.floor((g.ioBytes[d]! * 1000) / g.maxRun[d]!);
      if (g.minBw[d] === Infinity) g.minBw[d] = 0;
    }
  }
  return { stats, groups: [...groups.values()].sort((a, b) => a.groupid - b.groupid) };
}
