// A VFIO container (/dev/vfio/vfio): one IOMMU address space. Groups are attached to it,
// and DMA memory is mapped into it with VFIO_IOMMU_MAP_DMA at IOVAs we choose inside the
// ranges the IOMMU reports as valid. See Documentation/driver-api/vfio.rst in the kernel.

import { native, type IommuInfo } from '../native.js';
import { VfioError } from '../errors.js';
import { RangeAllocator } from '../range-allocator.js';
import { registerCleanup } from '../lifecycle.js';

const C = native.constants;

/**
 * A VFIO container (/dev/vfio/vfio): one IOMMU address space that groups join and DMA memory is mapped into
 * (VFIO_IOMMU_MAP_DMA), at IOVAs chosen inside the ranges the IOMMU allows.
 */
export class Container {
  readonly fd: number;
  private iommuSet = false;
  private iova?: RangeAllocator;
  private closed = false;
  private readonly unregister: () => void;

  constructor() {
    this.fd = native.open('/dev/vfio/vfio', C.O_RDWR!);
    try {
      const version = native.vfioGetApiVersion(this.fd);
      if (version !== C.VFIO_API_VERSION) {
        throw new VfioError({ code: 'ERR_VFIO_API_VERSION', message: `VFIO API version ${version}, expected ${C.VFIO_API_VERSION}`, hint: 'This kernel speaks another VFIO API; vfio-node needs Linux 4.x or later.' });
      }
      if (!native.vfioCheckExtension(this.fd, C.VFIO_TYPE1v2_IOMMU!)) {
        throw new VfioError({ code: 'ERR_VFIO_NO_TYPE1', message: 'the VFIO container does not support the Type1 v2 IOMMU', hint: 'Load vfio_iommu_type1 (modprobe vfio_iommu_type1) and check that the IOMMU is on (vfio-node doctor).' });
      }
    } catch (err) {
      native.close(this.fd);
      throw err;
    }
    this.unregister = registerCleanup(() => this.close());
  }

  /** Called by Group after VFIO_GROUP_SET_CONTAINER: the IOMMU model is set once the first group is in. */
  ensureIommu(): void {
    if (this.iommuSet) return;
    native.vfioSetIommu(this.fd, C.VFIO_TYPE1v2_IOMMU!);
    this.iommuSet = true;
  }

  /** VFIO_IOMMU_GET_INFO: supported page sizes and valid IOVA ranges. */
  info(): IommuInfo {
    return native.vfioIommuGetInfo(this.fd);
  }

  /** Chooses an IOVA for size bytes (aligned to align) inside the IOMMU's valid ranges. */
  allocateIova(size: bigint, align: bigint): bigint {
    if (!this.iova) {
      const info = this.info();
      // Without the capability (old kernels), fall back to the low 39 bits that every VT-d/AMD-Vi supports; IOVA 0 is avoided.
      const ranges = info.iovaRanges.length ? info.iovaRanges : [{ start: 0n, end: (1n << 39n) - 1n }];
      this.iova = new RangeAllocator(ranges, true);
      // Never hand out IOVA 0: a zeroed PRP or descriptor would then point at real memory.
      this.iova.allocate(0x200000n, 0x200000n);
    }
    const iova = this.iova.allocate(size, align);
    if (iova === undefined) {
      throw new VfioError({ code: 'ERR_IOVA_EXHAUSTED', message: `no free IOVA range of ${size} bytes left in this container`, hint: 'Release DMA memory you no longer use.' });
    }
    return iova;
  }

  /** Gives an IOVA range from allocateIova() back. */
  releaseIova(iova: bigint, size: bigint): void {
    this.iova?.release(iova, size);
  }

  /** Closes the container's descriptor (its mappings go with it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregister();
    native.close(this.fd);
  }
}

let shared: { container: Container; users: number } | undefined;

/**
 * The process's default container, shared by every device opened without one (as DPDK
 * does), so that one DMA buffer can serve several devices. Reference-counted.
 */
export function acquireSharedContainer(): Container {
  if (!shared) shared = { container: new Container(), users: 0 };
  shared.users++;
  return shared.container;
}

/** Drops one user of the process's shared container; the last one closes it. */
export function releaseSharedContainer(c: Container): void {
  if (!shared || shared.container !== c) return;
  if (--shared.users === 0) {
    shared = undefined;
    c.close();
  }
}
