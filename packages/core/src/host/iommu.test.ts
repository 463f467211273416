import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { iommuStatus } from './iommu.js';
import { ensureVfioModules, moduleLoaded, modulesForAlias, pciDriverRegistered } from './modules.js';

describe('iommuStatus', () => {
  let h: FakeHost;
  afterEach(() => h.cleanup());

  it('is off with empty /sys/class/iommu and no groups, with the boot-option fix', () => {
    h = new FakeHost();
    const s = iommuStatus(h.roots);
    expect(s).toMatchObject({ enabled: false, units: [], groups: 0, cmdlineOptions: [] });
    expect(s.fix).toContain('intel_iommu=on');
    expect(s.fix).toContain('amd_iommu=on');
    expect(s.fix).toContain('VT-d');
  });

  it('is on with a dmar unit and groups, and shows the boot options', () => {
    h = labLikeHost();
    const s = iommuStatus(h.roots);
    expect(s).toMatchObject({ enabled: true, units: ['dmar0'], groups: 5, cmdlineOptions: ['intel_iommu=on', 'iommu=pt'], fix: null });
    expect(s.detail).toBe('dmar0 with 5 groups (intel_iommu=on iommu=pt)');
  });

  it('counts groups alone as enough (virtual IOMMUs without a class entry)', () => {
    h = new FakeHost();
    mkdirSync(join(h.sysfs, 'kernel/iommu_groups/0'), { recursive: true });
    expect(iommuStatus(h.roots).enabled).toBe(true);
  });
});

describe('modules', () => {
  let h: FakeHost;
  beforeEach(() => {
    h = new FakeHost();
  });
  afterEach(() => h.cleanup());

  it('loads vfio-pci and vfio_iommu_type1 once', () => {
    expect(moduleLoaded('vfio-pci', h.roots)).toBe(false);
    expect(ensureVfioModules(h.opts)).toEqual(['vfio-pci', 'vfio_iommu_type1']);
    expect(moduleLoaded('vfio-pci', h.roots)).toBe(true);
    expect(pciDriverRegistered('vfio-pci', h.roots)).toBe(true);
    expect(ensureVfioModules(h.opts)).toEqual([]);
    expect(h.execs).toEqual([
      ['modprobe', 'vfio-pci'],
      ['modprobe', 'vfio_iommu_type1'],
    ]);
  });

  it('reports a missing modprobe and a missing module', () => {
    const noKmod = { ...h.opts, exec: () => ({ status: null, stdout: '', stderr: '', error: Object.assign(new Error('spawnSync modprobe ENOENT'), { code: 'ENOENT' }) }) };
    expect(() => ensureVfioModules(noKmod)).toThrow(expect.objectContaining({ code: 'ERR_MODPROBE_FAILED', message: expect.stringContaining('install kmod') }));
    h.availableModules.clear();
    expect(() => ensureVfioModules(h.opts)).toThrow(/Module vfio-pci not found/);
  });

  it('asks modprobe -R for a modalias', () => {
    expect(modulesForAlias('pci:v00008086d000010D3sv*', h.opts)).toEqual(['e1000e']);
  });
});
