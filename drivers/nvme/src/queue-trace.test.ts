// What a traced queue pair says (plain memory and the fake handle, no device): an interrupt
// line naming the vector, the CQ it woke and the entries posted there, then the completions
// and the CQ head doorbell, in that order. The lab tests (test/lab/nvme-trace*.test.ts) check
// the same on the real controller and the native handle.
import { describe, expect, it } from 'vitest';
import { Tracer } from '@vfio-node/core';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';
import { plainDma } from '../test/plain-dma.js';

function pair(tracer: Tracer | null): QueuePair {
  const bar = new ArrayBuffer(0x2000);
  return new QueuePair({ qid: 1, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma: plainDma(), bar: { mapping: { buffer: bar } }, completion: 'interrupt', handle: fakeQueueHandle, tracer, traceWho: 'dev' });
}

/** Posts a completion for cid in CQ slot `slot` with Phase Tag `phase` (as the controller would). */
function post(qp: QueuePair, slot: number, cid: number, sqhd: number, phase: number): void {
  const cq = new Uint32Array(qp.cq.bytes.buffer, qp.cq.bytes.byteOffset, qp.cq.size / 4);
  cq[slot * 4] = 0;
  cq[slot * 4 + 2] = sqhd;
  cq[slot * 4 + 3] = (phase << 16) | cid;
}

describe('QueuePair tracing: interrupts, completions and doorbells', () => {
  it('an interrupt line (vector, eventfd count, the CQ and the entries posted from its head) comes before the entries it woke and the CQ head doorbell', () => {
    const tracer = new Tracer({ keep: true, write: () => undefined });
    const qp = pair(tracer);
    const a = qp.submitIo(0x02, 1, 0, 7, 0x20_0000, 4096, 0);
    const b = qp.submitIo(0x02, 1, 8, 7, 0x20_1000, 4096, 0);
    qp.ring();
    post(qp, 0, a, 1, 1);
    post(qp, 1, b, 2, 1);
    qp.interrupted(1, 1n);
    expect(qp.poll()).toBe(2);
    const ev = tracer.events.map((e) => `${e.kind} ${e.text}`);
    expect(ev.slice(-4)).toEqual([
      'irq MSI-X vector 1 (eventfd count 1) woke CQ1: 2 new entries from CQ1[0]',
      `cqe CQ1[0] cid=${a} status=Successful Completion sqhd=1 dw0=0x0`,
      `cqe CQ1[1] cid=${b} status=Successful Completion sqhd=2 dw0=0x0`,
      'doorbell CQ1HDBL <- 2',
    ]);
    expect(tracer.events.at(-4)!.section).toMatch(/MSI-X/);
    // A wake that finds the CQ already reaped says so; a waiter that cannot know the count (eventfdWait) leaves it out.
    qp.interrupted(1);
    expect(tracer.events.at(-1)!.text).toBe('MSI-X vector 1 (eventfdWait returned) woke CQ1: nothing new (reaped already)');
    qp.release();
  });

  it('counts posted entries across the end of the ring (Phase Tag flips at the wrap)', () => {
    const tracer = new Tracer({ keep: true, write: () => undefined });
    const qp = pair(tracer);
    // Seven commands complete one by one: the head reaches slot 7.
    for (let i = 0; i < 7; i++) {
      const cid = qp.submitIo(0x02, 1, i, 0, 0x20_0000, 512, 0);
      qp.ring();
      post(qp, i, cid, i + 1, 1);
      expect(qp.poll()).toBe(1);
    }
    const c = qp.submitIo(0x02, 1, 7, 0, 0x20_0000, 512, 0);
    const d = qp.submitIo(0x02, 1, 8, 0, 0x20_0000, 512, 0);
    qp.ring();
    post(qp, 7, c, 0, 1);
    post(qp, 0, d, 1, 0); // the second pass writes Phase Tag 0
    qp.interrupted(3, 2);
    expect(tracer.events.at(-1)!.text).toBe('MSI-X vector 3 (eventfd count 2) woke CQ1: 2 new entries from CQ1[7]');
    expect(qp.poll()).toBe(2);
    qp.release();
  });

  it('with tracing off, an interrupt is noted without a line and poll() goes through the plain native poll', () => {
    const qp = pair(null);
    const cid = qp.submitIo(0x02, 1, 0, 7, 0x20_0000, 4096, 0);
    qp.ring();
    post(qp, 0, cid, 1, 1);
    qp.interrupted(1, 1n);
    expect(qp.poll()).toBe(1);
    qp.release();
  });
});
