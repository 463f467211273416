// PCI discovery through sysfs (Documentation/ABI/testing/sysfs-bus-pci in Linux):
// /sys/bus/pci/devices/<addr>/{class,vendor,device,subsystem_vendor,subsystem_device,
// revision,numa_node,driver_override,modalias}, the `driver` link, and the
// `iommu_group` link into /sys/kernel/iommu_groups/<n>/devices/.

import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { invalidArgument, noSuchDevice } from '../errors.js';
import { resolveHost, type HostRoots } from '../host/paths.js';
import { canonicalPciAddress, isPciAddress, type PciAddressLike } from './address.js';
import { pciNames } from './names.js';

/** Class code 0x010802: mass storage, Non-Volatile memory controller, NVM Express. */
export const PCI_CLASS_NVME = 0x010802;
/** Class code 0x020000: network controller, Ethernet. */
export const PCI_CLASS_ETHERNET = 0x020000;
/** The virtio vendor id (virtio 1.x §4.1.2). */
export const PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1af4;
/** virtio-net: transitional 0x1000, modern 0x1040 + 1 (virtio 1.x §4.1.2.1). */
export const VIRTIO_NET_DEVICE_IDS = [0x1000, 0x1041] as const;

/** A PCI device as sysfs describes it: address, ids, class, driver, IOMMU group. */
export interface PciDevice {
  /** Canonical address, `0000:00:03.0`. */
  address: string;
  /** 24-bit class code 0xCCSSPP (base class, sub-class, programming interface). */
  classCode: number;
  className: string | null;
  vendorId: number;
  deviceId: number;
  subsystemVendorId: number | null;
  subsystemDeviceId: number | null;
  revision: number | null;
  vendorName: string | null;
  deviceName: string | null;
  /** Bound driver (basename of the `driver` link), null when none. */
  driver: string | null;
  /** driver_override, null when empty ('(null)' in sysfs). */
  driverOverride: string | null;
  /** IOMMU group number, null without an IOMMU. */
  iommuGroup: number | null;
  /** The other PCI functions in the same IOMMU group. */
  groupPeers: string[];
  /** NUMA node, null when the platform does not say (-1). */
  numaNode: number | null;
  modalias: string | null;
}

/** Which devices listPciDevices() returns: by class code, vendor or device id. */
export interface PciFilter {
  /** Compared under classMask (default 0xffffff: exact). */
  classCode?: number;
  classMask?: number;
  vendorId?: number;
  /** Any of these device ids (with vendorId). */
  deviceIds?: readonly number[];
}

/** /sys/bus/pci/devices/<addr>. */
export function pciDevicePath(addr: PciAddressLike, opts: HostRoots = {}): string {
  return join(resolveHost(opts).sysfs, 'bus/pci/devices', canonicalPciAddress(addr));
}

/** A sysfs attribute, trimmed; null when it does not exist or cannot be read. */
export function readAttr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function readHex(path: string): number | null {
  const s = readAttr(path);
  if (s === null || !/^(0x)?[0-9a-f]+$/i.test(s)) return null;
  return parseInt(s, 16);
}

