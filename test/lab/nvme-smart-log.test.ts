import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

describe('the SMART / Health log counts the data units and commands this driver writes', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it('Data Units Written and Host Write Commands grow after 4 MiB of writes', async () => {
    const before = await ctrl.admin.smartLog();
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(1 << 20);
    try {
      buf.bytes.fill(0xa5);
      for (let i = 0; i < 4; i++) await ns.write(i * 2048, 2048, buf.bytes);
    } finally {
      buf.release();
    }
    const after = await ctrl.admin.smartLog();
    // One data unit is 1000 units of 512 bytes: 4 MiB is 8192 units, so at least 8 data units.
    expect(after.dataUnitsWritten - before.dataUnitsWritten).toBeGreaterThanOrEqual(8n);
    expect(after.hostWriteCommands - before.hostWriteCommands).toBeGreaterThanOrEqual(8n); // 1 MiB splits into 2 commands
    expect(after.criticalWarning).toBe(0);
  });
});
