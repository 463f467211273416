// RLIMIT_MEMLOCK: VFIO's type1 IOMMU backend pins every page mapped for DMA and charges
// it to the process's locked-memory limit, unless the process has CAP_IPC_LOCK
// (drivers/vfio/vfio_iommu_type1.c, vfio_pin_pages_remote). The limits are in
// /proc/self/limits ("Max locked memory"), the capabilities in /proc/self/status (CapEff).

import { join } from 'node:path';
import { readAttr } from '../pci/sysfs.js';
import { resolveHost, type HostRoots } from './paths.js';

/** Capability number of CAP_IPC_LOCK (include/uapi/linux/capability.h). */
export const CAP_IPC_LOCK = 14;

/** RLIMIT_MEMLOCK, the locked-memory limit VFIO's pinning counts against. */
export interface MemlockLimit {
  /** Bytes; Infinity for unlimited. */
  soft: number;
  hard: number;
}

/** Whether this process may pin `needed` bytes: its limit, CAP_IPC_LOCK, and the fix when not. */
export interface MemlockStatus extends MemlockLimit {
  /** The process has CAP_IPC_LOCK: the limit does not apply to VFIO pinning. */
  capIpcLock: boolean;
  /** Pinning `needed` bytes will succeed. */
  ok: boolean;
  needed: number;
  /** One line for people. */
  detail: string;
  /** What to do when not ok. */
  fix: string | null;
}

function parseLimit(s: string): number {
  return s === 'unlimited' ? Infinity : Number(s);
}

/** "Max locked memory" from /proc/<pid>/limits text, or null. */
export function parseMemlockLimit(limitsText: string): MemlockLimit | null {
  const m = /^Max locked memory\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (!m) return null;
  return { soft: parseLimit(m[1]!), hard: parseLimit(m[2]!) };
}

/** True when CapEff in /proc/<pid>/status text has bit `cap`. */
export function hasCapability(statusText: string, cap: number): boolean {
  const m = /^CapEff:\s+([0-9a-f]+)/im.exec(statusText);
  if (!m) return false;
  return ((BigInt('0x' + m[1]) >> BigInt(cap)) & 1n) === 1n;
}

/** n bytes in KiB, MiB or GiB, as the hints print them. */
export function formatBytes(n: number): string {
  if (n === Infinity) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}

/** The limit advice: a shell command and the limits.conf line. */
export const MEMLOCK_FIX = "run 'ulimit -l unlimited' in the shell that starts vfio-node (as root), or add '<user> - memlock unlimited' to /etc/security/limits.conf and log in again";

/**
 * Can this process pin `needed` bytes for DMA?
 * @param needed bytes that will be mapped (default 512 MiB: 256 hugepages of 2 MiB).
 */
export function checkMemlock(needed = 512 * 1024 * 1024, opts: HostRoots = {}): MemlockStatus {
  const { procfs } = resolveHost(opts);
  const lim = parseMemlockLimit(readAttr(join(procfs, 'self/limits')) ?? '') ?? { soft: 0, hard: 0 };
  const capIpcLock = hasCapability(readAttr(join(procfs, 'self/status')) ?? '', CAP_IPC_LOCK);
  const ok = capIpcLock || lim.soft >= needed;
  const detail = `RLIMIT_MEMLOCK ${formatBytes(lim.soft)} (hard ${formatBytes(lim.hard)})` + (capIpcLock ? ', CAP_IPC_LOCK held: no limit for VFIO' : `, ${formatBytes(needed)} needed`);
  return { ...lim, capIpcLock, ok, needed, detail, fix: ok ? null : MEMLOCK_FIX };
}
