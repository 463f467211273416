// `vfio-node doctor`: every precondition for a userspace driver, checked on its own and
// reported with the command that fixes it. The checks only read; none changes the host.

import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalPciAddress, type PciAddressLike } from '../pci/address.js';
import { VFIO_PCI } from '../pci/bind.js';
import { groupMembersOf, isViableMember, isVfioDriver } from '../pci/group.js';
import { findDeviceUses } from '../pci/in-use.js';
import { pciDeviceExists, readPciDevice } from '../pci/sysfs.js';
import { DEFAULT_HUGEPAGE_KIB, hugepagePool, meminfoHugepages } from './hugepages.js';
import { iommuStatus } from './iommu.js';
import { checkMemlock } from './memlock.js';
import { moduleLoaded, pciDriverRegistered } from './modules.js';
import { resolveHost, type HostRoots } from './paths.js';

/** One precondition `vfio-node doctor` checks: whether it holds, what was found, and the fix. */
export interface DoctorCheck {
  /** What was checked ('IOMMU', 'vfio-pci module', ...). */
  name: string;
  /** Whether the precondition holds. */
  ok: boolean;
  /** What was found. */
  detail: string;
  /** The command or action that fixes a failed check (null when ok). */
  fix: string | null;
}

/** What runDoctor() checks for: the hugepages and locked memory wanted, and the host roots (for tests). */
export interface DoctorOptions extends HostRoots {
  /** Free hugepages wanted (default 1). */
  hugepages?: number;
  /** Bytes the process will pin (default: `hugepages` × the page size, at least 64 MiB). */
  memlockBytes?: number;
}

