// PCI configuration space decoding on bytes (pure: the bytes come from VFIO's config
// region or a test fixture). PCI Local Bus Specification 3.0 §6.1 (header), §6.7
// (capability list), §6.8.1 (MSI), §6.8.2 (MSI-X); PCI Bus Power Management Interface
// 1.2 §3.2; PCI Express Base 4.0 §7.5.3 (PCI Express Capability) and §7.6 (extended
// capabilities from offset 0x100); virtio 1.1 §4.1.4 (virtio_pci_cap). All fields are
// little-endian. Capability names as the PCI Code and ID Assignment Specification 1.11
// spells them.

import { invalidArgument } from '../errors.js';

// §6.1 Type 0/1 header offsets.
/** Config space offset of the Vendor ID. */
export const PCI_VENDOR_ID = 0x00;
/** Config space offset of the Device ID. */
export const PCI_DEVICE_ID = 0x02;
/** Config space offset of the Status register. */
export const PCI_STATUS = 0x06;
/** Config space offset of the Revision ID. */
export const PCI_REVISION_ID = 0x08;
/** Config space offset of the Class Code (3 bytes: prog-if, sub-class, base class). */
export const PCI_CLASS_CODE = 0x09; // 3 bytes: prog-if, sub-class, base class
/** Config space offset of the Header Type. */
export const PCI_HEADER_TYPE = 0x0e;
/** Config space offset of BAR0 (the six BARs follow, 4 bytes each). */
export const PCI_BAR0 = 0x10;
/** Config space offset of the Subsystem Vendor ID. */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Config space offset of the Subsystem ID. */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Config space offset of the Capabilities Pointer. */
export const PCI_CAPABILITIES_POINTER = 0x34;
/** Config space offset of the Interrupt Line. */
export const PCI_INTERRUPT_LINE = 0x3c;
/** Config space offset of the Interrupt Pin. */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Status register bit 4: Capabilities List present (§6.2.3). */
export const PCI_STATUS_CAP_LIST = 1 << 4;
// The Command register bits are in ../config.ts (PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER, ...).

/** Capability IDs (Code and ID Assignment §2). */
export const PCI_CAP_ID = {
  PM: 0x01,
  AGP: 0x02,
  VPD: 0x03,
  SLOTID: 0x04,
  MSI: 0x05,
  CHSWP: 0x06,
  PCIX: 0x07,
  HT: 0x08,
  VNDR: 0x09,
  DBG: 0x0a,
  CCRC: 0x0b,
  SHPC: 0x0c,
  SSVID: 0x0d,
  AGP3: 0x0e,
  SECDEV: 0x0f,
  EXP: 0x10,
  MSIX: 0x11,
  SATA: 0x12,
  AF: 0x13,
  EA: 0x14,
  FPB: 0x15,
} as const;

const CAP_NAMES: Record<number, string> = {
  0x01: 'PCI Power Management Interface',
  0x02: 'AGP',
  0x03: 'VPD',
  0x04: 'Slot Identification',
  0x05: 'MSI',
  0x06: 'CompactPCI Hot Swap',
  0x07: 'PCI-X',
  0x08: 'HyperTransport',
  0x09: 'Vendor Specific',
  0x0a: 'Debug port',
  0x0b: 'CompactPCI central resource control',
  0x0c: 'PCI Hot-Plug',
  0x0d: 'PCI Bridge Subsystem Vendor ID',
  0x0e: 'AGP 8x',
  0x0f: 'Secure Device',
  0x10: 'PCI Express',
  0x11: 'MSI-X',
  0x12: 'Serial ATA Data/Index Configuration',
  0x13: 'Advanced Features',
  0x14: 'Enhanced Allocation',
  0x15: 'Flattening Portal Bridge',
};

