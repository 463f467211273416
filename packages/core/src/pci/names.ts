// Names for vendor ids, device ids and class codes, as lspci prints them. The source is
// the PCI ID Repository's pci.ids (/usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids)
// when it is installed; otherwise a small built-in table that covers the devices
// vfio-node drives (NVMe, virtio, QEMU's emulated hardware) and the common classes.
// Class codes are from the PCI Code and ID Assignment Specification 1.x §1.

import { readFileSync } from 'node:fs';

const BUILTIN_VENDORS: Record<number, string> = {
  0x1022: 'Advanced Micro Devices, Inc. [AMD]',
  0x10de: 'NVIDIA Corporation',
  0x10ec: 'Realtek Semiconductor Co., Ltd.',
  0x1234: 'Technical Corp.',
  0x126f: 'Silicon Motion, Inc.',
  0x144d: 'Samsung Electronics Co Ltd',
  0x14e4: 'Broadcom Inc. and subsidiaries',
  0x15ad: 'VMware',
  0x15b3: 'Mellanox Technologies',
  0x15b7: 'Sandisk Corp',
  0x1987: 'Phison Electronics Corporation',
  0x1af4: 'Red Hat, Inc.',
  0x1b36: 'Red Hat, Inc.',
  0x1c5c: 'SK hynix',
  0x1d0f: 'Amazon.com, Inc.',
  0x1e0f: 'KIOXIA Corporation',
  0x8086: 'Intel Corporation',
};

const BUILTIN_DEVICES: Record<number, Record<number, string>> = {
  // virtio 1.x §4.1.2: transitional ids 0x1000-0x103f, modern ids 0x1040 + device type.
  0x1af4: {
    0x1000: 'Virtio network device',
    0x1001: 'Virtio block device',
    0x1002: 'Virtio memory balloon',
    0x1003: 'Virtio console',
    0x1004: 'Virtio SCSI',
    0x1005: 'Virtio RNG',
    0x1009: 'Virtio filesystem',
    0x1041: 'Virtio 1.0 network device',
    0x1042: 'Virtio 1.0 block device',
    0x1043: 'Virtio 1.0 console',
    0x1044: 'Virtio 1.0 RNG',
    0x1045: 'Virtio 1.0 balloon',
    0x1048: 'Virtio 1.0 SCSI',
    0x1049: 'Virtio 1.0 filesystem',
    0x1050: 'Virtio 1.0 GPU',
    0x1052: 'Virtio 1.0 input',
    0x1053: 'Virtio 1.0 socket',
    0x105a: 'Virtio file system',
    0x1110: 'Inter-VM shared memory',
  },
  // QEMU's own devices (docs/specs/pci-ids.rst in QEMU).
  0x1b36: {
    0x0001: 'QEMU PCI-PCI bridge',
    0x0002: 'QEMU PCI 16550A Adapter',
    0x0005: 'QEMU PCI Test Device',
    0x0008: 'QEMU PCIe Host bridge',
    0x000c: 'QEMU PCIe Root port',
    0x000d: 'QEMU XHCI Host Controller',
    0x0010: 'QEMU NVM Express Controller',
    0x0011: 'QEMU PVPanic device',
    0x0013: 'QEMU UFS Host Controller',
  },
  0x1234: { 0x1111: 'QEMU Virtual Video Controller' },
  0x8086: {
    0x100e: '82540EM Gigabit Ethernet Controller',
    0x10d3: '82574L Gigabit Network Connection',
    0x1237: '440FX - 82441FX PMC [Natoma]',
    0x2918: '82801IB (ICH9) LPC Interface Controller',
    0x2922: '82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]',
    0x2930: '82801I (ICH9 Family) SMBus Controller',
    0x29c0: '82G33/G31/P35/P31 Express DRAM Controller',
    0x7000: '82371SB PIIX3 ISA [Natoma/Triton II]',
    0x7010: '82371SB PIIX3 IDE [Natoma/Triton II]',
    0x7113: '82371AB/EB/MB PIIX4 ACPI',
    0x0953: 'PCIe Data Center SSD',
    0x0a54: 'NVMe Datacenter SSD [3DNAND, Beta Rock Controller]',
    0x10fb: '82599ES 10-Gigabit SFI/SFP+ Network Connection',
    0x1572: 'Ethernet Controller X710 for 10GbE SFP+',
    0x1592: 'Ethernet Controller E810-C for QSFP',
  },
  0x1d0f: { 0x8061: 'NVMe EBS Controller', 0xcd01: 'NVMe SSD Controller', 0xec20: 'Elastic Network Adapter (ENA)' },
};

