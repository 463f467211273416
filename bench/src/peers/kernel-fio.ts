// The kernel peer: the same job run by the host's fio through the kernel nvme driver,
// with io_uring and O_DIRECT (LAB.md "Peers to compare with"), and its JSON read back.

import { VfioError } from '@vfio-node/core';
import { bsRange, type BsSplitEntry } from '../bssplit.js';
import { IO_READ, IO_WRITE } from '../io-target.js';
import type { ResolvedJob } from '../jobfile.js';
import { DEFAULT_PERCENTILES, type JobOptions } from '../options.js';
import { defaultRateOptions } from '../rate.js';
import { formatRandomDistribution } from '../random-distribution.js';
import { defaultThinktimeOptions } from '../thinktime.js';
import type { PeerResult } from './peer.js';

/**
 * The fio command line that runs `o` against a kernel block device (/dev/nvme0n1).
 * Every option that shapes the workload is passed explicitly so fio's defaults never
 * differ from ours silently.
 */
export function kernelFioCommand(o: JobOptions, device: string, ioengine = 'io_uring'): string[] {
  const args = [
    'fio', `--name=${o.name}`, `--filename=${device}`, `--ioengine=${ioengine}`, '--direct=1',
    `--rw=${o.rw}${o.rwSuffix ? `:${o.rwSuffix}` : ''}`, `--bs=${o.bs.read},${o.bs.write},${o.bs.trim}`, `--iodepth=${o.iodepth}`, `--numjobs=${o.numjobs}`,
    `--kb_base=${o.kbBase}`, `--rwmixread=${o.rwmixread}`, `--randrepeat=${o.randrepeat ? 1 : 0}`,
  ];
  if (o.size) args.push('percent' in o.size ? `--size=${o.size.percent}%` : `--size=${o.size.bytes}`);
  args.push('percent' in o.offset ? `--offset=${o.offset.percent}%` : `--offset=${o.offset.bytes}`);
  if (o.runtimeUs) args.push(`--runtime=${o.runtimeUs}us`);
  if (o.timeBased) args.push('--time_based');
  if (o.rampTimeUs) args.push(`--ramp_time=${o.rampTimeUs}us`);
  if (o.norandommap) args.push('--norandommap');
  if (o.randseed !== undefined) args.push(`--randseed=${o.randseed}`);
  if (o.verify !== 'none') args.push(`--verify=${o.verify}`, `--do_verify=${o.doVerify ? 1 : 0}`);
  args.push(...kernelPacingArgs(o).args);
  // json+: the completion-latency histogram comes back too (the report draws it beside ours).
  args.push('--group_reporting', '--output-format=json+');
  return args;
}

/** Per-direction values as fio reads them: "R,W" (0: that direction has no limit). */
const pair = (v: readonly number[]): string => `${v[0]},${v[1]}`;

/**
 * The options added after the first ones (rate*, thinktime*, bssplit, rw_sequencer,
 * random_distribution, percentile_list, clat/lat_percentiles), each only when the job differs from fio's
 * default, in fio 3.33's names and units (bytes, µs, ms): the kernel's fio runs the same
 * paced, mixed-size workload as ours and reports the same percentiles.
 */
export function kernelPacingArgs(o: JobOptions): { args: string[]; notes: string[] } {
  const args: string[] = [];
  const notes: string[] = [];
  const r = o.rate;
  const dr = defaultRateOptions();
  // fio 3.33 refuses rate= beside rate_iops= (and rate_min= beside rate_iops_min=) in one job
  // ("mutually exclusive"), even for other directions; ours takes both, per direction, the
  // byte rate winning. With both, the I/O rates go to fio as byte rates: N IOPS times the
  // direction's smallest block, which is what fio and ours make of rate_iops anyway.
  const minBs = [bsRange(o, IO_READ).min, bsRange(o, IO_WRITE).min];
  const both = (b: readonly number[], i: readonly number[]) => b.some(Boolean) && i.some(Boolean);
  const asBytes = (b: readonly number[], i: readonly number[]) => b.map((v, d) => v || i[d]! * minBs[d]!);
  if (both(r.bps, r.iops)) args.push(`--rate=${pair(asBytes(r.bps, r.iops))}`);
  else if (r.bps.some(Boolean)) args.push(`--rate=${pair(r.bps)}`);
  else if (r.iops.some(Boolean)) args.push(`--rate_iops=${pair(r.iops)}`);
  if (both(r.minBps, r.minIops)) {
    args.push(`--rate_min=${pair(asBytes(r.minBps, r.minIops))}`);
    notes.push('fio takes rate_min or rate_iops_min, not both: rate_iops_min went to it as a byte rate (IOPS x the smallest block)');
  } else if (r.minBps.some(Boolean)) args.push(`--rate_min=${pair(r.minBps)}`);
  else if (r.minIops.some(Boolean)) args.push(`--rate_iops_min=${pair(r.minIops)}`);
  if (r.process !== dr.process) args.push(`--rate_process=${r.process}`);
  if (r.cycleMs !== dr.cycleMs) args.push(`--rate_cycle=${r.cycleMs}`);
  if (r.ignoreThinktime) args.push('--rate_ignore_thinktime=1');
  const t = o.thinktime;
  const dt = defaultThinktimeOptions();
  if (t.us) args.push(`--thinktime=${t.us}`);
  if (t.spinUs) args.push(`--thinktime_spin=${t.spinUs}`);
  // With thinktime_iotime fio counts blocks only when thinktime_blocks was given, even as 1.
  if (t.blocks !== dt.blocks || (t.iotimeUs && t.blocksGiven)) args.push(`--thinktime_blocks=${t.blocks}`);
  if (t.iotimeUs) args.push(`--thinktime_iotime=${t.iotimeUs}us`);
  if (t.blocksType !== dt.blocksType) args.push(`--thinktime_blocks_type=${t.blocksType}`);
  // bssplit: the shares as we resolved them (missing ones filled in), bytes and percent;
  // an empty part keeps bs= for that direction, as in fio.
  const split = (l: BsSplitEntry[] | undefined) => (l ? l.map((e) => `${e.bs}/${e.perc}`).join(':') : '');
  if (o.bssplit[0] || o.bssplit[1]) args.push(`--bssplit=${split(o.bssplit[0])},${split(o.bssplit[1])}`);
  if (o.rwSequencer !== 'sequential') args.push(`--rw_sequencer=${o.rwSequencer}`);
  // Same distribution; not the same blocks: fio seeds it from the file name (/dev/nvme0n1 there).
  if (o.randomDistribution.kind !== 'random') args.push(`--random_distribution=${formatRandomDistribution(o.randomDistribution)}`);
  if (o.percentileList.join(':') !== DEFAULT_PERCENTILES.join(':')) args.push(`--percentile_list=${o.percentileList.join(':')}`);
  if (!o.clatPercentiles) args.push('--clat_percentiles=0');
  if (o.latPercentiles) args.push('--lat_percentiles=1');
  return { args, notes };
}

