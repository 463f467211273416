// vfio-node bench [OPTIONS] [JOBFILE...]: fio's options, job files and output formats,
// run on an NVMe namespace through vfio-node's userspace driver (see @vfio-node/bench).
// This file only supplies the host: files, the terminal, Ctrl-C, peer commands, and the
// NVMe queue pair each job runs on.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { runBench, type BenchHost, type IoTarget, type NvmeTargetSpec, type ResolvedJob } from '@vfio-node/bench';
import { VfioError } from '@vfio-node/core';

/**
 * Opens one I/O queue pair on the namespace a job names, as an IoTarget.
 * @throws VfioError until the NVMe driver's queue pairs are adapted to IoTarget.
 */
async function openNvme(spec: NvmeTargetSpec, job: ResolvedJob): Promise<IoTarget> {
  throw new VfioError({
    code: 'ERR_BENCH_NO_NVME_TARGET',
    message: `job '${job.options.name}': cannot open ${spec.address} namespace ${spec.nsid}: the NVMe IoTarget adapter is not connected yet`,
    hint: "Use --ioengine=null to try options and output formats without a device.",
    device: spec.address,
  });
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
  };
  try {
    return await runBench(argv, host);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
