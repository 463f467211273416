import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// Needs a slow controller: node packages/cli/bin/vfio-node.js lab run
//   --nvme backing=null,latency=3000000000,size=64M,serial=LABSERIAL -- npx vitest run --project lab test/lab/nvme-timeout.test.ts
describe('a command that outlives its timeout is aborted, then the controller is reset and the command fails with ERR_NVME_TIMEOUT', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { timeoutMs: 1000 });
  });
  afterAll(() => ctrl?.close());

  it('fails the slow read with ERR_NVME_TIMEOUT and keeps the controller usable', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    const started = Date.now();
    const err = await ns.read(0, 8, buf.bytes).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_NVME_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    // After the reset the admin queue and the I/O queue pair were recreated.
    await new Promise((r) => setTimeout(r, 5000));
    const id = await ctrl.admin.identifyController();
    expect(id.sn).toBe(ctrl.identify.sn);
    expect(ctrl.queuePairs[0]!.outstanding).toBe(0);
    buf.release();
  });
});
