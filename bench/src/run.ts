// `vfio-node bench [OPTIONS] [JOBFILE...]` from argv to printed results, with every
// host effect injected (opening targets, files, output streams, running peers), so the
// CLI entry is a few lines and this flow is testable on the host with fio's null engine.

import { dirname, resolve } from 'node:path';
import { invalidArgument } from '@vfio-node/core';
import { runJobs, type JobResult, type RunResult } from './engine.js';
import { engineMix } from './errors.js';
import { parseFilename, type NvmeTargetSpec } from './filename.js';
import { summarize, type GroupRunStats, type ReportedStat } from './group.js';
import type { IoTarget } from './io-target.js';
import { jobFileError, parseCommandLine, parseJobFile, resolveJobs, type CommandLine, type ResolvedJob } from './jobfile.js';
import { NullTarget } from './null-target.js';
import { checkTrimOptions } from './trim.js';
import { IOENGINES, KNOWN_OPTIONS, rwHasReads, rwHasTrims, rwHasWrites, rwIsRandom } from './options.js';
import { compareJson, formatCompareTable, ourPeerResult, RUNTIME_ENGINE_LABEL } from './peers/compare.js';
import { kernelFioCommand, kernelPeerNotes, parseKernelFioJson } from './peers/kernel-fio.js';
import { kernelLogArgs, kernelSeries, kernelUserLogs } from './peers/kernel-logs.js';
import { logFileUnder, mergeLogFiles } from './job-logs.js';
import { sumSeries } from './job-series.js';
import type { FioLogFile } from './fio-logs.js';
import type { PeerResult } from './peers/peer.js';
import { PeerStatus } from './peers/progress.js';
import { parseQemuImgBench, qemuImgBenchCommand, qemuImgBenchResult } from './peers/qemu-img.js';
import { buildJsonReport, stringifyFioJson } from './report-json.js';
import { runEnvironment } from './environment.js';
import { formatNormalReport, formatRunHeader } from './report-normal.js';
import { formatTerseReport } from './report-terse.js';
import type { JobProgress } from './job-runner.js';
import { openBdevRuntime } from './bdev-target.js';
import { openDefaultRuntime, RuntimeTargets, runtimeWorkersNeeded, type RuntimeOpener } from './runtime-target.js';
import { statusLineWanted, TerminalStatus } from './status-line.js';

/**
 * What runBench() needs from the machine it runs on: opening NVMe targets, files, output streams, and the peers'
 * devices. The CLI gives the real one; tests give a fake.
 */
export interface BenchHost {
  /** Opens the NVMe namespace a job names, one queue pair per call. */
  openNvme(spec: NvmeTargetSpec, job: ResolvedJob): Promise<IoTarget>;
  /**
   * Opens the runtime that ioengine=vfio-runtime jobs (and the vfio-runtime peer of --compare)
   * run through, one per PCI address. Default: NvmeRuntime.open(address, { workers }), an
   * embedder's default options.
   */
  openRuntime?: RuntimeOpener;
  /** Reads a job file. */
  readFile(path: string): string;
  /** Writes a results file (--output) or one of fio's log files. */
  writeFile(path: string, text: string): void;
  /** Creates a directory and its parents (for log files under --log-dir). */
  makeDir?(path: string): void;
  /**
   * A new empty scratch directory, and its removal: the kernel peer's fio writes its logs
   * there (without it, the kernel peer has no time series).
   */
  tempDir?(): ScratchDir;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  /** Runs a peer's command; resolves with its output whatever the exit status. */
  runCommand(argv: string[]): Promise<{ stdout: string; stderr: string; status: number }>;
  /** Aborts the run (Ctrl-C); the results so far are still reported. */
  signal?: AbortSignal;
  /** Closes the controllers our jobs opened, so that a peer can take the device. */
  releaseDevices?(): Promise<void>;
  /**
   * For --compare=kernel without --kernel-device: hands the device to the kernel's nvme
   * driver and returns the namespace's block device (/dev/nvme0n1); restoreDevice gives it back to vfio-pci.
   */
  kernelDevice?(spec: NvmeTargetSpec): Promise<string>;
  /** Gives a device that kernelDevice() handed to the kernel back to vfio-pci. */
  restoreDevice?(spec: NvmeTargetSpec): Promise<void>;
  /**
   * Runs the jobs somewhere else than this thread: the CLI runs each device job on a
   * worker thread that owns its queue pair (@vfio-node/runtime). Without it, every job
   * runs here through openNvme.
   */
  runJobs?(jobs: readonly ResolvedJob[], specs: ReadonlyMap<number, NvmeTargetSpec>, options: HostRunOptions): Promise<RunResult>;
  /** The clock of the jobs run on this thread, ns (default: the engine's hrClockNs); tests give a fake one. */
  clock?: () => number;
}

