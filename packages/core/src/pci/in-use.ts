// Refusing to take a device the host is using. A PCI function backs a block device when
// a disk appears below it in sysfs (nvme/nvme0/nvme0n1, virtio2/block/vda, host0/...);
// the disk, its partitions and whatever stacks on them (holders/: device-mapper, md) are
// in use when mounted (mountinfo of every mount namespace, proc(5)), active swap
// (/proc/swaps), held at all (a dm or md member), claimed by the kernel (open(2) with
// O_EXCL fails with EBUSY: a mount anywhere, btrfs, ZFS, md, dm, swap, bcache), or open
// in a process (/proc/<pid>/fd: a QEMU -drive, a dd). Taking such a device with vfio-pci
// yanks it from under its user, so bind refuses unless forced.

import { closeSync, constants, existsSync, openSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { deviceInUse } from '../errors.js';
import { resolveHost, type HostRoots } from '../host/paths.js';
import { canonicalPciAddress, type PciAddressLike } from './address.js';
import { pciDevicePath, readAttr, requirePciDevice } from './sysfs.js';

/** A line of /proc/self/mountinfo. */
export interface MountEntry {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** A line of /proc/swaps. */
export interface SwapEntry {
  filename: string;
  type: string;
  sizeKiB: number;
  usedKiB: number;
  priority: number;
}

/** One block device under the PCI function, or stacked on one. */
export interface BlockDevice {
  /** Kernel name: nvme0n1, nvme0n1p2, vda1, dm-0, md127. */
  name: string;
  /** major:minor from the `dev` attribute. */
  dev: string | null;
  /** dm name (dm/name) or null. */
  dmName: string | null;
  /** How it relates to the device: 'disk', 'partition' or 'holder'. */
  role: 'disk' | 'partition' | 'holder';
  /** For a holder: the block device it stacks on. */
  heldFrom: string | null;
}

/** One thing that uses a device: a mount, a swap area, a dm/md holder or a process holding it open. */
export interface DeviceUse {
  /** exclusive: the kernel has it claimed (O_EXCL open fails); open: a process has it open. */
  kind: 'mount' | 'swap' | 'holder' | 'exclusive' | 'open';
  /** The block device the use was found on (/dev/nvme0n1p2, /dev/dm-0). */
  blockDevice: string;
  /** One line for people: "/dev/nvme0n1p2 is mounted on /". */
  description: string;
  mountPoint?: string;
  /** For 'open' (and a mount seen in another mount namespace): the process. */
  pid?: number;
  comm?: string;
}

/** Where the in-use check looks, besides the roots: the O_EXCL probe, replaceable by tests. */
export interface InUseOptions extends HostRoots {
  /**
   * Opens a block device node with O_EXCL and closes it again; returns the error code
   * ('EBUSY': claimed) or null when it could be claimed. Default: open(2) O_RDONLY|O_EXCL.
   */
  claimExclusive?: (path: string) => string | null;
}

/** Undoes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses /proc/<pid>/mountinfo (proc(5)): `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
 * Lines that do not parse are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mm = /^(\d+):(\d+)$/.exec(left[2] ?? '');
    if (left.length < 5 || !mm || right.length < 2) continue;
    out.push({
      mountId: Number(left[0]),
      parentId: Number(left[1]),
      major: Number(mm[1]),
      minor: Number(mm[2]),
      root: unescapeOctal(left[3]!),
      mountPoint: unescapeOctal(left[4]!),
      fsType: right[0]!,
      source: unescapeOctal(right[1]!),
    });
  }
  return out;
}

/** Parses /proc/swaps: a header line, then `Filename Type Size Used Priority`. */
export function parseSwaps(text: string): SwapEntry[] {
  const out: SwapEntry[] = [];
  const lines = text.split('\n');
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    // The file name comes first and may contain spaces (escaped as \040 by the kernel).
    const [type, size, used, prio] = f.slice(-4) as [string, string, string, string];
    out.push({ filename: unescapeOctal(f.slice(0, -4).join(' ')), type, sizeKiB: Number(size), usedKiB: Number(used), priority: Number(prio) });
  }
  return out;
}

const SKIP_DIRS = new Set(['power', 'msi_irqs', 'holders', 'slaves', 'queue', 'mq', 'trace', 'integrity', 'bdi', 'wakeup']);

/** Names of disks found in the PCI function's sysfs subtree (not following links). */
function disksBelow(dir: string, classBlock: string, depth: number, out: Set<string>): void {
  if (depth > 8) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory() || SKIP_DIRS.has(e.name)) continue;
    const child = join(dir, e.name);
    if (existsSync(join(classBlock, e.name)) && !existsSync(join(child, 'partition'))) {
      out.add(e.name);
      continue; // partitions are read from the disk below
    }
    disksBelow(child, classBlock, depth + 1, out);
  }
}

