import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { bindDevice } from '../pci/bind.js';
import { deviceChecks, formatDoctorTable, hostChecks, runDoctor } from './doctor.js';

let h: FakeHost;
beforeEach(() => {
  h = labLikeHost();
});
afterEach(() => h.cleanup());

const byName = (checks: { name: string; ok: boolean }[]) => Object.fromEntries(checks.map((c) => [c.name, c.ok]));

describe('doctor', () => {
  it('fails every host check on a bare host, each with its fix', () => {
    const g = new FakeHost();
    try {
      const checks = hostChecks(g.roots);
      expect(checks.map((c) => c.name)).toEqual(['IOMMU enabled', 'vfio-pci loaded', 'vfio_iommu_type1 loaded', '/dev/vfio/vfio', 'hugepages free', 'RLIMIT_MEMLOCK']);
      expect(checks.every((c) => !c.ok)).toBe(true);
      expect(checks.map((c) => c.fix)).toEqual([
        expect.stringContaining('intel_iommu=on'),
        "sudo modprobe vfio-pci (or 'vfio-node setup')",
        'sudo modprobe vfio_iommu_type1',
        'sudo modprobe vfio-pci',
        'sudo vfio-node setup --hugepages 256',
        expect.stringContaining('ulimit -l unlimited'),
      ]);
    } finally {
      g.cleanup();
    }
  });

  it('passes the host checks on a prepared host', () => {
    h.loadModule('vfio-pci');
    h.loadModule('vfio_iommu_type1');
    mkdirSync(join(h.devfs, 'vfio'), { recursive: true });
    writeFileSync(join(h.devfs, 'vfio/vfio'), '');
    h.setHugepages(256, 256);
    h.setLimits('unlimited', 'unlimited');
    const checks = hostChecks({ ...h.roots, hugepages: 64 });
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.name === 'hugepages free')?.detail).toBe('HugePages_Free 256 of 256 (2048 kB pages), 64 wanted');
    expect(checks.every((c) => c.fix === null)).toBe(true);
  });

  it('reports a device on nvme that is in use, with the bind command', () => {
    const checks = deviceChecks('00:03.0', h.roots);
    expect(byName(checks)).toEqual({
      '0000:00:03.0 exists': true,
      '0000:00:03.0 bound to vfio-pci': false,
      '0000:00:03.0 IOMMU group viable': true, // alone in group 3: its own driver is the check above
      '0000:00:03.0 not in use by the host': false,
    });
    const bound = checks.find((c) => c.name.endsWith('bound to vfio-pci'))!;
    expect(bound.detail).toBe('bound to nvme');
    expect(bound.fix).toBe('sudo vfio-node bind 0000:00:03.0');
    expect(checks[0]!.detail).toBe('Non-Volatile memory controller, QEMU NVM Express Controller');
    expect(checks.at(-1)!.detail).toContain('/dev/nvme0n1p1 is mounted on /boot');
  });

  it('lists the group peers and the bind command for the whole group', () => {
    const c = deviceChecks('01:00.1', h.roots).find((x) => x.name.endsWith('IOMMU group viable'))!;
    expect(c.ok).toBe(false);
    expect(c.detail).toBe('group 7; also 0000:00:1c.0 (pcieport), 0000:01:00.0 (e1000e)');
    expect(c.fix).toBe('bind the whole group: sudo vfio-node bind 0000:01:00.0');
  });

  it('passes the device checks once bound, and checks /dev/vfio/<group>', () => {
    h.setMountinfo([]);
    h.setSwaps([]);
    bindDevice('00:04.0', { ...h.opts, timeoutMs: 50 });
    const checks = deviceChecks('00:04.0', h.roots);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['0000:00:04.0 exists', true],
      ['0000:00:04.0 bound to vfio-pci', true],
      ['0000:00:04.0 IOMMU group viable', true],
      [join(h.devfs, 'vfio/4'), true],
      ['0000:00:04.0 not in use by the host', true],
    ]);
    if (process.getuid?.() !== 0) {
      chmodSync(join(h.devfs, 'vfio/4'), 0o600 & 0o400);
      expect(deviceChecks('00:04.0', h.roots)[3]).toMatchObject({ ok: false, detail: 'not readable and writable by this user' });
    }
  });

  it('reports a missing device with the list command', () => {
    expect(deviceChecks('00:09.0', h.roots)).toEqual([{ name: '0000:00:09.0 exists', ok: false, detail: 'no /sys/bus/pci/devices/0000:00:09.0', fix: "vfio-node list (to find the device's address)" }]);
    expect(runDoctor('00:09.0', h.roots)).toHaveLength(7);
  });

  it('prints a table with OK/FAIL and the fixes under failures', () => {
    const table = formatDoctorTable([
      { name: 'IOMMU enabled', ok: true, detail: 'dmar0 with 6 groups', fix: null },
      { name: 'hugepages free', ok: false, detail: 'HugePages_Free 0 of 0', fix: 'sudo vfio-node setup --hugepages 256' },
    ]);
    expect(table).toBe(
      [
        'CHECK           STATUS  DETAIL',
        'IOMMU enabled   OK      dmar0 with 6 groups',
        'hugepages free  FAIL    HugePages_Free 0 of 0',
        '                        fix: sudo vfio-node setup --hugepages 256',
        '',
        '1 of 2 checks failed',
      ].join('\n'),
    );
  });
});
