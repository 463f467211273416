import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, type Namespace } from '@vfio-node/nvme';
import type { DmaMemory } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

describe('write zeroes, deallocate, compare, FUA and flush do what the NVM command set says', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  let a: DmaMemory;
  let b: DmaMemory;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
    ns = ctrl.namespace(1);
    a = ctrl.allocBuffer(64 * 1024);
    b = ctrl.allocBuffer(64 * 1024);
  });
  afterAll(async () => {
    a?.release();
    b?.release();
    await ctrl?.close();
  });

  it('Write Zeroes turns written blocks into zeroes', async () => {
    randomFillSync(a.bytes);
    await ns.write(5000, 32, a.bytes);
    await ns.read(5000, 32, b.bytes);
    expect(b.bytes.subarray(0, 32 * 512).some((x) => x !== 0)).toBe(true);
    await ns.writeZeroes(5008, 8);
    await ns.read(5000, 32, b.bytes);
    expect(Buffer.compare(b.bytes.subarray(0, 8 * 512), a.bytes.subarray(0, 8 * 512))).toBe(0); // before: untouched
    expect(b.bytes.subarray(8 * 512, 16 * 512).every((x) => x === 0)).toBe(true);
    expect(Buffer.compare(b.bytes.subarray(16 * 512, 32 * 512), a.bytes.subarray(16 * 512, 32 * 512))).toBe(0); // after: untouched
  });

  it('Dataset Management (deallocate) of two ranges turns them into zeroes and leaves the blocks between them untouched', async () => {
    // The lab's drives pass discards through (discard=unmap): the deallocated blocks become
    // a hole in the backing file and read back as zeroes.
    randomFillSync(a.bytes);
    await ns.write(9000, 64, a.bytes);
    await ns.deallocate([{ lba: 9000, blocks: 16 }, { lba: 9032, blocks: 16 }]);
    await ns.read(9000, 64, b.bytes);
    expect(b.bytes.subarray(0, 16 * 512).every((x) => x === 0)).toBe(true);
    expect(b.bytes.subarray(32 * 512, 48 * 512).every((x) => x === 0)).toBe(true);
    expect(Buffer.compare(b.bytes.subarray(16 * 512, 32 * 512), a.bytes.subarray(16 * 512, 32 * 512))).toBe(0);
    expect(Buffer.compare(b.bytes.subarray(48 * 512, 64 * 512), a.bytes.subarray(48 * 512, 64 * 512))).toBe(0);
    await expect(ns.deallocate([{ lba: ns.blocks, blocks: 1 }])).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });

  it('Write Zeroes with the deallocate hint also reads back zeroes', async () => {
    randomFillSync(a.bytes);
    await ns.write(9100, 16, a.bytes);
    await ns.writeZeroes(9100, 16, { deallocate: true });
    await ns.read(9100, 16, b.bytes);
    expect(b.bytes.subarray(0, 16 * 512).every((x) => x === 0)).toBe(true);
  });

  it('Compare matches the written data and reports a mismatch after one byte changes', async () => {
    randomFillSync(a.bytes);
    await ns.write(12000, 16, a.bytes);
    expect(await ns.compare(12000, 16, a.bytes)).toBe(true);
    a.bytes[3000] ^= 0x5a;
    expect(await ns.compare(12000, 16, a.bytes)).toBe(false);
  });

  it('a FUA write and a flush complete, and the data reads back', async () => {
    randomFillSync(a.bytes);
    await ns.write(15000, 8, a.bytes, { fua: true });
    await ns.flush();
    await ns.read(15000, 8, b.bytes);
    expect(Buffer.compare(a.bytes.subarray(0, 4096), b.bytes.subarray(0, 4096))).toBe(0);
  });

  it('byte-offset helpers address the same blocks', async () => {
    randomFillSync(a.bytes);
    await ns.writeAt(20000 * 512, a.bytes.subarray(0, 4096));
    await ns.read(20000, 8, b.bytes);
    expect(Buffer.compare(a.bytes.subarray(0, 4096), b.bytes.subarray(0, 4096))).toBe(0);
    await expect(ns.readAt(100, b.bytes.subarray(0, 512))).rejects.toMatchObject({ code: 'ERR_MISALIGNED' });
  });
});
