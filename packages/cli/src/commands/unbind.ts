// vfio-node unbind ADDR...: give devices on vfio-pci back to their kernel driver.

import { parseArgs } from 'node:util';
import { hostRootsFromEnv, parsePciAddress, requirePciDevice, unbindDevice, type UnbindResult } from '@vfio-node/core';

const USAGE = `usage: vfio-node unbind [--json] ADDR...

Unbinds each device from vfio-pci, clears driver_override and lets the kernel probe it
again, so its own driver (nvme, virtio-pci, ...) takes it back. Needs root.`;

export function describeUnbind(r: UnbindResult): string[] {
  if (r.alreadyUnbound) return [`${r.address}: already on its kernel driver ${r.driver}`];
  const lines = [`${r.address}: ${r.previousDriver ?? 'no driver'} → ${r.driver ?? 'no driver'}`];
  if (r.modulesLoaded.length) lines.push(`  loaded ${r.modulesLoaded.join(', ')}`);
  if (r.driver === null) lines.push('  note: no kernel driver claimed the device; load its driver module and run: echo ' + r.address + ' > /sys/bus/pci/drivers_probe');
  return lines;
}

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`vfio-node unbind: ${(err as Error).message}\n\n${USAGE}`);
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
  const addrs = positionals.map((p) => requirePciDevice(parsePciAddress(p), roots));
  const results: UnbindResult[] = [];
  for (const a of addrs) {
    const r = unbindDevice(a, roots);
    results.push(r);
    if (!values.json) for (const l of describeUnbind(r)) console.log(l);
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
  return 0;
}
