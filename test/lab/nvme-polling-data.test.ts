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
});
