import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet } from '@vfio-node/virtio-net';
import { exchange } from '../../bench/src/net/selftest.js';
import { labNics } from './lab-env.js';

describe('frames of varied sizes sent from one NIC arrive on the other complete, in order and intact (polling)', () => {
  let sender: VirtioNet;
  let receiver: VirtioNet;
  beforeAll(() => {
    const [a, b] = labNics();
    sender = VirtioNet.open(a!);
    receiver = VirtioNet.open(b!);
  });
  afterAll(() => {
    sender?.close();
    receiver?.close();
  });

  it('delivers 3000 frames of 60 to 1514 bytes, each one checked byte by byte', async () => {
    const r = await exchange(sender, receiver, 3000, { timeoutMs: 90_000, window: 96 });
    expect(r.firstProblem).toBeUndefined();
    expect(r).toMatchObject({ sent: 3000, received: 3000, outOfOrder: 0, wrongLength: 0, corrupt: 0 });
  });

  it('kept the counters: packets and bytes on both sides, no drops or errors', () => {
    const tx = sender.stats();
    const rx = receiver.stats();
    expect(tx.txPackets).toBe(3000);
    expect(rx.rxPackets).toBeGreaterThanOrEqual(3000);
    expect(tx.txErrors + tx.txDrops + rx.rxErrors + rx.rxDrops).toBe(0);
    expect(rx.rxBytes).toBeGreaterThanOrEqual(tx.txBytes);
  });

  it('works the other way round too', async () => {
    const r = await exchange(receiver, sender, 500, { timeoutMs: 60_000, window: 96 });
    expect(r.firstProblem).toBeUndefined();
    expect(r.received).toBe(500);
  });
});
