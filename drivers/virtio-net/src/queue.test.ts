import { describe, expect, it } from 'vitest';
import { SplitRing, splitLayout } from './split-ring.js';
import { PacketPool, RxQueue, TxQueue, copyFrame, mergeSlot } from './queue.js';
import { VIRTIO_NET_HDR_SIZE } from './net-hdr.js';

const SIZE = 8;
const BUF = 1536;

function setUp(spare = 0) {
  const l = splitLayout(SIZE);
  const ringMem = new Uint8Array(l.total);
  const ringView = new DataView(ringMem.buffer);
  const ring = new SplitRing(ringMem, 0x1000n, SIZE, false);
  const pool = new PacketPool(new Uint8Array(SIZE * BUF + spare), 0x100000n, SIZE, BUF);
  const notified: number[] = [];
  let lastAvail = 0;
  let usedIdx = 0;
  const dev = {
    /** Available heads: [id, len]. */
    take() {
      const out: Array<[number, number]> = [];
      const idx = ringView.getUint16(l.avail + 2, true);
      while (lastAvail !== idx) {
        const id = ringView.getUint16(l.avail + 4 + 2 * (lastAvail % SIZE), true);
        out.push([id, ringView.getUint32(l.desc + 16 * id + 8, true)]);
        lastAvail = (lastAvail + 1) & 0xffff;
      }
      return out;
    },
    use(id: number, len: number) {
      const e = l.used + 4 + 8 * (usedIdx % SIZE);
      ringView.setUint32(e, id, true);
      ringView.setUint32(e + 4, len, true);
      usedIdx = (usedIdx + 1) & 0xffff;
      ringView.setUint16(l.used + 2, usedIdx, true);
    },
    addr(id: number) {
      return ringView.getBigUint64(l.desc + 16 * id, true);
    },
  };
  return { ring, pool, dev, notified, notify: (vq: number) => notified.push(vq) };
}

describe('transmit queue: reserve, fill, commit', () => {
  it('sends a batch with one doorbell, the header-inclusive length in each descriptor, and reclaims sent buffers', () => {
    const { ring, pool, dev, notified, notify } = setUp();
    const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500);
    expect(dev.addr(5)).toBe(0x100000n + 5n * BigInt(BUF)); // descriptor i ↔ buffer i
    const k = tx.reserve(3);
    expect(k).toBe(3);
    for (let i = 0; i < k; i++) {
      tx.frames.fill(i + 1, tx.frameOffset(tx.slots[i]!), tx.frameOffset(tx.slots[i]!) + 60);
      tx.lengths[i] = 60 + i;
    }
    expect(tx.commit()).toBe(3);
    expect(notified).toEqual([1]);
    const posted = dev.take();
    expect(posted.map(([, len]) => len)).toEqual([72, 73, 74]);
    expect(pool.bytes[posted[1]![0] * BUF + VIRTIO_NET_HDR_SIZE]).toBe(2);
    expect(tx.stats).toEqual({ packets: 3, bytes: 183, drops: 0, errors: 0 });
    expect(tx.available).toBe(5);
    for (const [id] of posted) dev.use(id, 0);
    expect(tx.reclaim()).toBe(3);
    expect(tx.available).toBe(8);
  });

  it('refuses a batch holding a frame above the MTU with ERR_VIRTIO_FRAME_TOO_LARGE, sending nothing', () => {
    const { ring, pool, dev, notified, notify } = setUp();
    const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500);
    expect(() => tx.send([new Uint8Array(60), new Uint8Array(1515)])).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_FRAME_TOO_LARGE' }));
    tx.reserve(2);
    tx.lengths[0] = 60;
    tx.lengths[1] = 1600;
    expect(() => tx.commit(2)).toThrow(/1600 bytes is larger than the 1514-byte maximum/);
    expect(dev.take()).toEqual([]);
    expect(notified).toEqual([]);
    expect(tx.available).toBe(8);
    expect(tx.stats.errors).toBe(2);
    expect(tx.stats.packets).toBe(0);
  });

  it('counts frames that found the ring full as drops', () => {
    const { ring, pool, notify } = setUp();
    const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500);
    const frames = Array.from({ length: 10 }, () => new Uint8Array(64));
    expect(tx.send(frames)).toBe(8);
    expect(tx.stats.drops).toBe(2);
  });
});

