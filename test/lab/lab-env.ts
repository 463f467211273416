// What the lab tells a test about its devices, and the open/close preamble lab files
// share. Outside the lab these throw: a lab test must fail, never skip, when it has no
// device. Devices are opened in beforeAll hooks, never while vitest collects the file
// (scripts/test.sh lists the tests on the host with placeholder addresses).

import { afterAll, beforeAll } from 'vitest';
import { VirtioNet, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

function list(name: string): string[] {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set: lab tests run inside the lab (npm test boots it)`);
  return v.split(/\s+/).filter(Boolean);
}

/** PCI addresses of the lab's NVMe controllers, bound to vfio-pci. */
export function labNvme(): string[] {
  const l = list('VFIO_LAB_NVME');
  if (!l.length) throw new Error('the lab has no NVMe controller');
  return l;
}

/** PCI addresses of the lab's virtio-net NICs. */
export function labNics(): string[] {
  return list('VFIO_LAB_NICS');
}

/**
 * Opens the lab's first two NICs before the enclosing describe's tests (the first as the
 * sender, the second as the receiver) and closes them after. The getters throw if used
 * before beforeAll ran.
 */
export function useNicPair(options: VirtioNetOptions = {}): { readonly sender: VirtioNet; readonly receiver: VirtioNet } {
  let pair: [VirtioNet, VirtioNet] | undefined;
  let opened: VirtioNet[] = [];
  beforeAll(() => {
    const [a, b] = labNics();
    if (!a || !b) throw new Error(`the lab has ${labNics().length} NICs, this test needs 2 (lab run --nics 2)`);
    opened.push(VirtioNet.open(a, options));
    opened.push(VirtioNet.open(b, options));
    pair = [opened[0]!, opened[1]!];
  });
  afterAll(() => {
    for (const nic of opened) nic.close();
    opened = [];
    pair = undefined;
  });
  const get = (i: 0 | 1) => {
    if (!pair) throw new Error('the NICs are opened in beforeAll: use them inside a test');
    return pair[i];
  };
  return {
    get sender() {
      return get(0);
    },
    get receiver() {
      return get(1);
    },
  };
}

/**
 * Runs `vfio-node bench ARGS` as a child process (the CLI's own argument handling, output
 * and exit status), never throwing: the status, stdout and stderr.
 */
export async function runBenchCli(args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
  try {
    const r = await promisify(execFile)(process.execPath, [cli, 'bench', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