function accessible(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function check(name: string, ok: boolean, detail: string, fix: string | null): DoctorCheck {
  return { name, ok, detail, fix: ok ? null : fix };
}

/** The host checks: IOMMU, modules, /dev/vfio/vfio, hugepages, RLIMIT_MEMLOCK. */
export function hostChecks(opts: DoctorOptions = {}): DoctorCheck[] {
  const { devfs } = resolveHost(opts);
  const out: DoctorCheck[] = [];
  const iommu = iommuStatus(opts);
  out.push(check('IOMMU enabled', iommu.enabled, iommu.detail, iommu.fix));

  const vfioPci = pciDriverRegistered(VFIO_PCI, opts) || moduleLoaded('vfio_pci', opts);
  out.push(check('vfio-pci loaded', vfioPci, vfioPci ? 'vfio-pci driver registered' : 'no /sys/bus/pci/drivers/vfio-pci', "sudo modprobe vfio-pci (or 'vfio-node setup')"));
  const type1 = moduleLoaded('vfio_iommu_type1', opts);
  out.push(check('vfio_iommu_type1 loaded', type1, type1 ? '/sys/module/vfio_iommu_type1 present' : 'no /sys/module/vfio_iommu_type1', 'sudo modprobe vfio_iommu_type1'));

  const container = join(devfs, 'vfio/vfio');
  const cOk = existsSync(container) && accessible(container);
  out.push(
    check(
      '/dev/vfio/vfio',
      cOk,
      cOk ? `${container} readable and writable` : existsSync(container) ? `${container} is not readable and writable by this user` : `${container} does not exist`,
      existsSync(container) ? 'run as root, or give your user the VFIO nodes (a udev rule: SUBSYSTEM=="vfio", OWNER="<user>")' : 'sudo modprobe vfio-pci',
    ),
  );

  const want = opts.hugepages ?? 1;
  const mi = meminfoHugepages(opts);
  const pool = hugepagePool(mi?.sizeKiB ?? DEFAULT_HUGEPAGE_KIB, opts);
  const free = mi?.free ?? pool?.free ?? 0;
  const sizeKiB = mi?.sizeKiB ?? DEFAULT_HUGEPAGE_KIB;
  out.push(
    check(
      'hugepages free',
      free >= want,
      `HugePages_Free ${free} of ${mi?.total ?? pool?.total ?? 0} (${sizeKiB} kB pages), ${want} wanted`,
      `sudo vfio-node setup --hugepages ${Math.max(want, 256)}`,
    ),
  );

  const needed = opts.memlockBytes ?? Math.max(want * sizeKiB * 1024, 64 * 1024 * 1024);
  const ml = checkMemlock(needed, opts);
  out.push(check('RLIMIT_MEMLOCK', ml.ok, ml.detail, ml.fix));
  return out;
}

/** The device checks: exists, bound to vfio-pci, IOMMU group viable, /dev/vfio/<group>, not in use. */
export function deviceChecks(addr: PciAddressLike, opts: DoctorOptions = {}): DoctorCheck[] {
  const { devfs } = resolveHost(opts);
  const a = canonicalPciAddress(addr);
  if (!pciDeviceExists(a, opts)) return [check(`${a} exists`, false, `no /sys/bus/pci/devices/${a}`, "vfio-node list (to find the device's address)")];
  const dev = readPciDevice(a, opts);
  const out: DoctorCheck[] = [];
  const label = [dev.className, dev.deviceName ?? `${hex4(dev.vendorId)}:${hex4(dev.deviceId)}`].filter(Boolean).join(', ');
  out.push(check(`${a} exists`, true, label, null));

  const bound = isVfioDriver(dev.driver);
  out.push(check(`${a} bound to vfio-pci`, bound, dev.driver ? `bound to ${dev.driver}` : 'bound to no driver', `sudo vfio-node bind ${a}`));

  if (dev.iommuGroup === null) {
    out.push(check(`${a} IOMMU group`, false, 'no iommu_group link: the IOMMU is off', 'enable the IOMMU (see the IOMMU check)'));
  } else {
    const members = groupMembersOf(dev.iommuGroup, opts);
    const others = members.filter((m) => m.address !== a);
    const bad = others.filter((m) => !isViableMember(m));
    const list = others.length ? `; also ${others.map((m) => `${m.address} (${m.driver ?? 'no driver'})`).join(', ')}` : '; alone in it';
    out.push(
      check(
        `${a} IOMMU group viable`,
        bad.length === 0,
        `group ${dev.iommuGroup}${list}`,
        `bind the whole group: sudo vfio-node bind ${bad.map((m) => m.address).join(' ')}`,
      ),
    );
    if (bound) {
      const node = join(devfs, 'vfio', String(dev.iommuGroup));
      const ok = existsSync(node) && accessible(node);
      out.push(check(`${node}`, ok, ok ? 'readable and writable' : existsSync(node) ? 'not readable and writable by this user' : 'missing', existsSync(node) ? `run as root, or: sudo chown $USER ${node}` : 'sudo modprobe vfio_iommu_type1; check dmesg'));
    }
  }

  const uses = bound ? [] : findDeviceUses(a, opts);
  out.push(
    check(
      `${a} not in use by the host`,
      uses.length === 0,
      uses.length ? uses.map((u) => u.description).join('; ') : 'no mounts, swap or dm/md on it',
      `unmount / swapoff / stop what uses it first (or 'vfio-node bind --force ${a}' to take it anyway)`,
    ),
  );
  return out;
}

/** All checks: the host's, then the device's when an address is given. */
export function runDoctor(addr?: PciAddressLike, opts: DoctorOptions = {}): DoctorCheck[] {
  const out = hostChecks(opts);
  if (addr !== undefined) out.push(...deviceChecks(addr, opts));
  return out;
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

/**
 * The checks as a table: CHECK, STATUS (OK/FAIL), DETAIL; each failure is followed by its fix.
 */
export function formatDoctorTable(checks: DoctorCheck[]): string {
  const w = Math.max(5, ...checks.map((c) => c.name.length));
  const lines = [`${'CHECK'.padEnd(w)}  STATUS  DETAIL`];
  for (const c of checks) {
    lines.push(`${c.name.padEnd(w)}  ${(c.ok ? 'OK' : 'FAIL').padEnd(6)}  ${c.detail}`);
    if (!c.ok && c.fix) lines.push(`${''.padEnd(w)}  ${''.padEnd(6)}  fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  lines.push('', failed === 0 ? `all ${checks.length} checks passed` : `${failed} of ${checks.length} checks failed`);
  return lines.join('\n');
}

