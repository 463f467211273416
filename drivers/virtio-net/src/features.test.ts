import { describe, expect, it } from 'vitest';
import { bit, featureNames, has, negotiate, type FeatureName } from './features.js';

const set = (...names: FeatureName[]) => names.reduce((f, n) => f | bit(n), 0n);
// What QEMU 7.2's virtio-net-pci offers with iommu_platform=on (mq and packed off).
const qemu = set('VIRTIO_NET_F_CSUM', 'VIRTIO_NET_F_GUEST_CSUM', 'VIRTIO_NET_F_CTRL_GUEST_OFFLOADS', 'VIRTIO_NET_F_MAC', 'VIRTIO_NET_F_GUEST_TSO4', 'VIRTIO_NET_F_HOST_TSO4', 'VIRTIO_NET_F_MRG_RXBUF', 'VIRTIO_NET_F_STATUS', 'VIRTIO_NET_F_CTRL_VQ', 'VIRTIO_NET_F_CTRL_RX', 'VIRTIO_F_INDIRECT_DESC', 'VIRTIO_F_EVENT_IDX', 'VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM');

describe('feature negotiation (virtio 1.2 §2.2, §5.1.3)', () => {
  it('feature bit numbers are the specification’s', () => {
    expect(bit('VIRTIO_F_VERSION_1')).toBe(1n << 32n);
    expect(bit('VIRTIO_F_ACCESS_PLATFORM')).toBe(1n << 33n);
    expect(bit('VIRTIO_F_RING_PACKED')).toBe(1n << 34n);
    expect(bit('VIRTIO_F_EVENT_IDX')).toBe(1n << 29n);
    expect(bit('VIRTIO_NET_F_MRG_RXBUF')).toBe(1n << 15n);
    expect(bit('VIRTIO_NET_F_MQ')).toBe(1n << 22n);
  });

  it('takes what it implements from a QEMU-like offer, nothing else', () => {
    const { accepted, refusal } = negotiate(qemu);
    expect(refusal).toBeUndefined();
    expect(featureNames(accepted)).toEqual(['VIRTIO_NET_F_CSUM', 'VIRTIO_NET_F_GUEST_CSUM', 'VIRTIO_NET_F_MAC', 'VIRTIO_NET_F_MRG_RXBUF', 'VIRTIO_NET_F_STATUS', 'VIRTIO_F_EVENT_IDX', 'VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM']);
  });

  it('switches each optional feature off on request', () => {
    const { accepted } = negotiate(qemu, { eventIdx: false, mrgRxbuf: false, csum: false, mac: false, status: false });
    expect(featureNames(accepted)).toEqual(['VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM']);
  });

  it('takes MQ only with CTRL_VQ, and packed rings only when asked for', () => {
    expect(has(negotiate(qemu | bit('VIRTIO_NET_F_MQ')).accepted, 'VIRTIO_NET_F_MQ')).toBe(true);
    expect(has(negotiate(qemu | bit('VIRTIO_NET_F_MQ')).accepted, 'VIRTIO_NET_F_CTRL_VQ')).toBe(true);
    expect(has(negotiate((qemu | bit('VIRTIO_NET_F_MQ')) & ~bit('VIRTIO_NET_F_CTRL_VQ')).accepted, 'VIRTIO_NET_F_MQ')).toBe(false);
    expect(has(negotiate(qemu | bit('VIRTIO_F_RING_PACKED')).accepted, 'VIRTIO_F_RING_PACKED')).toBe(false);
    expect(has(negotiate(qemu | bit('VIRTIO_F_RING_PACKED'), { packed: true }).accepted, 'VIRTIO_F_RING_PACKED')).toBe(true);
    expect(has(negotiate(qemu | bit('VIRTIO_F_RING_PACKED'), { packed: false }).accepted, 'VIRTIO_F_RING_PACKED')).toBe(false);
  });

  it('refuses a legacy-only device (no VERSION_1)', () => {
    expect(negotiate(qemu & ~bit('VIRTIO_F_VERSION_1')).refusal?.missing).toBe('VIRTIO_F_VERSION_1');
  });
});