function linkBase(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

/** Addresses of every PCI function, sorted. */
export function listPciAddresses(opts: HostRoots = {}): string[] {
  const dir = join(resolveHost(opts).sysfs, 'bus/pci/devices');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter(isPciAddress).sort();
}

/** True when /sys/bus/pci/devices/<addr> exists. */
export function pciDeviceExists(addr: PciAddressLike, opts: HostRoots = {}): boolean {
  return existsSync(pciDevicePath(addr, opts));
}

/** Throws ERR_NO_SUCH_DEVICE (hint: vfio-node list) unless the device exists; returns its canonical address. */
export function requirePciDevice(addr: PciAddressLike, opts: HostRoots = {}): string {
  const a = canonicalPciAddress(addr);
  const path = pciDevicePath(a, opts);
  if (!existsSync(path)) throw noSuchDevice(a, path);
  return a;
}

/** The driver bound to the device, or null. */
export function currentDriver(addr: PciAddressLike, opts: HostRoots = {}): string | null {
  return linkBase(join(pciDevicePath(addr, opts), 'driver'));
}

/** The device's IOMMU group number, or null when it has none (no IOMMU). */
export function iommuGroupOf(addr: PciAddressLike, opts: HostRoots = {}): number | null {
  const g = linkBase(join(pciDevicePath(addr, opts), 'iommu_group'));
  return g !== null && /^\d+$/.test(g) ? Number(g) : null;
}

/** Every device in IOMMU group `group` (PCI addresses sorted; other bus devices by name). */
export function iommuGroupDevices(group: number, opts: HostRoots = {}): string[] {
  try {
    return readdirSync(join(resolveHost(opts).sysfs, 'kernel/iommu_groups', String(group), 'devices')).sort();
  } catch {
    return [];
  }
}

/**
 * Reads everything sysfs says about one PCI function.
 * @throws VfioError ERR_NO_SUCH_DEVICE when it does not exist, ERR_INVALID_PCI_ADDRESS for a bad address.
 */
export function readPciDevice(addr: PciAddressLike, opts: HostRoots & { idsFile?: string | null } = {}): PciDevice {
  const address = requirePciDevice(addr, opts);
  const dir = pciDevicePath(address, opts);
  const names = pciNames(opts.idsFile);
  const classCode = readHex(join(dir, 'class')) ?? 0xffffff;
  const vendorId = readHex(join(dir, 'vendor')) ?? 0xffff;
  const deviceId = readHex(join(dir, 'device')) ?? 0xffff;
  const override = readAttr(join(dir, 'driver_override'));
  const numa = readAttr(join(dir, 'numa_node'));
  const iommuGroup = iommuGroupOf(address, opts);
  return {
    address,
    classCode,
    className: names.className(classCode),
    vendorId,
    deviceId,
    subsystemVendorId: readHex(join(dir, 'subsystem_vendor')),
    subsystemDeviceId: readHex(join(dir, 'subsystem_device')),
    revision: readHex(join(dir, 'revision')),
    vendorName: names.vendor(vendorId),
    deviceName: names.device(vendorId, deviceId),
    driver: currentDriver(address, opts),
    driverOverride: override === null || override === '' || override === '(null)' ? null : override,
    iommuGroup,
    groupPeers: iommuGroup === null ? [] : iommuGroupDevices(iommuGroup, opts).filter((d) => d !== address),
    numaNode: numa !== null && /^\d+$/.test(numa) ? Number(numa) : null,
    modalias: readAttr(join(dir, 'modalias')),
  };
}

/** Every PCI function of the machine, sorted by address. */
export function listPciDevices(opts: HostRoots & { idsFile?: string | null } = {}): PciDevice[] {
  const out: PciDevice[] = [];
  for (const a of listPciAddresses(opts)) {
    try {
      out.push(readPciDevice(a, opts));
    } catch {
      // removed while we were listing (hot-unplug): skip it
    }
  }
  return out;
}

/** True when the device matches every field the filter sets. */
export function matchesFilter(dev: Pick<PciDevice, 'classCode' | 'vendorId' | 'deviceId'>, f: PciFilter): boolean {
  if (f.classCode !== undefined) {
    const mask = f.classMask ?? 0xffffff;
    if ((dev.classCode & mask) !== (f.classCode & mask)) return false;
  }
  if (f.vendorId !== undefined && dev.vendorId !== f.vendorId) return false;
  if (f.deviceIds !== undefined && !f.deviceIds.includes(dev.deviceId)) return false;
  return true;
}

/** Devices matching a filter: `findPciDevices({ classCode: PCI_CLASS_NVME })`. */
export function findPciDevices(filter: PciFilter, opts: HostRoots & { idsFile?: string | null } = {}): PciDevice[] {
  return listPciDevices(opts).filter((d) => matchesFilter(d, filter));
}

/** Named filters for `vfio-node list --class`. */
export const CLASS_FILTERS: Record<string, PciFilter> = {
  nvme: { classCode: PCI_CLASS_NVME },
  storage: { classCode: 0x010000, classMask: 0xff0000 },
  net: { classCode: 0x020000, classMask: 0xff0000 },
  ethernet: { classCode: PCI_CLASS_ETHERNET, classMask: 0xffff00 },
  'virtio-net': { vendorId: PCI_VENDOR_ID_REDHAT_QUMRANET, deviceIds: VIRTIO_NET_DEVICE_IDS },
  bridge: { classCode: 0x060000, classMask: 0xff0000 },
  display: { classCode: 0x030000, classMask: 0xff0000 },
};

/**
 * A filter from text: a name in CLASS_FILTERS, `0xCCSSPP` (exact), `0xCCSS` (sub-class) or `0xCC` (base class).
 * @throws VfioError ERR_INVALID_ARG
 */
export function parseClassFilter(text: string): PciFilter {
  const named = CLASS_FILTERS[text.toLowerCase()];
  if (named) return named;
  const m = /^(?:0x)?([0-9a-f]+)$/i.exec(text);
  if (m && [2, 4, 6].includes(m[1]!.length)) {
    const v = parseInt(m[1]!, 16);
    const len = m[1]!.length;
    if (len === 6) return { classCode: v };
    if (len === 4) return { classCode: v << 8, classMask: 0xffff00 };
    return { classCode: v << 16, classMask: 0xff0000 };
  }
  throw invalidArgument('class', text, `one of ${Object.keys(CLASS_FILTERS).join(', ')} or a hex class code like 0x010802`);
}
