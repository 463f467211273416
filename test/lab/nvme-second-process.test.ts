import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// open-errors.test.ts checks a raw Device; this is the same story one layer up.
const nvmeDist = fileURLToPath(new URL('../../drivers/nvme/dist/index.js', import.meta.url));

function openInChild(address: string): { code?: string; message?: string; hint?: string; sn?: string } {
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { NvmeController } = await import(${JSON.stringify(nvmeDist)});
       try { const c = await NvmeController.open(${JSON.stringify(address)}); console.log(JSON.stringify({ sn: c.identify.sn })); await c.close(); }
       catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }`,
    ],
    { encoding: 'utf8', timeout: 90_000 },
  );
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!);
}

describe('a second process opening a controller that another process drives gets EBUSY with the IOMMU-group hint', () => {
  it('refuses NvmeController.open in a second process while the first holds it, and allows it once the first has closed', async () => {
    const addr = labNvme()[0]!;
    const ctrl = await NvmeController.open(addr);
    let busy;
    try {
      busy = openInChild(addr);
      // The first process's controller is unharmed.
      expect((await ctrl.admin.identifyController()).sn).toBe(ctrl.identify.sn);
    } finally {
      await ctrl.close();
    }
    expect(busy.code).toBe('EBUSY');
    expect(busy.message).toMatch(/\/dev\/vfio\/\d+/);
    expect(busy.hint).toMatch(/Another process holds this IOMMU group/);
    expect(openInChild(addr)).toEqual({ sn: ctrl.identify.sn });
  });
});
