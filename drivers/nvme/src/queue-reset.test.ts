// What a controller reset does to a queue pair, in plain memory (no device): commands the
// controller was told about fail exactly once; entries posted but never rung survive at
// the start of the SQ with their CIDs; a suspended queue holds its doorbell until resumed.
import { describe, expect, it } from 'vitest';
import { NvmOpcode } from './commands.js';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';
import { plainDma } from '../test/plain-dma.js';
import { RequestState } from './request.js';
import { sqTailDoorbell } from './registers.js';

function pair(depth = 8) {
  const bar = new ArrayBuffer(0x2000);
  const qp = new QueuePair({ qid: 1, depth, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma: plainDma(), bar: { mapping: { buffer: bar } }, completion: 'poll', handle: fakeQueueHandle });
  const regs = new Uint32Array(bar);
  const sqe = new Uint32Array(qp.sq.bytes.buffer);
  return { qp, doorbell: () => regs[sqTailDoorbell(1, 0) / 4], cidAt: (slot: number) => sqe[slot * 16]! >>> 16, slbaAt: (slot: number) => sqe[slot * 16 + 10]! };
}

describe('QueuePair.reset after a controller reset', () => {
  it('fails the rung commands once and keeps the unrung ones at the start of the SQ', () => {
    const { qp, doorbell, cidAt, slbaAt } = pair();
    const rung = [0, 1, 2].map((i) => qp.submitIo(NvmOpcode.Read, 1, 100 + i, 1, 0x20_0000, 512, 100 + i));
    qp.ring();
    expect(doorbell()).toBe(3);
    const unrung = [0, 1].map((i) => qp.submitIo(NvmOpcode.Write, 1, 200 + i, 1, 0x20_0000, 512, 200 + i));
    const failed: Array<[number, number]> = [];
    qp.reset((cid, tag) => failed.push([cid, tag]), true);
    expect(failed.sort((a, b) => a[1] - b[1])).toEqual(rung.map((cid, i) => [cid, 100 + i]));
    expect(qp.outstanding).toBe(2);
    expect([cidAt(0), cidAt(1)]).toEqual(unrung);
    expect([slbaAt(0), slbaAt(1)]).toEqual([200, 201]);
    expect(qp.unrung).toBe(2);
    qp.ring();
    expect(doorbell()).toBe(2); // the recreated queue starts at 0: two new entries
    // The freed CIDs can be used again, the kept ones cannot be handed out twice.
    const more = Array.from({ length: 5 }, () => qp.submitIo(NvmOpcode.Read, 1, 0, 1, 0x20_0000, 512, 0));
    expect(new Set([...more, ...unrung]).size).toBe(7);
    expect(qp.canSubmit).toBe(false);
  });

  it('fails everything without keepUnrung', () => {
    const { qp } = pair();
    qp.submitIo(NvmOpcode.Read, 1, 1, 1, 0x20_0000, 512, 1);
    qp.ring();
    qp.submitIo(NvmOpcode.Read, 1, 2, 1, 0x20_0000, 512, 2);
    const tags: number[] = [];
    qp.reset((_cid, tag) => tags.push(tag));
    expect(tags.sort()).toEqual([1, 2]);
    expect(qp.outstanding).toBe(0);
    expect(qp.unrung).toBe(0);
  });

  it('holds the doorbell while suspended and rings what was posted on resume', () => {
    const { qp, doorbell } = pair();
    qp.suspend();
    qp.submitIo(NvmOpcode.Read, 1, 1, 1, 0x20_0000, 512, 1);
    qp.ring();
    expect(doorbell()).toBe(0);
    qp.resume();
    expect(doorbell()).toBe(1);
    expect(qp.isSuspended).toBe(false);
  });

  it('a kept (never rung) command is timed from the reset on, not by its age or Abort from before', () => {
    const { qp } = pair();
    qp.epoch = 5;
    const cid = qp.submitIo(NvmOpcode.Read, 1, 0, 1, 0x20_0000, 512, 0);
    qp.requests.state[cid] = RequestState.AbortSent; // the watchdog gave up on it while the doorbell was held
    qp.epoch = 40;
    qp.reset(() => undefined, true);
    expect(qp.requests.epoch[cid]).toBe(40);
    expect(qp.requests.state[cid]).toBe(RequestState.Outstanding);
  });

  it('abandon: a given-up command is reported by neither its late completion nor a reset, and its CID is held until then', () => {
    const { qp } = pair(4);
    const seen: number[] = [];
    qp.onComplete = (_cid, _status, _dw0, tag) => seen.push(tag);
    const a = qp.submitIo(NvmOpcode.Read, 1, 1, 1, 0x20_0000, 512, 1);
    const b = qp.submitIo(NvmOpcode.Read, 1, 2, 1, 0x20_0000, 512, 2);
    qp.ring();
    qp.abandon(a);
    expect(qp.outstanding).toBe(2);
    // The controller answers both: only b is reported; a's CID is free again.
    const cq = new DataView(qp.cq.bytes.buffer);
    [a, b].forEach((cid, slot) => {
      cq.setUint16(slot * 16 + 12, cid, true);
      cq.setUint16(slot * 16 + 14, 1, true); // phase 1, status 0
    });
    expect(qp.poll()).toBe(2);
    expect(seen).toEqual([2]);
    expect(qp.outstanding).toBe(0);
    // Abandoned, then reset: not reported as failed.
    const c = qp.submitIo(NvmOpcode.Read, 1, 3, 1, 0x20_0000, 512, 3);
    qp.ring();
    qp.abandon(c);
    const failed: number[] = [];
    qp.reset((_cid, tag) => failed.push(tag));
    expect(failed).toEqual([]);
    expect(qp.outstanding).toBe(0);
  });
});
