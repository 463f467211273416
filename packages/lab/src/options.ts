// What a lab boot is made of, and the defaults the issue asks for: one 1 GiB NVMe,
// no NIC, 2 GiB of memory, 2 vCPUs, 256 hugepages of 2 MiB, devices bound to vfio-pci.

import { invalidOption } from './errors.js';
import { defaultNvmeSpec, imageSize, parseNvmeSpec, validate, type NvmeSpec } from './nvme-spec.js';
import { defaultNicSpec, parseNicSpec, validateNic, type NicSpec } from './nic-spec.js';
import { parseSize } from './size.js';

/** How long QEMU has to bring the guest to the command (see LabOptions.bootTimeoutMs). */
export const DEFAULT_BOOT_TIMEOUT_MS = 180_000;

/**
 * What the lab binds the devices to inside the guest: vfio-pci, or the kernel's own drivers (the peers of the
 * benchmark).
 */
export type LabBind = 'vfio' | 'kernel';
/** The accelerator to use: decide (auto), KVM, or software emulation (tcg). */
export type LabAccel = 'auto' | 'kvm' | 'tcg';

/**
 * What `lab run` boots: the NVMe controllers and NICs, memory, CPUs, hugepages, what the devices are bound to,
 * the accelerator, timeouts and the output directory.
 */
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
  /** The guest must start the command within this many milliseconds of QEMU's start, or QEMU is killed and the error shows the console's tail and QEMU's command line (default 180 s: a boot takes 7-10 s under TCG on a quiet machine). */
  bootTimeoutMs?: number;
  /** The command's working directory, a host path (default process.cwd()). */
  cwd?: string;
  /** Extra environment for the command (on top of the variables taken from the host). */
  env?: Record<string, string>;
  /** `auto` (default, or $VFIO_LAB_ACCEL): KVM when KVM really runs a guest here (a probe, cached; accel.ts), TCG otherwise. */
  accel?: LabAccel;
  /** Guest kernel version (default: the newest in both /boot and /lib/modules). */
  kernelVersion?: string;
  /** Where built initramfs images are kept (default $VFIO_LAB_CACHE or ~/.cache/vfio-node/lab). */
  cacheDir?: string;
  /** Appended to QEMU's command line as given. */
  extraQemuArgs?: string[];
  /** Check on the host that the command exists before booting (default true). */
  checkCommand?: boolean;
  /** The script run as `vfio-node` in the guest (default: the vfio-node package installed beside this one, see CLI_BIN). */
  cliBin?: string;
  /**
   * 2: also boot machine 2, a small guest joined to this one by a private link (10.99.0.1 and 10.99.0.2, link.ts)
   * that runs the lab's command agent; the command drives it with runOnMachine() or `vfio-node lab machine2 --`
   * (default 1).
   */
  machines?: number;
  /** Machine 2's size (default 512M of memory, 1 vCPU); it has no NVMe, NIC or hugepages of its own. */
  machine2?: Machine2Options;
}

/** Machine 2's size (LabOptions.machine2). */
export interface Machine2Options {
  /** Guest memory (default '512M'). */
  memory?: number | string;
  /** vCPUs (default 1). */
  cpus?: number;
}

/** LabOptions with every default filled in and checked. */
export interface ResolvedLabOptions {
  /** The NVMe controllers, parsed. */
  nvme: NvmeSpec[];
  /** Number of virtio-net NICs. */
  nics: number;
  /** All NICs joined on one QEMU hub. */
  nicHub: boolean;
  /** What every NIC offers, parsed. */
  nic: NicSpec;
  /** Bytes. */
  memory: number;
  /** vCPUs. */
  cpus: number;
  /** 2 MiB hugepages reserved in the guest. */
  hugepages: number;
  /** What the devices are bound to in the guest. */
  bind: LabBind;
  /** Host directory that receives $VFIO_LAB_OUT, if given. */
  outDir: string | undefined;
  /** Kill the guest after this many milliseconds (undefined: no limit). */
  timeoutMs: number | undefined;
  /** The guest must start the command within this many milliseconds of QEMU's start. */
  bootTimeoutMs: number;
  /** The command's working directory, a host path. */
  cwd: string;
  /** Extra environment for the command. */
  env: Record<string, string>;
  /** The accelerator asked for (auto is decided when the lab starts). */
  accel: LabAccel;
  /** Guest kernel version asked for (undefined: the newest in both /boot and /lib/modules). */
  kernelVersion: string | undefined;
  /** Where built initramfs images are kept (undefined: the default). */
  cacheDir: string | undefined;
  /** Appended to QEMU's command line as given. */
  extraQemuArgs: string[];
  /** Check on the host that the command exists before booting. */
  checkCommand: boolean;
  cliBin: string | undefined;
  /** 1, or 2 with machine 2 on the private link. */
  machines: 1 | 2;
  /** Machine 2's memory (bytes) and vCPUs. */
  machine2: { memory: number; cpus: number };
}

