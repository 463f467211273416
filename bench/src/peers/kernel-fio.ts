// The kernel peer: the same job run by the host's fio through the kernel nvme driver,
// with io_uring and O_DIRECT (LAB.md "Peers to compare with"), and its JSON read back.

import { VfioError } from '@vfio-node/core';
import type { JobOptions } from '../options.js';
import type { PeerResult } from './peer.js';

/**
 * The fio command line that runs `o` against a kernel block device (/dev/nvme0n1).
 * Every option that shapes the workload is passed explicitly so fio's defaults never
 * differ from ours silently.
 */
export function kernelFioCommand(o: JobOptions, device: string, ioengine = 'io_uring'): string[] {
  const args = [
    'fio', `--name=${o.name}`, `--filename=${device}`, `--ioengine=${ioengine}`, '--direct=1',
    `--rw=${o.rw}`, `--bs=${o.bs.read},${o.bs.write}`, `--iodepth=${o.iodepth}`, `--numjobs=${o.numjobs}`,
    `--kb_base=${o.kbBase}`, `--rwmixread=${o.rwmixread}`, `--randrepeat=${o.randrepeat ? 1 : 0}`,
  ];
  if (o.size) args.push('percent' in o.size ? `--size=${o.size.percent}%` : `--size=${o.size.bytes}`);
  args.push('percent' in o.offset ? `--offset=${o.offset.percent}%` : `--offset=${o.offset.bytes}`);
  if (o.runtimeUs) args.push(`--runtime=${o.runtimeUs}us`);
  if (o.timeBased) args.push('--time_based');
  if (o.rampTimeUs) args.push(`--ramp_time=${o.rampTimeUs}us`);
  if (o.norandommap) args.push('--norandommap');
  if (o.randseed !== undefined) args.push(`--randseed=${o.randseed}`);
  if (o.verify !== 'none') args.push(`--verify=${o.verify}`);
  // json+: the completion-latency histogram comes back too (the report draws it beside ours).
  args.push('--group_reporting', '--output-format=json+');
  return args;
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
  const dir = (d: 'read' | 'write') => {
    let ios = 0;
    let bytes = 0;
    let runtime = 0;
    let latSum = 0;
    let p50 = 0;
    let p99 = 0;
    const bins = new Map<number, number>();
    for (const j of jobs) {
      const r = j[d];
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
  return { peer: 'kernel', label: `kernel nvme + fio ${json['fio version'] ?? ''}`.trim(), command, read: dir('read'), write: dir('write') };
}
