import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

describe('one frame sent from one NIC arrives intact on the other', () => {
  let tx: VirtioNet;
  let rx: VirtioNet;
  beforeAll(() => {
    const [a, b] = labNics();
    tx = VirtioNet.open(a!);
    rx = VirtioNet.open(b!);
  });
  afterAll(() => {
    tx?.close();
    rx?.close();
  });

  it('arrives with the same length and bytes', async () => {
    const frame = new Uint8Array(100);
    frame.set(rx.mac, 0);
    frame.set(tx.mac, 6);
    frame[12] = 0x88; // local experimental EtherType 0x88b5 (IEEE 802)
    frame[13] = 0xb5;
    for (let i = 14; i < frame.length; i++) frame[i] = i * 7;
    expect(tx.send([frame])).toBe(1);
    const q = rx.rxQueue(0);
    const deadline = Date.now() + 10_000;
    let n = 0;
    while ((n = q.receive()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    expect(n).toBe(1);
    expect(q.lengths[0]).toBe(100);
    expect(Array.from(q.frames.subarray(q.offsets[0]!, q.offsets[0]! + 100))).toEqual(Array.from(frame));
    expect(rx.stats()).toMatchObject({ rxPackets: 1, rxBytes: 100, rxErrors: 0 });
    expect(tx.stats()).toMatchObject({ txPackets: 1, txBytes: 100 });
  });
});
