// The host-side CLI subcommands (list, bind, unbind, setup, doctor) against a fake
// sysfs/procfs tree (VFIO_NODE_SYSFS & co.), and `list` against the real host /sys.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run as bind } from '../../packages/cli/src/commands/bind.js';
import { run as doctor } from '../../packages/cli/src/commands/doctor.js';
import { run as list } from '../../packages/cli/src/commands/list.js';
import { run as setup } from '../../packages/cli/src/commands/setup.js';
import { run as unbind } from '../../packages/cli/src/commands/unbind.js';
import { FakeHost, labLikeHost } from './fake-host.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('vfio-node list on the real host /sys (smoke)', () => {
  it('prints a non-empty JSON array', async () => {
    expect(await list(['--json'])).toBe(0);
    const devs = JSON.parse(out.join('\n')) as Array<{ address: string; ids: string }>;
    expect(Array.isArray(devs)).toBe(true);
    expect(devs.length).toBeGreaterThan(0);
    expect(devs[0]!.ids).toMatch(/^[0-9a-f]{4}:[0-9a-f]{4}$/);
  });
});

describe('host subcommands on a fake host', () => {
  let h: FakeHost;
  beforeEach(() => {
    h = labLikeHost();
    vi.stubEnv('VFIO_NODE_SYSFS', h.sysfs);
    vi.stubEnv('VFIO_NODE_PROCFS', h.procfs);
    vi.stubEnv('VFIO_NODE_DEVFS', h.devfs);
    vi.stubEnv('VFIO_NODE_RUNDIR', h.runDir);
  });
  afterEach(() => h.cleanup());

  it('list prints an lspci-like table with driver and group', async () => {
    expect(await list([])).toBe(0);
    const lines = out.join('\n').split('\n');
    expect(lines[0]).toMatch(/^ADDRESS\s+CLASS\s+IDS\s+DRIVER\s+GROUP\s+DEVICE$/);
    const nvme = lines.find((l) => l.startsWith('0000:00:03.0'))!;
    expect(nvme.split(/\s{2,}/)).toEqual(['0000:00:03.0', 'Non-Volatile memory controller', '[1b36:0010]', 'nvme', '3', 'Red Hat, Inc. QEMU NVM Express Controller']);
    expect(lines).toHaveLength(8);
  });

  it('list --class filters; --json carries hex ids', async () => {
    expect(await list(['--class', 'virtio-net', '--json'])).toBe(0);
    const devs = JSON.parse(out.join('\n'));
    expect(devs.map((d: { address: string }) => d.address)).toEqual(['0000:00:04.0', '0000:00:05.0']);
    expect(devs[0]).toMatchObject({ class: '0x020000', ids: '1af4:1041', driver: 'virtio-pci', iommuGroup: 4 });
    out.length = 0;
    expect(await list(['--class', 'nvme'])).toBe(0);
    expect(out.join('\n').split('\n')).toHaveLength(2);
    await expect(list(['--class', 'toaster'])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    expect(await list(['--bogus'])).toBe(2);
  });

  it('bind refuses a device in use and names the uses', async () => {
    await expect(bind(['00:03.0'])).rejects.toMatchObject({ code: 'ERR_DEVICE_IN_USE', hint: expect.stringContaining('--force') });
    expect(readFileSync(join(h.devDir('0000:00:03.0'), 'driver_override'), 'utf8')).toBe('(null)\n');
  });

  it('bind names a process that holds the disk open, and refuses an unknown --driver with the registered ones', async () => {
    h.setMountinfo([]);
    h.setSwaps([]);
    h.addProcess(4242, 'sleep', { 0: '/dev/nvme0n1' });
    await expect(bind(['00:03.0'])).rejects.toMatchObject({
      code: 'ERR_DEVICE_IN_USE',
      message: '0000:00:03.0 is in use: /dev/nvme0n1p2 is a member of device-mapper device vg0-root (/dev/dm-0); /dev/nvme0n1 is open in pid 4242 (sleep, fd 0)',
    });
    await expect(bind(['--driver', '../..', '00:04.0'])).rejects.toMatchObject({ code: 'ERR_NO_SUCH_DRIVER', hint: expect.stringContaining('e1000e, nvme, pcieport, virtio-pci') });
    await expect(bind(['--driver', 'vfio_pci', '00:04.0'])).rejects.toMatchObject({ code: 'ERR_NO_SUCH_DRIVER' });
    expect(h.writes).toEqual([]);
    expect(readFileSync(join(h.devDir('0000:00:04.0'), 'driver_override'), 'utf8')).toBe('(null)\n');
  });

  it('bind checks every address before touching any', async () => {
    await expect(bind(['00:04.0', '00:3.0'])).rejects.toMatchObject({ code: 'ERR_INVALID_PCI_ADDRESS' });
    await expect(bind(['00:04.0', '00:09.0'])).rejects.toMatchObject({ code: 'ERR_NO_SUCH_DEVICE' });
    expect(readFileSync(join(h.devDir('0000:00:04.0'), 'driver_override'), 'utf8')).toBe('(null)\n');
    expect(await bind([])).toBe(2);
    expect(await bind(['--help'])).toBe(0);
    expect(out.join('\n')).toContain('usage: vfio-node bind');
  });

  it('unbind leaves a device on its kernel driver alone', async () => {
    expect(await unbind(['00:05.0'])).toBe(0);
    expect(out).toEqual(['0000:00:05.0: already on its kernel driver virtio-pci']);
  });

  it('setup reserves hugepages and reports modules, IOMMU and memlock', async () => {
    h.loadModule('vfio-pci');
    h.loadModule('vfio_iommu_type1');
    expect(await setup(['--hugepages', '64'])).toBe(0);
    expect(readFileSync(join(h.sysfs, 'kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'), 'utf8')).toBe('64');
    const text = out.join('\n');
    expect(text).toContain('hugepages: reserved 64 × 2 MiB');
    expect(text).toContain('modules: vfio-pci and vfio_iommu_type1 already loaded');
    expect(text).toContain('iommu: dmar0 with 5 groups');
    expect(text).toContain('memlock: RLIMIT_MEMLOCK 8 MiB');
    await expect(setup(['--hugepages', 'lots'])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
  });

  it('doctor ADDR prints the table, the fixes, and exits 1 on failures', async () => {
    expect(await doctor(['00:03.0'])).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/0000:00:03\.0 bound to vfio-pci\s+FAIL\s+bound to nvme/);
    expect(text).toContain('fix: sudo vfio-node bind 0000:00:03.0');
    expect(text).toMatch(/IOMMU enabled\s+OK/);
    out.length = 0;
    expect(await doctor(['--json', '00:04.0'])).toBe(1);
    const checks = JSON.parse(out.join('\n'));
    expect(checks.find((c: { name: string }) => c.name === '0000:00:04.0 exists')).toEqual({ name: '0000:00:04.0 exists', ok: true, detail: 'Ethernet controller, Virtio 1.0 network device', fix: null });
    await expect(doctor(['nope'])).rejects.toMatchObject({ code: 'ERR_INVALID_PCI_ADDRESS' });
  });
});
