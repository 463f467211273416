import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

/** What this process holds of VFIO: descriptors on /dev/vfio/* and device fds, and mappings of device regions. */
function vfioHoldings(): { fds: string[]; total: number; maps: number } {
  const fds: string[] = [];
  const names = readdirSync('/proc/self/fd');
  for (const n of names) {
    try {
      const target = readlinkSync(`/proc/self/fd/${n}`);
      if (target.includes('vfio')) fds.push(target);
    } catch {
      // the descriptor readdir itself used, closed by now
    }
  }
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('vfio')).length;
  return { fds: fds.sort(), total: names.length, maps };
}

// Device.open acquires, in order: the container, the IOMMU group, the device fd, the config
// region, the interrupts and the DMA allocator. A step that throws must give back all of
// them. Here the last step fails for real: an invalid dma option, which the allocator
// (made with the first device of a container) checks.
describe('a Device.open that fails halfway gives back everything it acquired', () => {
  it('leaves no descriptor, group reference or mapping behind, and the device opens again', () => {
    const addr = labNvme()[0]!;
    const before = vfioHoldings();
    expect(before.fds).toEqual([]); // no device of this file is open
    for (let i = 0; i < 3; i++) {
      expect(() => Device.open(addr, { dma: { chunkSize: -1 } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/dma\.chunkSize/) }));
    }
    const after = vfioHoldings();
    expect(after.fds).toEqual(before.fds);
    expect(after.maps).toBe(before.maps);
    expect(after.total).toBe(before.total);
    // The group is not left half-held: a good open works and holds container, group and device.
    const dev = Device.open(addr);
    const open = vfioHoldings();
    expect(open.fds).toEqual(expect.arrayContaining(['/dev/vfio/vfio', 'anon_inode:[vfio-device]']));
    expect(open.fds.some((f) => /^\/dev\/vfio\/\d+$/.test(f))).toBe(true);
    expect(dev.bar(0).read32(0x8)).toBe(0x00010400); // NVMe VS 1.4
    dev.close();
    expect(vfioHoldings().fds).toEqual(before.fds);
  });
});