/** Extended capability IDs (PCIe Base §7.6, Code and ID Assignment §3). */
const EXT_CAP_NAMES: Record<number, string> = {
  0x0001: 'Advanced Error Reporting',
  0x0002: 'Virtual Channel',
  0x0003: 'Device Serial Number',
  0x0004: 'Power Budgeting',
  0x0005: 'Root Complex Link Declaration',
  0x0006: 'Root Complex Internal Link Control',
  0x0007: 'Root Complex Event Collector Endpoint Association',
  0x0008: 'Multi-Function Virtual Channel',
  0x0009: 'Virtual Channel (MFVC present)',
  0x000a: 'RCRB Header',
  0x000b: 'Vendor-Specific Extended Capability',
  0x000c: 'Configuration Access Correlation',
  0x000d: 'Access Control Services',
  0x000e: 'Alternative Routing-ID Interpretation',
  0x000f: 'Address Translation Services',
  0x0010: 'Single Root I/O Virtualization',
  0x0011: 'Multi-Root I/O Virtualization',
  0x0012: 'Multicast',
  0x0013: 'Page Request Interface',
  0x0015: 'Resizable BAR',
  0x0016: 'Dynamic Power Allocation',
  0x0017: 'TPH Requester',
  0x0018: 'Latency Tolerance Reporting',
  0x0019: 'Secondary PCI Express',
  0x001a: 'Protocol Multiplexing',
  0x001b: 'Process Address Space ID',
  0x001c: 'LN Requester',
  0x001d: 'Downstream Port Containment',
  0x001e: 'L1 PM Substates',
  0x001f: 'Precision Time Measurement',
  0x0020: 'PCI Express over M-PHY',
  0x0021: 'FRS Queueing',
  0x0022: 'Readiness Time Reporting',
  0x0023: 'Designated Vendor-Specific Extended Capability',
  0x0024: 'VF Resizable BAR',
  0x0025: 'Data Link Feature',
  0x0026: 'Physical Layer 16.0 GT/s',
  0x0027: 'Lane Margining at the Receiver',
  0x0028: 'Hierarchy ID',
  0x0029: 'Native PCIe Enclosure Management',
  0x002a: 'Physical Layer 32.0 GT/s',
  0x002b: 'Alternate Protocol',
  0x002c: 'System Firmware Intermediary',
};

/** PCIe Capabilities register, Device/Port Type (PCIe Base §7.5.3.2). */
const PCIE_PORT_TYPES: Record<number, string> = {
  0x0: 'PCI Express Endpoint',
  0x1: 'Legacy PCI Express Endpoint',
  0x4: 'Root Port of PCI Express Root Complex',
  0x5: 'Upstream Port of PCI Express Switch',
  0x6: 'Downstream Port of PCI Express Switch',
  0x7: 'PCI Express to PCI/PCI-X Bridge',
  0x8: 'PCI/PCI-X to PCI Express Bridge',
  0x9: 'Root Complex Integrated Endpoint',
  0xa: 'Root Complex Event Collector',
};

/** virtio_pci_cap.cfg_type (virtio 1.1 §4.1.4). */
export const VIRTIO_PCI_CAP = {
  COMMON_CFG: 1,
  NOTIFY_CFG: 2,
  ISR_CFG: 3,
  DEVICE_CFG: 4,
  PCI_CFG: 5,
  SHARED_MEMORY_CFG: 8,
  VENDOR_CFG: 9,
} as const;
const VIRTIO_CFG_NAMES: Record<number, string> = Object.fromEntries(Object.entries(VIRTIO_PCI_CAP).map(([k, v]) => [v, `VIRTIO_PCI_CAP_${k}`]));

/** The MSI capability: vector count and address width. */
export interface MsiInfo {
  /** Message Control bit 0. */
  enabled: boolean;
  /** 2^(Multiple Message Capable), bits 3:1. */
  vectors: number;
  /** Bit 7: 64 bit address capable. */
  address64: boolean;
  /** Bit 8: per-vector masking capable. */
  perVectorMasking: boolean;
}

/** The MSI-X capability: table size, and the BARs and offsets of the table and the pending bit array. */
export interface MsixInfo {
  /** Message Control bit 15. */
  enabled: boolean;
  /** Message Control bit 14. */
  functionMask: boolean;
  /** Table Size field + 1 (bits 10:0 hold N-1). */
  tableSize: number;
  /** Table BIR (bits 2:0 of the Table Offset/BIR register) and the QWORD-aligned offset. */
  tableBir: number;
  /** Offset of the MSI-X table in that BAR (QWORD aligned). */
  tableOffset: number;
  /** The BAR that holds the Pending Bit Array (PBA BIR). */
  pbaBir: number;
  /** Offset of the Pending Bit Array in that BAR. */
  pbaOffset: number;
}

