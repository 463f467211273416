// The controller-reset handshake between the main thread and a queue's worker, in plain
// memory (no device; the lab's runtime tests reset a real controller): the worker delivers
// what completed before the reset, fails the rest once with ERR_NVME_RESET, empties its
// rings and acknowledges the generation; poll() notices a reset too; the main thread's
// half returns on the acknowledgement, on a dead worker, and throws on silence.
import { describe, expect, it } from 'vitest';
import { NvmOpcode, QueuePair } from '@vfio-node/nvme';
import { fakeQueueHandle } from '../../../drivers/nvme/test/fake-queue-handle.js';
import { plainDma } from '../../../drivers/nvme/test/plain-dma.js';
import { CTL_RESET, CTL_RESET_DONE, CTL_WORDS } from './protocol.js';
import { WorkerResetSignal, resetWorkerQueue } from './reset-handshake.js';

function worker() {
  const qp = new QueuePair({ qid: 1, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma: plainDma(), bar: { mapping: { buffer: new ArrayBuffer(0x2000) } }, completion: 'poll', handle: fakeQueueHandle });
  const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  const completed: number[] = [];
  const failed: Array<{ tag: number; code: unknown }> = [];
  qp.onComplete = (_cid, _status, _dw0, tag) => completed.push(tag);
  qp.onFail = (_cid, tag, err) => failed.push({ tag, code: (err as { code?: unknown }).code });
  const cq = new Uint32Array(qp.cq.bytes.buffer, qp.cq.bytes.byteOffset, qp.cq.size / 4);
  // The controller posts a completion in CQ slot `slot` (phase 1: the first pass).
  const post = (slot: number, cid: number) => {
    cq[slot * 4 + 2] = slot + 1; // SQ head
    cq[slot * 4 + 3] = cid | (1 << 16);
  };
  return { qp, ctl, completed, failed, post, signal: new WorkerResetSignal(qp, ctl) };
}

describe('the worker side of a controller reset', () => {
  it('delivers what completed before the reset, fails the rest once with ERR_NVME_RESET, empties the rings and acknowledges', () => {
    const { qp, ctl, completed, failed, post, signal } = worker();
    const cids = [10, 11, 12].map((tag) => qp.submitIo(NvmOpcode.Read, 1, tag, 1, 0x20_0000, 512, tag));
    qp.ring();
    post(0, cids[0]!);
    expect(signal.check()).toBe(false); // nothing signalled yet
    Atomics.store(ctl, CTL_RESET, 1);
    expect(signal.check()).toBe(true);
    expect(completed).toEqual([10]);
    expect(failed.map((f) => f.tag).sort()).toEqual([11, 12]);
    expect(failed.every((f) => f.code === 'ERR_NVME_RESET')).toBe(true);
    expect(qp.outstanding).toBe(0);
    expect(Atomics.load(ctl, CTL_RESET_DONE)).toBe(1);
    expect(signal.check()).toBe(false); // each generation once
    expect(failed.length).toBe(2);
  });

  it('poll() notices a reset (code run with call() polls and never calls check())', () => {
    const { qp, ctl, failed } = worker();
    qp.submitIo(NvmOpcode.Read, 1, 0, 1, 0x20_0000, 512, 7);
    qp.ring();
    Atomics.store(ctl, CTL_RESET, 1);
    expect(qp.poll()).toBe(0);
    expect(failed.map((f) => f.tag)).toEqual([7]);
    expect(Atomics.load(ctl, CTL_RESET_DONE)).toBe(1);
    // The next command goes to slot 0 of the re-created SQ.
    qp.submitIo(NvmOpcode.Read, 1, 99, 1, 0x20_0000, 512, 8);
    expect(qp.unrung).toBe(1);
    expect(new Uint32Array(qp.sq.bytes.buffer)[10]).toBe(99); // CDW10 (SLBA) of slot 0's entry
  });
});

describe('the main thread side of a controller reset', () => {
  it('raises the generation, wakes the worker, and returns when the worker acknowledged it', async () => {
    const { ctl, signal } = worker();
    let woken = 0;
    const done = resetWorkerQueue(ctl, () => {
      woken++;
      setImmediate(() => signal.check());
    }, () => false, 60_000, () => new Error('no answer'));
    await expect(done).resolves.toBe(true);
    expect([woken, Atomics.load(ctl, CTL_RESET), Atomics.load(ctl, CTL_RESET_DONE)]).toEqual([1, 1, 1]);
  });

  it('returns false for a worker that died, and throws onTimeout for one that never answers', async () => {
    const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
    await expect(resetWorkerQueue(ctl, () => {}, () => true, 60_000, () => new Error('no answer'))).resolves.toBe(false);
    await expect(resetWorkerQueue(ctl, () => {}, () => false, 0, () => new Error('no answer'))).rejects.toThrow('no answer');
  });
});
