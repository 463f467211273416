// vfio-node info ADDR: what VFIO tells about a device: its regions (size, flags, mmap
// areas), its interrupt indexes and their vector counts, and its PCI capabilities.

import { parseArgs } from 'node:util';
import { Device, hex, native, IRQ_INDEX, type PciCapability } from '@vfio-node/core';

const C = native.constants;
const REGION_NAMES = ['BAR0', 'BAR1', 'BAR2', 'BAR3', 'BAR4', 'BAR5', 'ROM', 'config', 'VGA'];
const USAGE = `usage: vfio-node info [--json] ADDR

Opens the device through VFIO (it must be bound to vfio-pci) and prints its regions,
interrupts and PCI capabilities.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  using dev = Device.open(positionals[0]!);
  const regions = dev.regionInfos().map((r) => ({
    index: r.index,
    name: REGION_NAMES[r.index] ?? `region${r.index}`,
    size: Number(r.size),
    flags: regionFlags(r.flags),
    mmapAreas: r.sparseMmap?.map((a) => ({ offset: Number(a.offset), size: Number(a.size) })),
    msixMappable: r.msixMappable,
  }));
  const irqs = (Object.keys(IRQ_INDEX) as Array<keyof typeof IRQ_INDEX>).map((kind) => ({ kind, ...dev.irq.info(kind as never) }));
  const capabilities = dev.config.capabilities();
  const out = { address: dev.address, iommuGroup: dev.iommuGroup, flags: dev.info.flags, regions, irqs, capabilities: capabilities.map(({ bytes: _bytes, ...c }) => c) };
  if (values.json) {
    console.log(JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? Number(v) : v), 2));
    return 0;
  }
  console.log(`${dev.address}  IOMMU group ${dev.iommuGroup}  flags ${deviceFlags(dev.info.flags)}`);
  console.log('Regions:');
  for (const r of regions) {
    if (r.size === 0) continue;
    const areas = r.mmapAreas ? ` mmap areas ${r.mmapAreas.map((a) => `${hex(a.offset)}+${hex(a.size)}`).join(', ')}` : '';
    console.log(`  ${r.name.padEnd(7)} ${hex(r.size).padStart(12)}  ${r.flags.join(',')}${r.msixMappable ? ' msix-mappable' : ''}${areas}`);
  }
  console.log('Interrupts:');
  for (const i of irqs) if (i.count) console.log(`  ${i.kind.padEnd(5)} ${String(i.count).padStart(4)} vector(s)`);
  console.log('Capabilities:');
  for (const c of capabilities) console.log(`  ${hex(c.offset, 2)}  ${c.name}${capabilityDetail(c)}`);
  return 0;
}

function regionFlags(f: number): string[] {
  const out: string[] = [];
  if (f & C.VFIO_REGION_INFO_FLAG_READ!) out.push('read');
  if (f & C.VFIO_REGION_INFO_FLAG_WRITE!) out.push('write');
  if (f & C.VFIO_REGION_INFO_FLAG_MMAP!) out.push('mmap');
  return out;
}

function deviceFlags(f: number): string {
  const out: string[] = [];
  if (f & C.VFIO_DEVICE_FLAGS_RESET!) out.push('reset');
  if (f & C.VFIO_DEVICE_FLAGS_PCI!) out.push('pci');
  return out.join('|');
}

function capabilityDetail(c: PciCapability): string {
  if (c.msix) return `: ${c.msix.tableSize} vectors, table BAR${c.msix.tableBir}+${hex(c.msix.tableOffset)}, PBA BAR${c.msix.pbaBir}+${hex(c.msix.pbaOffset)}${c.msix.enabled ? ', enabled' : ''}`;
  if (c.msi) return `: ${c.msi.vectors} vector(s)${c.msi.address64 ? ', 64-bit' : ''}${c.msi.enabled ? ', enabled' : ''}`;
  if (c.pcie) return `: v${c.pcie.version} ${c.pcie.portTypeName}${c.pcie.flr ? ', FLR' : ''}`;
  if (c.pm) return `: version ${c.pm.version}, D${c.pm.powerState}`;
  if (c.virtio) return `: ${c.virtio.cfgTypeName} BAR${c.virtio.bar}+${hex(c.virtio.offset)} length ${c.virtio.length}`;
  return '';
}
