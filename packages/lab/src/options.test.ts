import { describe, expect, it } from 'vitest';
import { resolveOptions } from './options.js';

describe('resolveOptions', () => {
  it('fills in the defaults', () => {
    const o = resolveOptions({});
    expect(o).toMatchObject({ nics: 0, nicHub: true, memory: 2 ** 31, cpus: 2, hugepages: 256, bind: 'vfio', accel: 'auto', checkCommand: true, timeoutMs: undefined });
    expect(o.nvme).toEqual([{ size: 2 ** 30, lba: 512, namespaces: 1, serial: 'VFIONODE0', hotplug: false, backing: 'file' }]);
    expect(o.cwd).toBe(process.cwd());
  });

  it('takes spec strings and partial specs, numbering default serials', () => {
    const o = resolveOptions({ nvme: ['size=8M', { lba: 4096, size: 4096 * 16 }] });
    expect(o.nvme.map((s) => [s.size, s.lba, s.serial])).toEqual([
      [8 * 2 ** 20, 512, 'VFIONODE0'],
      [65536, 4096, 'VFIONODE1'],
    ]);
  });

  it('names the option that is wrong', () => {
    expect(() => resolveOptions({ bind: 'vfio-pci' as never })).toThrow('invalid --bind: "vfio-pci" (expected vfio or kernel)');
    expect(() => resolveOptions({ memory: '100M' })).toThrow(/--memory.*at least 256M/);
    expect(() => resolveOptions({ memory: '1G', hugepages: 300 })).toThrow(/--hugepages.*at most half of --memory \(256 pages/);
    expect(() => resolveOptions({ cpus: 0 })).toThrow(/--cpus/);
    expect(() => resolveOptions({ nics: 1.5 })).toThrow(/--nics/);
    expect(() => resolveOptions({ timeoutMs: 0 })).toThrow(/--timeout/);
  });

  it('boots one machine unless asked for two; machine 2 is small by default and its size can be set', () => {
    expect(resolveOptions({})).toMatchObject({ machines: 1, machine2: { memory: 512 * 2 ** 20, cpus: 1 } });
    expect(resolveOptions({ machines: 2, machine2: { memory: '1G', cpus: 2 } })).toMatchObject({ machines: 2, machine2: { memory: 2 ** 30, cpus: 2 } });
    expect(() => resolveOptions({ machines: 3 })).toThrow(/invalid --machines: 3 \(expected an integer from 1 to 2\)/);
    expect(() => resolveOptions({ machines: 0 })).toThrow(/--machines/);
    expect(() => resolveOptions({ machine2: { memory: '128M' } })).toThrow(/machine2\.memory.*at least 256M/);
    expect(() => resolveOptions({ machine2: { cpus: 0 } })).toThrow(/machine2\.cpus/);
  });
});