/** A scratch directory from BenchHost.tempDir. */
export interface ScratchDir {
  /** Its path. */
  path: string;
  /** Removes it and what is in it. */
  remove(): void;
}

/** What host.runJobs gets besides the jobs: Ctrl-C, and where the status line's counters go. */
export interface HostRunOptions {
  /** Aborted on Ctrl-C: the jobs stop issuing, and what they did is still reported. */
  signal?: AbortSignal;
  /** Set when the status line is shown: call it about once a second with every running job's progress. */
  onProgress?: (progress: JobProgress[], elapsedSec: number) => void;
  /**
   * --status-interval: call it every `statusIntervalMs` with every started job's results so
   * far (RunOptions.onStatus; jobs on other threads answer through a StatBlock, see worker-status.ts).
   */
  onStatus?: (results: JobResult[]) => void;
  /** How often onStatus is called, ms. */
  statusIntervalMs?: number;
}

/** fio's exit status after a signal stopped the run (backend.c sig_int(): exit_value = 128). */
export const EXIT_SIGNALED = 128;

/** The help text of `vfio-node bench`. */
export const USAGE = `usage: vfio-node bench [OPTIONS] [JOBFILE...]

fio's options and job files, run on an NVMe namespace through vfio-node's userspace driver.
  --name=NAME            start a job (options before the first --name apply to every job)
  --filename=ADDR/NSID   e.g. 0000:00:03.0/1, or SPDK's "trtype=PCIe traddr=0000.00.03.0 ns=1"
  --rw=read|write|randread|randwrite|rw|randrw|trim|randtrim|trimwrite   --bs=4k   --iodepth=1   --numjobs=1
  --size=  --offset=  --runtime=  --time_based  --ramp_time=  --rwmixread=50
  --norandommap  --randrepeat=1  --randseed=N  --verify=crc32c|md5  --group_reporting
  --random_distribution=random|zipf:THETA|pareto:H|normal:DEV   (each with :CENTER; fio 3.33's generators)
  --ioengine=vfio-nvme   (the default) each job drives its own queue pair on the worker thread that owns it
  --ioengine=vfio-runtime  the jobs use @vfio-node/runtime's promise API from the main thread, as an
                         embedding program does (NvmeRuntime.open(addr, { workers: numjobs }))
  --ioengine=vfio-bdev   the same through @vfio-node/bdev's NVMe bdev (what the block layer adds)
  --ioengine=null        fio's null engine: no device, no data (for trying options)
  --output-format=normal|json|json+|terse (comma-separated)   --terse-version=2|3|4|5   --output=FILE
  --status-interval=T    the whole report every T (s, or 500ms, 2m...) while the jobs run; with json,
                         each report is one JSON document on its own line   --eta=auto|always|never
  --force                write even on a namespace that starts or ends with a partition table,
                         filesystem, LVM, ZFS, RAID or swap signature (write jobs look first)
  --write_iops_log=PREFIX  --write_bw_log=  --write_lat_log=  --log_avg_msec=N  --write_hist_log=
  --log_hist_msec=N  --log_offset  --per_job_logs=0   fio's log files (fio's names and line formats)
  --log-dir=DIR          put the log files under DIR (ours; the lab uses it to bring them back)
  --compare=kernel,qemu,vfio-runtime  also run the peers: --kernel-device=/dev/nvme0n1 (kernel
                         nvme + fio io_uring --direct=1), qemu-img bench on the same PCI device,
                         the same jobs with ioengine=vfio-runtime
Job options: ${KNOWN_OPTIONS.join(', ')}.`;

