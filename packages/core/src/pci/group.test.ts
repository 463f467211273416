import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { groupMembers, isViableMember, nonViableMembers } from './group.js';

let h: FakeHost;
beforeEach(() => {
  h = labLikeHost();
});
afterEach(() => h.cleanup());

describe('IOMMU group viability', () => {
  it('lists the members of a shared group with their drivers', () => {
    expect(groupMembers('01:00.1', h.roots)).toEqual([
      { address: '0000:00:1c.0', driver: 'pcieport', bridge: true },
      { address: '0000:01:00.0', driver: 'e1000e', bridge: false },
      { address: '0000:01:00.1', driver: null, bridge: false },
    ]);
    expect(groupMembers('00:03.0', h.roots)).toEqual([{ address: '0000:00:03.0', driver: 'nvme', bridge: false }]);
  });

  it('flags drivers other than vfio-pci, pci-stub, pcieport and none', () => {
    expect(nonViableMembers(7, h.roots)).toEqual([{ address: '0000:01:00.0', driver: 'e1000e', bridge: false }]);
    expect(nonViableMembers(3, h.roots).map((m) => m.address)).toEqual(['0000:00:03.0']);
    expect(nonViableMembers(99, h.roots)).toEqual([]);
    expect(isViableMember({ address: 'x', driver: 'pci-stub', bridge: false })).toBe(true);
    expect(isViableMember({ address: 'x', driver: 'vfio-pci', bridge: false })).toBe(true);
    expect(isViableMember({ address: 'x', driver: 'mlx5_vfio_pci', bridge: false })).toBe(true);
    expect(isViableMember({ address: 'x', driver: 'shpchp', bridge: true })).toBe(true);
    expect(isViableMember({ address: 'x', driver: 'nvme', bridge: false })).toBe(false);
  });

  it('a device without a group is ERR_NO_IOMMU_GROUP', () => {
    h.addDevice({ address: '0000:00:06.0', vendor: 0x8086, device: 0x100e, classCode: 0x020000, driver: 'e1000' });
    expect(() => groupMembers('00:06.0', h.roots)).toThrow(expect.objectContaining({ code: 'ERR_NO_IOMMU_GROUP', hint: expect.stringContaining('intel_iommu=on') }));
    expect(() => groupMembers('00:07.0', h.roots)).toThrow(expect.objectContaining({ code: 'ERR_NO_SUCH_DEVICE' }));
  });
});
