// A fake /sys, /proc, /dev and /run in a temporary directory, laid out as Linux lays
// them out (links and all), plus a tiny "kernel" that answers the sysfs writes binding
// makes (driver_override, driver/unbind, drivers_probe) the way the PCI core does.
// Used by the unit tests of packages/core/src/pci, packages/core/src/host and the CLI.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';

export interface FakeDevice {
  address: string;
  vendor: number;
  device: number;
  classCode: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  driver?: string | null;
  /** The driver the fake kernel picks when driver_override is empty (default: `driver`). */
  nativeDriver?: string | null;
  group?: number | null;
  numaNode?: number;
  modalias?: string;
}

export interface WriteRecord {
  path: string;
  data: string;
}

export class FakeHost {
  readonly root: string;
  readonly sysfs: string;
  readonly procfs: string;
  readonly devfs: string;
  readonly runDir: string;
  readonly writes: WriteRecord[] = [];
  readonly execs: string[][] = [];
  /** Modules modprobe "loads" successfully; others fail with modprobe's message. */
  readonly availableModules = new Set(['vfio-pci', 'vfio_pci', 'vfio_iommu_type1', 'nvme', 'virtio-pci', 'virtio_pci']);
  private natives = new Map<string, string | null>();

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'vfio-node-fakehost-'));
    this.sysfs = join(this.root, 'sys');
    this.procfs = join(this.root, 'proc');
    this.devfs = join(this.root, 'dev');
    this.runDir = join(this.root, 'run/vfio-node');
    for (const d of ['sys/bus/pci/devices', 'sys/bus/pci/drivers', 'sys/devices/pci0000:00', 'sys/kernel/iommu_groups', 'sys/class/block', 'sys/class/iommu', 'sys/module', 'sys/kernel/mm/hugepages', 'proc/self', 'proc/sys/vm', 'dev']) {
      mkdirSync(join(this.root, d), { recursive: true });
    }
    writeFileSync(join(this.sysfs, 'bus/pci/drivers_probe'), '');
    this.setMountinfo([
      '21 26 0:20 / /proc rw,relatime - proc proc rw',
      '22 26 0:21 / /sys rw,relatime - sysfs sysfs rw',
    ]);
    this.setSwaps([]);
    this.setLimits(8 * 1024 * 1024, 8 * 1024 * 1024);
    this.setCapEff(0n);
    writeFileSync(join(this.procfs, 'cmdline'), 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n');
  }

  /** The options every host function takes. */
  get opts() {
    return {
      sysfs: this.sysfs,
      procfs: this.procfs,
      devfs: this.devfs,
      runDir: this.runDir,
      write: (path: string, data: string) => this.kernelWrite(path, data),
      exec: (file: string, args: string[]) => this.kernelExec(file, args),
    };
  }

  /** Roots only (reads); writes then go to the real files with the default writer. */
  get roots() {
    return { sysfs: this.sysfs, procfs: this.procfs, devfs: this.devfs, runDir: this.runDir };
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  devDir(address: string): string {
    return join(this.sysfs, 'devices/pci0000:00', address);
  }

  private link(target: string, at: string): void {
    mkdirSync(dirname(at), { recursive: true });
    if (existsSync(at) || isLink(at)) unlinkSync(at);
    symlinkSync(relative(dirname(at), target), at);
  }

  addDriver(name: string): void {
    const d = join(this.sysfs, 'bus/pci/drivers', name);
    mkdirSync(d, { recursive: true });
    for (const f of ['bind', 'unbind', 'new_id']) if (!existsSync(join(d, f))) writeFileSync(join(d, f), '');
  }

  /** rmmod: the driver disappears (its devices must be unbound first). */
  cleanupDriver(name: string): void {
    rmSync(join(this.sysfs, 'bus/pci/drivers', name), { recursive: true, force: true });
    rmSync(join(this.sysfs, 'module', name.replace(/-/g, '_')), { recursive: true, force: true });
  }

  loadModule(name: string): void {
    mkdirSync(join(this.sysfs, 'module', name.replace(/-/g, '_')), { recursive: true });
    if (name === 'vfio-pci' || name === 'vfio_pci') this.addDriver('vfio-pci');
    if (name === 'nvme') this.addDriver('nvme');
    if (name === 'virtio-pci' || name === 'virtio_pci') this.addDriver('virtio-pci');
  }

  addDevice(d: FakeDevice): string {
    const dir = this.devDir(d.address);
    mkdirSync(dir, { recursive: true });
    const hx = (v: number, w: number) => '0x' + v.toString(16).padStart(w, '0');
    writeFileSync(join(dir, 'vendor'), hx(d.vendor, 4) + '\n');
    writeFileSync(join(dir, 'device'), hx(d.device, 4) + '\n');
    writeFileSync(join(dir, 'class'), hx(d.classCode, 6) + '\n');
    writeFileSync(join(dir, 'subsystem_vendor'), hx(d.subsystemVendor ?? d.vendor, 4) + '\n');
    writeFileSync(join(dir, 'subsystem_device'), hx(d.subsystemDevice ?? 0x1100, 4) + '\n');
    writeFileSync(join(dir, 'revision'), '0x02\n');
    writeFileSync(join(dir, 'numa_node'), `${d.numaNode ?? -1}\n`);
    writeFileSync(join(dir, 'driver_override'), '(null)\n');
    writeFileSync(join(dir, 'modalias'), d.modalias ?? `pci:v0000${d.vendor.toString(16).toUpperCase().padStart(4, '0')}d0000${d.device.toString(16).toUpperCase().padStart(4, '0')}sv*sd*bc*sc*i*\n`);
    this.link(dir, join(this.sysfs, 'bus/pci/devices', d.address));
    const driver = d.driver ?? null;
    this.natives.set(d.address, d.nativeDriver !== undefined ? d.nativeDriver : driver);
    if (driver) {
      this.addDriver(driver);
      this.bindLink(d.address, driver);
    }
    if (d.group !== undefined && d.group !== null) {
      const g = join(this.sysfs, 'kernel/iommu_groups', String(d.group));
      mkdirSync(join(g, 'devices'), { recursive: true });
      this.link(g, join(dir, 'iommu_group'));
      this.link(dir, join(g, 'devices', d.address));
    }
    return d.address;
  }

  private bindLink(address: string, driver: string): void {
    const drv = join(this.sysfs, 'bus/pci/drivers', driver);
    this.link(drv, join(this.devDir(address), 'driver'));
    this.link(this.devDir(address), join(drv, address));
    if (driver === 'vfio-pci') {
      const g = this.group(address);
      if (g !== null) {
        mkdirSync(join(this.devfs, 'vfio'), { recursive: true });
        writeFileSync(join(this.devfs, 'vfio', String(g)), '');
      }
    }
  }

  private unbindLink(address: string): void {
    const l = join(this.devDir(address), 'driver');
    if (!isLink(l)) return;
    const driver = basename(readlinkSync(l));
    unlinkSync(l);
    rmSync(join(this.sysfs, 'bus/pci/drivers', driver, address), { force: true });
    if (driver === 'vfio-pci') {
      const g = this.group(address);
      if (g !== null) rmSync(join(this.devfs, 'vfio', String(g)), { force: true });
    }
  }

  driverOf(address: string): string | null {
    const l = join(this.devDir(address), 'driver');
    return isLink(l) ? basename(readlinkSync(l)) : null;
  }

  group(address: string): number | null {
    const l = join(this.devDir(address), 'iommu_group');
    return isLink(l) ? Number(basename(readlinkSync(l))) : null;
  }

  /**
   * A disk below the device: `sub` is the path inside the device dir (e.g. 'nvme/nvme0'),
   * partitions are [name, 'maj:min'] pairs.
   */
  addDisk(address: string, sub: string, name: string, dev: string, partitions: Array<[string, string]> = []): string {
    const dir = join(this.devDir(address), sub, name);
    this.blockDir(dir, name, dev);
    for (const [p, pdev] of partitions) {
      this.blockDir(join(dir, p), p, pdev);
      writeFileSync(join(dir, p, 'partition'), '1\n');
    }
    return dir;
  }

  /** A virtual block device (dm-0, md0, an NVMe multipath head) under /sys/devices/virtual/block. */
  addVirtualBlock(name: string, dev: string, dmName?: string): string {
    const dir = join(this.sysfs, 'devices/virtual/block', name);
    this.blockDir(dir, name, dev);
    if (dmName) {
      mkdirSync(join(dir, 'dm'), { recursive: true });
      writeFileSync(join(dir, 'dm/name'), dmName + '\n');
    }
    return dir;
  }

  private blockDir(dir: string, name: string, dev: string): void {
    mkdirSync(join(dir, 'holders'), { recursive: true });
    mkdirSync(join(dir, 'slaves'), { recursive: true });
    writeFileSync(join(dir, 'dev'), dev + '\n');
    this.link(dir, join(this.sysfs, 'class/block', name));
  }

  /** `holder` (dm-0, md0) stacks on block device `lower`. */
  addHolder(lower: string, holder: string): void {
    const lowerDir = realDir(join(this.sysfs, 'class/block', lower));
    const holderDir = realDir(join(this.sysfs, 'class/block', holder));
    this.link(holderDir, join(lowerDir, 'holders', holder));
    this.link(lowerDir, join(holderDir, 'slaves', lower));
  }

  setMountinfo(lines: string[]): void {
    writeFileSync(join(this.procfs, 'self/mountinfo'), lines.join('\n') + '\n');
  }

  addMount(id: number, majmin: string, mountPoint: string, fsType: string, source: string): void {
    const cur = readFileSync(join(this.procfs, 'self/mountinfo'), 'utf8');
    writeFileSync(join(this.procfs, 'self/mountinfo'), cur + `${id} 1 ${majmin} / ${mountPoint} rw,relatime shared:1 - ${fsType} ${source} rw\n`);
  }

  /**
   * A process in /proc: its comm, open files (fd number → what readlink shows, e.g.
   * '/dev/nvme0n1') and, when given, its own mount namespace and mountinfo lines.
   */
  addProcess(pid: number, comm: string, fds: Record<number, string> = {}, mountNs?: { ns: string; mountinfo: string[] }): void {
    const dir = join(this.procfs, String(pid));
    mkdirSync(join(dir, 'fd'), { recursive: true });
    writeFileSync(join(dir, 'comm'), comm + '\n');
    for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(dir, 'fd', fd));
    if (mountNs) {
      mkdirSync(join(dir, 'ns'), { recursive: true });
      symlinkSync(mountNs.ns, join(dir, 'ns/mnt'));
      writeFileSync(join(dir, 'mountinfo'), mountNs.mountinfo.join('\n') + '\n');
    }
  }

  /** Our own mount namespace's identity (/proc/self/ns/mnt), as readlink shows it. */
  setOwnMountNs(ns: string): void {
    mkdirSync(join(this.procfs, 'self/ns'), { recursive: true });
    symlinkSync(ns, join(this.procfs, 'self/ns/mnt'));
  }

  setSwaps(entries: Array<[string, string]>): void {
    const lines = ['Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority', ...entries.map(([f, t]) => `${f}\t\t\t\t${t}\t\t1048572\t\t0\t\t-2`)];
    writeFileSync(join(this.procfs, 'swaps'), lines.join('\n') + '\n');
  }

  setLimits(soft: number | 'unlimited', hard: number | 'unlimited'): void {
    writeFileSync(
      join(this.procfs, 'self/limits'),
      [
        'Limit                     Soft Limit           Hard Limit           Units     ',
        'Max open files            1024                 1048576              files     ',
        `Max locked memory         ${String(soft).padEnd(20)} ${String(hard).padEnd(20)} bytes     `,
        'Max address space         unlimited            unlimited            bytes     ',
      ].join('\n') + '\n',
    );
  }

  setCapEff(caps: bigint): void {
    writeFileSync(join(this.procfs, 'self/status'), `Name:\tnode\nUid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\nCapPrm:\t${caps.toString(16).padStart(16, '0')}\nCapEff:\t${caps.toString(16).padStart(16, '0')}\n`);
  }

  /** An IOMMU unit (dmar0) in /sys/class/iommu. */
  enableIommu(unit = 'dmar0'): void {
    mkdirSync(join(this.sysfs, 'class/iommu', unit), { recursive: true });
    writeFileSync(join(this.procfs, 'cmdline'), 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet intel_iommu=on iommu=pt\n');
  }

  /** A hugepage pool of one size, in sysfs and (for 2 MiB) in /proc/meminfo. */
  setHugepages(total: number, free: number, sizeKiB = 2048): void {
    const dir = join(this.sysfs, 'kernel/mm/hugepages', `hugepages-${sizeKiB}kB`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'nr_hugepages'), `${total}\n`);
    writeFileSync(join(dir, 'free_hugepages'), `${free}\n`);
    writeFileSync(join(dir, 'resv_hugepages'), '0\n');
    writeFileSync(join(dir, 'surplus_hugepages'), '0\n');
    if (sizeKiB === 2048) {
      writeFileSync(join(this.procfs, 'sys/vm/nr_hugepages'), `${total}\n`);
      writeFileSync(
        join(this.procfs, 'meminfo'),
        `MemTotal:       24683620 kB\nMemFree:        20000000 kB\nHugePages_Total:    ${total}\nHugePages_Free:     ${free}\nHugePages_Rsvd:        0\nHugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:        ${total * 2048} kB\n`,
      );
    }
  }

  /** Caps how many pages the fake kernel can reserve (fragmented memory). */
  hugepageLimit = Infinity;

  // ---- the fake kernel's side of sysfs writes ----------------------------------------

  private kernelWrite(path: string, data: string): void {
    this.writes.push({ path, data });
    const rel = relative(this.sysfs, path);
    if (rel === 'bus/pci/drivers_probe') return this.probe(data.trim());
    let m = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(rel);
    if (m) {
      writeFileSync(path, data.trim() === '' ? '(null)\n' : data.trim() + '\n');
      return;
    }
    m = /^bus\/pci\/devices\/([^/]+)\/driver\/unbind$/.exec(rel);
    if (m) {
      if (data.trim() !== m[1]) throw Object.assign(new Error('No such device'), { code: 'ENODEV', errno: -19 });
      return this.unbindLink(m[1]!);
    }
    m = /^kernel\/mm\/hugepages\/hugepages-(\d+)kB\/nr_hugepages$/.exec(rel);
    if (m || relative(this.procfs, path) === 'sys/vm/nr_hugepages') {
      const n = Math.min(Number(data.trim()), this.hugepageLimit);
      this.setHugepages(n, n, m ? Number(m[1]) : 2048);
      return;
    }
    writeFileSync(path, data);
  }

  private probe(address: string): void {
    if (this.driverOf(address)) return;
    const override = readFileSync(join(this.devDir(address), 'driver_override'), 'utf8').trim();
    const want = override !== '(null)' && override !== '' ? override : this.natives.get(address) ?? null;
    if (want && existsSync(join(this.sysfs, 'bus/pci/drivers', want))) this.bindLink(address, want);
  }

  private kernelExec(file: string, args: string[]) {
    this.execs.push([file, ...args]);
    if (file === 'modprobe' && args[0] === '-R') {
      return { status: 0, stdout: 'e1000e\n', stderr: '' };
    }
    if (file === 'modprobe') {
      const mod = args[0]!;
      if (!this.availableModules.has(mod)) return { status: 1, stdout: '', stderr: `modprobe: FATAL: Module ${mod} not found in directory /lib/modules/6.1.0-fake` };
      this.loadModule(mod);
      return { status: 0, stdout: '', stderr: '' };
    }
    if (file === 'mkdir') return { status: 0, stdout: '', stderr: '' };
    if (file === 'mount' && args[0] === '-t' && args[1] === 'hugetlbfs') {
      this.addMount(90, '0:99', args[3]!, 'hugetlbfs', args[2]!);
      return { status: 0, stdout: '', stderr: '' };
    }
    return { status: 127, stdout: '', stderr: `${file}: not simulated` };
  }
}