function subdirsWith(dir: string, file: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, file)))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Every block device that depends on the PCI function: its disks, their partitions,
 * and the dm/md devices stacked on any of them (holders, followed recursively).
 */
export function blockDevicesOf(addr: PciAddressLike, opts: HostRoots = {}): BlockDevice[] {
  const { sysfs } = resolveHost(opts);
  const classBlock = join(sysfs, 'class/block');
  let devDir: string;
  try {
    devDir = realpathSync(pciDevicePath(addr, opts));
  } catch {
    return [];
  }
  const disks = new Set<string>();
  disksBelow(devDir, classBlock, 0, disks);
  // NVMe multipath: the controller holds the hidden path disk nvme<S>c<C>n<N>; the disk
  // people mount is the subsystem's head nvme<S>n<N> (drivers/nvme/host/multipath.c).
  for (const d of [...disks]) {
    const m = /^nvme(\d+)c\d+n(\d+)$/.exec(d);
    if (m && existsSync(join(classBlock, `nvme${m[1]}n${m[2]}`))) disks.add(`nvme${m[1]}n${m[2]}`);
  }
  const out: BlockDevice[] = [];
  const seen = new Set<string>();
  const add = (name: string, role: BlockDevice['role'], heldFrom: string | null) => {
    if (seen.has(name)) return;
    seen.add(name);
    const dir = join(classBlock, name);
    out.push({ name, dev: readAttr(join(dir, 'dev')), dmName: readAttr(join(dir, 'dm/name')), role, heldFrom });
    for (const h of listDir(join(dir, 'holders'))) add(h, 'holder', name);
  };
  for (const disk of [...disks].sort()) {
    add(disk, 'disk', null);
    let diskDir: string;
    try {
      diskDir = realpathSync(join(classBlock, disk));
    } catch {
      continue;
    }
    for (const p of subdirsWith(diskDir, 'partition').sort()) add(p, 'partition', null);
  }
  return out;
}

function readProc(procfs: string, rel: string): string {
  return readAttr(join(procfs, rel)) ?? '';
}

function linkOf(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** Process ids under procfs, ascending, without our own. */
function pids(procfs: string): number[] {
  return listDir(procfs)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => p !== process.pid)
    .sort((a, b) => a - b);
}

function commOf(procfs: string, pid: number): string {
  return readProc(procfs, `${pid}/comm`) || '?';
}

/** open(2) with O_EXCL: a block device claimed by the kernel (a mount, md, dm, swap ...) fails with EBUSY. */
function defaultClaimExclusive(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_EXCL);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  }
  closeSync(fd);
  return null;
}

/**
 * mountinfo of our own mount namespace, then of one process in each other namespace
 * (/proc/<pid>/ns/mnt tells them apart), so that a mount in a container is seen too.
 */
function mountTables(procfs: string): Array<{ pid: number | null; text: string }> {
  const own = linkOf(join(procfs, 'self/ns/mnt'));
  const out: Array<{ pid: number | null; text: string }> = [{ pid: null, text: readProc(procfs, 'self/mountinfo') }];
  const seen = new Set(own ? [own] : []);
  for (const pid of pids(procfs)) {
    const ns = linkOf(join(procfs, String(pid), 'ns/mnt'));
    if (!ns || seen.has(ns)) continue;
    seen.add(ns);
    out.push({ pid, text: readProc(procfs, `${pid}/mountinfo`) });
  }
  return out;
}

/** major:minor of a device number as stat(2) gives it (Linux's new_encode_dev). */
function majMin(rdev: number): string {
  return `${(rdev >>> 8) & 0xfff}:${(rdev & 0xff) | ((rdev >>> 12) & 0xfff00)}`;
}

/**
 * What uses the device: mounts (in any mount namespace), swap areas, holders of its
 * block devices, kernel claims (O_EXCL), and processes that have one open.
 */
