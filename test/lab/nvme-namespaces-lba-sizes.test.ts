import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// The main lab's second controller has two namespaces of 4096-byte LBAs; the first, one
// of 512-byte LBAs. The same driver code must address blocks of either size.
describe('namespaces with 4096-byte and 512-byte LBAs each round-trip their data', () => {
  it('writes and reads back distinct data on both 4096-byte namespaces of the second controller', async () => {
    const ctrl = await NvmeController.open(labNvme()[1]!);
    const a = ctrl.allocBuffer(256 * 1024);
    const b = ctrl.allocBuffer(256 * 1024);
    try {
      expect(ctrl.namespaceIds).toEqual([1, 2]);
      const written: Buffer[] = [];
      for (const nsid of [1, 2]) {
        const ns = ctrl.namespace(nsid);
        expect(ns.blockSize).toBe(4096);
        expect(ns.blocks).toBe(BigInt((64 * 2 ** 20) / 4096));
        randomFillSync(a.bytes);
        written[nsid] = Buffer.from(a.bytes); // copy
        // One block, a multi-page transfer, and the last blocks of the namespace.
        await ns.write(1, 1, a.bytes);
        await ns.write(100, 64, a.bytes);
        await ns.write(Number(ns.blocks) - 2, 2, a.bytes);
        await expect(ns.write(Number(ns.blocks) - 1, 2, a.bytes)).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
      }
      for (const nsid of [1, 2]) {
        const ns = ctrl.namespace(nsid);
        const w = written[nsid]!;
        b.bytes.fill(0);
        await ns.read(1, 1, b.bytes);
        expect(Buffer.compare(Buffer.from(b.bytes.subarray(0, 4096)), w.subarray(0, 4096))).toBe(0);
        await ns.read(100, 64, b.bytes);
        expect(Buffer.compare(Buffer.from(b.bytes), w)).toBe(0);
        await ns.read(Number(ns.blocks) - 2, 2, b.bytes);
        expect(Buffer.compare(Buffer.from(b.bytes.subarray(0, 8192)), w.subarray(0, 8192))).toBe(0);
        // Byte offsets are in bytes, whatever the block size.
        await ns.readAt(100 * 4096 + 4096, b.bytes.subarray(0, 4096));
        expect(Buffer.compare(Buffer.from(b.bytes.subarray(0, 4096)), w.subarray(4096, 8192))).toBe(0);
      }
      // The two namespaces are separate media: their data differ.
      expect(Buffer.compare(written[1]!, written[2]!)).not.toBe(0);
    } finally {
      a.release();
      b.release();
      await ctrl.close();
    }
  });

  it('uses 512-byte blocks on the first controller in the same way', async () => {
    const ctrl = await NvmeController.open(labNvme()[0]!);
    const a = ctrl.allocBuffer(8192);
    const b = ctrl.allocBuffer(8192);
    try {
      const ns = ctrl.namespace(1);
      expect(ns.blockSize).toBe(512);
      randomFillSync(a.bytes);
      await ns.write(300_001, 16, a.bytes);
      await ns.readAt(300_001 * 512 + 512, b.bytes.subarray(0, 512));
      expect(Buffer.compare(Buffer.from(b.bytes.subarray(0, 512)), Buffer.from(a.bytes.subarray(512, 1024)))).toBe(0);
    } finally {
      a.release();
      b.release();
      await ctrl.close();
    }
  });
});
