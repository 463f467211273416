// IOMMU group viability. VFIO hands out a group only when every device in it is
// either unbound, bound to a VFIO driver, or bound to a driver that does no DMA of its
// own on the device: pci-stub, and PCI bridges (the kernel allows any non-type-0
// header; pcieport is their usual driver). Linux drivers/vfio/group.c and
// Documentation/driver-api/vfio.rst "Group viability".

import { resolveHost, type HostRoots } from '../host/paths.js';
import { noIommuGroup } from '../errors.js';
import { isPciAddress, type PciAddressLike } from './address.js';
import { currentDriver, iommuGroupDevices, iommuGroupOf, pciDevicePath, readAttr, requirePciDevice } from './sysfs.js';
import { join } from 'node:path';

/** Drivers that leave a group viable besides the VFIO ones. */
export const VIABLE_FOREIGN_DRIVERS = ['pci-stub', 'pcieport'] as const;

/** A device of an IOMMU group, with its driver and whether it keeps the group from being viable. */
export interface GroupMember {
  /** PCI address (or the device name for a non-PCI member). */
  address: string;
  driver: string | null;
  /** True for a PCI-to-PCI bridge (class 0x0604xx); bridges never make a group non-viable. */
  bridge: boolean;
}

/** True for vfio-pci and its vendor variants (mlx5_vfio_pci, ...): drivers/vfio/pci. */
export function isVfioDriver(driver: string | null): boolean {
  return driver !== null && /vfio/.test(driver);
}

function member(name: string, opts: HostRoots): GroupMember {
  if (!isPciAddress(name)) return { address: name, driver: null, bridge: false };
  const cls = readAttr(join(pciDevicePath(name, opts), 'class'));
  const bridge = cls !== null && (parseInt(cls, 16) & 0xffff00) === 0x060400;
  return { address: name, driver: currentDriver(name, opts), bridge };
}

/**
 * Every device in addr's IOMMU group, addr included.
 * @throws VfioError ERR_NO_SUCH_DEVICE, ERR_NO_IOMMU_GROUP
 */
export function groupMembers(addr: PciAddressLike, opts: HostRoots = {}): GroupMember[] {
  const a = requirePciDevice(addr, opts);
  const g = iommuGroupOf(a, opts);
  if (g === null) throw noIommuGroup(a);
  return groupMembersOf(g, opts);
}

/** Every device in IOMMU group `group`. */
export function groupMembersOf(group: number, opts: HostRoots = {}): GroupMember[] {
  resolveHost(opts);
  return iommuGroupDevices(group, opts).map((d) => member(d, opts));
}

/** True when the member keeps its group viable. */
export function isViableMember(m: GroupMember): boolean {
  return m.driver === null || m.bridge || isVfioDriver(m.driver) || (VIABLE_FOREIGN_DRIVERS as readonly string[]).includes(m.driver);
}

/** The members of `group` whose driver makes it non-viable (to bind to vfio-pci or unbind). */
export function nonViableMembers(group: number, opts: HostRoots = {}): GroupMember[] {
  return groupMembersOf(group, opts).filter((m) => !isViableMember(m));
}