/**
 * Fills in defaults and checks every option, naming the one that is wrong.
 * @throws LabError ERR_INVALID_ARG
 */
export function resolveOptions(options: LabOptions = {}): ResolvedLabOptions {
  const nvme = (options.nvme ?? [defaultNvmeSpec(0)]).map((s, i) =>
    typeof s === 'string'
      ? parseNvmeSpec(s, i)
      : validate({ ...defaultNvmeSpec(i), ...s, ...(s.image && s.size === undefined ? { size: imageSize(s.image, defaultNvmeSpec(i).size, i) } : {}) }, i),
  );
  const memory = parseSize(options.memory ?? '2G', '--memory');
  if (memory < 256 * 2 ** 20 || memory % 2 ** 20 !== 0) throw invalidOption('--memory', options.memory, 'at least 256M, in whole MiB');
  const hugepages = count('--hugepages', options.hugepages ?? 256, 0, 1 << 20);
  if (hugepages * 2 ** 21 > memory / 2) {
    throw invalidOption('--hugepages', hugepages, `at most half of --memory (${memory / 2 ** 22} pages of 2 MiB)`, 'Give the guest more --memory or reserve fewer hugepages.');
  }
  const bind = options.bind ?? 'vfio';
  if (bind !== 'vfio' && bind !== 'kernel') throw invalidOption('--bind', bind, 'vfio or kernel');
  const accel = options.accel ?? accelFromEnv();
  if (options.bootTimeoutMs !== undefined && !(options.bootTimeoutMs > 0)) throw invalidOption('bootTimeoutMs', options.bootTimeoutMs, 'a positive number of milliseconds');
  if (!isAccel(accel)) throw invalidOption('--accel', accel, 'auto, kvm or tcg');
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw invalidOption('--timeout', options.timeoutMs, 'a positive number');
  const machines = count('--machines', options.machines ?? 1, 1, 2) as 1 | 2;
  const memory2 = parseSize(options.machine2?.memory ?? '512M', 'machine2.memory');
  if (memory2 < 256 * 2 ** 20 || memory2 % 2 ** 20 !== 0) throw invalidOption('machine2.memory', options.machine2?.memory, 'at least 256M, in whole MiB');
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
    bootTimeoutMs: options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
    cwd: options.cwd ?? process.cwd(),
    env: { ...(options.env ?? {}) },
    accel,
    kernelVersion: options.kernelVersion,
    cacheDir: options.cacheDir,
    extraQemuArgs: options.extraQemuArgs ?? [],
    checkCommand: options.checkCommand ?? true,
    cliBin: options.cliBin,
    machines,
    machine2: { memory: memory2, cpus: count('machine2.cpus', options.machine2?.cpus ?? 1, 1, 64) },
  };
}

/** $VFIO_LAB_ACCEL, or `auto`. */
function accelFromEnv(): LabAccel {
  const v = process.env.VFIO_LAB_ACCEL;
  if (v === undefined || v === '') return 'auto';
  if (!isAccel(v)) throw invalidOption('VFIO_LAB_ACCEL', v, 'auto, kvm or tcg', 'Fix or unset the environment variable VFIO_LAB_ACCEL.');
  return v;
}

function isAccel(v: string): v is LabAccel {
  return v === 'auto' || v === 'kvm' || v === 'tcg';
}

function resolveNic(nic: Partial<NicSpec> | string | undefined): NicSpec {
  return typeof nic === 'string' ? parseNicSpec(nic) : validateNic({ ...defaultNicSpec(), ...(nic ?? {}) });
}

function count(what: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalidOption(what, value, `an integer from ${min} to ${max}`);
  return value;
}