/** A command line read, checked and resolved into jobs: everything runBench needs before it touches a device. */
export interface BenchPlan {
  cl: CommandLine;
  jobs: ResolvedJob[];
  globalOptions: Record<string, string>;
  /** The device each non-null job runs on, by job index. */
  specs: Map<number, NvmeTargetSpec>;
  /** --kernel-device (ours, not fio's): the kernel peer's block device. */
  kernelDevice: string | undefined;
  kernelIoengine: string;
  /** --log-dir (ours, not fio's): where fio's log files go instead of the working directory. */
  logDir?: string;
}

/**
 * Reads and checks the command line and its job files without touching a device: every
 * option, job file and value is checked here, so a mistake is reported before anything
 * is opened (or, on the embedded default, before the lab boots).
 * @param canFindKernelDevice the host can hand the device to the kernel for --compare=kernel
 * @throws VfioError (ERR_INVALID_ARG, ERR_BENCH_JOBFILE, ...) naming what is wrong
 */
export function planBench(argv: readonly string[], readFile: (path: string) => string, canFindKernelDevice = false): BenchPlan {
  // Our own command-line options that fio does not have.
  const rest: string[] = [];
  let kernelDevice: string | undefined;
  let kernelIoengine = 'io_uring';
  let logDir: string | undefined;
  for (const a of argv) {
    if (a.startsWith('--kernel-device=')) kernelDevice = a.slice('--kernel-device='.length);
    else if (a.startsWith('--log-dir=')) logDir = a.slice('--log-dir='.length);
    else if (a.startsWith('--kernel-ioengine=')) kernelIoengine = a.slice('--kernel-ioengine='.length);
    else rest.push(a);
  }
  const cl = parseCommandLine(rest);
  if (cl.help) return { cl, jobs: [], globalOptions: {}, specs: new Map(), kernelDevice, kernelIoengine };
  const sections = [...cl.sections];
  for (const file of cl.jobFiles) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      throw jobFileError(file, undefined, (err as Error).message, err);
    }
    sections.push(...parseJobFile(text, { path: file, readInclude: (p) => readFile(resolve(dirname(file), p)) }));
  }
  const { jobs, globalOptions } = resolveJobs(sections);
  const specs = new Map<number, NvmeTargetSpec>();
  const byEngine = new Map<string, string>();
  for (const j of jobs) {
    const engine = j.options.ioengine;
    checkTrimOptions(j.options);
    if (!(IOENGINES as readonly string[]).includes(engine)) throw invalidArgument('ioengine', engine, `one of ${IOENGINES.join(', ')} (vfio-nvme is the default)`, 'Kernel engines (libaio, io_uring) are what --compare=kernel runs.');
    if (engine === 'null') continue;
    if (!byEngine.has(engine)) byEngine.set(engine, j.options.name);
    if (!j.options.filename) throw invalidArgument('filename', '', 'a PCI address and namespace (--filename=0000:00:03.0/1)', "Find the address with 'vfio-node list'.");
    specs.set(j.index, parseFilename(j.options.filename));
  }
  if (byEngine.size > 1) {
    const [a, b] = [...byEngine].map(([engine, job]) => ({ engine, job }));
    throw engineMix(a!, b!);
  }
  if (cl.compare.length && jobs.length && !specs.size) throw invalidArgument('--compare', cl.compare.join(','), 'jobs on a device (not ioengine=null)');
  if (cl.compare.includes('vfio-runtime') && byEngine.has('vfio-runtime')) throw invalidArgument('--compare', cl.compare.join(','), 'peers other than the engine the jobs use (they already run with ioengine=vfio-runtime)', 'Leave vfio-runtime out of --compare, or run the jobs with the default ioengine=vfio-nvme.');
  if (cl.compare.includes('kernel') && !kernelDevice && !canFindKernelDevice) throw invalidArgument('--kernel-device', '', 'the kernel block device of the same model, e.g. /dev/nvme0n1', 'The kernel peer runs on a device bound to the nvme driver; ours must be on vfio-pci.');
  return { cl, jobs, globalOptions, specs, kernelDevice, kernelIoengine, ...(logDir ? { logDir } : {}) };
}

