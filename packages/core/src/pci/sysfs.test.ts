import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { VfioError } from '../errors.js';
import {
  PCI_CLASS_NVME,
  currentDriver,
  findPciDevices,
  iommuGroupOf,
  listPciAddresses,
  listPciDevices,
  parseClassFilter,
  readPciDevice,
  requirePciDevice,
} from './sysfs.js';

let h: FakeHost;
beforeEach(() => {
  h = labLikeHost();
});
afterEach(() => h.cleanup());

describe('discovery on a fake sysfs', () => {
  it('lists every function, sorted', () => {
    expect(listPciAddresses(h.roots)).toEqual(['0000:00:00.0', '0000:00:03.0', '0000:00:04.0', '0000:00:05.0', '0000:00:1c.0', '0000:01:00.0', '0000:01:00.1']);
  });

  it('reads the NVMe controller fully', () => {
    const d = readPciDevice('00:03.0', { ...h.roots, idsFile: null });
    expect(d).toEqual({
      address: '0000:00:03.0',
      classCode: 0x010802,
      className: 'Non-Volatile memory controller',
      vendorId: 0x1b36,
      deviceId: 0x0010,
      subsystemVendorId: 0x1af4,
      subsystemDeviceId: 0x1100,
      revision: 2,
      vendorName: 'Red Hat, Inc.',
      deviceName: 'QEMU NVM Express Controller',
      driver: 'nvme',
      driverOverride: null,
      iommuGroup: 3,
      groupPeers: [],
      numaNode: 0,
      modalias: 'pci:v00001B36d00000010sv*sd*bc*sc*i*',
    });
  });

  it('reports group peers, no driver and no NUMA node', () => {
    const d = readPciDevice('0000:01:00.1', h.roots);
    expect(d.driver).toBeNull();
    expect(d.numaNode).toBeNull();
    expect(d.iommuGroup).toBe(7);
    expect(d.groupPeers).toEqual(['0000:00:1c.0', '0000:01:00.0']);
  });

  it('reports a device without an IOMMU group', () => {
    h.addDevice({ address: '0000:00:06.0', vendor: 0x8086, device: 0x100e, classCode: 0x020000, driver: 'e1000' });
    expect(iommuGroupOf('00:06.0', h.roots)).toBeNull();
    expect(readPciDevice('00:06.0', h.roots).groupPeers).toEqual([]);
    expect(currentDriver('00:06.0', h.roots)).toBe('e1000');
  });

  it('finds NVMe by class and virtio-net by vendor/device', () => {
    expect(findPciDevices({ classCode: PCI_CLASS_NVME }, h.roots).map((d) => d.address)).toEqual(['0000:00:03.0']);
    expect(findPciDevices(parseClassFilter('virtio-net'), h.roots).map((d) => d.address)).toEqual(['0000:00:04.0', '0000:00:05.0']);
    expect(findPciDevices(parseClassFilter('net'), h.roots).map((d) => d.address)).toEqual(['0000:00:04.0', '0000:00:05.0', '0000:01:00.0', '0000:01:00.1']);
    expect(findPciDevices(parseClassFilter('0x010802'), h.roots).map((d) => d.address)).toEqual(['0000:00:03.0']);
    expect(findPciDevices(parseClassFilter('0604'), h.roots).map((d) => d.address)).toEqual(['0000:00:1c.0']);
    expect(findPciDevices(parseClassFilter('06'), h.roots).map((d) => d.address)).toEqual(['0000:00:00.0', '0000:00:1c.0']);
  });

  it('rejects an unknown class filter', () => {
    expect(() => parseClassFilter('gpu-ish')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => parseClassFilter('0x12345')).toThrow(/nvme, storage, net/);
  });

  it('throws ERR_NO_SUCH_DEVICE with the list hint', () => {
    let err: VfioError | undefined;
    try {
      requirePciDevice('0000:00:09.0', h.roots);
    } catch (e) {
      err = e as VfioError;
    }
    expect(err).toBeInstanceOf(VfioError);
    expect(err!.code).toBe('ERR_NO_SUCH_DEVICE');
    expect(err!.message).toContain('0000:00:09.0');
    expect(err!.hint).toContain('vfio-node list');
    expect(err!.device).toBe('0000:00:09.0');
    expect(() => readPciDevice('zz:00.0', h.roots)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_PCI_ADDRESS' }));
  });

  it('returns an empty list for a tree without PCI', () => {
    expect(listPciDevices({ sysfs: h.root + '/nothing' })).toEqual([]);
  });
});

describe('discovery on the real host /sys (smoke)', () => {
  it('lists a non-empty array without throwing', () => {
    const devs = listPciDevices();
    expect(devs.length).toBeGreaterThan(0);
    for (const d of devs) {
      expect(d.address).toMatch(/^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      expect(d.classCode).toBeGreaterThanOrEqual(0);
      expect(d.classCode).toBeLessThanOrEqual(0xffffff);
    }
  });
});
