// Moving a PCI function between its kernel driver and vfio-pci through sysfs, the way
// Documentation/driver-api/vfio.rst and the sysfs-bus-pci ABI describe (LAB.md has the
// shell version): driver_override names the driver we want, the current driver lets
// go (driver/unbind), and drivers_probe asks the PCI core to match again, which honours
// driver_override. Giving it back: clear driver_override, unbind, probe: the kernel's
// own match (by id table) finds the original driver.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindFailed, hostWriteFailed, noIommuGroup, noSuchDriver, notBoundToVfio } from '../errors.js';
import { ensureModule, loadModule, moduleLoaded, modulesForAlias, pciDriverRegistered } from '../host/modules.js';
import { resolveHost, type HostOptions, type HostRoots } from '../host/paths.js';
import type { PciAddressLike } from './address.js';
import { isVfioDriver, nonViableMembers, type GroupMember } from './group.js';
import { assertNotInUse, type DeviceUse, type InUseOptions } from './in-use.js';
import { PCI_CLASS_NVME, PCI_VENDOR_ID_REDHAT_QUMRANET, currentDriver, iommuGroupOf, pciDevicePath, readPciDevice, requirePciDevice, type PciDevice } from './sysfs.js';

/** The name of the vfio-pci driver. */
export const VFIO_PCI = 'vfio-pci';

/**
 * Options of bindDevice(): --force (take a device in use), the driver to bind to (default vfio-pci), how long to
 * wait, and the host roots.
 */
export interface BindOptions extends HostOptions, Pick<InUseOptions, 'claimExclusive'> {
  /** Take the device even if it backs a mount, swap or dm/md device, or a process has it open. */
  force?: boolean;
  /** Driver to bind to, default 'vfio-pci' (loaded when missing); any other must be registered already. */
  driver?: string;
  /** How long to wait for the driver link and /dev/vfio/<group>, default 2000 ms. */
  timeoutMs?: number;
}

/**
 * What bindDevice() did: the drivers before and after, the IOMMU group and its VFIO node, modules loaded, and
 * each action taken.
 */
export interface BindResult {
  /** Canonical PCI address of the device. */
  address: string;
  /** The driver before (null: none). */
  previousDriver: string | null;
  /** The driver after binding. */
  driver: string;
  /** Nothing to do: it was bound to `driver` already. */
  alreadyBound: boolean;
  /** The device's IOMMU group (null: no IOMMU). */
  iommuGroup: number | null;
  /** /dev/vfio/<group> for vfio-pci. */
  vfioGroupPath: string | null;
  /** Modules loaded with modprobe. */
  modulesLoaded: string[];
  /** Uses that --force overrode. */
  forcedUses: DeviceUse[];
  /** Other group members that keep the group non-viable: bind them too. */
  nonViablePeers: GroupMember[];
  /** Each sysfs write, as `echo VALUE > PATH`, for the record. */
  actions: string[];
}

/** What unbindDevice() did: the driver the device left and the one it went back to. */
export interface UnbindResult {
  /** Canonical PCI address of the device. */
  address: string;
  /** The driver before (null: none). */
  previousDriver: string | null;
  /** The driver after probing, null when no kernel driver claimed it. */
  driver: string | null;
  /** Nothing to do: no driver was bound. */
  alreadyUnbound: boolean;
  /** Kernel modules loaded on the way (modprobe). */
  modulesLoaded: string[];
  /** Each sysfs write done, in order, as a shell command would say it. */
  actions: string[];
}

/** Synchronous sleep for the short polls below (sysfs is synchronous; devtmpfs nearly so). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pollUntil(check: () => boolean, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= end) return false;
    sleepMs(20);
  }
}

/** A driver's name as it appears in /sys/bus/pci/drivers: no '/', no '..' tricks. */
const DRIVER_NAME = /^[A-Za-z0-9_.-]+$/;

/** The PCI drivers registered now (/sys/bus/pci/drivers), sorted. */
export function registeredPciDrivers(opts: HostRoots = {}): string[] {
  try {
    return readdirSync(join(resolveHost(opts).sysfs, 'bus/pci/drivers')).sort();
  } catch {
    return [];
  }
}

/**
 * Checks a driver name given by a person: vfio-pci (which bind loads when missing) or a
 * driver registered under /sys/bus/pci/drivers.
 * @throws VfioError ERR_NO_SUCH_DRIVER naming the registered drivers
 */
export function requireBindableDriver(driver: string, opts: HostRoots = {}): string {
  if (driver === VFIO_PCI) return driver;
  if (!DRIVER_NAME.test(driver) || driver === '.' || driver === '..' || !pciDriverRegistered(driver, opts)) {
    throw noSuchDriver(driver, registeredPciDrivers(opts));
  }
  return driver;
}