/** Runs the benchmark; returns the exit status (0 ok, 1 a job failed, 2 usage, 128 stopped by Ctrl-C like fio). */
export async function runBench(argv: readonly string[], host: BenchHost): Promise<number> {
  const { cl, jobs, globalOptions, specs, kernelDevice, kernelIoengine, logDir } = planBench(argv, (p) => host.readFile(p), !!host.kernelDevice);
  if (cl.help) {
    host.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!jobs.length) {
    host.stderr.write(`vfio-node bench: no jobs (give --name=NAME or a job file)\n\n${USAGE}\n`);
    return 2;
  }

  const normal = cl.outputFormat.includes('normal');
  const toStdout = cl.output === undefined;
  // --output=FILE holds everything reported so far: rewritten at each --status-interval report.
  let written = '';
  const emit = (text: string): void => {
    if (toStdout) host.stdout.write(text);
    else host.writeFile(cl.output!, (written += text));
  };
  if (normal && toStdout) host.stdout.write(formatRunHeader(jobs));
  const status = statusLineWanted(cl.eta, { normal, toStdout, isTTY: !!host.stdout.isTTY }) ? new TerminalStatus(host.stdout) : undefined;
  const onProgress = status && ((p: JobProgress[], t: number) => status.update(p, t));

  // Device jobs on the direct engine run where the host puts them (the CLI: on runtime
  // workers); vfio-runtime jobs, null jobs and a host without runJobs run here.
  const direct = jobs.some((j) => specs.has(j.index) && j.options.ioengine === 'vfio-nvme');
  const onWorkers = !!host.runJobs && direct;
  // --status-interval: the whole report, in every format asked for, of the results so far.
  // The JSON's "vfio-node environment" asks git for the commit once, which takes seconds in
  // the lab (the checkout is on a 9p share): ask before the jobs run, so that no report
  // stalls this thread while they run (and the jobs that run on it).
  if (cl.statusIntervalMs && cl.outputFormat.some((f) => f === 'json' || f === 'json+')) runEnvironment();
  const startedAt = new Date();
  const onStatus = cl.statusIntervalMs
    ? (results: JobResult[]) => {
        const now = summarize(results);
        status?.clear();
        emit(formatReports(cl, { results, startedAt }, now.stats, now.groups, globalOptions));
      }
    : undefined;
  const runOptions: HostRunOptions = { signal: host.signal, onProgress, ...(onStatus ? { onStatus, statusIntervalMs: cl.statusIntervalMs } : {}) };
  const run = onWorkers ? await host.runJobs!(jobs, specs, runOptions) : await runHere(jobs, specs, host, runOptions);
  status?.clear();
  const { stats, groups } = summarize(run.results);
  writeLogFiles(run.results.flatMap((r) => r.logs ?? []), host, logDir);

  let extra: Record<string, unknown> | undefined;
  let table = '';
  // After Ctrl-C the run is over: no peers.
  if (cl.compare.length && !host.signal?.aborted) {
    const ours = ourPeerResult(stats, direct ? undefined : RUNTIME_ENGINE_LABEL);
    const peers: PeerResult[] = [];
    const first = jobs.find((j) => specs.has(j.index))!;
    const o = first.options;
    // On a terminal (where the jobs had their status line) each peer shows what it does and for how long.
    const peerStatus = status ? new PeerStatus(host.stdout) : undefined;
    try {
      await host.releaseDevices?.();
      // Our second engine first, while the device is still on vfio-pci: the same device jobs
      // through the runtime's promise API on the main thread.
      if (cl.compare.includes('vfio-runtime') && !host.signal?.aborted) {
        const again = jobs.filter((j) => specs.has(j.index)).map((j) => ({ ...j, options: { ...j.options, ioengine: 'vfio-runtime' } }));
        peerStatus?.start(`peer vfio-runtime: the same ${again.length === 1 ? 'job' : 'jobs'} through NvmeRuntime's promises`, o.timeBased && o.runtimeUs ? (new Set(again.map((j) => j.groupid)).size * (o.runtimeUs + o.rampTimeUs)) / 1e6 : undefined);
        try {
          const r = await runHere(again, specs, host, { signal: host.signal });
          const failed = r.results.find((x) => x.stat.error);
          if (failed) throw new Error(`job ${failed.job.options.name}: ${failed.stat.verror ?? `error ${failed.stat.error}`}`);
          const res = ourPeerResult(summarize(r.results).stats, RUNTIME_ENGINE_LABEL);
          const series = sumSeries(r.results.flatMap((x) => (x.series ? [x.series] : [])));
          peers.push({ ...res, ...(series ? { series } : {}), peer: 'vfio-runtime', command: ['vfio-node', 'bench', '--ioengine=vfio-runtime', '(the same jobs)'] });
        } catch (err) {
          peerStatus?.clear();
          host.stderr.write(`vfio-node bench: the vfio-runtime peer failed, left out of the comparison: ${(err as Error).message}\n`);
        }
      }
      // The kernel next: qemu-img bench has hung on QEMU 7.2's emulated controller right after
      // vfio-node's driver closed it (not every time; cause not found), never after the kernel's.
      if (cl.compare.includes('kernel') && !host.signal?.aborted) {
        const spec = specs.get(first.index)!;
        const rebind = !kernelDevice;
        peerStatus?.start(`peer kernel: handing ${spec.address} to the kernel's nvme driver`);
        const dev = kernelDevice ?? (await host.kernelDevice!(spec));
        try {
          // fio's json+ (the clat bins) and its iops/bw logs (the series) in a scratch directory, read back here.
          const scratch = host.tempDir?.();
          const cmd = [...kernelFioCommand(o, dev, kernelIoengine), ...(scratch ? kernelLogArgs(o, scratch.path) : [])];
          try {
            peerStatus?.start(`peer kernel: fio --ioengine=${kernelIoengine} on ${dev}`, o.timeBased && o.runtimeUs ? (o.runtimeUs + o.rampTimeUs) / 1e6 : undefined);
            const r = await host.runCommand(cmd);
            const res = parseKernelFioJson(r.stdout, cmd);
            const notes = kernelPeerNotes(jobs.filter((j) => specs.has(j.index)), first);
            if (notes.length) res.note = notes.join('; ');
            if (scratch) {
              const read = (p: string) => readOrUndefined(host, p);
              const series = kernelSeries(o, scratch.path, read, [rwHasReads(o.rw), rwHasWrites(o.rw), rwHasTrims(o.rw)]);
              if (series) res.series = series;
              writeLogFiles(kernelUserLogs(o, scratch.path, read), host, logDir);
            }
            peers.push(res);
          } catch (err) {
            peerStatus?.clear();
            host.stderr.write(`vfio-node bench: the kernel peer failed, left out of the comparison: ${(err as Error).message}\n`);
          } finally {
            scratch?.remove();
          }
        } finally {
          if (rebind) {
            peerStatus?.start(`peer kernel: giving ${spec.address} back to vfio-pci`);
            await host.restoreDevice?.(spec);
          }
        }
      }
      // Ctrl-C during the kernel peer: no further peer.
      if (cl.compare.includes('qemu') && !host.signal?.aborted) {
        const spec = specs.get(first.index)!;
        if (rwHasTrims(o.rw)) {
          peerStatus?.clear();
          host.stderr.write(`vfio-node bench: qemu-img bench has no trims (rw=${o.rw}); skipping the qemu peer\n`);
        } else if (rwHasReads(o.rw) && rwHasWrites(o.rw)) {
          peerStatus?.clear();
          host.stderr.write('vfio-node bench: qemu-img bench cannot mix reads and writes; skipping the qemu peer\n');
        } else {
          const ios = (ours.read?.ios ?? 0) + (ours.write?.ios ?? 0);
          const cmd = qemuImgBenchCommand({ count: Math.max(1, ios), depth: o.iodepth, size: o.bs.read, write: rwHasWrites(o.rw), address: spec.address, nsid: spec.nsid });
          try {
            peerStatus?.start(`peer qemu: qemu-img bench, ${Math.max(1, ios)} requests on ${spec.address}`);
            const r = await host.runCommand(cmd);
            const res = qemuImgBenchResult(parseQemuImgBench(r.stdout + r.stderr), cmd);
            if (rwIsRandom(o.rw)) res.note = `${res.note}; our job is ${o.rw}`;
            peers.push(res);
          } catch (err) {
            // A peer that fails must not cost us our own results.
            peerStatus?.clear();
            host.stderr.write(`vfio-node bench: the qemu peer failed, left out of the comparison: ${(err as Error).message}\n`);
          }
        }
      }
    } finally {
      peerStatus?.stop();
    }
    extra = { 'vfio-node compare': compareJson(ours, peers) };
    table = '\nComparison (same job, same boot):\n' + formatCompareTable(ours, peers);
  }

  emit(formatReports(cl, run, stats, groups, globalOptions, extra, table));
  if (host.signal?.aborted) return EXIT_SIGNALED;
  return run.results.some((r) => r.stat.error) ? 1 : 0;
}

