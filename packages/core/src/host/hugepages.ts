// Hugepages for DMA buffers (Documentation/admin-guide/mm/hugetlbpage.rst): the pool of
// one size lives in /sys/kernel/mm/hugepages/hugepages-<size>kB/{nr_hugepages,
// free_hugepages,resv_hugepages,surplus_hugepages}; /proc/sys/vm/nr_hugepages is the
// default size's pool; /proc/meminfo has HugePages_Total/Free and Hugepagesize. The
// kernel may reserve fewer pages than asked when memory is fragmented, so we read back.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostWriteFailed, invalidArgument } from '../errors.js';
import { parseMountinfo } from '../pci/in-use.js';
import { readAttr } from '../pci/sysfs.js';
import { resolveHost, type HostOptions, type HostRoots } from './paths.js';

/** The default hugepage size on x86-64 and arm64: 2 MiB. */
export const DEFAULT_HUGEPAGE_KIB = 2048;

/** One hugepage pool (/sys/kernel/mm/hugepages/hugepages-NkB): its page size and counts. */
export interface HugepagePool {
  sizeKiB: number;
  total: number;
  free: number;
  reserved: number;
  surplus: number;
}

/** The hugepage lines of /proc/meminfo (the default page size's pool). */
export interface MeminfoHugepages {
  total: number;
  free: number;
  reserved: number;
  surplus: number;
  sizeKiB: number;
}

/** Parses /proc/meminfo into a map of field → number (kB values stay in kB). */
export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^([^:]+):\s+(\d+)/.exec(line);
    if (r) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** HugePages_Total/Free/Rsvd/Surp and Hugepagesize from /proc/meminfo (the default size). */
export function meminfoHugepages(opts: HostRoots = {}): MeminfoHugepages | null {
  const text = readAttr(join(resolveHost(opts).procfs, 'meminfo'));
  if (text === null) return null;
  const m = parseMeminfo(text);
  if (!m.has('HugePages_Total')) return null;
  return {
    total: m.get('HugePages_Total') ?? 0,
    free: m.get('HugePages_Free') ?? 0,
    reserved: m.get('HugePages_Rsvd') ?? 0,
    surplus: m.get('HugePages_Surp') ?? 0,
    sizeKiB: m.get('Hugepagesize') ?? DEFAULT_HUGEPAGE_KIB,
  };
}

function poolDir(sysfs: string, sizeKiB: number): string {
  return join(sysfs, 'kernel/mm/hugepages', `hugepages-${sizeKiB}kB`);
}

/** Page sizes the kernel supports (KiB), from /sys/kernel/mm/hugepages. */
export function hugepageSizes(opts: HostRoots = {}): number[] {
  try {
    return readdirSync(join(resolveHost(opts).sysfs, 'kernel/mm/hugepages'))
      .map((n) => /^hugepages-(\d+)kB$/.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** The pool of one page size, from sysfs (falling back to /proc/meminfo for the default size); null if unsupported. */
export function hugepagePool(sizeKiB = DEFAULT_HUGEPAGE_KIB, opts: HostRoots = {}): HugepagePool | null {
  const { sysfs } = resolveHost(opts);
  const dir = poolDir(sysfs, sizeKiB);
  const total = readAttr(join(dir, 'nr_hugepages'));
  if (total !== null) {
    const n = (f: string) => Number(readAttr(join(dir, f)) ?? 0);
    return { sizeKiB, total: Number(total), free: n('free_hugepages'), reserved: n('resv_hugepages'), surplus: n('surplus_hugepages') };
  }
  const mi = meminfoHugepages(opts);
  if (mi && mi.sizeKiB === sizeKiB) return { sizeKiB, total: mi.total, free: mi.free, reserved: mi.reserved, surplus: mi.surplus };
  return null;
}

/** What reserveHugepages() asked for and what the kernel gave. */
export interface ReserveResult {
  /** Hugepage size of the pool written, KiB. */
  sizeKiB: number;
  /** The number of hugepages asked for. */
  requested: number;
  /** nr_hugepages read back after the write: may be lower than requested. */
  total: number;
  /** Free hugepages of the pool after the write. */
  free: number;
  /** The file written. */
  path: string;
  /** False when the pool already had `requested` pages or more (nothing written). */
  changed: boolean;
}

/**
 * Makes the pool hold at least `count` pages of `sizeKiB` (never shrinks it), then reads back.
 * @throws VfioError ERR_INVALID_ARG (count, unsupported size), EACCES (not root)
 */
export function reserveHugepages(count: number, opts: HostOptions & { sizeKiB?: number } = {}): ReserveResult {
  if (!Number.isSafeInteger(count) || count < 0) throw invalidArgument('hugepage count', count, 'a non-negative integer');
  const host = resolveHost(opts);
  const sizeKiB = opts.sizeKiB ?? DEFAULT_HUGEPAGE_KIB;
  const before = hugepagePool(sizeKiB, opts);
  if (!before) {
    const sizes = hugepageSizes(opts);
    throw invalidArgument('hugepage size', `${sizeKiB} KiB`, sizes.length ? `one of ${sizes.map((s) => `${s} KiB`).join(', ')}` : 'a size the kernel supports (is CONFIG_HUGETLBFS on?)');
  }
  const sysPath = join(poolDir(host.sysfs, sizeKiB), 'nr_hugepages');
  const path = readAttr(sysPath) !== null ? sysPath : join(host.procfs, 'sys/vm/nr_hugepages');
  if (before.total >= count) return { sizeKiB, requested: count, total: before.total, free: before.free, path, changed: false };
  try {
    host.write(path, String(count));
  } catch (err) {
    throw hostWriteFailed(path, err);
  }
  const after = hugepagePool(sizeKiB, opts) ?? before;
  return { sizeKiB, requested: count, total: after.total, free: after.free, path, changed: true };
}

/** Mount points of hugetlbfs, from /proc/self/mountinfo. */
export function hugetlbfsMounts(opts: HostRoots = {}): string[] {
  const text = readAttr(join(resolveHost(opts).procfs, 'self/mountinfo')) ?? '';
  return parseMountinfo(text)
    .filter((m) => m.fsType === 'hugetlbfs')
    .map((m) => m.mountPoint);
}

/**
 * Mounts hugetlbfs at `dir` unless one is mounted already (needed only for file-backed
 * hugepages; MAP_HUGETLB mappings need no mount). Returns the mount point in use.
 */
export function ensureHugetlbfsMount(dir = '/dev/hugepages', opts: HostOptions = {}): { mountPoint: string; mounted: boolean } {
  const existing = hugetlbfsMounts(opts);
  if (existing.length > 0) return { mountPoint: existing[0]!, mounted: false };
  const host = resolveHost(opts);
  const mk = host.exec('mkdir', ['-p', dir]);
  const r = mk.status === 0 ? host.exec('mount', ['-t', 'hugetlbfs', 'nodev', dir]) : mk;
  if (r.error || r.status !== 0) throw hostWriteFailed(dir, Object.assign(new Error(r.stderr.trim() || r.error?.message || `status ${r.status}`), { code: 'EPERM' }));
  return { mountPoint: dir, mounted: true };
}
