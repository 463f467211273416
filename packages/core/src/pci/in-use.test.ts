import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, labLikeHost } from '../../../../test/unit/fake-host.js';
import { VfioError } from '../errors.js';
import { assertNotInUse, blockDevicesOf, findDeviceUses, parseMountinfo, parseSwaps } from './in-use.js';

describe('parseMountinfo', () => {
  it('parses the proc(5) example and escaped mount points', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
      '40 26 259:2 / /media/my\\040disk rw,relatime shared:7 - ext4 /dev/nvme0n1p2 rw',
      '41 26 0:45 / /dev/hugepages rw,relatime shared:8 - hugetlbfs hugetlbfs rw,pagesize=2M',
      'garbage line',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { mountId: 36, parentId: 35, major: 98, minor: 0, root: '/mnt1', mountPoint: '/mnt2', fsType: 'ext3', source: '/dev/root' },
      { mountId: 40, parentId: 26, major: 259, minor: 2, root: '/', mountPoint: '/media/my disk', fsType: 'ext4', source: '/dev/nvme0n1p2' },
      { mountId: 41, parentId: 26, major: 0, minor: 45, root: '/', mountPoint: '/dev/hugepages', fsType: 'hugetlbfs', source: 'hugetlbfs' },
    ]);
  });
});

describe('parseSwaps', () => {
  it('parses partitions and files after the header', () => {
    const text = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/nvme0n1p3                          partition\t8388604\t\t1024\t\t-2\n/swap\\040file                            file\t\t1048572\t\t0\t\t-3\n';
    expect(parseSwaps(text)).toEqual([
      { filename: '/dev/nvme0n1p3', type: 'partition', sizeKiB: 8388604, usedKiB: 1024, priority: -2 },
      { filename: '/swap file', type: 'file', sizeKiB: 1048572, usedKiB: 0, priority: -3 },
    ]);
    expect(parseSwaps('Filename\tType\tSize\tUsed\tPriority\n')).toEqual([]);
  });
});

