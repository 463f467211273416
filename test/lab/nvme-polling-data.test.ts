import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';
import { checkEveryShape, checkManyLbas } from './nvme-shapes.js';

describe('with polled completion queues, random data reads back identical in every transfer shape', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { completion: 'poll' });
  });
  afterAll(() => ctrl?.close());

  it('uses a polled queue pair', () => {
    expect(ctrl.queuePairs[0]!.completion).toBe('poll');
    expect(ctrl.queuePairs[0]!.vector).toBeNull();
  });

  it('one block, PRP2 boundary, PRP lists, MDTS splits and SGLs', async () => {
    await checkEveryShape(ctrl);
  });

  it('256 concurrent 4 KiB writes and reads at random LBAs', async () => {
    await checkManyLbas(ctrl, 256);
  });

  // A caller that releases a buffer while its read has not ended must not have the range
  // handed to the next allocation meanwhile: the controller would write into the new
  // owner's memory. Reads queued ahead keep this read in the driver's software queue, so
  // it reaches the device only after the release. The driver pins the buffer until the
  // command ends. (Without the pin, this overwrote a new owner in 1 of 10 rounds.)
  it('a buffer released before its read ends is not handed out again until the read ends', async () => {
    const ns = ctrl.namespace(1);
    const size = 1024 * 1024;
    const blocks = size / ns.blockSize;
    const src = ctrl.allocBuffer(size);
    src.bytes.fill(0x5a);
    await ns.write(0, blocks, src.bytes);
    src.release();
    const small = ctrl.allocBuffer(4096);
    let overwritten = 0;
    let allocatedDuringReads = 0;
    for (let round = 0; round < 20; round++) {
      const ahead = Array.from({ length: 400 }, (_, i) => ns.read(i * 8, 8, small.bytes));
      const mem = ctrl.allocBuffer(size);
      let done = false;
      const read = ns.read(0, blocks, mem.bytes).then(() => void (done = true));
      mem.release();
      const others = [];
      // Turns of the event loop let V8 finalize the released slice; each new owner fills its memory.
      while (!done) {
        await new Promise((r) => setImmediate(r));
        if (done) break;
        const o = ctrl.allocBuffer(size);
        o.bytes.fill(0xc3);
        others.push(o);
        allocatedDuringReads++;
      }
      await Promise.all([read, ...ahead]);
      for (const o of others) {
        if (!o.bytes.every((b) => b === 0xc3)) overwritten++;
        o.release();
      }
    }
    small.release();
    expect(allocatedDuringReads).toBeGreaterThan(0); // the reads were slow enough to race with
    expect(overwritten).toBe(0);
  });
});