/** Record of the driver a device had before bind, /run/vfio-node/<addr>.driver. */
export function originalDriverRecord(addr: string, opts: HostRoots = {}): string {
  return join(resolveHost(opts).runDir, `${addr}.driver`);
}

/** The driver remembered by bind, or null. */
export function recallOriginalDriver(addr: PciAddressLike, opts: HostRoots = {}): string | null {
  const a = requirePciDevice(addr, opts);
  try {
    const s = readFileSync(originalDriverRecord(a, opts), 'utf8').trim();
    return s || null;
  } catch {
    return null;
  }
}

/**
 * The kernel driver a device would normally have, without a record: nvme for class
 * 0x010802, virtio-pci for the virtio vendor, else the module `modprobe -R <modalias>` names.
 */
export function defaultKernelDriver(dev: Pick<PciDevice, 'classCode' | 'vendorId' | 'modalias'>, opts: HostOptions = {}): string | null {
  if (dev.classCode === PCI_CLASS_NVME) return 'nvme';
  if (dev.vendorId === PCI_VENDOR_ID_REDHAT_QUMRANET) return 'virtio-pci';
  if (dev.modalias) return modulesForAlias(dev.modalias, opts)[0] ?? null;
  return null;
}

/** A device's binding as `vfio-node list` and doctor describe it: its driver, driver_override and IOMMU group. */
export interface BindingDescription {
  address: string;
  driver: string | null;
  driverOverride: string | null;
  boundToVfio: boolean;
  iommuGroup: number | null;
  /** /dev/vfio/<group> when the group exists. */
  vfioGroupPath: string | null;
  /** One line: "0000:00:03.0 is bound to nvme, not vfio-pci". */
  message: string;
  /** What to do, when not usable through VFIO. */
  hint: string | null;
}

/**
 * How the device is bound, in words, for the VFIO open path: the lead's device open
 * uses it to explain a device that is not on vfio-pci.
 * @throws VfioError ERR_NO_SUCH_DEVICE
 */
export function describeBinding(addr: PciAddressLike, opts: HostRoots = {}): BindingDescription {
  const dev = readPciDevice(addr, opts);
  const { devfs } = resolveHost(opts);
  const boundToVfio = isVfioDriver(dev.driver);
  const vfioGroupPath = dev.iommuGroup === null ? null : join(devfs, 'vfio', String(dev.iommuGroup));
  let message: string;
  let hint: string | null = null;
  if (boundToVfio) {
    message = `${dev.address} is bound to ${dev.driver} (IOMMU group ${dev.iommuGroup ?? 'none'})`;
    if (vfioGroupPath && !existsSync(vfioGroupPath)) hint = `${vfioGroupPath} is missing: check that vfio_iommu_type1 is loaded and 'dmesg | tail'.`;
  } else {
    const err = notBoundToVfio(dev.address, dev.driver);
    message = err.message;
    hint = err.hint ?? null;
    if (dev.iommuGroup === null) hint = noIommuGroup(dev.address).hint ?? null;
  }
  return { address: dev.address, driver: dev.driver, driverOverride: dev.driverOverride, boundToVfio, iommuGroup: dev.iommuGroup, vfioGroupPath, message, hint };
}

function writer(opts: HostOptions, actions: string[], address: string) {
  const { write } = resolveHost(opts);
  return (path: string, value: string) => {
    actions.push(`echo ${value === '\n' ? "''" : value} > ${path}`);
    try {
      write(path, value);
    } catch (err) {
      throw hostWriteFailed(path, err, address);
    }
  };
}

/**
 * Binds the device to vfio-pci (or `opts.driver`).
 * Steps: refuse a device in use (unless force); load vfio-pci; remember the original
 * driver; write driver_override; unbind from the current driver; drivers_probe; check
 * the driver link and /dev/vfio/<group>.
 * @throws VfioError ERR_NO_SUCH_DRIVER, ERR_NO_SUCH_DEVICE, ERR_DEVICE_IN_USE, ERR_MODPROBE_FAILED,
 *   ERR_NO_IOMMU_GROUP, ERR_BIND_FAILED, EACCES (not root)
 */