function isLink(p: string): boolean {
  try {
    readlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

function realDir(p: string): string {
  return join(dirname(p), readlinkSync(p));
}

/**
 * The lab's machine as the fake: q35 host bridge; NVMe 00:03.0 (group 3) on nvme with
 * nvme0n1 (p1 mounted on /boot, p2 under dm-0 mounted on /, p3 swap); two virtio-net
 * 00:04.0 / 00:05.0 (groups 4, 5); a root port 00:1c.0 with an endpoint 01:00.0 sharing
 * group 7 with a NIC on e1000e.
 */
export function labLikeHost(): FakeHost {
  const h = new FakeHost();
  h.enableIommu();
  h.loadModule('nvme');
  h.loadModule('virtio-pci');
  h.addDevice({ address: '0000:00:00.0', vendor: 0x8086, device: 0x29c0, classCode: 0x060000, group: 0 });
  h.addDevice({ address: '0000:00:03.0', vendor: 0x1b36, device: 0x0010, classCode: 0x010802, subsystemVendor: 0x1af4, driver: 'nvme', group: 3, numaNode: 0 });
  h.addDevice({ address: '0000:00:04.0', vendor: 0x1af4, device: 0x1041, classCode: 0x020000, driver: 'virtio-pci', group: 4 });
  h.addDevice({ address: '0000:00:05.0', vendor: 0x1af4, device: 0x1041, classCode: 0x020000, driver: 'virtio-pci', group: 5 });
  h.addDevice({ address: '0000:00:1c.0', vendor: 0x1b36, device: 0x000c, classCode: 0x060400, driver: 'pcieport', group: 7 });
  h.addDevice({ address: '0000:01:00.0', vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: 'e1000e', group: 7 });
  h.addDevice({ address: '0000:01:00.1', vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: null, group: 7 });
  h.addDisk('0000:00:03.0', 'nvme/nvme0', 'nvme0n1', '259:0', [
    ['nvme0n1p1', '259:1'],
    ['nvme0n1p2', '259:2'],
    ['nvme0n1p3', '259:3'],
  ]);
  h.addVirtualBlock('dm-0', '253:0', 'vg0-root');
  h.addHolder('nvme0n1p2', 'dm-0');
  h.addMount(30, '259:1', '/boot', 'ext4', '/dev/nvme0n1p1');
  h.addMount(31, '253:0', '/', 'ext4', '/dev/mapper/vg0-root');
  h.setSwaps([['/dev/nvme0n1p3', 'partition']]);
  h.setHugepages(0, 0);
  return h;
}
