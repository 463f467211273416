// @vfio-node/virtio-net: a userspace driver for virtio network devices (virtio 1.2 §5.1)
// over the modern PCI transport, on VFIO. Start with VirtioNet.open; the queues are the
// hot path (RxQueue.receive, TxQueue.reserve/commit).
/**
 * A userspace driver for virtio network devices (virtio 1.2 §5.1) over the modern PCI
 * transport, on VFIO. Start with {@link VirtioNet.open}; the queues are the hot path
 * ({@link RxQueue.receive}, {@link TxQueue.reserve}). Errors: {@link VIRTIO_NET_ERROR_CODES}.
 *
 * @module @vfio-node/virtio-net
 */

export { VirtioNet, type VirtioNetOptions, type NetStats, type VirtioNetEvents } from './virtio-net.js';
export { RxQueue, TxQueue, PacketPool, copyFrame, type QueueStats } from './queue.js';
export { Feature, negotiate, featureNames, type FeatureName, type FeatureOptions, type Negotiation } from './features.js';
export { CommonCfg, DeviceStatus, NetConfig, VIRTIO_MSI_NO_VECTOR, VIRTIO_NET_S_LINK_UP, describeStatus } from './registers.js';
export { parseVirtioCaps, VirtioPciCapType, type VirtioCap, type VirtioCaps } from './pci-caps.js';
export { SplitRing, splitLayout, type SplitLayout } from './split-ring.js';
export { PackedRing, packedLayout, type PackedLayout } from './packed-ring.js';
export { vring_need_event, type Ring } from './ring.js';
export { VIRTIO_NET_HDR_SIZE, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID, NetHdr, writeNetHdr, readNetHdr, type VirtioNetHdr } from './net-hdr.js';
export { prepareChecksumOffload, completeChecksum, onesComplementSum, TCP_CSUM_OFFSET, UDP_CSUM_OFFSET } from './csum.js';
export { deviceStatusError } from './errors.js';
export { VIRTIO_NET_ERROR_CODES, type VirtioNetErrorCode } from './errors.js';
export { describeSplitDesc, describeAvail, describeUsed, describePackedDesc, describeNetHdr } from './decode.js';
export { BRINGUP_STEPS, type BringupStep, type BringupStepId, type BringupStepText, type BringupObserver } from './bringup.js';
export { QueueTrace, netQueueName, splitNotifyReason, packedNotifyReason } from './queue-trace.js';
export { type PackedRingState } from './packed-ring.js';
