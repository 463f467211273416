// Kernel modules: loaded ones appear as /sys/module/<name> (with '-' spelled '_'),
// and a registered PCI driver as /sys/bus/pci/drivers/<driver>. vfio-pci needs vfio,
// vfio_pci_core and vfio_iommu_type1 (the type1 container backend); modprobe brings
// the dependencies, not the IOMMU backend, so both are loaded by name.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { modprobeFailed } from '../errors.js';
import { resolveHost, type HostOptions, type HostRoots } from './paths.js';

/** The modules a VFIO user needs, in load order. */
export const VFIO_MODULES = ['vfio_pci', 'vfio_iommu_type1'] as const;

/** True when /sys/module/<name> exists (loaded, or built in with parameters). */
export function moduleLoaded(name: string, opts: HostRoots = {}): boolean {
  return existsSync(join(resolveHost(opts).sysfs, 'module', name.replace(/-/g, '_')));
}

/** True when the PCI driver is registered (/sys/bus/pci/drivers/<driver>): the definitive test for vfio-pci. */
export function pciDriverRegistered(driver: string, opts: HostRoots = {}): boolean {
  return existsSync(join(resolveHost(opts).sysfs, 'bus/pci/drivers', driver));
}

/**
 * Runs `modprobe <name>`.
 * @throws VfioError ERR_MODPROBE_FAILED with modprobe's own message.
 */
export function loadModule(name: string, opts: HostOptions = {}): void {
  const r = resolveHost(opts).exec('modprobe', [name]);
  if (r.error) throw modprobeFailed(name, `cannot run modprobe (${r.error.message}); install kmod`);
  if (r.status !== 0) throw modprobeFailed(name, r.stderr.trim() || `modprobe exited with status ${r.status}`);
}

/**
 * Loads the module unless `isLoaded` says it already is.
 * @returns true when modprobe ran.
 */
export function ensureModule(name: string, opts: HostOptions = {}, isLoaded: () => boolean = () => moduleLoaded(name, opts)): boolean {
  if (isLoaded()) return false;
  loadModule(name, opts);
  return true;
}

/** Loads vfio-pci and vfio_iommu_type1 as needed; returns the modules it loaded. */
export function ensureVfioModules(opts: HostOptions = {}): string[] {
  const loaded: string[] = [];
  if (ensureModule('vfio-pci', opts, () => pciDriverRegistered('vfio-pci', opts) || moduleLoaded('vfio_pci', opts))) loaded.push('vfio-pci');
  if (ensureModule('vfio_iommu_type1', opts)) loaded.push('vfio_iommu_type1');
  return loaded;
}

/**
 * The module(s) that claim a modalias (`modprobe -R <modalias>`), [] when none or modprobe is missing.
 */
export function modulesForAlias(modalias: string, opts: HostOptions = {}): string[] {
  const r = resolveHost(opts).exec('modprobe', ['-R', modalias]);
  if (r.error || r.status !== 0) return [];
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}
