// `npm start` runs this: the README's main job. With no device named, the benchmark
// boots the QEMU lab (the embedded default) and runs inside it against the lab's NVMe
// controller through real VFIO (the direct engine: each job drives its queue pair on the
// worker that owns it), then, in the same boot, runs the same job through the runtime's
// promise API from the main thread (what an embedding program pays), on the kernel's
// driver (fio) and on QEMU's userspace driver (qemu-img bench). The full results (fio's
// json+ with the comparison) go to a file; the screen ends with the comparison: both of
// our paths against the kernel.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatEndScreen, readCompareJson, type PeerDirection, type PeerResult } from '@vfio-node/bench';
import { main } from '../main.js';
import { writeReportPage } from './report.js';

export const MAIN_JOB = ['--name=randread-4k-qd32', '--rw=randread', '--bs=4k', '--iodepth=32', '--runtime=10', '--time_based', '--compare=kernel,qemu,vfio-runtime'];

/** Where the results go unless --output says: results/main-YYYYMMDD-HHMMSS.json under the current directory. */
export function defaultResultsPath(now = new Date(), dir = 'results'): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}-${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  return path.join(dir, `main-${stamp}.json`);
}

/** "randread, bs=4k, iodepth=32, runtime=10": the first job's own options as the results record them. */
function describeJob(json: Record<string, unknown>): string {
  const o = ((json.jobs as Array<Record<string, unknown>> | undefined)?.[0]?.['job options'] ?? {}) as Record<string, string>;
  return ['rw', 'bs', 'iodepth', 'numjobs', 'runtime'].filter((k) => o[k] !== undefined).map((k) => (k === 'rw' ? o[k] : `${k}=${o[k]}`)).join(', ');
}

type FioDir = { iops?: number; bw_bytes?: number; total_ios?: number; lat_ns?: { mean?: number }; clat_ns?: { percentile?: Record<string, number> } };

/** Our figures from fio's JSON jobs (summed IOPS and bandwidth, the first job's latency), when the run stopped before the comparison. */
function oursFromJobs(json: Record<string, unknown>): PeerResult {
  const jobs = (json.jobs as Array<{ read?: FioDir; write?: FioDir }> | undefined) ?? [];
  const dir = (d: 'read' | 'write'): PeerDirection | undefined => {
    const ds = jobs.map((j) => j[d]).filter((x): x is FioDir => !!x && (x.total_ios ?? 0) > 0);
    if (!ds.length) return undefined;
    const p99 = ds[0]!.clat_ns?.percentile?.['99.000000'];
    return { iops: ds.reduce((a, x) => a + (x.iops ?? 0), 0), bwBytes: ds.reduce((a, x) => a + (x.bw_bytes ?? 0), 0), ios: ds.reduce((a, x) => a + (x.total_ios ?? 0), 0), latMeanNs: ds[0]!.lat_ns?.mean, ...(p99 !== undefined ? { clatP99Ns: p99 } : {}) };
  };
  const read = dir('read');
  const write = dir('write');
  return { peer: 'vfio-node', label: 'vfio-node', command: [], ...(read ? { read } : {}), ...(write ? { write } : {}) };
}

/** The last screen, from the results file: the comparison, or our figures alone when the run stopped before the peers. */
export function endScreen(json: Record<string, unknown>): string {
  const compare = json['vfio-node compare'];
  if (compare) {
    const { ours, peers } = readCompareJson(compare);
    return `\nComparison, the same job in the same lab boot (${describeJob(json)}):\n\n${formatEndScreen(ours, peers)}`;
  }
  return `\nStopped before the peers ran (${describeJob(json)}):\n\n${formatEndScreen(oursFromJobs(json), [])}`;
}

const USAGE = `usage: vfio-node main [BENCH OPTIONS]

Runs vfio-node bench ${MAIN_JOB.join(' ')}
(your options are added; --accel tcg|kvm|auto chooses the lab's accelerator) on the lab,
writes the full results (fio's json+ with the comparison) to results/main-DATE.json, or to
--output=FILE, with a page of charts beside it (the same name, .html; vfio-node report
draws it), and ends with the comparison table.`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const own = argv.find((a) => a.startsWith('--output='));
  const output = own ? own.slice('--output='.length) : defaultResultsPath();
  if (!own) mkdirSync(path.dirname(output), { recursive: true });
  const rest = argv.filter((a) => a !== own);
  const status = await main(['bench', ...MAIN_JOB, ...rest, '--output-format=json+', `--output=${output}`]);
  // What was measured (also after Ctrl-C, where the guest wrote its results without peers).
  if (!existsSync(output)) return status;
  let screen: string;
  try {
    screen = endScreen(JSON.parse(readFileSync(output, 'utf8')) as Record<string, unknown>);
  } catch (err) {
    console.error(`vfio-node main: cannot read the results in ${output}: ${(err as Error).message}`);
    return status || 1;
  }
  process.stdout.write(`${screen}\nFull results (fio json+${screen.includes('No peer ran') ? '' : ' with the comparison'}): ${path.resolve(output)}\n`);
  // The same results as a page with charts (vfio-node report draws it from the JSON).
  const page = writeReportPage(output);
  if (page) process.stdout.write(`Report (HTML, charts): ${path.resolve(page)}\n`);
  return status;
}