/**
 * One report in every format asked for, in fio's order whatever the order given (fio 3.33
 * __show_run_stats: terse, json, normal): a terse line per reported job, one JSON document
 * (json+ when asked, which includes json), the normal summary (with --compare's table).
 * With --status-interval the JSON document is on one line (JSON lines: one document per
 * report, each ending in a newline), so that a reader can split the reports.
 */
function formatReports(cl: CommandLine, run: RunResult, stats: readonly ReportedStat[], groups: readonly GroupRunStats[], globalOptions: Record<string, string>, extra?: Record<string, unknown>, table = ''): string {
  let out = '';
  if (cl.outputFormat.includes('terse')) out += formatTerseReport(stats, groups, cl.terseVersion);
  const plus = cl.outputFormat.includes('json+');
  if (plus || cl.outputFormat.includes('json')) out += stringifyFioJson(buildJsonReport(run, stats, groups, { plus, globalOptions, extra }), cl.statusIntervalMs > 0) + '\n';
  if (cl.outputFormat.includes('normal')) out += formatNormalReport(stats, groups) + table;
  return out;
}

/** A file's text, or undefined when it cannot be read (a log fio did not write). */
function readOrUndefined(host: BenchHost, p: string): string | undefined {
  try {
    return host.readFile(p);
  } catch {
    return undefined;
  }
}