export function findDeviceUses(addr: PciAddressLike, opts: InUseOptions = {}): DeviceUse[] {
  const { procfs, devfs } = resolveHost(opts);
  const blocks = blockDevicesOf(addr, opts);
  if (blocks.length === 0) return [];
  const byDev = new Map<string, BlockDevice>();
  const byName = new Map<string, BlockDevice>();
  for (const b of blocks) {
    if (b.dev) byDev.set(b.dev, b);
    byName.set(b.name, b);
    if (b.dmName) byName.set(`mapper/${b.dmName}`, b);
  }
  const label = (b: BlockDevice): string => {
    const own = `/dev/${b.name}${b.dmName ? ` (${b.dmName})` : ''}`;
    if (b.role !== 'holder' || !b.heldFrom) return own;
    const chain: string[] = [];
    let cur: BlockDevice | undefined = b;
    while (cur?.heldFrom) {
      chain.push(cur.heldFrom);
      cur = byName.get(cur.heldFrom);
    }
    return `${own}, stacked on /dev/${chain.reverse().join(' → /dev/')},`;
  };
  const fromDevPath = (p: string): BlockDevice | undefined => (p.startsWith('/dev/') ? byName.get(p.slice(5)) : undefined);

  const uses: DeviceUse[] = [];
  const mounted = new Set<string>();
  for (const table of mountTables(procfs)) {
    for (const m of parseMountinfo(table.text)) {
      const b = byDev.get(`${m.major}:${m.minor}`) ?? fromDevPath(m.source);
      if (!b) continue;
      const key = `${b.name} ${m.mountPoint}`;
      if (mounted.has(key)) continue;
      mounted.add(key);
      const use: DeviceUse = { kind: 'mount', blockDevice: `/dev/${b.name}`, mountPoint: m.mountPoint, description: `${label(b)} is mounted on ${m.mountPoint}` };
      if (table.pid !== null) {
        use.pid = table.pid;
        use.comm = commOf(procfs, table.pid);
        use.description += ` in another mount namespace (that of pid ${table.pid}, ${use.comm})`;
      }
      uses.push(use);
    }
  }
  for (const s of parseSwaps(readProc(procfs, 'swaps'))) {
    const b = fromDevPath(s.filename) ?? byName.get(basename(s.filename));
    if (!b || !s.filename.startsWith('/dev/')) continue;
    uses.push({ kind: 'swap', blockDevice: `/dev/${b.name}`, description: `${label(b)} is an active swap area` });
  }
  for (const b of blocks) {
    if (b.role !== 'holder' || !b.heldFrom) continue;
    const what = b.name.startsWith('md') ? 'an md (software RAID) array' : b.name.startsWith('dm-') ? `device-mapper device ${b.dmName ?? b.name}` : b.name;
    uses.push({ kind: 'holder', blockDevice: `/dev/${b.heldFrom}`, description: `/dev/${b.heldFrom} is a member of ${what} (/dev/${b.name})` });
  }

  // The kernel's own claims: what the lists above do not explain (btrfs, ZFS, a mount we cannot see).
  const claim = opts.claimExclusive ?? defaultClaimExclusive;
  const explained = new Set(uses.map((u) => u.blockDevice));
  const busy = blocks.filter((b) => !explained.has(`/dev/${b.name}`) && claim(join(devfs, b.name)) === 'EBUSY');
  for (const b of busy) {
    // A disk is only claimable while none of its partitions is, so the partition says enough.
    if (b.role === 'disk' && blocks.some((p) => p.role === 'partition' && p.name.startsWith(b.name) && (explained.has(`/dev/${p.name}`) || busy.includes(p)))) continue;
    uses.push({
      kind: 'exclusive',
      blockDevice: `/dev/${b.name}`,
      description: `${label(b)} is claimed by the kernel (open with O_EXCL fails with EBUSY: mounted in a mount namespace we cannot see, or a btrfs, ZFS, md, dm, swap or bcache member)`,
    });
  }

  // Processes that have a block device open: /proc/<pid>/fd/N links to /dev/nvme0n1.
  const opened = new Map<string, DeviceUse & { fds: number[] }>();
  for (const pid of pids(procfs)) {
    const fdDir = join(procfs, String(pid), 'fd');
    for (const fd of listDir(fdDir)) {
      const target = linkOf(join(fdDir, fd));
      if (!target || !target.includes('/dev/')) continue;
      let b = fromDevPath(target.replace(/ \(deleted\)$/, ''));
      if (!b) {
        // Opened through another /dev (a container's): match the device number.
        try {
          const st = statSync(join(fdDir, fd));
          if (st.isBlockDevice()) b = byDev.get(majMin(st.rdev));
        } catch {
          // gone, or not ours to look at
        }
      }
      if (!b) continue;
      const key = `${pid} ${b.name}`;
      const prev = opened.get(key);
      if (prev) prev.fds.push(Number(fd));
      else opened.set(key, { kind: 'open', blockDevice: `/dev/${b.name}`, pid, comm: commOf(procfs, pid), description: '', fds: [Number(fd)] });
    }
  }
  for (const { fds, ...u } of opened.values()) {
    const bd = byName.get(u.blockDevice.slice(5))!;
    uses.push({ ...u, description: `${label(bd)} is open in pid ${u.pid} (${u.comm}, fd ${fds.sort((a, b) => a - b).join(', ')})` });
  }
  return uses;
}

/**
 * Throws ERR_DEVICE_IN_USE listing every use, unless `force`.
 * @returns the uses found (empty when free), so a forced caller can warn.
 */
export function assertNotInUse(addr: PciAddressLike, opts: InUseOptions & { force?: boolean } = {}): DeviceUse[] {
  const a = requirePciDevice(addr, opts);
  const uses = findDeviceUses(a, opts);
  if (uses.length > 0 && !opts.force) throw deviceInUse(canonicalPciAddress(a), uses.map((u) => u.description));
  return uses;
}