describe('receive queue', () => {
  it('hands out frames without their header, and gives them back to the device on the next receive()', () => {
    const { ring, pool, dev, notify } = setUp();
    const rx = new RxQueue(0, 0, ring, pool, notify, true);
    rx.fill();
    const posted = dev.take();
    expect(posted).toEqual(Array.from({ length: SIZE }, (_, i) => [i, BUF]));
    // The device writes two frames into buffers 3 and 6 (header num_buffers = 1 with MRG_RXBUF).
    for (const [id, n] of [[3, 100], [6, 64]] as const) {
      pool.bytes[id * BUF + 10] = 1;
      pool.bytes.fill(id, id * BUF + VIRTIO_NET_HDR_SIZE, id * BUF + VIRTIO_NET_HDR_SIZE + n);
      dev.use(id, VIRTIO_NET_HDR_SIZE + n);
    }
    expect(rx.receive()).toBe(2);
    expect(Array.from(rx.ids.subarray(0, 2))).toEqual([3, 6]);
    expect(Array.from(rx.lengths.subarray(0, 2))).toEqual([100, 64]);
    expect(rx.frames[rx.offsets[1]!]).toBe(6);
    expect(dev.take()).toEqual([]); // still held by the application
    expect(rx.receive()).toBe(0);
    expect(dev.take()).toEqual([[3, BUF], [6, BUF]]);
    expect(rx.stats).toEqual({ packets: 2, bytes: 164, drops: 0, errors: 0 });
  });

  it('drops and recycles a used entry too short to hold a header and an Ethernet header', () => {
    const { ring, pool, dev, notify } = setUp();
    const rx = new RxQueue(0, 0, ring, pool, notify, false);
    rx.fill();
    dev.take();
    dev.use(2, 8);
    expect(rx.receive()).toBe(0);
    expect(rx.stats).toMatchObject({ drops: 1, errors: 1 });
    expect(dev.take()).toEqual([[2, BUF]]);
  });
});

