import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { bindDevice, defaultKernelDriver, describeBinding, recallOriginalDriver, unbindDevice } from './bind.js';

let h: FakeHost;
beforeEach(() => {
  h = labLikeHost();
  h.setMountinfo([]);
  h.setSwaps([]);
});
afterEach(() => h.cleanup());

const rel = (h: FakeHost, p: string) => p.slice(h.root.length);

describe('bindDevice', () => {
  it('loads vfio-pci, writes driver_override, unbinds, probes, and checks /dev/vfio/<group>', () => {
    const r = bindDevice('00:04.0', { ...h.opts, timeoutMs: 100 });
    expect(h.execs).toEqual([
      ['modprobe', 'vfio-pci'],
      ['modprobe', 'vfio_iommu_type1'],
    ]);
    expect(h.writes.map((w) => [rel(h, w.path), w.data])).toEqual([
      ['/sys/bus/pci/devices/0000:00:04.0/driver_override', 'vfio-pci'],
      ['/sys/bus/pci/devices/0000:00:04.0/driver/unbind', '0000:00:04.0'],
      ['/sys/bus/pci/drivers_probe', '0000:00:04.0'],
    ]);
    expect(r).toMatchObject({
      address: '0000:00:04.0',
      previousDriver: 'virtio-pci',
      driver: 'vfio-pci',
      alreadyBound: false,
      iommuGroup: 4,
      vfioGroupPath: join(h.devfs, 'vfio/4'),
      modulesLoaded: ['vfio-pci', 'vfio_iommu_type1'],
      forcedUses: [],
      nonViablePeers: [],
    });
    expect(r.actions[0]).toBe(`echo vfio-pci > ${h.sysfs}/bus/pci/devices/0000:00:04.0/driver_override`);
    expect(h.driverOf('0000:00:04.0')).toBe('vfio-pci');
    expect(existsSync(join(h.devfs, 'vfio/4'))).toBe(true);
    expect(readFileSync(join(h.runDir, '0000:00:04.0.driver'), 'utf8')).toBe('virtio-pci\n');
    expect(recallOriginalDriver('00:04.0', h.roots)).toBe('virtio-pci');
  });

  it('does nothing for a device already on vfio-pci', () => {
    bindDevice('00:04.0', { ...h.opts, timeoutMs: 100 });
    h.writes.length = 0;
    const r = bindDevice('0000:00:04.0', { ...h.opts, timeoutMs: 100 });
    expect(r.alreadyBound).toBe(true);
    expect(h.writes).toEqual([]);
  });

  it('binds an unbound device without an unbind write', () => {
    h.loadModule('vfio-pci');
    h.loadModule('vfio_iommu_type1');
    const r = bindDevice('01:00.1', { ...h.opts, timeoutMs: 100 });
    expect(h.execs).toEqual([]);
    expect(h.writes.map((w) => rel(h, w.path))).toEqual(['/sys/bus/pci/devices/0000:01:00.1/driver_override', '/sys/bus/pci/drivers_probe']);
    expect(r.previousDriver).toBeNull();
    // the e1000e sibling keeps group 7 non-viable: reported so the CLI can say so
    expect(r.nonViablePeers).toEqual([{ address: '0000:01:00.0', driver: 'e1000e', bridge: false }]);
  });

  it('refuses a device in use and writes nothing; --force takes it', () => {
    h.addMount(30, '259:1', '/boot', 'ext4', '/dev/nvme0n1p1');
    expect(() => bindDevice('00:03.0', { ...h.opts, timeoutMs: 100 })).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_IN_USE', message: expect.stringContaining('/dev/nvme0n1p1 is mounted on /boot') }));
    expect(h.writes).toEqual([]);
    expect(h.driverOf('0000:00:03.0')).toBe('nvme');
    const r = bindDevice('00:03.0', { ...h.opts, timeoutMs: 100, force: true });
    expect(r.forcedUses.map((u) => u.kind)).toEqual(['mount', 'holder']);
    expect(h.driverOf('0000:00:03.0')).toBe('vfio-pci');
  });

  it('reports ERR_MODPROBE_FAILED when vfio-pci cannot be loaded', () => {
    h.availableModules.delete('vfio-pci');
    expect(() => bindDevice('00:04.0', { ...h.opts, timeoutMs: 100 })).toThrow(
      expect.objectContaining({ code: 'ERR_MODPROBE_FAILED', message: expect.stringContaining('Module vfio-pci not found'), hint: expect.stringContaining('modprobe vfio-pci') }),
    );
    expect(h.writes).toEqual([]);
  });

  it('reports ERR_BIND_FAILED when the kernel leaves the device elsewhere', () => {
    h.loadModule('vfio-pci');
    h.loadModule('vfio_iommu_type1');
    const opts = { ...h.opts, timeoutMs: 50, write: (p: string, d: string) => h.writes.push({ path: p, data: d }) };
    expect(() => bindDevice('00:05.0', opts)).toThrow(expect.objectContaining({ code: 'ERR_BIND_FAILED', message: '0000:00:05.0: expected driver vfio-pci after probing, found virtio-pci' }));
  });

  it('turns EACCES into a hint to run as root', () => {
    h.loadModule('vfio-pci');
    h.loadModule('vfio_iommu_type1');
    const opts = {
      ...h.opts,
      write: () => {
        throw Object.assign(new Error("EACCES: permission denied, open '/sys/...'"), { code: 'EACCES', errno: -13 });
      },
    };
    expect(() => bindDevice('00:05.0', opts)).toThrow(expect.objectContaining({ code: 'EACCES', errno: 13, syscall: 'write', hint: expect.stringContaining('root') }));
  });

  it('refuses a device without an IOMMU group', () => {
    h.addDevice({ address: '0000:00:06.0', vendor: 0x8086, device: 0x100e, classCode: 0x020000, driver: 'e1000' });
    expect(() => bindDevice('00:06.0', h.opts)).toThrow(expect.objectContaining({ code: 'ERR_NO_IOMMU_GROUP' }));
  });

  it('binds to another driver with opts.driver', () => {
    h.addDriver('pci-stub');
    const r = bindDevice('01:00.1', { ...h.opts, driver: 'pci-stub', timeoutMs: 50 });
    expect(r.driver).toBe('pci-stub');
    expect(r.vfioGroupPath).toBeNull();
    expect(h.driverOf('0000:01:00.1')).toBe('pci-stub');
  });

  it('refuses a driver that is not registered, or a name that walks out of /sys/bus/pci/drivers, and writes nothing', () => {
    h.addDriver('pci-stub');
    for (const driver of ['vfio_pci', 'nvme2', '../..', '..', 'nvme/../e1000e', '', 'pci stub']) {
      expect(() => bindDevice('01:00.1', { ...h.opts, driver, timeoutMs: 50 })).toThrow(
        expect.objectContaining({
          code: 'ERR_NO_SUCH_DRIVER',
          message: `no PCI driver ${JSON.stringify(driver)} is registered (/sys/bus/pci/drivers)`,
          hint: 'Registered PCI drivers: e1000e, nvme, pci-stub, pcieport, virtio-pci. Load a driver\'s module first (modprobe) to bind to it.',
        }),
      );
    }
    expect(h.writes).toEqual([]);
    expect(h.execs).toEqual([]);
    expect(h.driverOf('0000:01:00.1')).toBeNull();
  });
});

