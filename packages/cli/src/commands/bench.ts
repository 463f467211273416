// vfio-node bench [OPTIONS] [JOBFILE...]: fio's options, job files and output formats,
// run on an NVMe namespace through vfio-node's userspace driver (see @vfio-node/bench).
// This file only supplies the host: files, the terminal, Ctrl-C, peer commands, and the
// NVMe queue pair each job runs on.

import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectStatus, logFileHome, NullTarget, planBench, pollProgress, ProgressBlock, reportEvery, runBench, StatBlock, USAGE, runJobWithProgress, WORKER_JOB_MODULE, type BenchHost, type HostRunOptions, type IoTarget, type JobResult, type LiveJob, type NvmeTargetSpec, type ResolvedJob, type RunResult, type WorkerJobArgs } from '@vfio-node/bench';
import { bindDevice, invalidArgument, unbindDevice, VfioError } from '@vfio-node/core';
import { NvmeController } from '@vfio-node/nvme';
import { NvmeRuntime } from '@vfio-node/runtime';
import { refuseIfNamespaceHoldsData } from '../nvme/look-before-write.js';
import { main, VERSION } from '../main.js';

/** Entries per I/O queue (SQ and CQ) at least, whatever the job's iodepth. */
const MIN_QUEUE_ENTRIES = 256;

/** One runtime per PCI address: a worker thread and an I/O queue pair per concurrent job. */
const runtimes = new Map<string, Promise<NvmeRuntime>>();

/**
 * Runs the jobs group by group (fio's stonewall/new_group order); the jobs of a group run
 * at once, each on its own worker-owned queue pair, through the runtime's public API.
 * Each job gets a progress block (shared memory): the status line reads its counters on a
 * timer here, and Ctrl-C sets its stop word there. With --status-interval each job also gets
 * a stat block, where it copies its statistics when the report timer here asks.
 */
async function runJobsOnWorkers(jobs: readonly ResolvedJob[], specs: ReadonlyMap<number, NvmeTargetSpec>, { signal, onProgress, onStatus, statusIntervalMs }: HostRunOptions): Promise<RunResult> {
  const startedAt = new Date();
  const groups = new Map<number, ResolvedJob[]>();
  for (const j of jobs) groups.set(j.groupid, [...(groups.get(j.groupid) ?? []), j]);
  // Size each address's runtime for its busiest group: workers, queue depth, DMA memory.
  const need = new Map<string, { workers: number; depth: number; memory: number }>();
  for (const g of groups.values()) {
    const count = new Map<string, number>();
    for (const j of g) {
      const spec = specs.get(j.index);
      if (!spec) continue;
      count.set(spec.address, (count.get(spec.address) ?? 0) + 1);
      // The queue holds at least 256 entries whatever the iodepth: with a queue of iodepth + 1
      // the completion head wraps past the controller's CQ EventIdx (0 on QEMU 7.2) every
      // iodepth + 1 completions, and each wrap costs a CQ head doorbell trap (at iodepth 1,
      // every I/O, seen in QEMU's trace). Deeper rings cost a few KiB of DMA memory.
      const n = need.get(spec.address) ?? { workers: 0, depth: MIN_QUEUE_ENTRIES, memory: 0 };
      const bs = Math.max(j.options.bs.read, j.options.bs.write);
      n.depth = Math.max(n.depth, j.options.iodepth + 1);
      n.memory = Math.max(n.memory, j.options.iodepth * Math.ceil(bs / 4096) * 4096);
      need.set(spec.address, n);
    }
    for (const [addr, c] of count) need.get(addr)!.workers = Math.max(need.get(addr)!.workers, c);
  }
  for (const [addr, n] of need) {
    if (!runtimes.has(addr)) {
      const memory = Math.ceil((n.memory + 8 * 1024 * 1024) / (2 * 1024 * 1024)) * 2 * 1024 * 1024;
      runtimes.set(addr, NvmeRuntime.open(addr, { workers: n.workers, queueDepth: n.depth, workerMemory: memory, interrupts: true }));
    }
  }
  const results: JobResult[] = [];
  // --status-interval: the results of the groups done, and the running group's jobs.
  let live: LiveJob[] = [];
  const reports = onStatus ? reportEvery({ intervalMs: statusIntervalMs ?? 1000, collect: () => collectStatus(results.slice(), live), onStatus }) : undefined;
  try {
    for (const g of groups.values()) {
      // After Ctrl-C no further group starts (fio terminates every job).
      if (signal?.aborted) break;
      live = onStatus ? g.map((job) => ({ job, block: new StatBlock() })) : [];
      // Both at once (no await between): a report sees each job once, ended or in `results`.
      results.push(...(await runGroupOnWorkers(g, specs, live, signal, onProgress)));
      live = [];
    }
  } finally {
    await reports?.stop();
  }
  return { results, startedAt };
}

