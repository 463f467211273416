import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet, DeviceStatus, featureNames } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

describe('a virtio-net NIC comes up through the virtio 1.x handshake behind the IOMMU', () => {
  let nic: VirtioNet;
  beforeAll(() => {
    nic = VirtioNet.open(labNics()[0]!);
  });
  afterAll(() => nic?.close());

  it('ends with ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK and nothing else in device_status', () => {
    expect(nic.status).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    expect(() => nic.checkStatus()).not.toThrow();
  });

  it('negotiated VERSION_1 and ACCESS_PLATFORM, and the optional features QEMU offers', () => {
    const names = featureNames(nic.features);
    expect(names).toContain('VIRTIO_F_VERSION_1');
    expect(names).toContain('VIRTIO_F_ACCESS_PLATFORM');
    expect(names).toEqual(expect.arrayContaining(['VIRTIO_NET_F_MAC', 'VIRTIO_NET_F_STATUS', 'VIRTIO_NET_F_MRG_RXBUF', 'VIRTIO_F_EVENT_IDX']));
    expect(nic.packed).toBe(false); // QEMU offers packed rings only with packed=on
  });

  it("reads the MAC address the lab gave the NIC and reports the link up", () => {
    expect(nic.macString).toMatch(/^52:54:00:12:34:5[6-9a-f]$/);
    expect(nic.linkUp).toBe(true);
    expect(nic.mtu).toBe(1500);
  });

  it('refuses to open the same NIC a second time in this process, leaving the first one working', () => {
    expect(() => VirtioNet.open(labNics()[0]!)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_BUSY' }));
    expect(nic.status & DeviceStatus.DRIVER_OK).toBe(DeviceStatus.DRIVER_OK);
  });
});