describe('unbindDevice', () => {
  it('clears driver_override, unbinds, probes: the original driver comes back', () => {
    bindDevice('00:04.0', { ...h.opts, timeoutMs: 100 });
    h.writes.length = 0;
    const r = unbindDevice('00:04.0', { ...h.opts, timeoutMs: 100 });
    expect(h.writes.map((w) => [rel(h, w.path), w.data])).toEqual([
      ['/sys/bus/pci/devices/0000:00:04.0/driver_override', '\n'],
      ['/sys/bus/pci/devices/0000:00:04.0/driver/unbind', '0000:00:04.0'],
      ['/sys/bus/pci/drivers_probe', '0000:00:04.0'],
    ]);
    expect(r).toMatchObject({ previousDriver: 'vfio-pci', driver: 'virtio-pci', alreadyUnbound: false, modulesLoaded: [] });
    expect(h.driverOf('0000:00:04.0')).toBe('virtio-pci');
    expect(existsSync(join(h.devfs, 'vfio/4'))).toBe(false);
    expect(existsSync(join(h.runDir, '0000:00:04.0.driver'))).toBe(false);
  });

  it('loads the original driver module when nothing claims the device', () => {
    bindDevice('00:03.0', { ...h.opts, timeoutMs: 100, force: true });
    // the nvme driver went away meanwhile (rmmod nvme)
    h.cleanupDriver('nvme');
    const r = unbindDevice('00:03.0', { ...h.opts, timeoutMs: 100 });
    expect(h.execs.at(-1)).toEqual(['modprobe', 'nvme']);
    expect(r.modulesLoaded).toEqual(['nvme']);
    expect(r.driver).toBe('nvme');
  });

  it('leaves a device on its kernel driver alone', () => {
    const r = unbindDevice('00:05.0', h.opts);
    expect(r).toMatchObject({ alreadyUnbound: true, driver: 'virtio-pci' });
    expect(h.writes).toEqual([]);
  });
});

describe('describeBinding and defaultKernelDriver', () => {
  it('explains a device on another driver, on none, and on vfio-pci', () => {
    expect(describeBinding('00:03.0', h.roots)).toMatchObject({
      driver: 'nvme',
      boundToVfio: false,
      message: '0000:00:03.0 is bound to nvme, not vfio-pci',
      hint: "Run 'vfio-node bind 0000:00:03.0' (as root) first.",
    });
    expect(describeBinding('01:00.1', h.roots).message).toBe('0000:01:00.1 is bound to no driver, not vfio-pci');
    bindDevice('00:04.0', { ...h.opts, timeoutMs: 100 });
    expect(describeBinding('00:04.0', h.roots)).toMatchObject({ boundToVfio: true, iommuGroup: 4, vfioGroupPath: join(h.devfs, 'vfio/4'), hint: null, message: '0000:00:04.0 is bound to vfio-pci (IOMMU group 4)' });
  });

  it('knows nvme and virtio-pci by class/vendor, others through modprobe -R', () => {
    expect(defaultKernelDriver({ classCode: 0x010802, vendorId: 0x144d, modalias: null }, h.opts)).toBe('nvme');
    expect(defaultKernelDriver({ classCode: 0x020000, vendorId: 0x1af4, modalias: null }, h.opts)).toBe('virtio-pci');
    expect(defaultKernelDriver({ classCode: 0x020000, vendorId: 0x8086, modalias: 'pci:v00008086d000010D3sv*' }, h.opts)).toBe('e1000e');
    expect(h.execs.at(-1)).toEqual(['modprobe', '-R', 'pci:v00008086d000010D3sv*']);
  });
});
