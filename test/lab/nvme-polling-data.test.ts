import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';
import { checkEveryShape, checkManyLbas } from './nvme-shapes.js';
import { releasedBufferRace } from './released-buffer-race.js';

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
    const r = await releasedBufferRace({ blockSize: ns.blockSize, alloc: (n) => ctrl.allocBuffer(n), read: (l, b, buf) => ns.read(l, b, buf), write: (l, b, buf) => ns.write(l, b, buf) }, 20, 400);
    expect(r.allocatedDuringReads).toBeGreaterThan(0); // the reads were slow enough to race with
    expect(r.overwritten).toBe(0);
  });
});
