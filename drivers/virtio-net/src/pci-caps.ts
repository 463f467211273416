// Where a modern virtio PCI device keeps its structures: vendor-specific PCI
// capabilities (cap_vndr 0x09) of the form struct virtio_pci_cap, each naming a BAR,
// an offset and a length (virtio 1.2 §4.1.4). Pure: it reads a copy of the
// configuration space, so the unit tests give it bytes.

/** PCI capability ID of vendor-specific capabilities (PCI Local Bus 3.0 §6.7, Appendix H). */
export const PCI_CAP_ID_VNDR = 0x09;
/** Offset of the Capabilities Pointer in a type 0 header. */
const PCI_CAPABILITY_LIST = 0x34;
/** Status register (0x06) bit 4: the capability list exists. */
const PCI_STATUS = 0x06;
const PCI_STATUS_CAP_LIST = 1 << 4;

/** cfg_type values (§4.1.4). */
export const VirtioPciCapType = {
  VIRTIO_PCI_CAP_COMMON_CFG: 1,
  VIRTIO_PCI_CAP_NOTIFY_CFG: 2,
  VIRTIO_PCI_CAP_ISR_CFG: 3,
  VIRTIO_PCI_CAP_DEVICE_CFG: 4,
  VIRTIO_PCI_CAP_PCI_CFG: 5,
  VIRTIO_PCI_CAP_SHARED_MEMORY_CFG: 8,
  VIRTIO_PCI_CAP_VENDOR_CFG: 9,
} as const;

/** struct virtio_pci_cap field offsets (§4.1.4): 16 bytes, then type-specific fields. */
export const VirtioPciCap = {
  cap_vndr: 0,
  cap_next: 1,
  cap_len: 2,
  cfg_type: 3,
  bar: 4,
  id: 5,
  // padding[2] at 6
  offset: 8,
  length: 12,
  /** struct virtio_pci_notify_cap: le32 notify_off_multiplier after the common part (§4.1.4.4). */
  notify_off_multiplier: 16,
  /** struct virtio_pci_cfg_cap: u8 pci_cfg_data[4] after the common part (§4.1.4.9). */
  pci_cfg_data: 16,
} as const;

/** One decoded virtio_pci_cap. */
export interface VirtioCap {
  /** Offset of the capability in configuration space. */
  at: number;
  cfgType: number;
  bar: number;
  offset: number;
  length: number;
  /** Only for VIRTIO_PCI_CAP_NOTIFY_CFG. */
  notifyOffMultiplier?: number;
}

/** The structures a driver needs, each the first capability of its type with a usable BAR (§4.1.4.1: the driver SHOULD use the first it can). */
export interface VirtioCaps {
  common?: VirtioCap;
  notify?: VirtioCap;
  isr?: VirtioCap;
  device?: VirtioCap;
  pciCfg?: VirtioCap;
  all: VirtioCap[];
}

/**
 * Walks the capability list of a configuration space copy and decodes every
 * virtio_pci_cap. Loops and out-of-range pointers end the walk (a broken list is the
 * device's problem; the caller reports what is missing).
 */
export function parseVirtioCaps(config: Uint8Array): VirtioCaps {
  const view = new DataView(config.buffer, config.byteOffset, config.byteLength);
  const out: VirtioCaps = { all: [] };
  if (config.length < 0x40 || !(view.getUint16(PCI_STATUS, true) & PCI_STATUS_CAP_LIST)) return out;
  const seen = new Set<number>();
  let at = view.getUint8(PCI_CAPABILITY_LIST) & ~3;
  while (at >= 0x40 && at + 2 <= Math.min(config.length, 256) && !seen.has(at)) {
    seen.add(at);
    const id = view.getUint8(at);
    const next = view.getUint8(at + 1) & ~3;
    if (id === PCI_CAP_ID_VNDR && at + 16 <= config.length && view.getUint8(at + VirtioPciCap.cap_len) >= 16) {
      const cap: VirtioCap = {
        at,
        cfgType: view.getUint8(at + VirtioPciCap.cfg_type),
        bar: view.getUint8(at + VirtioPciCap.bar),
        offset: view.getUint32(at + VirtioPciCap.offset, true),
        length: view.getUint32(at + VirtioPciCap.length, true),
      };
      if (cap.cfgType === VirtioPciCapType.VIRTIO_PCI_CAP_NOTIFY_CFG && view.getUint8(at + VirtioPciCap.cap_len) >= 20 && at + 20 <= config.length) {
        cap.notifyOffMultiplier = view.getUint32(at + VirtioPciCap.notify_off_multiplier, true);
      }
      out.all.push(cap);
      // BARs 0-5 only; §4.1.4: values 0x6-0x7 are reserved, and the driver MUST ignore such a capability.
      if (cap.bar <= 5) {
        const T = VirtioPciCapType;
        if (cap.cfgType === T.VIRTIO_PCI_CAP_COMMON_CFG) out.common ??= cap;
        else if (cap.cfgType === T.VIRTIO_PCI_CAP_NOTIFY_CFG) out.notify ??= cap;
        else if (cap.cfgType === T.VIRTIO_PCI_CAP_ISR_CFG) out.isr ??= cap;
        else if (cap.cfgType === T.VIRTIO_PCI_CAP_DEVICE_CFG) out.device ??= cap;
        else if (cap.cfgType === T.VIRTIO_PCI_CAP_PCI_CFG) out.pciCfg ??= cap;
      }
    }
    at = next;
  }
  return out;
}
