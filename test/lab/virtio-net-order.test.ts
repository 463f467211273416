import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet } from '@vfio-node/virtio-net';
import { SEQ_OFFSET, isPktgenFrame, parseIp, parseMac, readSeq, writeUdpFrame } from '../../bench/src/net/frames.js';
import { SequenceCheck } from '../../bench/src/net/sequence.js';
import { labNics } from './lab-env.js';

// One transmit queue, QEMU's hub, one receive queue: the order pktgen's burst posts in is
// the order count sees, as long as the receiver keeps up. (When it does not, QEMU 7.2
// reorders: the frame that found the receive ring empty waits in the receiving NIC's
// queue, and when the driver gives buffers back, qemu_flush_or_purge_queued_packets
// flushes the hub's queue, with newer frames, before that one; see virtio-net-apps.)
// Here the sender keeps at most `window` frames ahead of what arrived, fewer than the
// receive ring's free buffers, so nothing waits in QEMU and every step is ours: the burst
// (in C and in JavaScript), the used-ring walk, the receive batch and count's check.

describe('one queue to one queue through the hub keeps pktgen’s order when the receiver keeps up', () => {
  let a: string | undefined;
  let receiver!: VirtioNet;
  // Opened in a hook, not at collection: `vitest list` collects without a device.
  beforeAll(() => {
    const nics = labNics();
    a = nics[0];
    receiver = VirtioNet.open(nics[1]!);
  });
  afterAll(() => receiver?.close());

  async function run(sender: VirtioNet, frames: number, window: number, batch: number): Promise<SequenceCheck> {
    const tx = sender.txQueue(0);
    const rx = receiver.rxQueue(0);
    const spec = { srcMac: sender.mac, dstMac: parseMac('02:00:00:00:00:02'), srcIp: parseIp('10.0.0.1'), dstIp: parseIp('10.0.0.2') };
    for (let id = 0; id < tx.ring.size; id++) writeUdpFrame(tx.frames, tx.frameOffset(id), 64, spec);
    const check = new SequenceCheck(frames);
    let seq = 0;
    const deadline = performance.now() + 120_000;
    while (!check.complete && performance.now() < deadline) {
      const ahead = seq - check.frames;
      if (seq < frames && ahead < window) seq += tx.burst(Math.min(batch, window - ahead, frames - seq), 64, SEQ_OFFSET, seq);
      const n = rx.receive(64);
      for (let i = 0; i < n; i++) if (isPktgenFrame(rx.frames, rx.offsets[i]!, rx.lengths[i]!)) check.add(readSeq(rx.frames, rx.offsets[i]!));
      if (n === 0) await new Promise<void>((r) => setImmediate(r));
    }
    return check;
  }

  for (const nativeTx of [true, false]) {
    it(`20000 sequenced 64-byte frames from TxQueue.burst ${nativeTx ? 'in C' : 'in JavaScript'} arrive all, once, and in order (reordered 0)`, async () => {
      const sender = VirtioNet.open(a!, { nativeTx });
      try {
        expect(sender.txQueue(0).nativeBurstEnabled).toBe(nativeTx);
        const c = await run(sender, 20_000, 96, 32);
        expect({ frames: c.frames, missing: c.missing, duplicates: c.duplicates, lost: c.lost, reordered: c.reordered, lastSeq: c.lastSeq }).toEqual({
          frames: 20_000, missing: 0, duplicates: 0, lost: 0, reordered: 0, lastSeq: 19_999,
        });
        expect(receiver.rxQueue(0).stats.drops).toBe(0);
      } finally {
        sender.close();
      }
    });
  }
});
