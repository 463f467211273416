import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet, featureNames } from '@vfio-node/virtio-net';
import { exchange, frameSize } from '../../bench/src/net/selftest.js';
import { count } from '../../bench/src/net/count.js';
import { pktgen } from '../../bench/src/net/pktgen.js';
import { labNics } from './lab-env.js';

// VIRTIO_NET_F_MRG_RXBUF (virtio 1.2 §5.1.6.4): receive buffers of 1536 bytes, and the
// device spreads a larger frame over num_buffers of them. The lab's NICs report no MTU
// (no host_mtu=) and the hub carries jumbo frames, so both ends are opened with MTU 9000:
// frames up to 9014 bytes, up to 6 receive buffers each.

describe('frames larger than one receive buffer arrive whole (MRG_RXBUF, num_buffers > 1)', () => {
  let a: string | undefined;
  let b: string | undefined;
  beforeAll(() => {
    [a, b] = labNics();
  });

  describe('jumbo frames, MTU 9000 on both ends', () => {
    // Opened in a hook, not at collection: `vitest list` collects without a device.
    let sender!: VirtioNet;
    let receiver!: VirtioNet;
    beforeAll(() => {
      sender = VirtioNet.open(a!, { mtu: 9000 });
      receiver = VirtioNet.open(b!, { mtu: 9000 });
    });
    afterAll(() => {
      sender?.close();
      receiver?.close();
    });

    it('negotiated MRG_RXBUF, with 1536-byte receive buffers and 9014-byte frames both ways', () => {
      expect(featureNames(receiver.features)).toContain('VIRTIO_NET_F_MRG_RXBUF');
      expect(receiver.rxQueue(0).pool.bufferSize).toBe(1536);
      expect(receiver.rxQueue(0).maxFrame).toBe(9014);
      expect(sender.txQueue(0).maxFrame).toBe(9014);
      // The exchange below covers sizes across every number of buffers (1 to 6).
      const sizes = new Set(Array.from({ length: 600 }, (_, i) => Math.ceil((12 + frameSize(i, 9014)) / 1536)));
      expect([...sizes].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('delivers 600 frames of 60 to 9014 bytes complete, in order and intact, byte by byte', async () => {
      const r = await exchange(sender, receiver, 600, { timeoutMs: 120_000, batch: 8, window: 24 });
      expect(r.firstProblem).toBeUndefined();
      expect(r).toMatchObject({ sent: 600, received: 600, outOfOrder: 0, wrongLength: 0, corrupt: 0 });
      expect(receiver.stats()).toMatchObject({ rxDrops: 0, rxErrors: 0 });
    });
  });

  for (const size of [3000, 9000]) {
    it(`count receives each of pktgen's 2000 ${size}-byte frames exactly once`, async () => {
      let ready!: () => void;
      const up = new Promise<void>((r) => (ready = r));
      const counting = count({ address: b!, count: 2000, idleMs: 10_000, driver: { mtu: 9000 }, onReady: () => ready() });
      await Promise.race([up, counting]);
      const sent = await pktgen({ address: a!, size, count: 2000, driver: { mtu: 9000 } });
      const got = await counting;
      expect(sent.packets).toBe(2000);
      expect(got).toMatchObject({ sequenced: 2000, missing: 0, duplicates: 0, bytes: 2000 * size });
    });
  }

  it('a receiver of MTU 1500 drops a 3000-byte frame as too long (drops, not errors) and takes the next one', async () => {
    const sender = VirtioNet.open(a!, { mtu: 9000 });
    const receiver = VirtioNet.open(b!);
    try {
      const big = new Uint8Array(3000);
      const small = new Uint8Array(100);
      for (const f of [big, small]) {
        f.set(receiver.mac, 0);
        f.set(sender.mac, 6);
        f[12] = 0x88;
        f[13] = 0xb5;
      }
      expect(sender.send([big, small])).toBe(2);
      const rx = receiver.rxQueue(0);
      const lengths: number[] = [];
      const deadline = performance.now() + 30_000;
      while (lengths.length < 1 && performance.now() < deadline) {
        const n = rx.receive();
        for (let i = 0; i < n; i++) lengths.push(rx.lengths[i]!);
        if (n === 0) await new Promise<void>((r) => setImmediate(r));
      }
      expect(lengths).toEqual([100]);
      expect(rx.stats).toMatchObject({ drops: 1, errors: 0 });
    } finally {
      receiver.close();
      sender.close();
    }
  });
});