describe('receive queue: frames in several buffers (VIRTIO_NET_F_MRG_RXBUF, §5.1.6.4)', () => {
  // The device's side: a frame of `length` bytes (byte k is (k + seed) & 0xff) written into
  // the buffers `ids`, the header (num_buffers = ids.length) in the first, each buffer full
  // but the last; returns the used lengths.
  const write = (pool: PacketPool, ids: number[], length: number, seed: number, flags = 0): number[] => {
    const lens: number[] = [];
    let k = 0;
    ids.forEach((id, j) => {
      let at = id * BUF;
      if (j === 0) {
        pool.bytes.fill(0, at, at + VIRTIO_NET_HDR_SIZE);
        pool.bytes[at] = flags;
        new DataView(pool.bytes.buffer).setUint16(at + 10, ids.length, true);
        at += VIRTIO_NET_HDR_SIZE;
      }
      const room = id * BUF + BUF - at;
      const n = Math.min(room, length - k);
      for (let i = 0; i < n; i++) pool.bytes[at + i] = (k + i + seed) & 0xff;
      k += n;
      lens.push(n + (j === 0 ? VIRTIO_NET_HDR_SIZE : 0));
    });
    expect(k).toBe(length);
    return lens;
  };
  const frameOf = (rx: RxQueue, i: number) => Array.from(rx.frames.subarray(rx.offsets[i]!, rx.offsets[i]! + rx.lengths[i]!));
  const expected = (length: number, seed: number) => Array.from({ length }, (_, k) => (k + seed) & 0xff);

  it('puts a 3000-byte frame of 2 buffers and a 9000-byte frame of 6 together, in order with the one-buffer frames around them, and gives every buffer back', () => {
    const { ring, pool, dev, notify } = setUp(4 * mergeSlot(9014));
    const rx = new RxQueue(0, 0, ring, pool, notify, true, 9014);
    rx.fill();
    dev.take();
    const use = (ids: number[], length: number, seed: number) => write(pool, ids, length, seed).forEach((len, j) => dev.use(ids[j]!, len));
    use([0], 60, 1);
    use([1, 2], 3000, 2);
    use([3], 1514, 3);
    dev.take();
    expect(rx.receive()).toBe(3);
    expect(Array.from(rx.lengths.subarray(0, 3))).toEqual([60, 3000, 1514]);
    expect(frameOf(rx, 0)).toEqual(expected(60, 1));
    expect(frameOf(rx, 1)).toEqual(expected(3000, 2));
    expect(frameOf(rx, 2)).toEqual(expected(1514, 3));
    expect(rx.offsets[1]! % 4).toBe(0); // copyFrame copies words
    // The two buffers of the merged frame went back at once; the others with the next call.
    expect(dev.take()).toEqual([[1, BUF], [2, BUF]]);
    // 9000 bytes: 1524 in the first buffer (after the header), 1536 in each of the next 4, 1332 in the last.
    use([4, 5, 6, 7, 1, 2], 9000, 4);
    expect(rx.receive()).toBe(1);
    expect(rx.lengths[0]).toBe(9000);
    expect(frameOf(rx, 0)).toEqual(expected(9000, 4));
    expect(dev.take().map(([id]) => id).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rx.stats).toEqual({ packets: 4, bytes: 13574, drops: 0, errors: 0 });
  });

  it('keeps the header of a merged frame in front of it (flags, csum_start, csum_offset)', () => {
    const { ring, pool, dev, notify } = setUp(mergeSlot(3000));
    const rx = new RxQueue(0, 0, ring, pool, notify, true, 3000);
    rx.fill();
    dev.take();
    write(pool, [2, 5], 3000, 0, 1).forEach((len, j) => dev.use([2, 5][j]!, len));
    new DataView(pool.bytes.buffer).setUint16(2 * BUF + 6, 34, true);
    new DataView(pool.bytes.buffer).setUint16(2 * BUF + 8, 6, true);
    expect(rx.receive()).toBe(1);
    expect([rx.flags[0], rx.csumStart(0), rx.csumOffset(0)]).toEqual([1, 34, 6]);
  });

  it('waits for the rest of a frame whose last buffers the device has not returned yet, handing out what came before it', () => {
    const { ring, pool, dev, notify } = setUp(mergeSlot(4000));
    const rx = new RxQueue(0, 0, ring, pool, notify, true, 4000);
    rx.fill();
    dev.take();
    write(pool, [0], 100, 7).forEach((len) => dev.use(0, len));
    const lens = write(pool, [1, 2, 3], 4000, 9);
    dev.use(1, lens[0]!);
    dev.use(2, lens[1]!);
    expect(rx.receive()).toBe(1);
    expect(rx.lengths[0]).toBe(100);
    expect(rx.receive()).toBe(0);
    dev.use(3, lens[2]!);
    expect(rx.receive()).toBe(1);
    expect(frameOf(rx, 0)).toEqual(expected(4000, 9));
    expect(rx.stats).toMatchObject({ packets: 2, drops: 0, errors: 0 });
  });

  it('hands out what fits the merge area and the rest at the next call, in order', () => {
    const { ring, pool, dev, notify } = setUp(mergeSlot(3000));
    const rx = new RxQueue(0, 0, ring, pool, notify, true, 3000);
    rx.fill();
    dev.take();
    for (const [ids, seed] of [[[0, 1], 1], [[2, 3], 2], [[4, 5], 3]] as const) write(pool, [...ids], 3000, seed).forEach((len, j) => dev.use(ids[j]!, len));
    write(pool, [6], 60, 4).forEach((len) => dev.use(6, len));
    const got: number[][] = [];
    for (let round = 0; round < 4 && got.length < 4; round++) {
      const n = rx.receive();
      for (let i = 0; i < n; i++) got.push(frameOf(rx, i));
    }
    expect(got).toEqual([expected(3000, 1), expected(3000, 2), expected(3000, 3), expected(60, 4)]);
  });

  it('drops a frame longer than maxFrame and a malformed one (num_buffers 0, more buffers than the queue), giving every buffer back', () => {
    const { ring, pool, dev, notify } = setUp(mergeSlot(2000));
    const rx = new RxQueue(0, 0, ring, pool, notify, true, 2000);
    rx.fill();
    dev.take();
    write(pool, [0, 1], 3000, 0).forEach((len, j) => dev.use(j, len)); // too long
    write(pool, [2], 60, 0).forEach((len) => dev.use(2, len));
    new DataView(pool.bytes.buffer).setUint16(2 * BUF + 10, 0, true); // num_buffers 0
    write(pool, [3], 60, 0).forEach((len) => dev.use(3, len));
    new DataView(pool.bytes.buffer).setUint16(3 * BUF + 10, 99, true); // more than the 8 the queue has
    write(pool, [4], 60, 5).forEach((len) => dev.use(4, len));
    expect(rx.receive()).toBe(1);
    expect(frameOf(rx, 0)).toEqual(expected(60, 5));
    expect(rx.stats).toEqual({ packets: 1, bytes: 60, drops: 3, errors: 2 });
    expect(dev.take().map(([id]) => id)).toEqual([0, 1, 2, 3]);
  });

  it('refuses a pool without room to put the largest frame together', () => {
    const { ring, pool, notify } = setUp(64);
    expect(() => new RxQueue(0, 0, ring, pool, notify, true, 9014)).toThrow(/needs 9088 spare bytes/);
  });
});

