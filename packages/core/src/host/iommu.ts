// Is an IOMMU on? The kernel lists IOMMU units in /sys/class/iommu (dmar0 for Intel VT-d,
// ivhd0 for AMD-Vi) and the groups it formed in /sys/kernel/iommu_groups; without either,
// VFIO has nothing to hand out. /proc/cmdline shows the boot options.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readAttr } from '../pci/sysfs.js';
import { resolveHost, type HostRoots } from './paths.js';

/**
 * Whether an IOMMU is on: its units, the number of IOMMU groups, the iommu options on the kernel command line,
 * and the fix when it is off.
 */
export interface IommuStatus {
  enabled: boolean;
  /** /sys/class/iommu entries. */
  units: string[];
  /** Number of IOMMU groups. */
  groups: number;
  /** intel_iommu=, amd_iommu=, iommu=, iommu.passthrough= options from /proc/cmdline. */
  cmdlineOptions: string[];
  detail: string;
  fix: string | null;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** How to turn the IOMMU on, for hints. */
export const IOMMU_FIX = 'enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup and boot with intel_iommu=on or amd_iommu=on on the kernel command line';

/** Finds whether an IOMMU is on from /sys/class/iommu, the IOMMU groups and /proc/cmdline. */
export function iommuStatus(opts: HostRoots = {}): IommuStatus {
  const { sysfs, procfs } = resolveHost(opts);
  const units = entries(join(sysfs, 'class/iommu'));
  const groups = entries(join(sysfs, 'kernel/iommu_groups')).filter((g) => /^\d+$/.test(g)).length;
  const cmdline = readAttr(join(procfs, 'cmdline')) ?? '';
  const cmdlineOptions = cmdline.split(/\s+/).filter((o) => /^(intel_iommu|amd_iommu|iommu|iommu\.\w+)=/.test(o));
  const enabled = units.length > 0 || groups > 0;
  const detail = enabled
    ? `${units.length ? units.join(', ') : 'IOMMU'} with ${groups} group${groups === 1 ? '' : 's'}${cmdlineOptions.length ? ` (${cmdlineOptions.join(' ')})` : ''}`
    : `no IOMMU: /sys/class/iommu and /sys/kernel/iommu_groups are empty${cmdlineOptions.length ? ` (${cmdlineOptions.join(' ')})` : ''}`;
  return { enabled, units, groups, cmdlineOptions, detail, fix: enabled ? null : IOMMU_FIX };
}