/** Base class → [name, {sub-class → name}] (Code and ID Assignment spec §1.1-§1.19). */
const BUILTIN_CLASSES: Record<number, [string, Record<number, string>]> = {
  0x00: ['Unclassified device', { 0x00: 'Non-VGA unclassified device', 0x01: 'VGA compatible unclassified device' }],
  0x01: ['Mass storage controller', { 0x00: 'SCSI storage controller', 0x01: 'IDE interface', 0x04: 'RAID bus controller', 0x05: 'ATA controller', 0x06: 'SATA controller', 0x07: 'Serial Attached SCSI controller', 0x08: 'Non-Volatile memory controller', 0x80: 'Mass storage controller' }],
  0x02: ['Network controller', { 0x00: 'Ethernet controller', 0x07: 'Infiniband controller', 0x80: 'Network controller' }],
  0x03: ['Display controller', { 0x00: 'VGA compatible controller', 0x02: '3D controller', 0x80: 'Display controller' }],
  0x04: ['Multimedia controller', { 0x01: 'Multimedia audio controller', 0x03: 'Audio device', 0x80: 'Multimedia controller' }],
  0x05: ['Memory controller', { 0x00: 'RAM memory', 0x80: 'Memory controller' }],
  0x06: ['Bridge', { 0x00: 'Host bridge', 0x01: 'ISA bridge', 0x04: 'PCI bridge', 0x80: 'Bridge' }],
  0x07: ['Communication controller', { 0x00: 'Serial controller', 0x80: 'Communication controller' }],
  0x08: ['Generic system peripheral', { 0x05: 'SD Host controller', 0x06: 'IOMMU', 0x80: 'System peripheral' }],
  0x09: ['Input device controller', { 0x00: 'Keyboard controller', 0x80: 'Input device controller' }],
  0x0b: ['Processor', { 0x40: 'Co-processor' }],
  0x0c: ['Serial bus controller', { 0x03: 'USB controller', 0x05: 'SMBus', 0x80: 'Serial bus controller' }],
  0x0d: ['Wireless controller', { 0x80: 'Wireless controller' }],
  0x11: ['Signal processing controller', { 0x80: 'Signal processing controller' }],
  0x12: ['Processing accelerators', { 0x00: 'Processing accelerators' }],
  0xff: ['Unassigned class', {}],
};

/** Programming interfaces worth naming: class 0x010802 is NVM Express (NVMe over PCIe). */
const BUILTIN_PROG_IFS: Record<number, string> = {
  0x010601: 'AHCI 1.0',
  0x010802: 'NVM Express',
  0x010803: 'NVMe admin controller',
  0x0c0330: 'XHCI',
};

/** Vendor, device and class names from pci.ids (or a small built-in table). */
export interface PciNames {
  /** The vendor's name, or null when unknown. */
  vendor(vendorId: number): string | null;
  /** The device's name, or null when unknown. */
  device(vendorId: number, deviceId: number): string | null;
  /** The sub-class name (e.g. 'Non-Volatile memory controller'), else the base class name. */
  className(classCode: number): string | null;
  /** The programming interface name (e.g. 'NVM Express' for 0x010802), if known. */
  progIfName(classCode: number): string | null;
  /** 'pci.ids' with its path, or 'builtin'. */
  readonly source: string;
}

/** Where pci.ids is looked for, in order. */
export const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids'];

interface Tables {
  vendors: Map<number, string>;
  devices: Map<number, Map<number, string>>;
  classes: Map<number, string>; // base class
  subclasses: Map<number, string>; // (base << 8) | sub
  progIfs: Map<number, string>; // full 24-bit code
}

