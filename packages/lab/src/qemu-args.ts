// QEMU's command line for a lab boot, as LAB.md verified it: q35 with an emulated
// intel-iommu (caching-mode=on), the host root as a read-only 9p export, a writable
// export for the run's files, NVMe controllers with nvme-ns namespaces, virtio-net NICs
// behind the vIOMMU (iommu_platform=on) on a QEMU hub or on taps (netns.ts), three serial ports (console, the command's
// stdout, its stderr; each a unix socket the host listens on) and a QMP socket. Pure: every path comes in through QemuPaths.

import path from 'node:path';
import type { NvmeInjection, NvmeSpec } from './nvme-spec.js';
import type { ResolvedLabOptions } from './options.js';
import { nicDeviceProperties } from './nic-spec.js';
import { tapName } from './netns.js';
import { KVM_CPU, KVM_MACHINE } from './accel.js';
import { linkKernelWord, linkQemuArgs, type LinkEnd } from './link.js';

/** The files and sockets QEMU is started with: kernel, initrd, the run directory, QMP and the serial sockets. */
export interface QemuPaths {
  kernel: string;
  initrd: string;
  /** The run's directory on the host, exported writable with mount_tag `lab`. */
  runDir: string;
  /** QMP socket (a unix socket path). */
  qmpSocket: string;
  /** The accelerator actually used (auto already decided). */
  accel: 'kvm' | 'tcg';
  /** Unix sockets (listening on the host; QEMU connects) for the console, the command's stdout and its stderr. */
  serials: { console: string; stdout: string; stderr: string };
  /** This machine's end of the private link, in a two-machine lab (link.ts). */
  link?: LinkEnd;
}

/** The mount tags of the two 9p exports and where the guest mounts the writable one. */
export const HOST_TAG = 'host';
export const LAB_TAG = 'lab';
/** Where the guest mounts the lab's writable 9p export. */
export const GUEST_LAB_DIR = '/run/vfio-lab';

/** The host files that hold controller `index`'s namespaces: the image (namespace k > 1: `${image}.${k}`), or sparse files in the run directory. */
export function nvmeBackingFiles(spec: NvmeSpec, index: number, runDir: string): string[] {
  if (spec.backing === 'null') return [];
  return Array.from({ length: spec.namespaces }, (_, k) =>
    spec.image ? (k === 0 ? path.resolve(spec.image) : `${path.resolve(spec.image)}.${k + 1}`) : path.join(runDir, `nvme${index}n${k + 1}.img`),
  );
}

/** Where controller `index`'s blkdebug configuration goes. */
export function blkdebugConfigPath(index: number, runDir: string): string {
  return path.join(runDir, `nvme${index}.blkdebug`);
}

/**
 * A blkdebug configuration: every read (or write) touching the sector fails with EIO
 * (errno 5). The first `read_aio` event arms the rule; `iotype` keeps it to that kind of
 * I/O (without it an armed rule also fails writes of the sector).
 */
export function blkdebugConfig(inject: NvmeInjection): string {
  return `[inject-error]\nevent = "${inject.event}_aio"\niotype = "${inject.event}"\nerrno = "5"\nsector = "${inject.sector}"\n`;
}

/** The guest kernel's command line; `vfiolab_*` words are read by the lab's /init. */
export function kernelCommandLine(opts: ResolvedLabOptions, accel: 'kvm' | 'tcg' = 'tcg', link?: LinkEnd): string {
  const namespaces = opts.nvme.reduce((n, s) => n + s.namespaces, 0);
  // Under TCG the guest kernel finds the vCPUs' TSCs "unsynchronized" and falls back to
  // the emulated HPET: every clock_gettime() then traps into QEMU and takes the lock its
  // device models run under, so a program that reads the time often (fio, our benchmark)
  // slows the very device it measures. TCG's TSC comes from one host clock for every
  // vCPU, so it is safe to trust it.
  const clock = accel === 'tcg' ? ['clocksource=tsc', 'tsc=reliable'] : [];
  return [
    'console=ttyS0',
    'quiet',
    'loglevel=3',
    'intel_iommu=on',
    'iommu=pt',
    'panic=-1',
    // A loaded host makes the emulated timer look dead to check_timer(), which panics with
    // interrupt remapping on ("timer doesn't work through Interrupt-remapped IO-APIC").
    'no_timer_check',
    ...clock,
    `vfiolab_bind=${opts.bind}`,
    `vfiolab_hugepages=${opts.hugepages}`,
    `vfiolab_ns=${namespaces}`,
    `vfiolab_nics=${opts.nics}`,
    ...(link ? [linkKernelWord(link.machine)] : []),
  ].join(' ');
}