describe('in-use refusal on a fake host', () => {
  let h: FakeHost;
  beforeEach(() => {
    h = labLikeHost();
  });
  afterEach(() => h.cleanup());

  it('finds the disk, its partitions and the dm device stacked on p2', () => {
    expect(blockDevicesOf('00:03.0', h.roots)).toEqual([
      { name: 'nvme0n1', dev: '259:0', dmName: null, role: 'disk', heldFrom: null },
      { name: 'nvme0n1p1', dev: '259:1', dmName: null, role: 'partition', heldFrom: null },
      { name: 'nvme0n1p2', dev: '259:2', dmName: null, role: 'partition', heldFrom: null },
      { name: 'dm-0', dev: '253:0', dmName: 'vg0-root', role: 'holder', heldFrom: 'nvme0n1p2' },
      { name: 'nvme0n1p3', dev: '259:3', dmName: null, role: 'partition', heldFrom: null },
    ]);
    expect(blockDevicesOf('00:04.0', h.roots)).toEqual([]);
  });

  it('lists the mount, the mount through dm, the swap and the dm membership', () => {
    const uses = findDeviceUses('00:03.0', h.roots);
    expect(uses.map((u) => u.description)).toEqual([
      '/dev/nvme0n1p1 is mounted on /boot',
      '/dev/dm-0 (vg0-root), stacked on /dev/nvme0n1p2, is mounted on /',
      '/dev/nvme0n1p3 is an active swap area',
      '/dev/nvme0n1p2 is a member of device-mapper device vg0-root (/dev/dm-0)',
    ]);
    expect(uses.map((u) => u.kind)).toEqual(['mount', 'mount', 'swap', 'holder']);
  });

  it('matches a mount by its source when the dev number differs (btrfs-style 0:N)', () => {
    h.setMountinfo(['50 1 0:52 / /data rw - btrfs /dev/nvme0n1p1 rw']);
    h.setSwaps([]);
    expect(findDeviceUses('00:03.0', h.roots).map((u) => u.description)).toEqual([
      '/dev/nvme0n1p1 is mounted on /data',
      '/dev/nvme0n1p2 is a member of device-mapper device vg0-root (/dev/dm-0)',
    ]);
  });

  it('matches swap on a dm device named through /dev/mapper', () => {
    h.setMountinfo([]);
    h.setSwaps([['/dev/mapper/vg0-root', 'partition']]);
    expect(findDeviceUses('00:03.0', h.roots).map((u) => u.kind)).toEqual(['swap', 'holder']);
  });

  it('sees an md member and a whole-disk mount', () => {
    const g = new FakeHost();
    try {
      g.addDevice({ address: '0000:00:03.0', vendor: 0x144d, device: 0xa808, classCode: 0x010802, driver: 'nvme', group: 3 });
      g.addDisk('0000:00:03.0', 'nvme/nvme1', 'nvme1n1', '259:4');
      g.addVirtualBlock('md127', '9:127');
      g.addHolder('nvme1n1', 'md127');
      g.addMount(60, '9:127', '/srv', 'xfs', '/dev/md127');
      expect(findDeviceUses('0000:00:03.0', g.roots).map((u) => u.description)).toEqual([
        '/dev/md127, stacked on /dev/nvme1n1, is mounted on /srv',
        '/dev/nvme1n1 is a member of an md (software RAID) array (/dev/md127)',
      ]);
    } finally {
      g.cleanup();
    }
  });

  it('follows an NVMe multipath head (nvme0c0n1 under the controller, nvme0n1 virtual)', () => {
    const g = new FakeHost();
    try {
      g.addDevice({ address: '0000:00:03.0', vendor: 0x1b36, device: 0x0010, classCode: 0x010802, driver: 'nvme', group: 3 });
      g.addDisk('0000:00:03.0', 'nvme/nvme0', 'nvme0c0n1', '0:0');
      g.addVirtualBlock('nvme0n1', '259:0');
      g.addMount(70, '259:0', '/mnt', 'ext4', '/dev/nvme0n1');
      expect(findDeviceUses('0000:00:03.0', g.roots).map((u) => u.description)).toEqual(['/dev/nvme0n1 is mounted on /mnt']);
    } finally {
      g.cleanup();
    }
  });

  it('assertNotInUse throws ERR_DEVICE_IN_USE with every use, unless forced', () => {
    let err: VfioError | undefined;
    try {
      assertNotInUse('00:03.0', h.roots);
    } catch (e) {
      err = e as VfioError;
    }
    expect(err?.code).toBe('ERR_DEVICE_IN_USE');
    expect(err?.message).toContain('0000:00:03.0 is in use: /dev/nvme0n1p1 is mounted on /boot;');
    expect(err?.message).toContain('/dev/nvme0n1p3 is an active swap area');
    expect(err?.hint).toContain('--force takes it anyway');
    expect(err?.details?.uses).toHaveLength(4);
    expect(assertNotInUse('00:03.0', { ...h.roots, force: true })).toHaveLength(4);
    expect(assertNotInUse('00:04.0', h.roots)).toEqual([]);
  });

  it('a dm member stays in use with nothing mounted or swapped', () => {
    h.setMountinfo([]);
    h.setSwaps([]);
    expect(findDeviceUses('00:03.0', h.roots).map((u) => u.kind)).toEqual(['holder']);
  });
});

