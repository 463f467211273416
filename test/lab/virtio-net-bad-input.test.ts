import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtioNet } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

describe('bad input to the virtio-net driver is refused with a clear error and nothing is sent', () => {
  let a: string | undefined;
  let b: string | undefined;
  let sender: VirtioNet;
  let receiver: VirtioNet;
  beforeAll(() => {
    [a, b] = labNics();
    sender = VirtioNet.open(a!);
    receiver = VirtioNet.open(b!);
  });
  afterAll(() => {
    sender?.close();
    receiver?.close();
  });
  const frame = (len: number) => {
    const f = new Uint8Array(len);
    f.set(receiver.mac, 0);
    f.set(sender.mac, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    return f;
  };

  it('a frame larger than the MTU: ERR_VIRTIO_FRAME_TOO_LARGE, the whole batch refused', () => {
    expect(() => sender.send([frame(60), frame(1515)])).toThrow(
      expect.objectContaining({ code: 'ERR_VIRTIO_FRAME_TOO_LARGE', message: expect.stringContaining('1515 bytes is larger than the 1514-byte maximum (MTU 1500') }),
    );
    const tx = sender.txQueue(0);
    tx.reserve(1);
    tx.lengths[0] = 9000;
    expect(() => tx.commit(1)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_FRAME_TOO_LARGE' }));
    expect(tx.inFlight).toBe(0);
  });

  it('a queue index out of range: ERR_VIRTIO_QUEUE_INDEX', () => {
    expect(() => sender.txQueue(1)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX', message: expect.stringContaining('queue index 1 is out of range') }));
    expect(() => sender.send([frame(60)], 7)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX' }));
    expect(() => receiver.rxQueue(-1)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX' }));
  });

  it('bad options are named: an unknown interrupt mode, a queue size of 0, an MTU below 68, more queue pairs than the device offers', () => {
    expect(() => VirtioNet.open(a!, { interrupts: 'often' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('interrupts') }));
    expect(() => VirtioNet.open(a!, { queueSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('queueSize') }));
    expect(() => VirtioNet.open(a!, { mtu: 67 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('invalid option mtu: 67 (expected an integer from 68 to 65521)') }));
  });

  it('nothing reached the other NIC, and the sender still works afterwards', async () => {
    const rx = receiver.rxQueue(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.receive()).toBe(0);
    expect(sender.stats()).toMatchObject({ txPackets: 0, txErrors: 2 });
    expect(sender.send([frame(64)])).toBe(1);
    const deadline = Date.now() + 10_000;
    let n = 0;
    while ((n = rx.receive()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    expect(n).toBe(1);
    expect(rx.lengths[0]).toBe(64);
  });
});