/** Builds QEMU's argv (without the program name). */
export function buildQemuArgs(opts: ResolvedLabOptions, paths: QemuPaths): string[] {
  const args: string[] = [];
  const push = (...a: string[]) => args.push(...a);
  push('-M', paths.accel === 'kvm' ? KVM_MACHINE : 'q35');
  push('-accel', paths.accel === 'kvm' ? 'kvm' : 'tcg,thread=multi');
  push('-cpu', paths.accel === 'kvm' ? KVM_CPU : 'max');
  push('-smp', String(opts.cpus), '-m', `${opts.memory / 2 ** 20}M`);
  push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
  // The vIOMMU comes before the devices it translates for.
  push('-device', 'intel-iommu,caching-mode=on');
  // The private link's NIC first: its fixed slot then never collides with a slot QEMU chose.
  if (paths.link) push(...linkQemuArgs(paths.link));
  push('-kernel', paths.kernel, '-initrd', paths.initrd, '-append', kernelCommandLine(opts, paths.accel, paths.link));
  const serial = (id: string, socket: string, index: number) =>
    push('-chardev', `socket,id=${id},path=${opt(socket)}`, '-device', `isa-serial,chardev=${id},index=${index}`);
  serial('con', paths.serials.console, 0);
  serial('out', paths.serials.stdout, 1);
  serial('err', paths.serials.stderr, 2);
  push('-qmp', `unix:${opt(paths.qmpSocket)},server=on,wait=off`);
  push('-virtfs', `local,path=/,mount_tag=${HOST_TAG},security_model=none,readonly=on,multidevs=remap`);
  push('-virtfs', `local,path=${opt(paths.runDir)},mount_tag=${LAB_TAG},security_model=none,multidevs=remap`);
  opts.nvme.forEach((spec, i) => args.push(...nvmeArgs(spec, i, paths.runDir)));
  for (let i = 0; i < opts.nics; i++) {
    push('-netdev', netdevArg(opts, i));
    push('-device', `virtio-net-pci,netdev=net${i},mac=52:54:00:12:34:${(0x56 + i).toString(16)},disable-legacy=on,iommu_platform=on${nicDeviceProperties(opts.nic)}`);
  }
  push(...opts.extraQemuArgs);
  return args;
}

/**
 * NIC i's backend: a port of QEMU hub 0 (or hub i when the NICs are not joined), or with
 * `backend=tap` the tap netns.ts creates in QEMU's namespace: no scripts (the namespace is
 * already set up), `queues=N` for several queue pairs, vhost off (the device model in QEMU
 * must see the rings: vhost-net would need /dev/vhost-net and bypass the vIOMMU set-up we test).
 */
export function netdevArg(opts: Pick<ResolvedLabOptions, 'nicHub' | 'nic'>, i: number): string {
  if (opts.nic.backend === 'tap') {
    const queues = opts.nic.queues > 1 ? `,queues=${opts.nic.queues}` : '';
    return `tap,id=net${i},ifname=${tapName(i)},script=no,downscript=no${queues},vhost=off`;
  }
  return `hubport,id=net${i},hubid=${opts.nicHub ? 0 : i}`;
}

/** One controller: its root port (hotplug), its namespaces' block nodes, the controller, its nvme-ns children. */
export function nvmeArgs(spec: NvmeSpec, i: number, runDir: string): string[] {
  const args: string[] = [];
  const files = nvmeBackingFiles(spec, i, runDir);
  for (let k = 1; k <= spec.namespaces; k++) {
    const node = `nvme${i}n${k}`;
    if (spec.backing === 'null') {
      const latency = spec.latencyNs ? `,latency-ns=${spec.latencyNs}` : '';
      args.push('-blockdev', `driver=null-co,node-name=${node},size=${spec.size}${latency},read-zeroes=on`);
    } else {
      const file = opt(files[k - 1]!);
      // discard=unmap on every layer: a Dataset Management deallocate punches a hole in the
      // file, so deallocated blocks read back as zeroes (QEMU drops discards by default).
      const proto = spec.inject
        ? `file.driver=blkdebug,file.discard=unmap,file.config=${opt(blkdebugConfigPath(i, runDir))},file.image.driver=file,file.image.discard=unmap,file.image.filename=${file}${spec.aio ? `,file.image.aio=${spec.aio}` : ''}`
        : `file.driver=file,file.discard=unmap,file.filename=${file}${spec.aio ? `,file.aio=${spec.aio}` : ''}`;
      args.push('-blockdev', `driver=raw,node-name=${node},size=${spec.size},discard=unmap,${proto}`);
    }
  }
  let bus = '';
  if (spec.hotplug) {
    args.push('-device', `pcie-root-port,id=rp${i},bus=pcie.0,chassis=${i + 1},slot=${i + 1}`);
    bus = `,bus=rp${i}`;
  }
  const mdts = spec.mdts === undefined ? '' : `,mdts=${spec.mdts}`;
  const qpairs = spec.ioqpairs === undefined ? '' : `,max_ioqpairs=${spec.ioqpairs}`;
  args.push('-device', `nvme,id=nvme${i},serial=${spec.serial}${mdts}${qpairs}${bus}`);
  for (let k = 1; k <= spec.namespaces; k++) {
    args.push('-device', `nvme-ns,bus=nvme${i},drive=nvme${i}n${k},nsid=${k},logical_block_size=${spec.lba},physical_block_size=${spec.lba}`);
  }
  return args;
}

/** QEMU option values double their commas. */
function opt(value: string): string {
  return value.replaceAll(',', ',,');
}
