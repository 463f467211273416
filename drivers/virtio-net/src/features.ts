// Feature bits and their negotiation (virtio 1.2 §2.2, §6 reserved feature bits,
// §5.1.3 network device feature bits). Features are 64-bit sets, kept as bigint
// because the device offers them in two 32-bit halves (device_feature_select 0 and 1).

/** Feature bit numbers, as the specification spells them. */
export const Feature = {
  /** §5.1.3: the device handles packets with partial checksum (we may leave the checksum to it). */
  VIRTIO_NET_F_CSUM: 0,
  /** §5.1.3: the driver handles packets with partial checksum (the device may hand us DATA_VALID frames). */
  VIRTIO_NET_F_GUEST_CSUM: 1,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS: 2,
  /** §5.1.3: the device reports its maximum MTU in the config. */
  VIRTIO_NET_F_MTU: 3,
  /** §5.1.3: the device has a MAC address in the config. */
  VIRTIO_NET_F_MAC: 5,
  VIRTIO_NET_F_GUEST_TSO4: 7,
  VIRTIO_NET_F_GUEST_TSO6: 8,
  VIRTIO_NET_F_GUEST_ECN: 9,
  VIRTIO_NET_F_GUEST_UFO: 10,
  VIRTIO_NET_F_HOST_TSO4: 11,
  VIRTIO_NET_F_HOST_TSO6: 12,
  VIRTIO_NET_F_HOST_ECN: 13,
  VIRTIO_NET_F_HOST_UFO: 14,
  /** §5.1.3: the driver can merge receive buffers (num_buffers in the header). */
  VIRTIO_NET_F_MRG_RXBUF: 15,
  /** §5.1.3: the config's status field (link up) is valid. */
  VIRTIO_NET_F_STATUS: 16,
  /** §5.1.3: the control virtqueue exists. */
  VIRTIO_NET_F_CTRL_VQ: 17,
  VIRTIO_NET_F_CTRL_RX: 18,
  VIRTIO_NET_F_CTRL_VLAN: 19,
  VIRTIO_NET_F_GUEST_ANNOUNCE: 21,
  /** §5.1.3: several receive/transmit queue pairs, steered automatically (needs CTRL_VQ). */
  VIRTIO_NET_F_MQ: 22,
  VIRTIO_NET_F_CTRL_MAC_ADDR: 23,
  /** §6: descriptors may point at tables of descriptors. */
  VIRTIO_F_INDIRECT_DESC: 28,
  /** §6: used_event / avail_event fields for notification suppression (§2.7.7, §2.7.10). */
  VIRTIO_F_EVENT_IDX: 29,
  /** §6: compliance with virtio 1.x (not legacy); required by this driver. */
  VIRTIO_F_VERSION_1: 32,
  /** §6: the device accesses memory through the platform's IOMMU: addresses we give are IOVAs. */
  VIRTIO_F_ACCESS_PLATFORM: 33,
  /** §6: the packed virtqueue layout (§2.8). */
  VIRTIO_F_RING_PACKED: 34,
  VIRTIO_F_IN_ORDER: 35,
  VIRTIO_F_ORDER_PLATFORM: 36,
  VIRTIO_F_SR_IOV: 37,
  VIRTIO_F_NOTIFICATION_DATA: 38,
} as const;

/** The name of a feature bit this driver knows (VIRTIO_F_VERSION_1, VIRTIO_NET_F_MQ, ...). */
export type FeatureName = keyof typeof Feature;

export function bit(name: FeatureName): bigint {
  return 1n << BigInt(Feature[name]);
}

export function has(features: bigint, name: FeatureName): boolean {
  return (features & bit(name)) !== 0n;
}

/** The names of the known bits set in features, lowest first; unknown bits as "bitN". */
export function featureNames(features: bigint): string[] {
  const out: string[] = [];
  const byBit = new Map<number, string>(Object.entries(Feature).map(([k, v]) => [v, k]));
  for (let i = 0; i < 64; i++) if (features & (1n << BigInt(i))) out.push(byBit.get(i) ?? `bit${i}`);
  return out;
}

/** Which optional features the driver wants (each default true, used when offered; packed: default false, see README "Split or packed?"). */
export interface FeatureOptions {
  mac?: boolean;
  status?: boolean;
  mrgRxbuf?: boolean;
  /** VIRTIO_NET_F_CSUM and VIRTIO_NET_F_GUEST_CSUM together. */
  csum?: boolean;
  mq?: boolean;
  eventIdx?: boolean;
  /**
   * Packed virtqueues when the device offers them. Default false: split rings measured 2-4x
   * faster on QEMU's device (bench/RESULTS.md), and the C transmit loop is split-only; DPDK's
   * virtio PMD also asks for packed rings only when told to.
   */
  packed?: boolean;
  mtu?: boolean;
}

/** The outcome of negotiate(): the features to accept, or why the device cannot be driven. */
export interface Negotiation {
  /** What the driver writes to driver_feature. */
  accepted: bigint;
  /** Set when negotiation must fail: the reason, for the error message. */
  refusal?: { missing: FeatureName; why: string };
}

/**
 * Chooses the driver's features from the device's offer (§3.1.1 step 4): VERSION_1
 * is required (this driver has no legacy layout); ACCESS_PLATFORM is accepted whenever
 * offered (§6: a driver SHOULD accept it, and behind an IOMMU it must, or the device
 * would DMA to guest-physical addresses instead of our IOVAs); each optional feature
 * is taken when offered and not switched off, except packed rings, taken only when
 * asked for (packed: true). Nothing we do not implement is accepted.
 */
export function negotiate(offered: bigint, options: FeatureOptions = {}): Negotiation {
  if (!has(offered, 'VIRTIO_F_VERSION_1')) {
    return { accepted: 0n, refusal: { missing: 'VIRTIO_F_VERSION_1', why: 'the device is legacy-only; this driver implements the virtio 1.x (modern) interface' } };
  }
  let want = bit('VIRTIO_F_VERSION_1') | bit('VIRTIO_F_ACCESS_PLATFORM');
  const optional: Array<[keyof FeatureOptions, FeatureName[]]> = [
    ['mac', ['VIRTIO_NET_F_MAC']],
    ['status', ['VIRTIO_NET_F_STATUS']],
    ['mrgRxbuf', ['VIRTIO_NET_F_MRG_RXBUF']],
    ['csum', ['VIRTIO_NET_F_CSUM', 'VIRTIO_NET_F_GUEST_CSUM']],
    ['mq', ['VIRTIO_NET_F_MQ', 'VIRTIO_NET_F_CTRL_VQ']],
    ['eventIdx', ['VIRTIO_F_EVENT_IDX']],
    ['packed', ['VIRTIO_F_RING_PACKED']],
    ['mtu', ['VIRTIO_NET_F_MTU']],
  ];
  for (const [opt, names] of optional) {
    const wanted = opt === 'packed' ? options.packed === true : options[opt] !== false;
    if (wanted) for (const n of names) want |= bit(n);
  }
  let accepted = offered & want;
  // §5.1.3.1: VIRTIO_NET_F_MQ requires VIRTIO_NET_F_CTRL_VQ (the queue count is set through it).
  if (has(accepted, 'VIRTIO_NET_F_MQ') && !has(accepted, 'VIRTIO_NET_F_CTRL_VQ')) accepted &= ~bit('VIRTIO_NET_F_MQ');
  // We only use the control queue for MQ; without MQ we leave it out.
  if (!has(accepted, 'VIRTIO_NET_F_MQ')) accepted &= ~bit('VIRTIO_NET_F_CTRL_VQ');
  return { accepted };
}
