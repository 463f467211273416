// lab: --nvme backing=null,latency=3000000000,size=64M,serial=LABSERIAL --hugepages 64
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from '../lab/lab-env.js';

// A controller whose every command takes 3 s (QEMU's null-co with latency-ns), and a driver
// that gives a command 1 s: the watchdog sends Abort, then resets the controller.
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
    expect(ctrl.resets).toBe(1);
    // And I/O works again: given 10 s, a read takes its 3 s and completes.
    ctrl.timeoutMs = 10_000;
    await ns.read(8, 8, buf.bytes);
    expect(ctrl.resets).toBe(1);
    buf.release();
  });
});
