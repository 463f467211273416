// vfio-node bench [OPTIONS] [JOBFILE...]: fio's options, job files and output formats,
// run on an NVMe namespace through vfio-node's userspace driver (see @vfio-node/bench).
// This file only supplies the host: files, the terminal, Ctrl-C, peer commands, and the
// NVMe queue pair each job runs on.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { NvmeTarget, runBench, type BenchHost, type IoTarget, type NvmeTargetSpec, type ResolvedJob } from '@vfio-node/bench';
import { bindDevice, unbindDevice, VfioError } from '@vfio-node/core';
import { NvmeController } from '@vfio-node/nvme';
import { main } from '../main.js';

/** One controller per PCI address, shared by the jobs on it (each job gets its own queue pair). */
const controllers = new Map<string, Promise<NvmeController>>();

/** Opens one I/O queue pair on the namespace a job names, as an IoTarget. */
async function openNvme(spec: NvmeTargetSpec, job: ResolvedJob): Promise<IoTarget> {
  let ctrl = controllers.get(spec.address);
  if (!ctrl) {
    // Enough I/O queues for every job; the driver asks the controller for them at open.
    ctrl = NvmeController.open(spec.address, { ioQueues: 1, maxIoQueues: 16 });
    controllers.set(spec.address, ctrl);
  }
  return NvmeTarget.open(await ctrl, spec.nsid, job.options.iodepth);
}

async function releaseDevices(): Promise<void> {
  for (const c of controllers.values()) (await c).close();
  controllers.clear();
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

/** The embedded default: no device named, so run the same command inside the lab on its NVMe. */
function namesADevice(argv: string[]): boolean {
  if (argv.some((a) => a.startsWith('--filename') || a === '--ioengine=null' || a === '--help' || a === '-h')) return true;
  // A job file that names a filename runs where it says.
  return argv.filter((a) => !a.startsWith('-')).some((f) => existsSync(f) && /^\s*filename\s*=/m.test(readFileSync(f, 'utf8')));
}

async function runInLab(argv: string[]): Promise<number> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  console.error('vfio-node bench: no --filename given: running on the lab\'s emulated NVMe (vfio-node lab run)');
  return main(['lab', 'run', '--nvme', 'size=1G,serial=VFIONODE0', '--', 'sh', '-c', `exec vfio-node bench ${quoted} --filename=\${VFIO_LAB_NVME%% *}/1`]);
}

/** Runs a peer command, collecting its output whatever its exit status. */
function runCommand(argv: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
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

export async function run(argv: string[]): Promise<number> {
  if (!process.env.VFIO_LAB && !namesADevice(argv)) return runInLab(argv);
  // fio stops on the first Ctrl-C and still prints what it measured; a second one kills.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const host: BenchHost = {
    openNvme,
    readFile: (p) => readFileSync(p, 'utf8'),
    writeFile: (p, t) => writeFileSync(p, t),
    stdout: process.stdout,
    stderr: process.stderr,
    runCommand,
    signal: abort.signal,
    releaseDevices,
    kernelDevice,
    restoreDevice,
  };
  try {
    return await runBench(argv, host);
  } finally {
    await releaseDevices();
    process.off('SIGINT', onSigint);
  }
}