/** The PCI Express capability: device type, link speed and width. */
export interface PcieInfo {
  /** Capability Version (bits 3:0 of the PCI Express Capabilities Register). */
  version: number;
  /** Device/Port Type (bits 7:4 of the PCI Express Capabilities Register). */
  portType: number;
  /** The Device/Port Type's name ('PCI Express Endpoint', 'Root Port', ...). */
  portTypeName: string;
  /** Device Capabilities bit 28: Function Level Reset Capability. */
  flr: boolean;
  /** Max_Payload_Size Supported, bytes (128 << field). */
  maxPayloadSupported: number;
  /** Link Capabilities: Max Link Speed (1 = 2.5 GT/s, 2 = 5, 3 = 8, 4 = 16, 5 = 32) and width; null if too short. */
  maxLinkSpeed: number | null;
  /** Maximum Link Width (lanes); null if the capability is too short. */
  maxLinkWidth: number | null;
  /** Link Status: Current Link Speed and Negotiated Link Width. */
  linkSpeed: number | null;
  /** Negotiated Link Width (lanes); null if the capability is too short. */
  linkWidth: number | null;
}

/** The Power Management capability: the current power state. */
export interface PmInfo {
  /** PMC bits 2:0: Version (3 = PCI PM 1.2). */
  version: number;
  /** PMCSR bits 1:0: PowerState, 0 = D0 ... 3 = D3hot. */
  powerState: number;
}

/** A virtio vendor-specific capability (virtio 1.2 §4.1.4): which structure, in which BAR, at which offset. */
export interface VirtioPciCap {
  cfgType: number;
  cfgTypeName: string;
  bar: number;
  /** virtio 1.2: id, to tell several caps of one type apart. */
  id: number;
  offset: number;
  length: number;
  /** VIRTIO_PCI_CAP_NOTIFY_CFG only: notify_off_multiplier. */
  notifyOffMultiplier?: number;
}

/** One capability of the standard list: its id, name, offset and what was parsed of it. */
export interface PciCapability {
  id: number;
  name: string;
  /** Offset of the capability in config space. */
  offset: number;
  /** The capability's bytes (from its offset up to the next capability or the header end), for vendor decoders. */
  bytes: Uint8Array;
  msi?: MsiInfo;
  msix?: MsixInfo;
  pcie?: PcieInfo;
  pm?: PmInfo;
  /** Vendor Specific: cap_len (byte 2). */
  vendorLength?: number;
  /** Vendor Specific on a virtio device: the decoded virtio_pci_cap. */
  virtio?: VirtioPciCap;
}

/** One extended capability (PCI Express, at 0x100 and above): its id, version, name and offset. */
export interface PciExtendedCapability {
  id: number;
  name: string;
  version: number;
  offset: number;
  /** Next Capability Offset (bits 31:20), 0 at the end. */
  next: number;
}

/** One BAR as the header describes it: memory or I/O, 64-bit, prefetchable, its address. */
export interface PciBar {
  index: number;
  /** 'io', 'mem32' or 'mem64'. */
  type: 'io' | 'mem32' | 'mem64';
  prefetchable: boolean;
  /** Base address as programmed (the size needs the write-ones probe, which VFIO reports instead). */
  address: bigint;
}

/** The type 0 configuration header: ids, class code, header type, BARs, interrupt pin. */
export interface PciConfigHeader {
  vendorId: number;
  deviceId: number;
  command: number;
  status: number;
  revisionId: number;
  classCode: number;
  headerType: number;
  multiFunction: boolean;
  subsystemVendorId: number | null;
  subsystemId: number | null;
  interruptPin: number;
  bars: PciBar[];
}

/** A parsed config space: the header, the capabilities and the extended capabilities. */
export interface PciConfigSpace {
  header: PciConfigHeader;
  capabilities: PciCapability[];
  extendedCapabilities: PciExtendedCapability[];
  /** Problems met while walking (a cycle, a pointer into the header): the walk stops there. */
  warnings: string[];
}

