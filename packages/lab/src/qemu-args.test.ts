import { describe, expect, it } from 'vitest';
import { resolveOptions } from './options.js';
import { blkdebugConfig, buildQemuArgs, kernelCommandLine, nvmeArgs, nvmeBackingFiles, type QemuPaths } from './qemu-args.js';
import { parseNvmeSpec } from './nvme-spec.js';
import { linkEnds } from './link.js';

const paths: QemuPaths = {
  kernel: '/boot/vmlinuz-K',
  initrd: '/cache/initramfs.cpio',
  runDir: '/tmp/vfio-lab-x',
  qmpSocket: '/tmp/vfio-lab-x/qmp.sock',
  accel: 'tcg',
  serials: { console: '/tmp/vfio-lab-x/console.sock', stdout: '/tmp/vfio-lab-x/stdout.sock', stderr: '/tmp/vfio-lab-x/stderr.sock' },
};

describe('buildQemuArgs', () => {
  it('builds the default lab: q35 under TCG, intel-iommu, two 9p exports, one 1 GiB NVMe', () => {
    expect(buildQemuArgs(resolveOptions({}), paths)).toEqual([
      '-M', 'q35',
      '-accel', 'tcg,thread=multi',
      '-cpu', 'max',
      '-smp', '2', '-m', '2048M',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-device', 'intel-iommu,caching-mode=on',
      '-kernel', '/boot/vmlinuz-K', '-initrd', '/cache/initramfs.cpio',
      '-append', 'console=ttyS0 quiet loglevel=3 intel_iommu=on iommu=pt panic=-1 no_timer_check clocksource=tsc tsc=reliable vfiolab_bind=vfio vfiolab_hugepages=256 vfiolab_ns=1 vfiolab_nics=0',
      '-chardev', 'socket,id=con,path=/tmp/vfio-lab-x/console.sock', '-device', 'isa-serial,chardev=con,index=0',
      '-chardev', 'socket,id=out,path=/tmp/vfio-lab-x/stdout.sock', '-device', 'isa-serial,chardev=out,index=1',
      '-chardev', 'socket,id=err,path=/tmp/vfio-lab-x/stderr.sock', '-device', 'isa-serial,chardev=err,index=2',
      '-qmp', 'unix:/tmp/vfio-lab-x/qmp.sock,server=on,wait=off',
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
      '-virtfs', 'local,path=/tmp/vfio-lab-x,mount_tag=lab,security_model=none,multidevs=remap',
      '-blockdev', 'driver=raw,node-name=nvme0n1,size=1073741824,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/tmp/vfio-lab-x/nvme0n1.img',
      '-device', 'nvme,id=nvme0,serial=VFIONODE0',
      '-device', 'nvme-ns,bus=nvme0,drive=nvme0n1,nsid=1,logical_block_size=512,physical_block_size=512',
    ]);
  });

  it('uses KVM with a split irqchip, and hub-joined NICs behind the vIOMMU', () => {
    const args = buildQemuArgs(resolveOptions({ nvme: [], nics: 2, memory: '1G', cpus: 1, hugepages: 64, bind: 'kernel' }), { ...paths, accel: 'kvm' });
    expect(args.slice(0, 6)).toEqual(['-M', 'q35,kernel-irqchip=split', '-accel', 'kvm', '-cpu', 'host']);
    expect(args.slice(6, 10)).toEqual(['-smp', '1', '-m', '1024M']);
    expect(args).toContain('console=ttyS0 quiet loglevel=3 intel_iommu=on iommu=pt panic=-1 no_timer_check vfiolab_bind=kernel vfiolab_hugepages=64 vfiolab_ns=0 vfiolab_nics=2');
    expect(args.slice(-8)).toEqual([
      '-netdev', 'hubport,id=net0,hubid=0',
      '-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,disable-legacy=on,iommu_platform=on',
      '-netdev', 'hubport,id=net1,hubid=0',
      '-device', 'virtio-net-pci,netdev=net1,mac=52:54:00:12:34:57,disable-legacy=on,iommu_platform=on',
    ]);
    expect(args.filter((a) => a.startsWith('nvme'))).toEqual([]);
  });

  it('adds the private link of a two-machine lab as the first PCI device, and tells /init about it', () => {
    const [one] = linkEnds('/tmp/vfio-lab-x');
    const args = buildQemuArgs(resolveOptions({ nics: 2, machines: 2 }), { ...paths, link: one });
    const at = args.indexOf('intel-iommu,caching-mode=on');
    expect(args.slice(at + 1, at + 5)).toEqual([
      '-netdev', 'dgram,id=link,local.type=unix,local.path=/tmp/vfio-lab-x/link1.sock,remote.type=unix,remote.path=/tmp/vfio-lab-x/link2.sock',
      '-device', 'virtio-net-pci,netdev=link,mac=52:54:00:99:00:01,bus=pcie.0,addr=0x18',
    ]);
    expect(args[args.indexOf('-append') + 1]).toMatch(/ vfiolab_nics=2 vfiolab_link=0000:00:18\.0,10\.99\.0\.1\/24$/);
    // The vfio NICs are unchanged (their own hub, behind the vIOMMU).
    expect(args.filter((a) => a.startsWith('hubport'))).toEqual(['hubport,id=net0,hubid=0', 'hubport,id=net1,hubid=0']);
    // Without a link end, no link.
    expect(buildQemuArgs(resolveOptions({ machines: 2 }), paths).join(' ')).not.toMatch(/dgram|vfiolab_link/);
  });

  it('puts unjoined NICs on hubs of their own', () => {
    const args = buildQemuArgs(resolveOptions({ nvme: [], nics: 2, nicHub: false }), paths);
    expect(args.filter((a) => a.startsWith('hubport'))).toEqual(['hubport,id=net0,hubid=0', 'hubport,id=net1,hubid=1']);
  });
});

