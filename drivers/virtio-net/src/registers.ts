// The registers of a modern virtio PCI device and of the network device, as the
// Virtual I/O Device (VIRTIO) Version 1.2 specification names them (§4.1.4.3
// struct virtio_pci_common_cfg, §2.1 device status field, §5.1.4 struct
// virtio_net_config). Offsets are relative to the structure, which the PCI
// capabilities place inside a BAR (see pci-caps.ts).

/** struct virtio_pci_common_cfg (§4.1.4.3). All fields little-endian. */
export const CommonCfg = {
  /** le32, read-write: selects which 32 feature bits device_feature shows. */
  device_feature_select: 0x00,
  /** le32, read-only. */
  device_feature: 0x04,
  /** le32, read-write: selects which 32 feature bits driver_feature takes. */
  driver_feature_select: 0x08,
  /** le32, read-write. */
  driver_feature: 0x0c,
  /** le16, read-write: MSI-X vector for configuration changes (`config_msix_vector` in 1.2, `msix_config` in 1.0/1.1). */
  msix_config: 0x10,
  /** le16, read-only: virtqueues the device supports. */
  num_queues: 0x12,
  /** u8, read-write: §2.1. Writing 0 resets the device. */
  device_status: 0x14,
  /** u8, read-only: changes whenever the device configuration changes (§2.5.1). */
  config_generation: 0x15,
  /** le16, read-write: the queue the queue_* fields below refer to. */
  queue_select: 0x16,
  /** le16, read-write: maximum size on read (0: queue unavailable); the driver may write a smaller one. */
  queue_size: 0x18,
  /** le16, read-write: MSI-X vector of the selected queue. */
  queue_msix_vector: 0x1a,
  /** le16, read-write: 1 enables the selected queue. */
  queue_enable: 0x1c,
  /** le16, read-only: where this queue's doorbell is in the notification structure. */
  queue_notify_off: 0x1e,
  /** le64, read-write: Descriptor Area (descriptor table / packed ring). */
  queue_desc: 0x20,
  /** le64, read-write: Driver Area (available ring / driver event suppression). */
  queue_driver: 0x28,
  /** le64, read-write: Device Area (used ring / device event suppression). */
  queue_device: 0x30,
} as const;

/** Register names by offset, for the trace log (Region.setRegisterNames wants absolute offsets: add the structure's). */
export const commonCfgNames: Record<number, string> = Object.fromEntries(Object.entries(CommonCfg).map(([k, v]) => [v, k]));

/** Written to msix_config / queue_msix_vector for "no vector"; read back when the device refused a vector (§4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** device_status bits (§2.1). */
export const DeviceStatus = {
  /** The guest OS has noticed the device. */
  ACKNOWLEDGE: 1,
  /** The guest OS knows how to drive the device. */
  DRIVER: 2,
  /** The driver is set up and ready to drive the device. */
  DRIVER_OK: 4,
  /** The driver has acknowledged the features it understands; negotiation is complete. */
  FEATURES_OK: 8,
  /** The device has met an error from which it cannot recover: it must be reset. */
  DEVICE_NEEDS_RESET: 64,
  /** Something went wrong in the guest; the driver gave up on the device. */
  FAILED: 128,
} as const;

/** Names of the bits set in a device_status value, for messages ("ACKNOWLEDGE|DRIVER"). */
export function describeStatus(status: number): string {
  if (status === 0) return '0 (reset)';
  const names = Object.entries(DeviceStatus)
    .filter(([, bit]) => status & bit)
    .map(([name]) => name);
  return `${names.join('|') || 'none'} (0x${status.toString(16)})`;
}

/** struct virtio_net_config (§5.1.4), in the device-specific structure. */
export const NetConfig = {
  /** u8[6]: valid with VIRTIO_NET_F_MAC. */
  mac: 0x00,
  /** le16: valid with VIRTIO_NET_F_STATUS. */
  status: 0x06,
  /** le16: valid with VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS. */
  max_virtqueue_pairs: 0x08,
  /** le16: valid with VIRTIO_NET_F_MTU. */
  mtu: 0x0a,
} as const;

/** virtio_net_config.status bits (§5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;

/** ISR status bits (§4.1.4.5): read-to-clear, only meaningful without MSI-X. */
export const ISR_QUEUE_INTERRUPT = 1;
export const ISR_DEVICE_CONFIGURATION_INTERRUPT = 2;
