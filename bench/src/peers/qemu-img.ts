// The QEMU peer: QEMU's own userspace VFIO NVMe driver (block/nvme.c) driven by
// `qemu-img bench`. LAB.md: use the default cache mode (-t none/directsync fail to open
// on QEMU 7.2's emulated controller: "Failed to configure NVMe write cache"); it issues
// sequential offsets only (-S sets the step), and it prints only the total time, so
// the result is IOPS and bandwidth, no latency.

import { VfioError } from '@vfio-node/core';
import type { PeerResult } from './peer.js';

/** The options of a `qemu-img bench` run (the QEMU peer). */
export interface QemuImgBenchOptions {
  /** -c: number of requests. */
  count: number;
  /** -d: requests in flight. */
  depth: number;
  /** -s: request size in bytes. */
  size: number;
  /** -w: write instead of read (destroys the data on the namespace). */
  write: boolean;
  /** PCI address and namespace of the NVMe bound to vfio-pci. */
  address: string;
  /** Namespace id. */
  nsid: number;
  /** -o: first offset in bytes. */
  offset?: number;
}

/** `qemu-img bench -c N -d DEPTH -s BS [-w] [-o OFF] --image-opts driver=nvme,device=ADDR,namespace=N`. */
export function qemuImgBenchCommand(o: QemuImgBenchOptions): string[] {
  const args = ['qemu-img', 'bench', '-c', String(o.count), '-d', String(o.depth), '-s', String(o.size)];
  if (o.write) args.push('-w');
  if (o.offset) args.push('-o', String(o.offset));
  args.push('--image-opts', `driver=nvme,device=${o.address},namespace=${o.nsid}`);
  return args;
}

export interface QemuImgBenchOutput {
  count: number;
  write: boolean;
  size: number;
  depth: number;
  offset: number;
  step: number;
  seconds: number;
}

/**
 * Reads qemu-img bench's two lines:
 *   Sending 1000 read requests, 4096 bytes each, 4 in parallel (starting at offset 0, step size 4096)
 *   Run completed in 0.027 seconds.
 * @throws VfioError ERR_BENCH_PEER_OUTPUT when either line is missing.
 */
export function parseQemuImgBench(text: string): QemuImgBenchOutput {
  const head = /Sending (\d+) (read|write) requests, (\d+) bytes each, (\d+) in parallel \(starting at offset (\d+), step size (\d+)\)/.exec(text);
  const done = /Run completed in ([0-9.]+) seconds/.exec(text);
  if (!head || !done) {
    throw new VfioError({
      code: 'ERR_BENCH_PEER_OUTPUT',
      message: `qemu-img bench did not complete: ${text.trim().split('\n').pop() ?? '(no output)'}`,
      hint: 'The device must be bound to vfio-pci, and locked memory unlimited (ulimit -l unlimited).',
      details: { output: text.slice(0, 500) },
    });
  }
  return { count: Number(head[1]), write: head[2] === 'write', size: Number(head[3]), depth: Number(head[4]), offset: Number(head[5]), step: Number(head[6]), seconds: Number(done[1]) };
}

/** The parsed output as a peer result: IOPS = count / seconds (qemu-img prints the time to the millisecond). */
export function qemuImgBenchResult(out: QemuImgBenchOutput, command: string[] = []): PeerResult {
  const iops = out.count / out.seconds;
  const dir = { iops, bwBytes: Math.floor(iops * out.size), ios: out.count };
  return {
    peer: 'qemu',
    label: 'QEMU block/nvme.c (qemu-img bench)',
    command,
    ...(out.write ? { write: dir } : { read: dir }),
    note: 'sequential offsets only; no latency figures and no time series (qemu-img bench prints only its total time)',
  };
}