/**
 * Runs one group's jobs at once, each on a worker of its address's runtime (null jobs
 * here); resolves with their results in job order. Each job of `live` (one per job, with
 * --status-interval) is marked ended as soon as it ends, so a status report takes its
 * final result instead of asking it.
 */
async function runGroupOnWorkers(g: readonly ResolvedJob[], specs: ReadonlyMap<number, NvmeTargetSpec>, live: LiveJob[], signal: AbortSignal | undefined, onProgress: HostRunOptions['onProgress']): Promise<JobResult[]> {
  const blocks = g.map(() => new ProgressBlock());
  const stop = () => blocks.forEach((b) => b.requestStop());
  signal?.addEventListener('abort', stop, { once: true });
  const next = new Map<string, number>();
  const start = async (job: ResolvedJob, i: number): Promise<JobResult | null> => {
    const spec = specs.get(job.index);
    const stats = live[i]?.block;
    // ioengine=null jobs next to device jobs run here, through the same blocks.
    if (!spec) return runJobWithProgress(job, new NullTarget(1 << 30), blocks[i], stats);
    const rt = await runtimes.get(spec.address)!;
    const w = next.get(spec.address) ?? 0;
    next.set(spec.address, w + 1);
    return rt.call<JobResult | null>(w, WORKER_JOB_MODULE, 'runJobOnQueue', { job, nsid: spec.nsid, progress: blocks[i]!.buffer, ...(stats ? { stats: stats.buffer } : {}) } satisfies WorkerJobArgs);
  };
  const runs = g.map(async (job, i) => {
    try {
      const r = await start(job, i);
      if (live[i]) live[i]!.ended = { result: r };
      return r;
    } catch (err) {
      // A status report must not wait for a job that failed.
      if (live[i]) live[i]!.ended = { result: null };
      throw err;
    }
  });
  const stopPolling = onProgress ? pollProgress(g.map((job, i) => () => blocks[i]!.read(job.options.rw)), onProgress) : undefined;
  try {
    // A job stopped before it started has nothing to report.
    return (await Promise.all(runs)).filter((r): r is JobResult => r !== null);
  } finally {
    stopPolling?.();
    signal?.removeEventListener('abort', stop);
  }
}

async function releaseDevices(): Promise<void> {
  for (const r of runtimes.values()) await (await r.catch(() => null))?.close();
  runtimes.clear();
}

/** Not used: every device job runs on a runtime worker (runJobsOnWorkers). */
async function openNvme(spec: NvmeTargetSpec): Promise<IoTarget> {
  throw new VfioError({ code: 'ERR_INTERNAL', message: `device jobs on ${spec.address} run on runtime workers` });
}

