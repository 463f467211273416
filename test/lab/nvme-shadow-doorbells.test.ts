import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DmaMemory } from '@vfio-node/core';
import { NvmeController, NvmOpcode, OACS, shadowSlots, type QueuePair } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// Shadow doorbells (Doorbell Buffer Config, §5.8): QEMU's controller offers them (OACS bit
// 8). With them on, the I/O queues' doorbells go to memory the controller reads itself,
// and the controller publishes EventIdx values in the second page. Data must be exactly
// as with register doorbells, and must survive a controller reset (which forgets the
// buffers: the driver configures them again).

const OPS = 500; // 1000 commands on a 64-entry queue leave tail and head at 40
const QD = 16;
const BLOCKS = 8; // 4 KiB on 512-byte LBAs
const BASE = 300_000;

/** Runs ops (write or read of 4 KiB slot i at LBA BASE + 8i) at depth QD on a raw queue pair. */
async function pump(qp: QueuePair, mem: DmaMemory, opcode: number): Promise<void> {
  let next = 0;
  let done = 0;
  const failures: number[] = [];
  qp.onComplete = (_cid, status) => {
    if (status !== 0) failures.push(status);
    done++;
  };
  const deadline = Date.now() + 60_000;
  while (done < OPS) {
    while (next < OPS && qp.outstanding < QD) {
      qp.submitIo(opcode, 1, BASE + next * BLOCKS, BLOCKS, Number(mem.iova) + next * 4096, 4096, next);
      next++;
    }
    qp.ring();
    if (qp.poll() === 0) await new Promise((r) => setImmediate(r));
    if (Date.now() > deadline) throw new Error(`only ${done} of ${OPS} commands completed within 60 s`);
  }
  qp.onComplete = null;
  expect(failures).toEqual([]);
}

describe('shadow doorbells: I/O queue doorbells through Doorbell Buffer Config', () => {
  let ctrl: NvmeController;
  let qp: QueuePair;
  let src: DmaMemory;
  let dst: DmaMemory;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { ioQueues: 1, maxIoQueues: 3 });
    qp = await ctrl.createQueuePair({ depth: 64 });
    src = ctrl.allocBuffer(OPS * 4096);
    dst = ctrl.allocBuffer(OPS * 4096);
  });
  afterAll(async () => {
    src?.release();
    dst?.release();
    await ctrl?.close();
  });

  it('are configured on a controller that offers them, and every I/O queue pair uses them', () => {
    expect(ctrl.identify.oacs & OACS.DoorbellBufferConfig).not.toBe(0);
    expect(ctrl.shadowDoorbells).not.toBeNull();
    expect(qp.usesShadowDoorbells).toBe(true);
    expect(ctrl.queuePairs.every((q) => q.usesShadowDoorbells)).toBe(true);
  });

  it('carry 500 random 4 KiB writes and reads at depth 16 with the data intact, and the controller publishes EventIdx values', async () => {
    randomFillSync(src.bytes);
    await pump(qp, src, NvmOpcode.Write);
    await pump(qp, dst, NvmOpcode.Read);
    expect(Buffer.compare(dst.bytes, src.bytes)).toBe(0);
    const { memory, eventIdx } = ctrl.shadowDoorbells!;
    const words = new Uint32Array(memory.bytes.buffer, memory.bytes.byteOffset, memory.bytes.byteLength / 4);
    const slots = shadowSlots(qp.qid, ctrl.cap.dstrd, eventIdx);
    // 1000 commands on a 64-entry queue: tail and head went around 15 times and stand at 40;
    // the controller wrote its EventIdx (the last tail it consumed) into the second page.
    expect(words[slots.sqTail]).toBe((2 * OPS) % 64);
    expect(words[slots.sqEventIdx]).toBe((2 * OPS) % 64);
    // The CQ head is announced lazily (at most 64 / 4 = 16 entries behind, see queue.ts).
    const behind = ((2 * OPS) % 64 - words[slots.cqHead]! + 64) % 64;
    expect(behind).toBeLessThanOrEqual(16);
    // Far fewer register writes than commands: batches, and the shadow doorbell.
    expect(qp.doorbellStats.sqRegisterWrites).toBeLessThanOrEqual(qp.doorbellStats.rings);
    // And the CQ head went to the controller about once per 16 completions, not once per poll.
    expect(qp.doorbellStats.cqHeadWrites).toBeGreaterThan(0);
    expect(qp.doorbellStats.cqHeadWrites).toBeLessThanOrEqual(Math.ceil((2 * OPS) / 16) + 1);
  });

  it('lazy CQ head: a 16-entry queue kept full (15 commands in flight) for 2000 reads never overflows its CQ', async () => {
    const small = await ctrl.createQueuePair({ depth: 16 });
    const buf = ctrl.allocBuffer(15 * 4096);
    try {
      let next = 0;
      let done = 0;
      let failed = 0;
      small.onComplete = (_cid, status) => {
        if (status !== 0) failed++;
        done++;
      };
      const deadline = Date.now() + 60_000;
      while (done < 2000) {
        while (next < 2000 && small.outstanding < 15) {
          small.submitIo(NvmOpcode.Read, 1, BASE + (next % 15) * BLOCKS, BLOCKS, Number(buf.iova) + (next % 15) * 4096, 4096, next);
          next++;
        }
        small.ring();
        small.poll();
        // A CQ the controller found full would stall here: commands would stop completing.
        if (Date.now() > deadline) throw new Error(`only ${done} of 2000 commands completed within 60 s (CQ head not announced in time?)`);
      }
      expect(failed).toBe(0);
      // The head was announced (the queue went round 125 times), but not on every poll.
      expect(small.doorbellStats.cqHeadWrites).toBeGreaterThan(2000 / 16);
      expect(Buffer.compare(buf.bytes.subarray(0, 4096), src.bytes.subarray(0, 4096))).toBe(0);
    } finally {
      small.onComplete = null;
      buf.release();
    }
  });

  it('are configured again after a controller reset: I/O on the same queue pairs works and reads the same bytes', async () => {
    await ctrl.reset();
    expect(ctrl.shadowDoorbells).not.toBeNull();
    dst.bytes.fill(0);
    await pump(qp, dst, NvmOpcode.Read);
    expect(Buffer.compare(dst.bytes, src.bytes)).toBe(0);
    const one = ctrl.allocBuffer(4096);
    await ctrl.namespace(1).read(BASE, BLOCKS, one.bytes);
    expect(Buffer.compare(one.bytes, src.bytes.subarray(0, 4096))).toBe(0);
    one.release();
  });

  it('can be turned off: shadowDoorbells: false drives every doorbell through its register', async () => {
    const plain = await NvmeController.open(labNvme()[1]!, { shadowDoorbells: false });
    try {
      expect(plain.shadowDoorbells).toBeNull();
      expect(plain.queuePairs[0]!.usesShadowDoorbells).toBe(false);
      const buf = plain.allocBuffer(4096);
      await plain.namespace(1).read(0, 4096 / plain.namespace(1).blockSize, buf.bytes);
      expect(plain.queuePairs[0]!.doorbellStats.sqRegisterWrites).toBe(plain.queuePairs[0]!.doorbellStats.rings);
      buf.release();
    } finally {
      await plain.close();
    }
  });
});
