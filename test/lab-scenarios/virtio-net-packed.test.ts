// lab: --nvme none --nics 2 --nic packed=on,mq=on --hugepages 64
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Feature, VirtioNet } from '@vfio-node/virtio-net';
import { exchange } from '../../bench/src/net/selftest.js';
import { labNics } from '../lab/lab-env.js';

const bit = (name: keyof typeof Feature) => 1n << BigInt(Feature[name]);

describe('NICs offering packed rings and MQ (QEMU packed=on,mq=on behind one hub): frames flow through packed virtqueues', () => {
  let a: string | undefined;
  let b: string | undefined;
  let sender: VirtioNet;
  let receiver: VirtioNet;
  beforeAll(() => {
    [a, b] = labNics();
    // A 64-entry transmit ring: 2000 frames go round it about 30 times, so both wrap counters
    // flip often. The receiver's 256 buffers never run out here (the exchange holds at most 32).
    // Packed rings are used only when asked for (split is the driver's preference).
    sender = VirtioNet.open(a!, { queueSize: 64, features: { packed: true } });
    receiver = VirtioNet.open(b!, { interrupts: 'msix', features: { packed: true } });
  });
  afterAll(() => {
    sender?.close();
    receiver?.close();
  });

  it('negotiated VIRTIO_F_RING_PACKED and VIRTIO_NET_F_MQ (and VERSION_1, ACCESS_PLATFORM, EVENT_IDX) on both NICs', () => {
    for (const nic of [sender, receiver]) {
      for (const name of ['VIRTIO_F_RING_PACKED', 'VIRTIO_NET_F_MQ', 'VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM', 'VIRTIO_F_EVENT_IDX'] as const) {
        expect(nic.features & bit(name), name).toBe(bit(name));
      }
      expect(nic.packed).toBe(true);
      expect(nic.eventIdx).toBe(true);
    }
  });

  it('delivers 2000 frames of 60 to 1514 bytes through packed rings, complete, in order and intact (receiver on MSI-X)', async () => {
    const r = await exchange(sender, receiver, 2000, { timeoutMs: 120_000, interrupts: true });
    expect(r.firstProblem).toBeUndefined();
    expect(r).toMatchObject({ sent: 2000, received: 2000, outOfOrder: 0, wrongLength: 0, corrupt: 0 });
    const tx = sender.stats();
    const rx = receiver.stats();
    expect(tx.txPackets).toBe(2000);
    expect(rx.rxPackets).toBeGreaterThanOrEqual(2000);
    expect(tx.txErrors + tx.txDrops + rx.rxErrors + rx.rxDrops).toBe(0);
    expect(sender.txQueue(0).ring.size).toBe(64);
  });

  it("with 64-entry rings on both sides (the receiver's ring runs full and QEMU pushes back), 2000 frames still all arrive, intact", async () => {
    // This is where notifying on the device's exact off_wrap stalled QEMU 7.2 (see PackedRing.exactEvents).
    // Order is not asserted: under back-pressure QEMU's net queue delivers a new frame before the
    // ones it queued (split rings show it too); the lock-step tests above see perfect order.
    sender.close();
    receiver.close();
    const x = VirtioNet.open(a!, { queueSize: 64, features: { packed: true } });
    const y = VirtioNet.open(b!, { queueSize: 64, features: { packed: true } });
    try {
      const r = await exchange(x, y, 2000, { timeoutMs: 60_000 });
      expect(r).toMatchObject({ sent: 2000, received: 2000, wrongLength: 0, corrupt: 0 });
      expect(y.stats().rxErrors).toBe(0);
    } finally {
      x.close();
      y.close();
    }
  });

  it('works the other way round with EVENT_IDX switched off (flag-based suppression in the packed event structures)', async () => {
    const x = VirtioNet.open(b!, { features: { eventIdx: false, packed: true } });
    const y = VirtioNet.open(a!, { features: { eventIdx: false, packed: true } });
    try {
      expect(x.packed && y.packed).toBe(true);
      expect(x.eventIdx || y.eventIdx).toBe(false);
      const r = await exchange(x, y, 600, { timeoutMs: 60_000 });
      expect(r.firstProblem).toBeUndefined();
      expect(r.received).toBe(600);
    } finally {
      x.close();
      y.close();
    }
  });

  it('uses split rings, the default, on the same device when packed is not asked for', async () => {
    const x = VirtioNet.open(a!);
    const y = VirtioNet.open(b!);
    try {
      expect(x.packed).toBe(false);
      expect(x.features & bit('VIRTIO_F_RING_PACKED')).toBe(0n);
      const r = await exchange(x, y, 300, { timeoutMs: 60_000 });
      expect(r.firstProblem).toBeUndefined();
      expect(r.received).toBe(300);
    } finally {
      x.close();
      y.close();
    }
  });

  it('MQ: the control queue took VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET at open; a hub port has one queue, so two pairs are refused by name', () => {
    // open() above sent VQ_PAIRS_SET 1 through the packed control queue and would have thrown without an ack.
    let err: unknown;
    try {
      VirtioNet.open(a!, { queuePairs: 2, features: { packed: true } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_VIRTIO_QUEUE_PAIRS' });
    expect(String((err as Error).message)).toContain('2 queue pairs asked, the device offers 1');
  });
});