describe('copyFrame', () => {
  it('copies between pools word by word', () => {
    const a = new PacketPool(new Uint8Array(2 * 64), 0n, 2, 64);
    const b = new PacketPool(new Uint8Array(2 * 64), 0n, 2, 64);
    for (let i = 0; i < 64; i++) a.bytes[i] = i;
    copyFrame(a, 12, b, 64 + 12, 30);
    expect(Array.from(b.bytes.subarray(76, 106))).toEqual(Array.from({ length: 30 }, (_, i) => 12 + i));
  });
});

describe('transmit queue: burst() in C and in JavaScript', () => {
  for (const useNative of [true, false]) {
    it(`${useNative ? 'C' : 'JavaScript'}: posts, stamps sequence numbers, notifies once per batch, reclaims and stops at a full ring`, () => {
      const { ring, pool, dev, notified, notify } = setUp();
      const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500);
      // The doorbell: a fake BAR of 64 bytes; the queue's doorbell at offset 8.
      const bar = new ArrayBuffer(64);
      const bar16 = new Uint16Array(bar);
      if (useNative) expect(tx.useNativeBurst({ bar, offset: 8 })).toBe(true);
      expect(tx.nativeBurstEnabled).toBe(useNative);
      const kicks = () => (useNative ? (bar16[4] === 1 ? 1 : 0) : notified.length);

      expect(tx.burst(5, 60, 42, 1000)).toBe(5);
      expect(kicks()).toBe(1); // no EVENT_IDX, no VIRTQ_USED_F_NO_NOTIFY: notify
      const posted = dev.take();
      expect(posted.map(([, len]) => len)).toEqual([72, 72, 72, 72, 72]);
      const seqs = posted.map(([id]) => new DataView(pool.bytes.buffer).getUint32(id * BUF + VIRTIO_NET_HDR_SIZE + 42));
      expect(seqs).toEqual([1000, 1001, 1002, 1003, 1004]);
      expect(tx.stats).toMatchObject({ packets: 5, bytes: 300 });

      // 3 more fill the ring of 8; then it is full until the device uses some.
      expect(tx.burst(10, 60, -1)).toBe(3);
      expect(tx.burst(10, 60, -1)).toBe(0);
      expect(tx.inFlight).toBe(8);
      const more = dev.take();
      expect(more.length).toBe(3);
      dev.use(posted[0]![0], 0);
      dev.use(posted[1]![0], 0);
      expect(tx.burst(10, 60, 7, 5)).toBe(2); // reclaimed two, posted them again
      expect(dev.take().map(([id]) => id).sort()).toEqual([posted[0]![0], posted[1]![0]].sort());
      expect(tx.inFlight).toBe(8);
      expect(tx.stats.packets).toBe(10);
      // The JS path and the C path share the ring's indexes: a reserve()/commit() after a burst continues the ring.
      dev.use(more[0]![0], 0);
      expect(tx.reserve(4)).toBe(1);
      tx.lengths[0] = 60;
      expect(tx.commit()).toBe(1);
      expect(dev.take().map(([id]) => id)).toEqual([more[0]![0]]);
    });
  }

  it('refuses a frame longer than maxFrame before sending anything, and a device id outside the queue in C', () => {
    const { ring, pool, dev, notify } = setUp();
    const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500);
    tx.useNativeBurst({ bar: new ArrayBuffer(64), offset: 8 });
    expect(() => tx.burst(1, 1515)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_FRAME_TOO_LARGE' }));
    expect(dev.take()).toEqual([]);
    expect(tx.burst(1, 60)).toBe(1);
    dev.take();
    dev.use(200, 0); // a broken device: id 200 in a queue of 8
    expect(() => tx.burst(1, 60)).toThrow(/buffer id 200/);
  });
});