const u8 = (b: Uint8Array, o: number) => b[o] ?? 0;
const u16 = (b: Uint8Array, o: number) => u8(b, o) | (u8(b, o + 1) << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

/** The name of a capability id (PCI Local Bus 3.0 and PCI Code and ID Assignment). */
export function capabilityName(id: number): string {
  return CAP_NAMES[id] ?? `Unknown capability 0x${id.toString(16).padStart(2, '0')}`;
}

/** The name of an extended capability id (PCI Express). */
export function extendedCapabilityName(id: number): string {
  return EXT_CAP_NAMES[id] ?? `Unknown extended capability 0x${id.toString(16).padStart(4, '0')}`;
}

/** Decodes the type 0/1 header (§6.1). */
export function parseHeader(b: Uint8Array): PciConfigHeader {
  const headerType = u8(b, PCI_HEADER_TYPE) & 0x7f;
  const bars: PciBar[] = [];
  const nbars = headerType === 0 ? 6 : headerType === 1 ? 2 : 0;
  for (let i = 0; i < nbars; i++) {
    const lo = u32(b, PCI_BAR0 + 4 * i);
    if (lo & 1) {
      bars.push({ index: i, type: 'io', prefetchable: false, address: BigInt((lo & ~3) >>> 0) });
      continue;
    }
    const is64 = ((lo >> 1) & 3) === 2;
    const prefetchable = (lo & 8) !== 0;
    let address = BigInt(lo) & 0xffff_fff0n;
    if (is64 && i + 1 < nbars) address |= BigInt(u32(b, PCI_BAR0 + 4 * (i + 1))) << 32n;
    bars.push({ index: i, type: is64 ? 'mem64' : 'mem32', prefetchable, address });
    if (is64) i++; // the upper half uses the next BAR slot (§6.2.5.1)
  }
  return {
    vendorId: u16(b, PCI_VENDOR_ID),
    deviceId: u16(b, PCI_DEVICE_ID),
    command: u16(b, 0x04), // Command register
    status: u16(b, PCI_STATUS),
    revisionId: u8(b, PCI_REVISION_ID),
    classCode: (u8(b, 0x0b) << 16) | (u8(b, 0x0a) << 8) | u8(b, 0x09),
    headerType,
    multiFunction: (u8(b, PCI_HEADER_TYPE) & 0x80) !== 0,
    subsystemVendorId: headerType === 0 ? u16(b, PCI_SUBSYSTEM_VENDOR_ID) : null,
    subsystemId: headerType === 0 ? u16(b, PCI_SUBSYSTEM_ID) : null,
    interruptPin: u8(b, PCI_INTERRUPT_PIN),
    bars,
  };
}

function decodeCap(b: Uint8Array, id: number, off: number, vendorId: number, cap: PciCapability): void {
  switch (id) {
    case PCI_CAP_ID.PM: {
      cap.pm = { version: u16(b, off + 2) & 7, powerState: u16(b, off + 4) & 3 };
      break;
    }
    case PCI_CAP_ID.MSI: {
      const mc = u16(b, off + 2);
      cap.msi = { enabled: (mc & 1) !== 0, vectors: 1 << ((mc >> 1) & 7), address64: (mc & 0x80) !== 0, perVectorMasking: (mc & 0x100) !== 0 };
      break;
    }
    case PCI_CAP_ID.MSIX: {
      const mc = u16(b, off + 2);
      const table = u32(b, off + 4);
      const pba = u32(b, off + 8);
      cap.msix = {
        enabled: (mc & 0x8000) !== 0,
        functionMask: (mc & 0x4000) !== 0,
        tableSize: (mc & 0x7ff) + 1,
        tableBir: table & 7,
        tableOffset: (table & ~7) >>> 0,
        pbaBir: pba & 7,
        pbaOffset: (pba & ~7) >>> 0,
      };
      break;
    }
    case PCI_CAP_ID.EXP: {
      const caps = u16(b, off + 2);
      const devcap = u32(b, off + 4);
      const portType = (caps >> 4) & 0xf;
      const hasLink = b.length >= off + 0x14;
      const lnkcap = u32(b, off + 0x0c);
      const lnksta = u16(b, off + 0x12);
      cap.pcie = {
        version: caps & 0xf,
        portType,
        portTypeName: PCIE_PORT_TYPES[portType] ?? `Reserved (${portType})`,
        flr: (devcap & (1 << 28)) !== 0,
        maxPayloadSupported: 128 << (devcap & 7),
        maxLinkSpeed: hasLink ? lnkcap & 0xf : null,
        maxLinkWidth: hasLink ? (lnkcap >> 4) & 0x3f : null,
        linkSpeed: hasLink ? lnksta & 0xf : null,
        linkWidth: hasLink ? (lnksta >> 4) & 0x3f : null,
      };
      break;
    }
    case PCI_CAP_ID.VNDR: {
      const len = u8(b, off + 2);
      cap.vendorLength = len;
      cap.bytes = b.slice(off, off + Math.max(len, 3));
      if (vendorId === 0x1af4 && len >= 16) cap.virtio = decodeVirtioPciCap(cap.bytes);
      break;
    }
  }
}

/**
 * Decodes a virtio_pci_cap (virtio 1.1 §4.1.4) from a Vendor Specific capability's bytes:
 * cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2], offset (le32), length (le32),
 * and for NOTIFY_CFG notify_off_multiplier (le32) right after.
 */
export function decodeVirtioPciCap(bytes: Uint8Array): VirtioPciCap {
  if (bytes.length < 16) throw invalidArgument('virtio_pci_cap', bytes.length, 'at least 16 bytes');
  const cfgType = u8(bytes, 3);
  const cap: VirtioPciCap = {
    cfgType,
    cfgTypeName: VIRTIO_CFG_NAMES[cfgType] ?? `unknown cfg_type ${cfgType}`,
    bar: u8(bytes, 4),
    id: u8(bytes, 5),
    offset: u32(bytes, 8),
    length: u32(bytes, 12),
  };
  if (cfgType === VIRTIO_PCI_CAP.NOTIFY_CFG && bytes.length >= 20) cap.notifyOffMultiplier = u32(bytes, 16);
  return cap;
}

/**
 * Walks the capability list (§6.7): Status bit 4 says a list exists, the pointer at 0x34
 * (low two bits reserved) names the first; each entry is [ID, Next]. A pointer into the
 * header (< 0x40) or a revisited offset stops the walk with a warning (a cycle would
 * otherwise never end). Then the extended list from 0x100 when 4096 bytes are given.
 * @param bytes 64, 256 or 4096 bytes of config space.
 */
export function parseConfigSpace(bytes: Uint8Array): PciConfigSpace {
  if (bytes.length < 64) throw invalidArgument('config space', bytes.length, 'at least 64 bytes (256 or 4096)');
  const header = parseHeader(bytes);
  const warnings: string[] = [];
  const capabilities: PciCapability[] = [];
  const limit = Math.min(bytes.length, 256);
  if (header.status & PCI_STATUS_CAP_LIST) {
    const seen = new Set<number>();
    let off = u8(bytes, PCI_CAPABILITIES_POINTER) & 0xfc;
    while (off !== 0) {
      if (off < 0x40 || off + 2 > limit) {
        warnings.push(`capability pointer 0x${off.toString(16)} is outside 0x40-0x${(limit - 1).toString(16)}`);
        break;
      }
      if (seen.has(off)) {
        warnings.push(`capability list loops back to 0x${off.toString(16)}`);
        break;
      }
      seen.add(off);
      const id = u8(bytes, off);
      const next = u8(bytes, off + 1) & 0xfc;
      const cap: PciCapability = { id, name: capabilityName(id), offset: off, bytes: bytes.slice(off, next > off ? next : limit) };
      decodeCap(bytes, id, off, header.vendorId, cap);
      capabilities.push(cap);
      off = next;
    }
  }
  const extendedCapabilities: PciExtendedCapability[] = [];
  if (bytes.length >= 4096) {
    const seen = new Set<number>();
    let off = 0x100;
    while (off !== 0) {
      if (off < 0x100 || off + 4 > bytes.length) {
        warnings.push(`extended capability pointer 0x${off.toString(16)} is outside 0x100-0xfff`);
        break;
      }
      if (seen.has(off)) {
        warnings.push(`extended capability list loops back to 0x${off.toString(16)}`);
        break;
      }
      seen.add(off);
      const h = u32(bytes, off);
      // §7.6.2: all zeros at 0x100 (or all ones from a missing device) means no extended capabilities.
      if (h === 0 || h === 0xffffffff) break;
      const id = h & 0xffff;
      const next = (h >>> 20) & 0xffc;
      extendedCapabilities.push({ id, name: extendedCapabilityName(id), version: (h >>> 16) & 0xf, offset: off, next });
      off = next;
    }
  }
  return { header, capabilities, extendedCapabilities, warnings };
}

/** The first capability with this ID, or undefined. */
export function findCapability(cs: PciConfigSpace, id: number): PciCapability | undefined {
  return cs.capabilities.find((c) => c.id === id);
}
