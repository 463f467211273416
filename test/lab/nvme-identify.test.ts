import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, formatVersion } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// Run with: node packages/cli/bin/vfio-node.js lab run --nvme size=256M,serial=LABSERIAL -- npx vitest run --project lab test/lab/nvme-identify.test.ts
describe('an NVMe controller brought up from userspace identifies itself and its namespace', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it('reads CAP and VS as the lab controller reports them', () => {
    expect(ctrl.cap.maxQueueEntries).toBe(2048);
    expect(ctrl.cap.dstrd).toBe(0);
    expect(ctrl.cap.timeoutMs).toBe(7500);
    expect(formatVersion(ctrl.vs)).toBe('1.4.0');
    expect(ctrl.pageSize).toBe(4096);
  });

  it('reports the serial number given to the lab and the controller limits', () => {
    const id = ctrl.identify;
    expect(id.sn).toBe(process.env.VFIO_LAB_EXPECT_SERIAL ?? 'LABSERIAL');
    expect(id.vid).toBe(0x1b36);
    expect(id.mdts).toBe(7);
    expect(ctrl.maxTransfer).toBe(512 * 1024);
    expect(id.sqes).toBe(0x66);
    expect(id.cqes).toBe(0x44);
    expect(id.oncs).toBe(0x15d);
    expect(id.nn).toBeGreaterThanOrEqual(1);
  });

  it('reports namespace 1 with the size and LBA size of the lab disk', () => {
    expect(ctrl.namespaceIds).toEqual([1]);
    const ns = ctrl.namespace(1);
    expect(ns.blockSize).toBe(512);
    expect(ns.size).toBe(256n * 1024n * 1024n);
    expect(ns.blocks).toBe((256n * 1024n * 1024n) / 512n);
    expect(ns.info.nlbaf).toBeGreaterThanOrEqual(1);
    expect(ns.info.lbaf[ns.info.lbafIndex]!.lbads).toBe(9);
  });

  it('answers Get Features and Get Log Page on the admin queue', async () => {
    expect(ctrl.queuesAllocated.nsqa).toBeGreaterThanOrEqual(1);
    const vwc = await ctrl.admin.getVolatileWriteCache();
    expect(typeof vwc).toBe('boolean');
    const smart = await ctrl.admin.smartLog();
    expect(smart.compositeTemperature).toBeGreaterThan(200); // kelvin
    const fw = await ctrl.admin.firmwareSlotLog();
    expect(fw.afi & 7).toBe(1); // running from slot 1
    expect(fw.frs[0]!.length).toBeGreaterThan(0); // QEMU names slot 1 '1.0', not its FR
    const nqa = await ctrl.admin.getFeatures(0x07);
    expect((nqa & 0xffff) + 1).toBe(ctrl.queuesAllocated.nsqa);
  });

  it('refuses an unknown namespace with a clear error', () => {
    expect(() => ctrl.namespace(7)).toThrow(expect.objectContaining({ code: 'ERR_NVME_NO_SUCH_NAMESPACE' }));
  });
});
