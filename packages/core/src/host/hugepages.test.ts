import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost } from '../../../../test/unit/fake-host.js';
import { ensureHugetlbfsMount, hugepagePool, hugepageSizes, hugetlbfsMounts, meminfoHugepages, parseMeminfo, reserveHugepages } from './hugepages.js';

let h: FakeHost;
beforeEach(() => {
  h = new FakeHost();
  h.setHugepages(0, 0);
});
afterEach(() => h.cleanup());

describe('hugepages', () => {
  it('parses /proc/meminfo', () => {
    const m = parseMeminfo('MemTotal:       24683620 kB\nHugePages_Total:      64\nHugePages_Free:       60\nHugepagesize:       2048 kB\n');
    expect(m.get('MemTotal')).toBe(24683620);
    expect(m.get('HugePages_Free')).toBe(60);
    expect(m.get('Hugepagesize')).toBe(2048);
  });

  it('reads the pool from sysfs and meminfo', () => {
    h.setHugepages(64, 60);
    expect(hugepagePool(2048, h.roots)).toEqual({ sizeKiB: 2048, total: 64, free: 60, reserved: 0, surplus: 0 });
    expect(meminfoHugepages(h.roots)).toEqual({ total: 64, free: 60, reserved: 0, surplus: 0, sizeKiB: 2048 });
    expect(hugepagePool(1048576, h.roots)).toBeNull();
    h.setHugepages(0, 0, 1048576);
    expect(hugepageSizes(h.roots)).toEqual([2048, 1048576]);
  });

  it('writes the per-size nr_hugepages and reads back what the kernel reserved', () => {
    h.hugepageLimit = 200;
    const r = reserveHugepages(256, h.opts);
    expect(h.writes.map((w) => [w.path.slice(h.root.length), w.data])).toEqual([['/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '256']]);
    expect(r).toMatchObject({ sizeKiB: 2048, requested: 256, total: 200, free: 200, changed: true });
  });

  it('never shrinks a pool that is big enough', () => {
    h.setHugepages(512, 500);
    const r = reserveHugepages(256, h.opts);
    expect(h.writes).toEqual([]);
    expect(r).toMatchObject({ total: 512, changed: false });
  });

  it('rejects a bad count and an unsupported size', () => {
    expect(() => reserveHugepages(-1, h.opts)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => reserveHugepages(1.5, h.opts)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => reserveHugepages(4, { ...h.opts, sizeKiB: 1048576 })).toThrow(/one of 2048 KiB/);
  });

  it('explains EACCES', () => {
    const opts = { ...h.opts, write: () => { throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', errno: -13 }); } };
    expect(() => reserveHugepages(8, opts)).toThrow(expect.objectContaining({ code: 'EACCES', hint: expect.stringContaining('root') }));
  });

  it('finds hugetlbfs mounts', () => {
    h.addMount(41, '0:45', '/dev/hugepages', 'hugetlbfs', 'hugetlbfs');
    expect(hugetlbfsMounts(h.roots)).toEqual(['/dev/hugepages']);
    expect(ensureHugetlbfsMount('/mnt/huge', h.opts)).toEqual({ mountPoint: '/dev/hugepages', mounted: false });
    expect(h.execs).toEqual([]);
  });

  it('mounts hugetlbfs when none is mounted, and reports a failed mount', () => {
    expect(ensureHugetlbfsMount('/mnt/huge', h.opts)).toEqual({ mountPoint: '/mnt/huge', mounted: true });
    expect(h.execs).toEqual([
      ['mkdir', '-p', '/mnt/huge'],
      ['mount', '-t', 'hugetlbfs', 'nodev', '/mnt/huge'],
    ]);
    expect(hugetlbfsMounts(h.roots)).toEqual(['/mnt/huge']);
    const g = new FakeHost();
    try {
      const opts = { ...g.opts, exec: () => ({ status: 32, stdout: '', stderr: 'mount: /mnt/huge: permission denied.' }) };
      expect(() => ensureHugetlbfsMount('/mnt/huge', opts)).toThrow(expect.objectContaining({ code: 'EPERM', message: expect.stringContaining('permission denied') }));
    } finally {
      g.cleanup();
    }
  });
});