describe('in-use: kernel claims, other mount namespaces, open file descriptors', () => {
  let g: FakeHost;
  beforeEach(() => {
    g = new FakeHost();
    g.addDevice({ address: '0000:00:03.0', vendor: 0x1b36, device: 0x0010, classCode: 0x010802, driver: 'nvme', group: 3 });
    g.addDisk('0000:00:03.0', 'nvme/nvme0', 'nvme0n1', '259:0', [
      ['nvme0n1p1', '259:1'],
      ['nvme0n1p2', '259:2'],
    ]);
    g.setOwnMountNs('mnt:[4026531841]');
  });
  afterEach(() => g.cleanup());

  it('reports a device the kernel has claimed (O_EXCL: EBUSY) that nothing else explains, naming the likely holders', () => {
    const probed: string[] = [];
    const claimExclusive = (p: string) => {
      probed.push(p.slice(g.devfs.length));
      return p.endsWith('nvme0n1p2') ? 'EBUSY' : p.endsWith('nvme0n1') ? 'EBUSY' : null;
    };
    const uses = findDeviceUses('00:03.0', { ...g.roots, claimExclusive });
    expect(probed).toEqual(['/nvme0n1', '/nvme0n1p1', '/nvme0n1p2']);
    // The disk's EBUSY comes from its partition: one line, for the partition.
    expect(uses).toEqual([
      {
        kind: 'exclusive',
        blockDevice: '/dev/nvme0n1p2',
        description: '/dev/nvme0n1p2 is claimed by the kernel (open with O_EXCL fails with EBUSY: mounted in a mount namespace we cannot see, or a btrfs, ZFS, md, dm, swap or bcache member)',
      },
    ]);
    // A whole-disk claim (btrfs or ZFS on the bare disk) is reported on the disk.
    const disk = findDeviceUses('00:03.0', { ...g.roots, claimExclusive: (p) => (p.endsWith('nvme0n1') ? 'EBUSY' : 'EACCES') });
    expect(disk.map((u) => u.blockDevice)).toEqual(['/dev/nvme0n1']);
  });

  it('does not probe what a mount already explains, and ignores errors other than EBUSY', () => {
    g.addMount(40, '259:1', '/boot', 'ext4', '/dev/nvme0n1p1');
    const probed: string[] = [];
    const uses = findDeviceUses('00:03.0', { ...g.roots, claimExclusive: (p) => (probed.push(p), 'EBUSY') });
    expect(probed.map((p) => p.slice(g.devfs.length))).toEqual(['/nvme0n1', '/nvme0n1p2']);
    expect(uses.map((u) => `${u.kind} ${u.blockDevice}`)).toEqual(['mount /dev/nvme0n1p1', 'exclusive /dev/nvme0n1p2']);
    expect(findDeviceUses('00:03.0', { ...g.roots, claimExclusive: () => 'ENOENT' }).map((u) => u.kind)).toEqual(['mount']);
  });

  it('sees a mount in another mount namespace, naming a process in it', () => {
    g.addProcess(812, 'containerd-shim', {}, { ns: 'mnt:[4026532999]', mountinfo: ['90 80 259:2 / /var/lib/data rw - xfs /dev/nvme0n1p2 rw'] });
    g.addProcess(813, 'postgres', {}, { ns: 'mnt:[4026532999]', mountinfo: [] });
    g.addProcess(900, 'bash', {}, { ns: 'mnt:[4026531841]', mountinfo: ['91 80 259:1 / /ignored rw - ext4 /dev/nvme0n1p1 rw'] });
    const uses = findDeviceUses('00:03.0', { ...g.roots, claimExclusive: () => null });
    expect(uses).toEqual([
      {
        kind: 'mount',
        blockDevice: '/dev/nvme0n1p2',
        mountPoint: '/var/lib/data',
        pid: 812,
        comm: 'containerd-shim',
        description: '/dev/nvme0n1p2 is mounted on /var/lib/data in another mount namespace (that of pid 812, containerd-shim)',
      },
    ]);
  });

  it('names each process that has the disk or a partition open, with its fds', () => {
    g.addProcess(4242, 'sleep', { 0: '/dev/nvme0n1', 1: '/dev/pts/0', 2: '/dev/pts/0' });
    g.addProcess(5000, 'qemu-system-x86', { 17: '/dev/nvme0n1p1', 19: '/dev/nvme0n1p1', 3: 'socket:[1234]' });
    g.addProcess(5001, 'cat', { 3: '/dev/nvme1n1', 4: '/tmp/dev/nvme0n1-not' });
    const uses = findDeviceUses('00:03.0', { ...g.roots, claimExclusive: () => null });
    expect(uses.map((u) => u.description)).toEqual(['/dev/nvme0n1 is open in pid 4242 (sleep, fd 0)', '/dev/nvme0n1p1 is open in pid 5000 (qemu-system-x86, fd 17, 19)']);
    expect(uses[0]).toMatchObject({ kind: 'open', pid: 4242, comm: 'sleep', blockDevice: '/dev/nvme0n1' });
    let err: VfioError | undefined;
    try {
      assertNotInUse('00:03.0', { ...g.roots, claimExclusive: () => null });
    } catch (e) {
      err = e as VfioError;
    }
    expect(err?.code).toBe('ERR_DEVICE_IN_USE');
    expect(err?.message).toBe('0000:00:03.0 is in use: /dev/nvme0n1 is open in pid 4242 (sleep, fd 0); /dev/nvme0n1p1 is open in pid 5000 (qemu-system-x86, fd 17, 19)');
  });
});
