import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, NvmeStatusError, NvmOpcode, newPending } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

/** A raw request that skips the namespace's checks, so that a bad LBA reaches the controller. */
function rawRead(nsid: number, slba: number, iova: number, blockSize: number) {
  const p = newPending();
  p.opcode = NvmOpcode.Read;
  p.nsid = nsid;
  p.slba = slba;
  p.total = 1;
  p.maxBlocks = 1;
  p.iova = iova;
  p.blockSize = blockSize;
  return p;
}

describe('bad requests fail with clear errors and the controller keeps working', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it('an LBA range past the end is refused before submission with ERR_NVME_LBA_OUT_OF_RANGE', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(8192);
    await expect(ns.read(ns.blocks, 1, buf.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE', details: { nsid: 1 } });
    await expect(ns.write(ns.blocks - 1n, 2, buf.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
    buf.release();
  });

  it('the controller\'s own LBA Out of Range status is decoded (sct 0, sc 80h) and the next read works', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    const p = rawRead(1, Number(ns.blocks) + 10, Number(buf.iova), 512);
    const err = await ctrl.ioQueue().run(p).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect(err).toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE', sct: 0, sc: 0x80, details: { lba: Number(ns.blocks) + 10 } });
    expect((err as Error).message).toMatch(/LBA Out of Range/);
    await ns.read(0, 1, buf.bytes);
    buf.release();
  });

  it('buffers that are not DMA memory, too small or misaligned are refused with hints', async () => {
    const ns = ctrl.namespace(1);
    await expect(ns.read(0, 1, new Uint8Array(512))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA', hint: expect.stringMatching(/allocBuffer/) });
    const buf = ctrl.allocBuffer(4096);
    await expect(ns.read(0, 16, buf.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_TOO_SMALL' });
    await expect(ns.read(0, 1, buf.bytes.subarray(2, 514))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_MISALIGNED' });
    await expect(ns.read(0, 1.5, buf.bytes)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await ns.read(0, 1, buf.bytes.subarray(4, 516)); // dword aligned is fine
    buf.release();
  });

  it('a command the controller does not know fails with Invalid Command Opcode', async () => {
    const err = await ctrl.admin.run('vendor opcode C0h', (u32, sqe, cid) => {
      u32.fill(0, sqe, sqe + 16);
      u32[sqe] = 0xc0 | (cid << 16);
    }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_NVME_INVALID_COMMAND_OPCODE', sct: 0, sc: 1 });
    expect(ctrl.identify.sn.length).toBeGreaterThan(0);
    expect(await ctrl.admin.getVolatileWriteCache()).toBeTypeOf('boolean');
  });
});
