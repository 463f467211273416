// `await using` on a queue pair, in plain memory (no device): a pair the controller made
// goes back through the controller's deletion; any other pair releases its memory.
import { describe, expect, it } from 'vitest';
import type { DmaSource } from '@vfio-node/core';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';
import { plainDma } from '../test/plain-dma.js';

function pair(dma: DmaSource): QueuePair {
  const bar = new ArrayBuffer(0x2000);
  return new QueuePair({ qid: 1, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma, bar: { mapping: { buffer: bar } }, completion: 'poll', handle: fakeQueueHandle });
}

describe('QueuePair and await using', () => {
  it('a pair of no controller releases its rings at the end of the block', async () => {
    const dma = plainDma();
    const released = dma.released;
    let sqIova = 0;
    {
      await using qp = pair(dma);
      sqIova = qp.sqIova;
      expect(released).toEqual([]);
    }
    expect(released).toContain(sqIova);
  });

  it("a pair made by a controller is handed to its disposer (the controller's deleteQueuePair), not released behind its back", async () => {
    const dma = plainDma();
    const released = dma.released;
    const disposed: QueuePair[] = [];
    let qp!: QueuePair;
    {
      await using q = pair(dma);
      qp = q;
      q.disposer = async (x) => {
        await new Promise((r) => setImmediate(r));
        disposed.push(x);
      };
    }
    expect(disposed).toEqual([qp]);
    expect(released).toEqual([]);
  });
});