export function bindDevice(addr: PciAddressLike, opts: BindOptions = {}): BindResult {
  const host = resolveHost(opts);
  const target = requireBindableDriver(opts.driver ?? VFIO_PCI, opts);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const dev = readPciDevice(addr, opts);
  const address = dev.address;
  const actions: string[] = [];
  const modulesLoaded: string[] = [];
  const result = (forcedUses: DeviceUse[], alreadyBound: boolean): BindResult => {
    const group = iommuGroupOf(address, opts);
    return {
      address,
      previousDriver: dev.driver,
      driver: target,
      alreadyBound,
      iommuGroup: group,
      vfioGroupPath: target === VFIO_PCI && group !== null ? join(host.devfs, 'vfio', String(group)) : null,
      modulesLoaded,
      forcedUses,
      nonViablePeers: group === null || target !== VFIO_PCI ? [] : nonViableMembers(group, opts).filter((m) => m.address !== address),
      actions,
    };
  };

  if (target === VFIO_PCI && dev.iommuGroup === null) throw noIommuGroup(address);
  if (dev.driver === target) return result([], true);

  // 1. Refuse what the host is using.
  const forcedUses = assertNotInUse(address, opts);

  // 2. The driver must be registered for drivers_probe to find it.
  if (!pciDriverRegistered(target, opts)) {
    ensureModule(target, opts, () => pciDriverRegistered(target, opts));
    modulesLoaded.push(target);
  }
  if (target === VFIO_PCI && !moduleLoaded('vfio_iommu_type1', opts)) {
    loadModule('vfio_iommu_type1', opts);
    modulesLoaded.push('vfio_iommu_type1');
  }

  // 3. Remember the original driver for unbind (best effort: /run may be read-only).
  if (dev.driver && !isVfioDriver(dev.driver)) {
    try {
      mkdirSync(host.runDir, { recursive: true });
      writeFileSync(originalDriverRecord(address, opts), `${dev.driver}\n`);
    } catch {
      // unbind falls back to the kernel's own match and defaultKernelDriver()
    }
  }

  const put = writer(opts, actions, address);
  const devPath = pciDevicePath(address, opts);
  // 4. driver_override makes the PCI core match only `target` from now on.
  put(join(devPath, 'driver_override'), target);
  // 5. Let go of the current driver.
  if (dev.driver) put(join(devPath, 'driver', 'unbind'), address);
  // 6. Match again.
  put(join(host.sysfs, 'bus/pci/drivers_probe'), address);

  // 7. Check.
  if (!pollUntil(() => currentDriver(address, opts) === target, timeoutMs)) {
    throw bindFailed(address, target, currentDriver(address, opts));
  }
  const r = result(forcedUses, false);
  if (r.vfioGroupPath && !pollUntil(() => existsSync(r.vfioGroupPath!), timeoutMs)) {
    throw bindFailed(address, target, target, `${r.vfioGroupPath} did not appear: check that vfio_iommu_type1 is loaded and 'dmesg | tail'.`);
  }
  return r;
}

/**
 * Gives a device on vfio-pci back to its kernel driver: clear driver_override, unbind,
 * drivers_probe; if no driver claims it, load the remembered (or default) driver's module
 * and probe once more.
 * @throws VfioError ERR_NO_SUCH_DEVICE, EACCES (not root)
 */
export function unbindDevice(addr: PciAddressLike, opts: HostOptions & { timeoutMs?: number } = {}): UnbindResult {
  const host = resolveHost(opts);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const dev = readPciDevice(addr, opts);
  const address = dev.address;
  const actions: string[] = [];
  const modulesLoaded: string[] = [];
  if (dev.driver !== null && !isVfioDriver(dev.driver) && dev.driverOverride === null) {
    return { address, previousDriver: dev.driver, driver: dev.driver, alreadyUnbound: true, modulesLoaded, actions };
  }
  const original = recallOriginalDriver(address, opts) ?? defaultKernelDriver(dev, opts);
  const put = writer(opts, actions, address);
  const devPath = pciDevicePath(address, opts);
  // 1. An empty driver_override restores matching by id table (a newline clears it).
  put(join(devPath, 'driver_override'), '\n');
  // 2. Let go of vfio-pci.
  if (dev.driver) put(join(devPath, 'driver', 'unbind'), address);
  // 3. Match again.
  put(join(host.sysfs, 'bus/pci/drivers_probe'), address);
  let driver = pollUntil(() => currentDriver(address, opts) !== null, Math.min(timeoutMs, 500)) ? currentDriver(address, opts) : null;
  // 4. Nobody claimed it: the original driver's module is not loaded.
  if (driver === null && original !== null && !pciDriverRegistered(original, opts)) {
    loadModule(original, opts);
    modulesLoaded.push(original);
    if (currentDriver(address, opts) === null) put(join(host.sysfs, 'bus/pci/drivers_probe'), address);
    driver = pollUntil(() => currentDriver(address, opts) !== null, timeoutMs) ? currentDriver(address, opts) : null;
  }
  try {
    rmSync(originalDriverRecord(address, opts), { force: true });
  } catch {
    // a read-only /run: the stale record names the right driver anyway
  }
  return { address, previousDriver: dev.driver, driver, alreadyUnbound: false, modulesLoaded, actions };
}
