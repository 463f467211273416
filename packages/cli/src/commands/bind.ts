// vfio-node bind ADDR...: hand devices to vfio-pci (SPDK's setup.sh and DPDK's
// dpdk-devbind.py do the same), refusing a device the host is using unless --force.

import { parseArgs } from 'node:util';
import { bindDevice, hostRootsFromEnv, parsePciAddress, requireBindableDriver, requirePciDevice, VFIO_PCI, type BindResult } from '@vfio-node/core';

const USAGE = `usage: vfio-node bind [--force] [--driver vfio-pci] ADDR...

Binds each device to vfio-pci (loading the module if needed) and checks /dev/vfio/<group>.
Refuses a device that backs a mounted filesystem (in any mount namespace), an active swap
area, a dm/md/btrfs/ZFS member, or that a process has open, naming who holds it.
  --force       take the device even if the host uses it (data loss for whatever used it)
  --driver D    bind to driver D instead of vfio-pci (one listed in /sys/bus/pci/drivers)
  --json        print the results as JSON
Needs root. 'vfio-node unbind ADDR' gives the device back.`;

export function describeBind(r: BindResult): string[] {
  const lines: string[] = [];
  if (r.alreadyBound) lines.push(`${r.address}: already bound to ${r.driver}`);
  else lines.push(`${r.address}: ${r.previousDriver ?? 'no driver'} → ${r.driver}` + (r.iommuGroup !== null ? ` (IOMMU group ${r.iommuGroup}${r.vfioGroupPath ? `, ${r.vfioGroupPath}` : ''})` : ''));
  if (r.modulesLoaded.length) lines.push(`  loaded ${r.modulesLoaded.join(', ')}`);
  for (const u of r.forcedUses) lines.push(`  warning: forced although ${u.description}`);
  if (r.nonViablePeers.length) {
    lines.push(`  warning: IOMMU group ${r.iommuGroup} is not viable until these are bound too: ${r.nonViablePeers.map((m) => `${m.address} (${m.driver})`).join(', ')}`);
    lines.push(`  run: vfio-node bind ${r.nonViablePeers.map((m) => m.address).join(' ')}`);
  }
  return lines;
}

export async function run(argv: string[]): Promise<number> {
  let values: { force?: boolean; driver?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { force: { type: 'boolean', short: 'f' }, driver: { type: 'string', default: VFIO_PCI }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    console.error(`vfio-node bind: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const roots = hostRootsFromEnv();
  // Check the driver and every address before touching any device.
  const driver = requireBindableDriver(values.driver ?? VFIO_PCI, roots);
  const addrs = positionals.map((p) => requirePciDevice(parsePciAddress(p), roots));
  const results: BindResult[] = [];
  for (const a of addrs) {
    const r = bindDevice(a, { ...roots, force: values.force ?? false, driver });
    results.push(r);
    if (!values.json) for (const l of describeBind(r)) console.log(l);
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
  return 0;
}