describe('nvmeArgs', () => {
  it('gives several 4 KiB namespaces from an image, MDTS and queue pairs', () => {
    const spec = parseNvmeSpec('size=64M,lba=4096,namespaces=2,mdts=5,ioqpairs=4,serial=S1,image=/data/n.img', 1);
    expect(nvmeBackingFiles(spec, 1, '/run')).toEqual(['/data/n.img', '/data/n.img.2']);
    expect(nvmeArgs(spec, 1, '/run')).toEqual([
      '-blockdev', 'driver=raw,node-name=nvme1n1,size=67108864,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/data/n.img',
      '-blockdev', 'driver=raw,node-name=nvme1n2,size=67108864,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/data/n.img.2',
      '-device', 'nvme,id=nvme1,serial=S1,mdts=5,max_ioqpairs=4',
      '-device', 'nvme-ns,bus=nvme1,drive=nvme1n1,nsid=1,logical_block_size=4096,physical_block_size=4096',
      '-device', 'nvme-ns,bus=nvme1,drive=nvme1n2,nsid=2,logical_block_size=4096,physical_block_size=4096',
    ]);
  });

  it('puts a hotplug controller behind a PCIe root port', () => {
    expect(nvmeArgs(parseNvmeSpec('size=16M,hotplug=1'), 0, '/r')).toEqual([
      '-blockdev', 'driver=raw,node-name=nvme0n1,size=16777216,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/r/nvme0n1.img',
      '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1',
      '-device', 'nvme,id=nvme0,serial=VFIONODE0,bus=rp0',
      '-device', 'nvme-ns,bus=nvme0,drive=nvme0n1,nsid=1,logical_block_size=512,physical_block_size=512',
    ]);
  });

  it('injects read errors through blkdebug', () => {
    const spec = parseNvmeSpec('size=16M,inject=read:2048');
    expect(nvmeArgs(spec, 2, '/r')[1]).toBe(
      'driver=raw,node-name=nvme2n1,size=16777216,discard=unmap,file.driver=blkdebug,file.discard=unmap,file.config=/r/nvme2.blkdebug,file.image.driver=file,file.image.discard=unmap,file.image.filename=/r/nvme2n1.img',
    );
    expect(blkdebugConfig(spec.inject!)).toBe('[inject-error]\nevent = "read_aio"\niotype = "read"\nerrno = "5"\nsector = "2048"\n');
    expect(blkdebugConfig({ event: 'write', sector: 7 })).toContain('event = "write_aio"');
  });

  it('uses null-co for backing=null and latency=', () => {
    expect(nvmeArgs(parseNvmeSpec('backing=null,size=1G'), 0, '/r')[1]).toBe('driver=null-co,node-name=nvme0n1,size=1073741824,read-zeroes=on');
    expect(nvmeArgs(parseNvmeSpec('latency=250000,size=1G'), 0, '/r')[1]).toBe('driver=null-co,node-name=nvme0n1,size=1073741824,latency-ns=250000,read-zeroes=on');
    expect(nvmeBackingFiles(parseNvmeSpec('backing=null'), 0, '/r')).toEqual([]);
  });

  it('doubles commas in paths, as QEMU options need', () => {
    expect(nvmeArgs(parseNvmeSpec('size=1M'), 0, '/a,b')[1]).toBe('driver=raw,node-name=nvme0n1,size=1048576,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/a,,b/nvme0n1.img');
  });
});

describe('kernelCommandLine', () => {
  it('counts every namespace for the kernel-bound wait', () => {
    expect(kernelCommandLine(resolveOptions({ nvme: ['namespaces=3', ''], bind: 'kernel', hugepages: 0 }))).toBe(
      'console=ttyS0 quiet loglevel=3 intel_iommu=on iommu=pt panic=-1 no_timer_check clocksource=tsc tsc=reliable vfiolab_bind=kernel vfiolab_hugepages=0 vfiolab_ns=4 vfiolab_nics=0',
    );
  });

  it('trusts the TSC under TCG only (KVM guests keep their own clock choice)', () => {
    const opts = resolveOptions({ hugepages: 0 });
    expect(kernelCommandLine(opts, 'tcg')).toContain(' clocksource=tsc tsc=reliable ');
    expect(kernelCommandLine(opts, 'kvm')).not.toContain('tsc');
  });
});

describe('nvmeArgs aio', () => {
  it('passes aio= to the file driver (and to blkdebug\'s image), nothing by default', () => {
    expect(nvmeArgs(parseNvmeSpec('size=16M,aio=io_uring'), 0, '/r')[1]).toBe(
      'driver=raw,node-name=nvme0n1,size=16777216,discard=unmap,file.driver=file,file.discard=unmap,file.filename=/r/nvme0n1.img,file.aio=io_uring',
    );
    expect(nvmeArgs(parseNvmeSpec('size=16M,aio=io_uring,inject=read:8'), 0, '/r')[1]).toContain('file.image.filename=/r/nvme0n1.img,file.image.aio=io_uring');
    expect(nvmeArgs(parseNvmeSpec('size=16M'), 0, '/r')[1]).not.toContain('aio');
  });
});
