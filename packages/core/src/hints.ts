// What to do about a failed system call, by errno and call. These are the hints users
// of SPDK's setup.sh and DPDK's devbind learn the hard way; we print them instead.
import type { NativeErrorInit } from '@vfio-node/native';

export function hintFor(e: NativeErrorInit): string | undefined {
  const call = e.syscall ?? '';
  const path = e.path ?? '';
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      if (path.startsWith('/dev/vfio')) return `Run as root, or give your user the group's device node: chown $USER ${path}.`;
      if (call === 'VFIO_IOMMU_MAP_DMA' || call === 'mmap') return 'Raise the locked-memory limit: ulimit -l unlimited (or a memlock line in /etc/security/limits.conf).';
      return 'Run as root (or with CAP_SYS_ADMIN and CAP_IPC_LOCK).';
    case 'ENOENT':
      if (path === '/dev/vfio/vfio') return 'Load the VFIO modules (modprobe vfio-pci) and boot with the IOMMU on (intel_iommu=on or amd_iommu=on); `vfio-node doctor` checks each step.';
      if (path.startsWith('/dev/vfio/')) return 'The IOMMU group has no VFIO node: bind the device first with `vfio-node bind ADDR`.';
      return undefined;
    case 'EBUSY':
      if (path.startsWith('/dev/vfio/')) return 'Another process holds this IOMMU group (only one may open it): stop that process, or find it with `fuser ' + path + '`.';
      return 'The device or group is in use by another process or container.';
    case 'ENOMEM':
      if (call === 'mmap') return 'No free 2 MiB hugepages: reserve some with `vfio-node setup --hugepages 256` (or echo 256 > /proc/sys/vm/nr_hugepages).';
      if (call === 'VFIO_IOMMU_MAP_DMA') return 'Pinning failed: raise the locked-memory limit (ulimit -l unlimited) or map less memory.';
      return undefined;
    case 'ENOSPC':
      if (call === 'VFIO_IOMMU_MAP_DMA') return 'The container hit its DMA mapping limit (vfio_iommu_type1 dma_entry_limit): map fewer, larger regions.';
      return undefined;
    case 'EINVAL':
      if (call === 'VFIO_GROUP_SET_CONTAINER' || call === 'VFIO_SET_IOMMU') return 'Is the group viable? Every device in the IOMMU group must be bound to vfio-pci (see `vfio-node doctor ADDR`).';
      return undefined;
    case 'ENODEV':
      return 'The device is gone: was it removed or unbound? Check `vfio-node list`.';
    default:
      return undefined;
  }
}