/** Parses the PCI ID Repository's pci.ids format (vendor/device/subsystem lines, 'C' class blocks). */
export function parsePciIds(text: string): Tables {
  const t: Tables = { vendors: new Map(), devices: new Map(), classes: new Map(), subclasses: new Map(), progIfs: new Map() };
  let vendor = -1;
  let klass = -1;
  let sub = -1;
  let inClasses = false;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('C ')) {
      const m = /^C ([0-9a-f]{2})\s+(.*)$/i.exec(line);
      if (!m) continue;
      inClasses = true;
      klass = parseInt(m[1]!, 16);
      t.classes.set(klass, m[2]!.trim());
      continue;
    }
    if (!line.startsWith('\t')) {
      const m = /^([0-9a-f]{4})\s+(.*)$/i.exec(line);
      inClasses = false;
      vendor = -1;
      if (m) {
        vendor = parseInt(m[1]!, 16);
        t.vendors.set(vendor, m[2]!.trim());
      }
      continue;
    }
    if (line.startsWith('\t\t')) {
      if (inClasses && klass >= 0 && sub >= 0) {
        const m = /^\t\t([0-9a-f]{2})\s+(.*)$/i.exec(line);
        if (m) t.progIfs.set((klass << 16) | (sub << 8) | parseInt(m[1]!, 16), m[2]!.trim());
      }
      continue; // subsystem lines: not needed
    }
    if (inClasses) {
      const m = /^\t([0-9a-f]{2})\s+(.*)$/i.exec(line);
      if (m && klass >= 0) {
        sub = parseInt(m[1]!, 16);
        t.subclasses.set((klass << 8) | sub, m[2]!.trim());
      }
    } else if (vendor >= 0) {
      const m = /^\t([0-9a-f]{4})\s+(.*)$/i.exec(line);
      if (m) {
        let devs = t.devices.get(vendor);
        if (!devs) t.devices.set(vendor, (devs = new Map()));
        devs.set(parseInt(m[1]!, 16), m[2]!.trim());
      }
    }
  }
  return t;
}

function builtinTables(): Tables {
  const t: Tables = { vendors: new Map(), devices: new Map(), classes: new Map(), subclasses: new Map(), progIfs: new Map() };
  for (const [v, name] of Object.entries(BUILTIN_VENDORS)) t.vendors.set(Number(v), name);
  for (const [v, devs] of Object.entries(BUILTIN_DEVICES)) t.devices.set(Number(v), new Map(Object.entries(devs).map(([d, n]) => [Number(d), n])));
  for (const [c, [name, subs]] of Object.entries(BUILTIN_CLASSES)) {
    t.classes.set(Number(c), name);
    for (const [s, sn] of Object.entries(subs)) t.subclasses.set((Number(c) << 8) | Number(s), sn);
  }
  for (const [p, name] of Object.entries(BUILTIN_PROG_IFS)) t.progIfs.set(Number(p), name);
  return t;
}

function namesFrom(t: Tables, fallback: Tables | null, source: string): PciNames {
  const pick = <K>(get: (x: Tables) => Map<K, string>, k: K): string | null => get(t).get(k) ?? (fallback ? get(fallback).get(k) : undefined) ?? null;
  return {
    source,
    vendor: (v) => pick((x) => x.vendors, v),
    device: (v, d) => t.devices.get(v)?.get(d) ?? fallback?.devices.get(v)?.get(d) ?? null,
    className: (c) => pick((x) => x.subclasses, (c >> 8) & 0xffff) ?? pick((x) => x.classes, (c >> 16) & 0xff),
    progIfName: (c) => pick((x) => x.progIfs, c & 0xffffff),
  };
}

const cache = new Map<string, PciNames>();

/**
 * The name tables: pci.ids when found (the built-in table fills its gaps), else the built-in table.
 * @param idsFile a pci.ids path to use; null for the built-in table only; default: the usual paths.
 */
export function pciNames(idsFile?: string | null): PciNames {
  const key = idsFile === null ? 'builtin' : (idsFile ?? 'default');
  const hit = cache.get(key);
  if (hit) return hit;
  const builtin = builtinTables();
  let names = namesFrom(builtin, null, 'builtin');
  const candidates = idsFile === null ? [] : idsFile ? [idsFile] : PCI_IDS_PATHS;
  for (const path of candidates) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    names = namesFrom(parsePciIds(text), builtin, `pci.ids ${path}`);
    break;
  }
  cache.set(key, names);
  return names;
}
