// The device drivers sit on: a PCI function opened through VFIO, with its regions
// (BARs and config space), interrupt vectors and a DMA allocator. Opening it walks the
// VFIO chain (container → group → device) and says exactly what is wrong at each step;
// closing it (or the process ending) leaves the device quiet: interrupts off, DMA
// unmapped, descriptors closed.

import type { Logger } from 'pino';
import { native, type DeviceInfo, type Mapping, type RegionInfo } from './native.js';
import { hasCode, noIommuGroup, noSuchDevice, notBoundToVfio, VfioError } from './errors.js';
import { logger as rootLogger } from './logging.js';
import { registerCleanup } from './lifecycle.js';
import { toPciAddress, type PciAddressLike } from './pci/address.js';
import { currentDriver, iommuGroupOf, pciDeviceExists, pciDevicePath } from './pci/sysfs.js';
import { acquireSharedContainer, releaseSharedContainer, type Container } from './vfio/container.js';
import { Group } from './vfio/group.js';
import { Region } from './vfio/region.js';
import { ConfigSpace } from './config.js';
import { DmaAllocator, type DmaAllocatorOptions } from './dma.js';
import { Interrupts } from './interrupts.js';

const C = native.constants;

/** Options of Device.open(): a logger, the DMA allocator's options, and the sysfs root (for tests). */
export interface DeviceOptions {
  /** A pino logger (default: core's logger, level from VFIO_NODE_LOG). */
  logger?: Logger;
  /** DMA memory options (hugepages, fallback to small pages). Taken from the first device of a container. */
  dma?: DmaAllocatorOptions;
  /** sysfs root, for tests. */
  sysfs?: string;
}

interface OpenGroup {
  group: Group;
  users: number;
}
// One Group object per IOMMU group per process: /dev/vfio/N can be opened only once.
const groups = new Map<number, OpenGroup>();
const allocators = new Map<Container, { dma: DmaAllocator; users: number }>();

/**
 * A PCI function opened through VFIO: its regions (BARs and config space), interrupt vectors and a DMA
 * allocator. Open it with Device.open(address); close() (or the end of the process) leaves it quiet: interrupts
 * off, DMA unmapped, descriptors closed.
 */
export class Device implements Disposable {
  /** Canonical PCI address, 0000:00:03.0. */
  readonly address: string;
  /** VFIO_DEVICE_GET_INFO: flags, number of regions and of IRQ indexes. */
  readonly info: DeviceInfo;
  /** The PCI configuration space. */
  readonly config: ConfigSpace;
  /** The interrupts (MSI-X, MSI, INTx) through eventfds. */
  readonly irq: Interrupts;
  /** DMA memory mapped for this device's container. */
  readonly dma: DmaAllocator;
  /** The device's logger (pino), with its address bound. */
  readonly log: Logger;
  /** The device's IOMMU group number (/dev/vfio/N). */
  readonly iommuGroup: number;
  private readonly fd: number;
  private readonly container: Container;
  private readonly regions = new Map<number, Region>();
  private isClosed = false;
  private readonly unregister: () => void;

  /**
   * Opens the PCI function at address through VFIO. It must be bound to vfio-pci
   * (`vfio-node bind ADDR`), its IOMMU group viable, and no other process may hold it.
   */
  static open(address: PciAddressLike, options: DeviceOptions = {}): Device {
    return new Device(address, options);
  }

  private constructor(address: PciAddressLike, options: DeviceOptions) {
    const sysfs = options.sysfs ?? '/sys';
    this.address = toPciAddress(address).toString();
    this.log = (options.logger ?? rootLogger()).child({ device: this.address });
    this.iommuGroup = checkBoundToVfio(this.address, sysfs);

    // Each step that acquires something pushes how to give it back: when a later step
    // throws, everything acquired so far is given back in reverse order, so a failed open
    // leaves no descriptor, group reference or mapping behind.
    const undo: Array<() => void> = [];
    try {
      this.container = acquireSharedContainer();
      undo.push(() => releaseSharedContainer(this.container));
      const group = this.acquireGroup(sysfs);
      undo.push(() => this.releaseGroup());
      this.fd = group.openDevice(this.address);
      undo.push(() => native.close(this.fd));

      this.info = native.vfioDeviceGetInfo(this.fd);
      if (!(this.info.flags & C.VFIO_DEVICE_FLAGS_PCI!)) {
        throw new VfioError({ code: 'ERR_NOT_PCI', message: `${this.address} is not a PCI device to VFIO`, device: this.address });
      }
      undo.push(() => this.closeRegions());
      this.config = new ConfigSpace(this.region(C.VFIO_PCI_CONFIG_REGION_INDEX!, 'config'));
      this.irq = new Interrupts(this.fd, this.info.numIrqs, this.log, this.address);
      undo.push(() => this.irq.close());
      this.dma = this.acquireAllocator(options.dma);
      undo.push(() => this.releaseAllocator());
      this.unregister = registerCleanup(() => this.close());
    } catch (err) {
      for (const step of undo.reverse()) {
        try {
          step();
        } catch (cleanupErr) {
          this.log.debug({ err: cleanupErr }, 'giving back what a failed open acquired');
        }
      }
      throw err;
    }
    this.log.debug({ group: this.iommuGroup, regions: this.info.numRegions, irqs: this.info.numIrqs }, 'device opened');
  }