/** Hands the device to the kernel's nvme driver and waits for the namespace's block device. */
async function kernelDevice(spec: NvmeTargetSpec): Promise<string> {
  const { driver } = unbindDevice(spec.address);
  if (driver !== 'nvme') throw new VfioError({ code: 'ERR_BENCH_KERNEL_PEER', message: `${spec.address} went to ${driver ?? 'no driver'}, not nvme`, hint: 'Load the nvme module (modprobe nvme).', device: spec.address });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const dir = `/sys/bus/pci/devices/${spec.address}/nvme`;
    const ctrls = existsSync(dir) ? readdirSync(dir) : [];
    for (const c of ctrls) {
      const nsDev = readdirSync(`${dir}/${c}`).find((n) => new RegExp(`^nvme\\d+(c\\d+)?n${spec.nsid}$`).test(n));
      const block = nsDev?.replace(/c\d+n/, 'n');
      if (block && existsSync(`/dev/${block}`)) return `/dev/${block}`;
    }
    if (Date.now() > deadline) throw new VfioError({ code: 'ERR_BENCH_KERNEL_PEER', message: `no block device for ${spec.address} namespace ${spec.nsid} after binding to nvme`, device: spec.address });
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function restoreDevice(spec: NvmeTargetSpec): Promise<void> {
  bindDevice(spec.address);
}

/**
 * A job that writes to a device first looks at the namespace (../nvme/look-before-write.ts)
 * and refuses one holding a partition table, filesystem or volume member; --force (ours,
 * not fio's) skips the look. The controller is opened here and closed again before the jobs run.
 */
async function refuseWritesOnData(argv: string[]): Promise<void> {
  const plan = planBench(argv, (p) => readFileSync(p, 'utf8'), true);
  const seen = new Set<string>();
  for (const j of plan.jobs) {
    const spec = plan.specs.get(j.index);
    if (!spec || j.options.rw === 'read' || j.options.rw === 'randread' || seen.has(`${spec.address}/${spec.nsid}`)) continue;
    seen.add(`${spec.address}/${spec.nsid}`);
    const ctrl = await NvmeController.open(spec.address);
    try {
      await refuseIfNamespaceHoldsData(ctrl, ctrl.namespace(spec.nsid), `bench job ${j.options.name} (rw=${j.options.rw})`, false);
    } finally {
      await ctrl.close();
    }
  }
}

/** The embedded default: no device named, so run the same command inside the lab on its NVMe. */
function namesADevice(argv: string[]): boolean {
  if (argv.some((a) => a.startsWith('--filename') || a === '--ioengine=null' || a === '--help' || a === '-h')) return true;
  // A job file that names a filename runs where it says.
  return argv.filter((a) => !a.startsWith('-')).some((f) => existsSync(f) && /^\s*filename\s*=/m.test(readFileSync(f, 'utf8')));
}

/** The lab's NVMe as the guest sees it (the first controller's address is fixed by the lab's machine layout). */
const LAB_FILENAME_PLACEHOLDER = '0000:00:03.0/1';

/** What runInLab needs besides the benchmark's own options. */
export interface LabBenchOptions {
  /** --accel (or $VFIO_LAB_ACCEL): the lab's accelerator. */
  accel?: string;
  /** Where the guest's --output file lands on the host (the user's --output, resolved). */
  output?: string;
}

/**
 * Our options that belong to the lab, not to the benchmark (taken out of argv):
 * --accel A / --accel=A.
 */
export function takeLabOptions(argv: string[]): { argv: string[]; accel: string | undefined } {
  const rest: string[] = [];
  let accel: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--accel') accel = argv[++i] ?? '';
    else if (a.startsWith('--accel=')) accel = a.slice('--accel='.length);
    else rest.push(a);
  }
  if (accel !== undefined && accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') {
    throw invalidArgument('--accel', accel, 'auto, kvm or tcg', 'auto takes KVM when it really runs a guest here, else software emulation (tcg).');
  }
  return { argv: rest, accel };
}

/**
 * Runs the benchmark inside the lab. Everything is checked here first, on the host,
 * with the lab's NVMe standing in for --filename: a mistake costs no boot. The guest's
 * writes vanish at power-off, so --output is written to $VFIO_LAB_OUT and copied to
 * where the user asked; on a terminal the status line (--eta) is carried through.
 */
export async function runInLab(userArgv: string[], opts: LabBenchOptions = {}): Promise<number> {
  // The filename goes first, as a global option: every job of the command line and of the job files gets it.
  const argv = [`--filename=${LAB_FILENAME_PLACEHOLDER}`, ...userArgv];
  const plan = planBench(argv, (p) => readFileSync(p, 'utf8'), true);
  if (!plan.jobs.length) {
    process.stderr.write(`vfio-node bench: no jobs (give --name=NAME or a job file)\n\n${USAGE}\n`);
    return 2;
  }
  const output = opts.output ?? plan.cl.output;
  const guestArgv = userArgv.slice();
  let outDir: string | undefined;
  if (output !== undefined) {
    const target = path.resolve(output);
    try {
      accessSync(path.dirname(target), constants.W_OK);
    } catch (err) {
      throw invalidArgument('--output', output, `a file in a directory you can write (${path.dirname(target)}: ${(err as NodeJS.ErrnoException).code})`, 'Name a file in a directory that exists and that you can write.');
    }
    outDir = mkdtempSync(path.join(os.tmpdir(), 'vfio-node-bench-'));
    // The last --output wins (fio's rule), so appending is enough.
    guestArgv.push('--output=$VFIO_LAB_OUT/bench-output');
  }
  // fio's log files (write_iops_log=..., and the kernel peer's copies) are written under the
  // shared folder in the guest and put back here where their names point.
  const logs = plan.jobs.some((j) => j.options.logs.bwPrefix || j.options.logs.iopsPrefix || j.options.logs.latPrefix || j.options.logs.histPrefix);
  if (logs) {
    outDir ??= mkdtempSync(path.join(os.tmpdir(), 'vfio-node-bench-'));
    guestArgv.push('--log-dir=$VFIO_LAB_OUT/logs');
  }
  // On a terminal, the guest's status line is carried through (its stdout is a pipe, where fio's auto would print none).
  if (process.stdout.isTTY && plan.cl.eta === 'auto') guestArgv.push('--eta=always');
  const quoted = guestArgv.map((a) => (a === '--output=$VFIO_LAB_OUT/bench-output' || a === '--log-dir=$VFIO_LAB_OUT/logs' ? `"${a}"` : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  const accel = opts.accel ?? process.env.VFIO_LAB_ACCEL;
  console.error("vfio-node bench: no --filename given: running on the lab's emulated NVMe (vfio-node lab run)");
  try {
    const status = await main([
      'lab', 'run',
      '--nvme', `size=1G,serial=VFIONODE0${ioUringUsable() ? ',aio=io_uring' : ''}`,
      ...(accel ? ['--accel', accel] : []),
      ...(outDir ? ['--out', outDir] : []),
      '--', 'sh', '-c', `exec vfio-node bench --filename=\${VFIO_LAB_NVME%% *}/1 ${quoted}`,
    ]);
    if (outDir && output !== undefined) {
      const written = path.join(outDir, 'bench-output');
      if (existsSync(written)) copyFileSync(written, path.resolve(output));
      else if (status === 0) console.error(`vfio-node bench: the benchmark wrote no ${output}`);
    }
    if (outDir && logs) bringBackLogs(path.join(outDir, 'logs'));
    return status;
  } finally {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  }
}

/** Copies every log file the guest wrote under `dir` to where its name points from the working directory. */
function bringBackLogs(dir: string): void {
  if (!existsSync(dir)) return;
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else {
        const home = logFileHome(r, process.cwd());
        if (!home) continue;
        try {
          mkdirSync(path.dirname(home), { recursive: true });
          copyFileSync(path.join(dir, r), home);
        } catch (err) {
          console.error(`vfio-node bench: cannot write the log file ${home}: ${(err as Error).message}`);
        }
      }
    }
  };
  walk('');
}

