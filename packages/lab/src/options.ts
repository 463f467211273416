// What a lab boot is made of, and the defaults the issue asks for: one 1 GiB NVMe,
// no NIC, 2 GiB of memory, 2 vCPUs, 256 hugepages of 2 MiB, devices bound to vfio-pci.

import { invalidOption } from './errors.js';
import { defaultNvmeSpec, parseNvmeSpec, validate, type NvmeSpec } from './nvme-spec.js';
import { defaultNicSpec, parseNicSpec, validateNic, type NicSpec } from './nic-spec.js';
import { parseSize } from './size.js';

export type LabBind = 'vfio' | 'kernel';
export type LabAccel = 'auto' | 'kvm' | 'tcg';

export interface LabOptions {
  /** NVMe controllers (specs or `--nvme` strings). Default: one with defaultNvmeSpec(); `[]` for none. */
  nvme?: Array<NvmeSpec | Partial<NvmeSpec> | string>;
  /** Number of virtio-net NICs (default 0). */
  nics?: number;
  /** Join all NICs on one QEMU hub, so frames from one reach the others (default true). */
  nicHub?: boolean;
  /** What every NIC offers (a spec or a `--nic` string such as `packed=on,mq=on`). Default: QEMU's defaults. */
  nic?: Partial<NicSpec> | string;
  /** Guest memory (default '2G'). */
  memory?: number | string;
  /** vCPUs (default 2). */
  cpus?: number;
  /** 2 MiB hugepages reserved in the guest (default 256). */
  hugepages?: number;
  /** `vfio`: NVMe and NICs on vfio-pci (default); `kernel`: left on nvme and virtio_net. */
  bind?: LabBind;
  /** Host directory that receives what the command wrote to $VFIO_LAB_OUT. */
  outDir?: string;
  /** Kill the guest after this many milliseconds (default: no limit). */
  timeoutMs?: number;
  /** The command's working directory, a host path (default process.cwd()). */
  cwd?: string;
  /** Extra environment for the command (on top of the variables taken from the host). */
  env?: Record<string, string>;
  /** `auto` (default): KVM when /dev/kvm opens, TCG otherwise. */
  accel?: LabAccel;
  /** Guest kernel version (default: the newest in both /boot and /lib/modules). */
  kernelVersion?: string;
  /** Where built initramfs images are kept (default $VFIO_LAB_CACHE or ~/.cache/vfio-node/lab). */
  cacheDir?: string;
  /** Appended to QEMU's command line as given. */
  extraQemuArgs?: string[];
  /** Check on the host that the command exists before booting (default true). */
  checkCommand?: boolean;
}

export interface ResolvedLabOptions {
  nvme: NvmeSpec[];
  nics: number;
  nicHub: boolean;
  nic: NicSpec;
  /** Bytes. */
  memory: number;
  cpus: number;
  hugepages: number;
  bind: LabBind;
  outDir: string | undefined;
  timeoutMs: number | undefined;
  cwd: string;
  env: Record<string, string>;
  accel: LabAccel;
  kernelVersion: string | undefined;
  cacheDir: string | undefined;
  extraQemuArgs: string[];
  checkCommand: boolean;
}

/**
 * Fills in defaults and checks every option, naming the one that is wrong.
 * @throws LabError ERR_INVALID_ARG
 */
export function resolveOptions(options: LabOptions = {}): ResolvedLabOptions {
  const nvme = (options.nvme ?? [defaultNvmeSpec(0)]).map((s, i) =>
    typeof s === 'string' ? parseNvmeSpec(s, i) : validate({ ...defaultNvmeSpec(i), ...s }, i),
  );
  const memory = parseSize(options.memory ?? '2G', '--memory');
  if (memory < 256 * 2 ** 20 || memory % 2 ** 20 !== 0) throw invalidOption('--memory', options.memory, 'at least 256M, in whole MiB');
  const hugepages = count('--hugepages', options.hugepages ?? 256, 0, 1 << 20);
  if (hugepages * 2 ** 21 > memory / 2) {
    throw invalidOption('--hugepages', hugepages, `at most half of --memory (${memory / 2 ** 22} pages of 2 MiB)`, 'Give the guest more --memory or reserve fewer hugepages.');
  }
  const bind = options.bind ?? 'vfio';
  if (bind !== 'vfio' && bind !== 'kernel') throw invalidOption('--bind', bind, 'vfio or kernel');
  const accel = options.accel ?? 'auto';
  if (!['auto', 'kvm', 'tcg'].includes(accel)) throw invalidOption('accel', accel, 'auto, kvm or tcg');
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw invalidOption('--timeout', options.timeoutMs, 'a positive number');
  return {
    nvme,
    nics: count('--nics', options.nics ?? 0, 0, 16),
    nicHub: options.nicHub ?? true,
    nic: resolveNic(options.nic),
    memory,
    cpus: count('--cpus', options.cpus ?? 2, 1, 64),
    hugepages,
    bind,
    outDir: options.outDir,
    timeoutMs: options.timeoutMs,
    cwd: options.cwd ?? process.cwd(),
    env: { ...(options.env ?? {}) },
    accel,
    kernelVersion: options.kernelVersion,
    cacheDir: options.cacheDir,
    extraQemuArgs: options.extraQemuArgs ?? [],
    checkCommand: options.checkCommand ?? true,
  };
}

function resolveNic(nic: Partial<NicSpec> | string | undefined): NicSpec {
  return typeof nic === 'string' ? parseNicSpec(nic) : validateNic({ ...defaultNicSpec(), ...(nic ?? {}) });
}

function count(what: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalidOption(what, value, `an integer from ${min} to ${max}`);
  return value;
}