describe('checksum offload on the queues (§5.1.6.2, §5.1.6.4)', () => {
  const hdr = (pool: PacketPool, id: number) => {
    const v = new DataView(pool.bytes.buffer, id * BUF, VIRTIO_NET_HDR_SIZE);
    return { flags: v.getUint8(0), gso_type: v.getUint8(1), csum_start: v.getUint16(6, true), csum_offset: v.getUint16(8, true), num_buffers: v.getUint16(10, true) };
  };
  // A UDP/IPv4 frame of 60 bytes.
  const writeUdp = (f: Uint8Array, o: number) => {
    f.fill(0, o, o + 60);
    f.set([0x08, 0x00], o + 12);
    f.set([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], o + 14);
    f.set([0x42, 0x42, 0x42, 0x42, 0, 26, 0, 0], o + 34);
  };

  it('commit() marks the frames that asked NEEDS_CSUM with csum_start/csum_offset, and clears the flag of the others', () => {
    const { ring, pool, dev, notify } = setUp();
    const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500, true);
    expect(tx.reserve(2)).toBe(2);
    for (let i = 0; i < 2; i++) {
      writeUdp(tx.frames, tx.frameOffset(tx.slots[i]!));
      tx.lengths[i] = 60;
    }
    expect(tx.offloadChecksum(0)).toBe(true);
    expect([tx.csumStart[0], tx.csumOffset[0], tx.csumStart[1]]).toEqual([34, 6, 0]);
    const [a, b] = [tx.slots[0]!, tx.slots[1]!];
    expect(tx.frames[tx.frameOffset(a) + 40]! << 8 | tx.frames[tx.frameOffset(a) + 41]!).toBe(0x142e); // the pseudo-header sum
    tx.commit(2);
    expect(hdr(pool, a)).toEqual({ flags: 1, gso_type: 0, csum_start: 34, csum_offset: 6, num_buffers: 0 });
    expect(hdr(pool, b).flags).toBe(0);
    expect(tx.csumStart[0]).toBe(0); // requests do not outlive their batch
    // The buffer comes back and is sent again without a request: no NEEDS_CSUM this time.
    for (const [id] of dev.take()) dev.use(id, 0);
    tx.reclaim();
    const again = tx.reserve(8);
    for (let i = 0; i < again; i++) tx.lengths[i] = 60;
    tx.commit(again);
    expect(hdr(pool, a).flags).toBe(0);
  });

  it('refuses a checksum request without VIRTIO_NET_F_CSUM, or outside the frame, sending nothing', () => {
    const { ring, pool, dev, notify } = setUp();
    const plain = new TxQueue(0, 1, ring, pool, notify, 1514, 1500, false);
    plain.reserve(1);
    plain.lengths[0] = 60;
    expect(() => plain.offloadChecksum(0)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_NO_CSUM_OFFLOAD' }));
    plain.csumStart[0] = 34;
    plain.csumOffset[0] = 6;
    expect(() => plain.commit(1)).toThrow(/VIRTIO_NET_F_CSUM was not negotiated; nothing was sent/);
    expect(() => plain.burst(1, 60, -1, 0, 34, 6)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_NO_CSUM_OFFLOAD' }));
    expect(dev.take()).toEqual([]);

    const s2 = setUp();
    const tx = new TxQueue(0, 1, s2.ring, s2.pool, s2.notify, 1514, 1500, true);
    tx.reserve(1);
    tx.lengths[0] = 60;
    tx.csumStart[0] = 56;
    tx.csumOffset[0] = 6;
    expect(() => tx.commit(1)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_CSUM_REQUEST' }));
    expect(() => tx.burst(1, 60, -1, 0, 56, 6)).toThrow(/at 56 \+ 6, outside a frame of 60 bytes/);
    expect(s2.dev.take()).toEqual([]);
    expect(tx.available).toBe(SIZE);
    // A frame that is not TCP/UDP is left alone.
    tx.reserve(1);
    tx.lengths[0] = 60;
    tx.frames.fill(0, tx.frameOffset(tx.slots[0]!), tx.frameOffset(tx.slots[0]!) + 60);
    expect(tx.offloadChecksum(0)).toBe(false);
    expect(tx.csumStart[0]).toBe(0);
  });

  for (const useNative of [true, false]) {
    it(`burst() in ${useNative ? 'C' : 'JavaScript'} writes NEEDS_CSUM into each frame's header when asked, and clears it when not`, () => {
      const { ring, pool, dev, notify } = setUp();
      const tx = new TxQueue(0, 1, ring, pool, notify, 1514, 1500, true);
      if (useNative) expect(tx.useNativeBurst({ bar: new ArrayBuffer(64), offset: 8 })).toBe(true);
      expect(tx.burst(3, 60, 42, 0, 34, 6)).toBe(3);
      const first = dev.take();
      for (const [id] of first) expect(hdr(pool, id)).toEqual({ flags: 1, gso_type: 0, csum_start: 34, csum_offset: 6, num_buffers: 0 });
      for (const [id] of first) dev.use(id, 0);
      expect(tx.burst(8, 60, 42, 3)).toBe(8);
      for (const [id] of dev.take()) expect(hdr(pool, id).flags).toBe(0);
    });
  }

  it('receive() reports each frame\'s header flags and its csum_start/csum_offset', () => {
    const { ring, pool, dev, notify } = setUp();
    const rx = new RxQueue(0, 0, ring, pool, notify, false);
    rx.fill();
    dev.take();
    const v = new DataView(pool.bytes.buffer);
    v.setUint8(4 * BUF, 1); // NEEDS_CSUM
    v.setUint16(4 * BUF + 6, 34, true);
    v.setUint16(4 * BUF + 8, 6, true);
    v.setUint8(5 * BUF, 2); // DATA_VALID
    dev.use(4, VIRTIO_NET_HDR_SIZE + 60);
    dev.use(5, VIRTIO_NET_HDR_SIZE + 60);
    dev.use(6, VIRTIO_NET_HDR_SIZE + 60);
    expect(rx.receive()).toBe(3);
    expect(Array.from(rx.flags.subarray(0, 3))).toEqual([1, 2, 0]);
    expect([rx.csumStart(0), rx.csumOffset(0)]).toEqual([34, 6]);
  });
});
