// lab: --nvme size=16M,serial=LABSERIAL,inject=read:2048 --hugepages 64
import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DmaMemory } from '@vfio-node/core';
import { NvmeController, NvmeStatusError, NvmOpcode, decodeStatus, type Namespace } from '@vfio-node/nvme';
import { labNvme } from '../lab/lab-env.js';

// QEMU's blkdebug fails every read that touches 512-byte sector 2048 with EIO; QEMU's NVMe
// model turns that into Media and Data Integrity Errors / Unrecovered Read Error
// (NVM Command Set Specification 1.0, Figure "Status Code – Media and Data Integrity Errors").
describe('a read of a block the medium cannot return fails with Unrecovered Read Error by name, and nothing else breaks', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  let buf: DmaMemory;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
    ns = ctrl.namespace(1);
    expect(ns.blockSize).toBe(512);
    buf = ctrl.allocBuffer(64 * 1024);
  });
  afterAll(async () => {
    buf?.release();
    await ctrl?.close();
  });

  it('fails a read of LBA 2048 with ERR_NVME_UNRECOVERED_READ_ERROR (sct 2, sc 81h), naming the command and the LBA', async () => {
    const err = await ns.read(2048, 1, buf.bytes).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(NvmeStatusError);
    const e = err as NvmeStatusError;
    expect(e.code).toBe('ERR_NVME_UNRECOVERED_READ_ERROR');
    expect(e.sct).toBe(2);
    expect(e.sc).toBe(0x81);
    expect(e.message).toMatch(/^Read of nsid 1 at LBA 2048 failed: Unrecovered Read Error/);
    expect(e.hint).toMatch(/data is lost/);
    expect(e.details).toMatchObject({ nsid: 1, lba: 2048 });
  });

  it('fails a 64-block read that covers LBA 2048, and reads next to it succeed', async () => {
    await expect(ns.read(2000, 64, buf.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_UNRECOVERED_READ_ERROR' });
    await ns.read(2047, 1, buf.bytes);
    await ns.read(2049, 1, buf.bytes);
    await ns.read(0, 128, buf.bytes);
  });

  it('reports the same status on a raw queue pair, and the promise queue still has no command outstanding', async () => {
    const qp = await ctrl.createQueuePair({ depth: 8 });
    const seen: Array<[number, number]> = [];
    qp.onComplete = (_cid, status, _dw0, tag) => seen.push([tag, status]);
    qp.submitIo(NvmOpcode.Read, 1, 2048, 8, Number(buf.iova), 4096, 2048);
    qp.submitIo(NvmOpcode.Read, 1, 4096, 8, Number(buf.iova) + 4096, 4096, 4096);
    qp.ring();
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) {
      qp.poll();
      await new Promise((r) => setImmediate(r));
    }
    seen.sort((a, b) => a[0] - b[0]);
    expect(seen.map(([tag]) => tag)).toEqual([2048, 4096]);
    expect(decodeStatus(seen[0]![1])).toMatchObject({ sct: 2, sc: 0x81 });
    expect(seen[1]![1]).toBe(0);
    expect(ctrl.queuePairs[0]!.outstanding).toBe(0);
  });

  it('keeps the controller working: data written elsewhere reads back, Identify answers, no reset happened', async () => {
    const data = Buffer.alloc(8 * 512);
    randomFillSync(data);
    buf.bytes.set(data);
    await ns.write(10_000, 8, buf.bytes);
    buf.bytes.fill(0);
    await ns.read(10_000, 8, buf.bytes);
    expect(Buffer.compare(Buffer.from(buf.bytes.subarray(0, data.length)), data)).toBe(0);
    // Writing the bad block is allowed (only reads are injected), and reading it still fails.
    await ns.write(2048, 1, buf.bytes);
    await expect(ns.read(2048, 1, buf.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_UNRECOVERED_READ_ERROR' });
    expect((await ctrl.admin.identifyController()).sn).toBe('LABSERIAL');
    expect(ctrl.resets).toBe(0);
  });
});