  /** BAR n (0-5), mapped where the kernel allows it. */
  bar(n: number): Region {
    if (!Number.isInteger(n) || n < 0 || n > 5) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `BAR index must be 0 to 5, got ${n}` });
    const r = this.region(C.VFIO_PCI_BAR0_REGION_INDEX! + n, `BAR${n}`);
    if (r.size === 0) throw new VfioError({ code: 'ERR_NO_SUCH_BAR', message: `${this.address} has no BAR${n}`, hint: 'See `vfio-node info ADDR` for the regions the device has.', device: this.address });
    return r;
  }

  /** Any VFIO region by index (BARs 0-5, ROM 6, config 7, VGA 8). */
  region(index: number, label = `region${index}`): Region {
    this.checkOpen();
    let r = this.regions.get(index);
    if (!r) {
      if (index < 0 || index >= this.info.numRegions) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `region index ${index} is out of range (the device has ${this.info.numRegions})` });
      r = new Region(this.fd, native.vfioDeviceGetRegionInfo(this.fd, index), this.log, label);
      this.regions.set(index, r);
    }
    return r;
  }

  /** Every region's VFIO info (for `vfio-node info`). */
  regionInfos(): RegionInfo[] {
    this.checkOpen();
    return Array.from({ length: this.info.numRegions }, (_, i) => {
      try {
        return native.vfioDeviceGetRegionInfo(this.fd, i);
      } catch (err) {
        // vfio-pci answers EINVAL for the VGA region of a device that is not a VGA device: it has none.
        if (hasCode(err, 'EINVAL')) return { index: i, flags: 0, size: 0n, offset: 0n, msixMappable: false };
        throw err;
      }
    });
  }

  /**
   * BAR n as plain data, for a worker thread to map the same registers (its doorbells)
   * with mapSharedBar(): the device fd is shared by every thread of the process.
   */
  shareBar(n: number): SharedBar {
    const r = this.bar(n);
    if (!r.mapping) throw new VfioError({ code: 'ERR_REGION_NOT_MAPPED', message: `${this.address} BAR${n} cannot be mapped as a whole`, device: this.address });
    return { fd: this.fd, offset: r.info.offset, size: r.size, address: this.address, bar: n };
  }

  /** VFIO_DEVICE_RESET (function-level reset or what the kernel has for this device). */
  reset(): void {
    this.checkOpen();
    if (!(this.info.flags & C.VFIO_DEVICE_FLAGS_RESET!)) throw new VfioError({ code: 'ERR_NO_RESET', message: `${this.address} offers no reset through VFIO`, device: this.address });
    native.vfioDeviceReset(this.fd);
  }

  /** True once close() has run. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Bus mastering off, interrupts off, regions unmapped, descriptors closed; the DMA
   * memory goes with the last device of the container. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.unregister();
    // First, so that nothing the device still had in hand is transferred into memory that
    // is about to be unmapped and handed out again (a driver should have stopped it already).
    try {
      this.config.disableBusMaster();
    } catch (err) {
      this.log.debug({ err }, 'clearing Bus Master Enable');
    }
    try {
      this.irq.close();
    } catch (err) {
      this.log.debug({ err }, 'closing interrupts');
    }
    this.closeRegions();
    this.releaseAllocator();
    native.close(this.fd);
    this.releaseGroup();
    releaseSharedContainer(this.container);
    this.log.debug('device closed');
  }

  /** close(), for `using dev = Device.open(address)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** This device's reference on its IOMMU group (opened with the first device of the group). */
  private acquireGroup(sysfs: string): Group {
    let g = groups.get(this.iommuGroup);
    if (!g) {
      g = { group: new Group(this.iommuGroup, this.container, sysfs), users: 0 };
      groups.set(this.iommuGroup, g);
    }
    g.users++;
    return g.group;
  }

  private releaseGroup(): void {
    const g = groups.get(this.iommuGroup);
    if (g && --g.users <= 0) {
      groups.delete(this.iommuGroup);
      g.group.close();
    }
  }

  /** The container's DMA allocator (made with the first device of the container, from its options). */
  private acquireAllocator(options: DmaAllocatorOptions | undefined): DmaAllocator {
    let a = allocators.get(this.container);
    if (!a) {
      a = { dma: new DmaAllocator(this.container, this.log, options), users: 0 };
      allocators.set(this.container, a);
    }
    a.users++;
    return a.dma;
  }

  private releaseAllocator(): void {
    const a = allocators.get(this.container);
    if (a && --a.users === 0) {
      allocators.delete(this.container);
      a.dma.close();
    }
  }

  private closeRegions(): void {
    for (const r of this.regions.values()) r.close();
    this.regions.clear();
  }

  private checkOpen(): void {
    if (this.isClosed) throw new VfioError({ code: 'ERR_CLOSED', message: `device ${this.address} is closed`, device: this.address });
  }
}

/** A mappable BAR described as plain data (structured-clone safe). */
export interface SharedBar {
  fd: number;
  /** Offset of the region inside the device fd. */
  offset: bigint;
  size: number;
  address: string;
  bar: number;
}

/** Maps a BAR shared by another thread of this process. The mapping must be unmapped before the device is closed. */
export function mapSharedBar(desc: SharedBar): Mapping {
  return new native.Mapping(desc.fd, desc.offset, desc.size);
}

/** Checks that the device exists and is bound to vfio-pci; returns its IOMMU group. */
function checkBoundToVfio(address: string, sysfs: string): number {
  if (!pciDeviceExists(address, { sysfs })) throw noSuchDevice(address, pciDevicePath(address, { sysfs }));
  const driver = currentDriver(address, { sysfs });
  if (driver !== 'vfio-pci') throw notBoundToVfio(address, driver);
  const group = iommuGroupOf(address, { sysfs });
  if (group === null) throw noIommuGroup(address);
  return group;
}
