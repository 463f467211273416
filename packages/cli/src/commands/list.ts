// vfio-node list: the PCI functions of this machine, like `lspci -nnk`, with what a
// VFIO user needs beside each: the driver it is bound to and its IOMMU group.

import { parseArgs } from 'node:util';
import { hostRootsFromEnv, invalidArgument, listPciDevices, matchesFilter, parseClassFilter, type PciDevice } from '@vfio-node/core';

const USAGE = `usage: vfio-node list [--class nvme|net|storage|virtio-net|bridge|0xCCSSPP] [--json]

Lists PCI devices: address, class, vendor:device ids, driver and IOMMU group.
  --class C   only devices of class C: a name above, or a hex class code
              (0x010802 exact, 0x0108 sub-class, 0x01 base class)
  --json      one JSON array, the fields of each device as @vfio-node/core's PciDevice`;

const hex = (v: number | null, w: number) => (v === null ? '' : v.toString(16).padStart(w, '0'));

/** A device with hex strings beside the numbers, for JSON readers (jq). */
function jsonOf(d: PciDevice) {
  return { ...d, class: '0x' + hex(d.classCode, 6), ids: `${hex(d.vendorId, 4)}:${hex(d.deviceId, 4)}` };
}

/** The lspci-like table: one line per device. */
export function formatList(devs: PciDevice[]): string {
  const rows = devs.map((d) => [
    d.address,
    d.className ?? `Class ${hex(d.classCode >> 8, 4)}`,
    `[${hex(d.vendorId, 4)}:${hex(d.deviceId, 4)}]`,
    d.driver ?? '-',
    d.iommuGroup === null ? '-' : String(d.iommuGroup),
    [d.vendorName, d.deviceName].filter(Boolean).join(' ') || '',
  ]);
  const head = ['ADDRESS', 'CLASS', 'IDS', 'DRIVER', 'GROUP', 'DEVICE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; class?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, class: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`vfio-node list: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw invalidArgument('argument', positionals[0], 'no positional arguments', USAGE.split('\n')[0]);
  const filter = values.class === undefined ? null : parseClassFilter(values.class);
  const devs = listPciDevices(hostRootsFromEnv()).filter((d) => filter === null || matchesFilter(d, filter));
  if (values.json) {
    console.log(JSON.stringify(devs.map(jsonOf), null, 2));
    return 0;
  }
  if (devs.length === 0) {
    console.error(filter ? `no PCI device of class ${values.class}` : 'no PCI devices (is /sys mounted?)');
    return 0;
  }
  console.log(formatList(devs));
  return 0;
}
