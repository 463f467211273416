import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';
import { checkEveryShape, checkManyLbas } from './nvme-shapes.js';

describe('with MSI-X interrupts per completion queue, random data reads back identical in every transfer shape', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { completion: 'interrupt' });
  });
  afterAll(() => ctrl?.close());

  it('wires I/O queue 1 to MSI-X vector 1', () => {
    const qp = ctrl.queuePairs[0]!;
    expect(qp.completion).toBe('interrupt');
    expect(qp.vector?.vector).toBe(1);
  });

  it('one block, PRP2 boundary, PRP lists, MDTS splits and SGLs', async () => {
    await checkEveryShape(ctrl);
    expect(ctrl.queuePairs[0]!.vector!.received).toBeGreaterThan(0n);
  });

  it('256 concurrent 4 KiB writes and reads at random LBAs', async () => {
    await checkManyLbas(ctrl, 256);
  });
});