/**
 * Whether QEMU may use io_uring on this host (the lab's NVMe then serves its file with
 * aio=io_uring: no thread-pool hop per command, a faster emulated device for every
 * engine compared). Linux 6.6+ can switch io_uring off with kernel.io_uring_disabled.
 */
function ioUringUsable(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0';
  } catch {
    return true; // no such switch: io_uring is on (Linux 5.1 to 6.5)
  }
}

/** Runs a peer command, collecting its output whatever its exit status. */
function runCommand(argv: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    // A peer gets ten minutes at most: a hung peer must not hang the benchmark.
    const timer = setTimeout(() => {
      stderr += `\n${argv[0]} did not finish within 600 s and was killed\n`;
      child.kill('SIGKILL');
    }, 600_000);
    child.on('close', () => clearTimeout(timer));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', (err) =>
      reject(new VfioError({ code: 'ERR_BENCH_PEER_SPAWN', message: `cannot run ${argv[0]}: ${err.message}`, hint: `Install ${argv[0]} (Debian: apt-get install ${argv[0] === 'fio' ? 'fio' : 'qemu-utils'}).`, cause: err })),
    );
    child.on('close', (status) => resolve({ stdout, stderr, status: status ?? 1 }));
  });
}

export async function run(userArgv: string[]): Promise<number> {
  // --force: write even on a namespace that holds data (in the lab, the namespace is a fresh image anyway).
  const force = userArgv.includes('--force');
  const argv = userArgv.filter((a) => a !== '--force');
  if (argv.includes('--version')) {
    console.log(`vfio-node-${VERSION}`);
    return 0;
  }
  if (!process.env.VFIO_LAB && !namesADevice(argv)) {
    const { argv: rest, accel } = takeLabOptions(argv);
    return runInLab(rest, { accel });
  }
  if (argv.some((a) => a === '--accel' || a.startsWith('--accel='))) {
    throw invalidArgument('--accel', argv.find((a) => a.startsWith('--accel')), 'no --accel when a device is named (it chooses the lab\'s accelerator)', 'Leave out --accel, or leave out --filename to run on the lab.');
  }
  // fio stops on the first Ctrl-C and still prints what it measured (exit status 128); a
  // second one exits at once. The jobs on workers see the stop in their progress blocks.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nvfio-node bench: terminating on signal 2\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const host: BenchHost = {
    openNvme,
    readFile: (p) => readFileSync(p, 'utf8'),
    writeFile: (p, t) => writeFileSync(p, t),
    makeDir: (p) => mkdirSync(p, { recursive: true }),
    tempDir: () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'vfio-node-peer-'));
      return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
    },
    stdout: process.stdout,
    stderr: process.stderr,
    runCommand,
    signal: abort.signal,
    releaseDevices,
    runJobs: runJobsOnWorkers,
    kernelDevice,
    restoreDevice,
  };
  try {
    if (!force) await refuseWritesOnData(argv);
    return await runBench(argv, host);
  } finally {
    await releaseDevices();
    process.off('SIGINT', onSigint);
  }
}