/**
 * What the kernel peer's comparison must say about its workload, in words: the kernel's fio
 * runs one job (the first device job's options, numjobs clones of it), so other device jobs
 * with other options are named; empty when it runs what we ran.
 */
export function kernelPeerNotes(jobs: readonly ResolvedJob[], first: ResolvedJob): string[] {
  const notes = [...kernelPacingArgs(first.options).notes];
  const key = (j: ResolvedJob) => JSON.stringify({ ...j.options, name: '' });
  const mine = key(first);
  const others = [...new Set(jobs.filter((j) => j.options.ioengine !== 'null' && j.options.name !== first.options.name && key(j) !== mine).map((j) => j.options.name))];
  if (others.length) notes.push(`ran job '${first.options.name}' only (its options, numjobs=${first.options.numjobs}); not ${others.map((n) => `'${n}'`).join(', ')}, whose options differ`);
  return notes;
}

/**
 * Reads fio's JSON (anything before the first '{', such as fio's warnings, is skipped)
 * into a peer result, summing all jobs.
 * @throws VfioError ERR_BENCH_PEER_OUTPUT when there is no JSON or no jobs.
 */
export function parseKernelFioJson(text: string, command: string[] = []): PeerResult {
  const start = text.indexOf('{');
  let json: any;
  try {
    json = JSON.parse(text.slice(start));
  } catch (cause) {
    throw new VfioError({ code: 'ERR_BENCH_PEER_OUTPUT', message: 'fio printed no JSON', hint: 'Run the command by hand and read its error.', cause, details: { output: text.slice(0, 500) } });
  }
  const jobs: any[] = json.jobs ?? [];
  if (!jobs.length) throw new VfioError({ code: 'ERR_BENCH_PEER_OUTPUT', message: 'fio JSON has no jobs', hint: 'Run the command by hand and read its error.' });
  const dir = (d: 'read' | 'write' | 'trim') => {
    let ios = 0;
    let bytes = 0;
    let runtime = 0;
    let latSum = 0;
    let p50 = 0;
    let p99 = 0;
    const bins = new Map<number, number>();
    for (const j of jobs) {
      const r = j[d];
      if (!r) continue;
      ios += r.total_ios;
      bytes += r.io_bytes;
      runtime = Math.max(runtime, r.runtime);
      latSum += r.lat_ns.mean * r.lat_ns.N;
      p50 = Math.max(p50, r.clat_ns.percentile?.['50.000000'] ?? 0);
      p99 = Math.max(p99, r.clat_ns.percentile?.['99.000000'] ?? 0);
      for (const [k, c] of Object.entries((r.clat_ns.bins ?? {}) as Record<string, number>)) bins.set(Number(k), (bins.get(Number(k)) ?? 0) + c);
    }
    if (!ios) return undefined;
    const clatBins = [...bins].sort((a, b) => a[0] - b[0]);
    return { iops: (ios * 1000) / runtime, bwBytes: Math.floor((bytes * 1000) / runtime), ios, latMeanNs: latSum / ios, clatP50Ns: p50, clatP99Ns: p99, ...(clatBins.length ? { clatBins } : {}) };
  };
  const trim = dir('trim');
  return { peer: 'kernel', label: `kernel nvme + fio ${json['fio version'] ?? ''}`.trim(), command, read: dir('read'), write: dir('write'), ...(trim ? { trim } : {}) };
}
