import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// An I/O buffer is one live allocation: a view over the whole 2 MiB chunk (where the
// queues and PRP lists live too), across two allocations, or over released memory (length
// 0 once released) never reaches the controller, and the driver's own memory is never an
// I/O buffer.
describe('DMA allocations are isolated from each other', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it('a view over the whole chunk, or past the end of its allocation, is refused and nothing is written', async () => {
    const ns = ctrl.namespace(1);
    const a = ctrl.allocBuffer(4096);
    const b = ctrl.allocBuffer(4096);
    b.bytes.fill(0x5a);
    const blocks = 8192 / ns.blockSize;
    // Each allocation has an ArrayBuffer of its own: no view of it reaches past its end.
    expect(a.bytes.buffer.byteLength).toBe(4096);
    expect(() => new Uint8Array(a.bytes.buffer, 0, 8192)).toThrow(RangeError);
    await expect(ns.read(0, blocks, new Uint8Array(a.native.buffer))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    // a and b may be neighbours: a view of the chunk from a's start over 8 KiB spans both.
    await expect(ns.read(0, blocks, new Uint8Array(a.native.buffer, a.offset, 8192))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    expect(b.bytes.every((x) => x === 0x5a)).toBe(true);
    // Inside one allocation it works.
    await ns.read(0, 4096 / ns.blockSize, a.bytes);
    await ns.read(0, 1, a.bytes.subarray(ns.blockSize));
    a.release();
    b.release();
  });

  it('released memory is refused, and so is memory the driver keeps for itself', async () => {
    const ns = ctrl.namespace(1);
    const a = ctrl.allocBuffer(4096);
    const stale = a.bytes;
    a.release();
    // release() detached it: the view has length 0, and translate() refuses it.
    expect(stale.length).toBe(0);
    expect(ctrl.device.dma.translate(stale)).toBeUndefined();
    await expect(ns.read(0, 1, stale)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA', message: expect.stringMatching(/released/) });
    const dma = ctrl.device.dma;
    const own = dma.alloc(4096, { internal: true });
    expect(dma.translate(own.bytes)).toBeUndefined();
    expect(dma.refusal(own.bytes)).toMatch(/driver's own DMA memory/);
    await expect(ns.read(0, 1, own.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    own.release();
    const fresh = ctrl.allocBuffer(4096);
    expect(dma.translate(fresh.bytes)).toBe(fresh.iova);
    expect(dma.refusal(fresh.bytes)).toBeUndefined();
    fresh.release();
  });
});
