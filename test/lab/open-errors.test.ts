import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bindDevice, Device, unbindDevice, VfioError } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const coreDist = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url));

function openError(address: string): VfioError {
  try {
    Device.open(address).close();
  } catch (err) {
    expect(err).toBeInstanceOf(VfioError);
    return err as VfioError;
  }
  throw new Error(`opening ${address} did not fail`);
}

describe('opening a device that is not ready for VFIO fails with a named error and a hint', () => {
  it('rejects a malformed PCI address', () => {
    const err = openError('00:3.0.1');
    expect(err.code).toBe('ERR_INVALID_PCI_ADDRESS');
    expect(err.message).toMatch(/DDDD:BB:DD\.F/);
  });

  it('rejects an address where there is no device', () => {
    const err = openError('0000:00:1f.7');
    expect(err.code).toBe('ERR_NO_SUCH_DEVICE');
    expect(err.hint).toMatch(/vfio-node list/);
  });

  it('rejects a device still bound to the kernel nvme driver, then opens it once bound to vfio-pci', () => {
    const addr = labNvme().at(-1)!;
    const back = unbindDevice(addr);
    expect(back.driver).toBe('nvme');
    try {
      const err = openError(addr);
      expect(err.code).toBe('ERR_NOT_BOUND_TO_VFIO');
      expect(err.message).toContain("nvme");
      expect(err.hint).toContain(`vfio-node bind ${addr}`);
    } finally {
      const bound = bindDevice(addr);
      expect(bound.driver).toBe('vfio-pci');
    }
    const dev = Device.open(addr);
    expect(dev.bar(0).read32(0x8)).toBe(0x00010400);
    dev.close();
  });

  it('tells a second process that the IOMMU group is held by another', () => {
    const addr = labNvme()[0]!;
    const dev = Device.open(addr);
    try {
      const child = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { Device } = await import(${JSON.stringify(coreDist)});
           try { Device.open(${JSON.stringify(addr)}); console.log('opened'); }
           catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }`,
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(child.status).toBe(0);
      const result = JSON.parse(child.stdout.trim()) as { code: string; message: string; hint: string };
      expect(result.code).toBe('EBUSY');
      expect(result.message).toMatch(/\/dev\/vfio\/\d+/);
      expect(result.hint).toMatch(/Another process holds this IOMMU group/);
    } finally {
      dev.close();
    }
    // Released: the same process can open it again.
    Device.open(addr).close();
  });
});