/**
 * Writes fio's log files where their names say (relative to the working directory), or
 * under `logDir` (--log-dir). A file that cannot be written is reported and the run goes on:
 * the results still come out.
 */
function writeLogFiles(files: readonly FioLogFile[], host: BenchHost, logDir: string | undefined): void {
  for (const f of mergeLogFiles(files)) {
    const where = logDir ? logFileUnder(logDir, f.name) : f.name;
    try {
      if (logDir) host.makeDir?.(dirname(where));
      host.writeFile(where, f.text);
    } catch (err) {
      host.stderr.write(`vfio-node bench: cannot write the log file ${f.name}: ${(err as Error).message}\n`);
    }
  }
}

/**
 * Runs the jobs on this thread: vfio-runtime jobs through a runtime per address (closed again
 * before this returns, so that a peer can take the device), null jobs on fio's null engine,
 * direct-engine jobs through host.openNvme.
 */
async function runHere(jobs: readonly ResolvedJob[], specs: ReadonlyMap<number, NvmeTargetSpec>, host: BenchHost, opts: HostRunOptions): Promise<RunResult> {
  const bdev = jobs.some((j) => specs.has(j.index) && j.options.ioengine === 'vfio-bdev');
  const runtimes = new RuntimeTargets(runtimeWorkersNeeded(jobs, specs), bdev ? openBdevRuntime : host.openRuntime ?? openDefaultRuntime);
  const byIndex = new Map(jobs.map((j) => [j.index, j]));
  try {
    return await runJobs({
      jobs,
      open: async (_filename, index) => {
        const job = byIndex.get(index)!;
        const spec = specs.get(index);
        if (!spec) return new NullTarget(nullCapacity(job));
        return job.options.ioengine === 'vfio-runtime' || job.options.ioengine === 'vfio-bdev' ? runtimes.open(spec) : host.openNvme(spec, job);
      },
      onProgress: opts.onProgress,
      ...(opts.onStatus ? { onStatus: opts.onStatus, statusIntervalMs: opts.statusIntervalMs } : {}),
      ...(host.clock ? { clock: host.clock } : {}),
      signal: opts.signal,
    });
  } finally {
    await runtimes.close();
  }
}

/** fio's null engine needs a size; without one it pretends to be 1 GiB. */
function nullCapacity(job: ResolvedJob): number {
  const o = job.options;
  const size = o.size && 'bytes' in o.size ? o.size.bytes : 1 << 30;
  const off = 'bytes' in o.offset ? o.offset.bytes : 0;
  return size + off;
}

