import { describe, expect, it } from 'vitest';
import { PackedRing, packedLayout, VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_NEXT, RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_ENABLE } from './packed-ring.js';

/** The device side of a packed ring (§2.8.1): its own wrap counter, reads available descriptors, writes used ones in order. */
class FakeDevice {
  next = 0;
  wrap = 1;
  usedNext = 0;
  usedWrap = 1;
  constructor(
    readonly v: DataView,
    readonly size: number,
  ) {}
  take() {
    const out = [];
    for (;;) {
      const d = 16 * this.next;
      const flags = this.v.getUint16(d + 14, true);
      const avail = flags & VIRTQ_DESC_F_AVAIL ? 1 : 0;
      const used = flags & VIRTQ_DESC_F_USED ? 1 : 0;
      if (avail !== this.wrap || used === this.wrap) break;
      out.push({ addr: this.v.getBigUint64(d, true), len: this.v.getUint32(d + 8, true), id: this.v.getUint16(d + 12, true), flags });
      if (++this.next === this.size) {
        this.next = 0;
        this.wrap ^= 1;
      }
    }
    return out;
  }
  use(id: number, len: number, chain = 1) {
    const d = 16 * this.usedNext;
    this.v.setUint16(d + 12, id, true);
    this.v.setUint32(d + 8, len, true);
    this.v.setUint16(d + 14, this.usedWrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0, true);
    this.usedNext += chain;
    if (this.usedNext >= this.size) {
      this.usedNext -= this.size;
      this.usedWrap ^= 1;
    }
  }
}

function make(size: number, eventIdx = false) {
  const l = packedLayout(size);
  const buf = new ArrayBuffer(l.total);
  const ring = new PackedRing(new Uint8Array(buf), 0x20000000n, size, eventIdx);
  for (let i = 0; i < size; i++) ring.setBuffer(i, 0x1000 * (i + 1), 0);
  return { ring, dev: new FakeDevice(new DataView(buf), size), view: new DataView(buf), l };
}

describe('packed virtqueue layout (virtio 1.2 §2.8)', () => {
  it('descriptor ring 16 × size, driver event suppression right after, device on its own 64-byte line', () => {
    expect(packedLayout(256)).toEqual({ size: 256, desc: 0, driver: 4096, device: 4160, total: 4164 });
    expect(packedLayout(3)).toEqual({ size: 3, desc: 0, driver: 48, device: 64, total: 68 });
  });
});

describe('packed virtqueue driver side', () => {
  it('publishes a batch by writing the head descriptor flags last', () => {
    const { ring, dev } = make(4);
    ring.post(2, 100, true);
    ring.post(0, 60, false);
    expect(dev.take()).toEqual([]); // second descriptor's flags are set, but the head's are not
    ring.publish();
    expect(dev.take()).toEqual([
      { addr: 0x3000n, len: 100, id: 2, flags: VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_WRITE },
      { addr: 0x1000n, len: 60, id: 0, flags: VIRTQ_DESC_F_AVAIL },
    ]);
  });

  it('keeps ids and lengths in order through many wraps of both counters', () => {
    const { ring, dev } = make(3);
    const ids = new Uint16Array(3);
    const lens = new Uint32Array(3);
    const bad: string[] = [];
    for (let round = 0; round < 1000; round++) {
      ring.post(round % 3, 10, true);
      ring.post((round + 1) % 3, 20, true);
      ring.publish();
      const got = dev.take();
      // The second lap flips the AVAIL/USED encoding: check it is what §2.8.1 says.
      const wantFlags = (lapOf(round, 0) ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED) | VIRTQ_DESC_F_WRITE;
      if (got.length !== 2 || got[0]!.flags !== wantFlags) bad.push(`round ${round}: ${JSON.stringify(got)}`);
      for (const d of got) dev.use(d.id, d.len + 12);
      const n = ring.poll(ids, lens, 3);
      const s = `${n} ${ids.subarray(0, n).join(',')} ${lens.subarray(0, n).join(',')}`;
      if (s !== `2 ${round % 3},${(round + 1) % 3} 22,32` && bad.length < 3) bad.push(`round ${round}: ${s}`);
    }
    expect(bad).toEqual([]);
    function lapOf(round: number, k: number) {
      return Math.floor((2 * round + k) / 3) % 2 === 0;
    }
  });

  it('skips a whole two-descriptor chain when the device uses it', () => {
    const { ring, dev } = make(4);
    ring.postChain(0, 4, 1, 1);
    ring.publish();
    const got = dev.take();
    expect(got.map((d) => [d.id, d.len, d.flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE)])).toEqual([
      [1, 4, VIRTQ_DESC_F_NEXT],
      [1, 1, VIRTQ_DESC_F_WRITE],
    ]);
    dev.use(1, 1, 2);
    ring.post(2, 9, false);
    ring.publish();
    dev.take();
    dev.use(2, 9);
    const ids = Uint16Array.of(7, 7, 7, 7);
    expect(ring.poll(ids, new Uint32Array(4), 4, 1)).toBe(2); // appended from index 1
    expect(Array.from(ids)).toEqual([7, 1, 2, 7]);
  });

  it('event suppression: DISABLE/ENABLE/DESC in the driver area, and the device area decides notifications', () => {
    const { ring, view, l, dev } = make(8, true);
    ring.disableInterrupts();
    expect(view.getUint16(l.driver + 2, true)).toBe(RING_EVENT_FLAGS_DISABLE);
    expect(ring.enableInterrupts()).toBe(false);
    expect([view.getUint16(l.driver, true), view.getUint16(l.driver + 2, true)]).toEqual([0 | (1 << 15), RING_EVENT_FLAGS_DESC]);
    view.setUint16(l.device + 2, RING_EVENT_FLAGS_DISABLE, true);
    ring.post(0, 1, false);
    expect(ring.publish()).toBe(false);
    view.setUint16(l.device + 2, RING_EVENT_FLAGS_ENABLE, true);
    ring.post(1, 1, false);
    expect(ring.publish()).toBe(true);
    // DESC: notify when descriptor 3 (wrap 1) is made available (exactEvents, Linux's test).
    ring.exactEvents = true;
    view.setUint16(l.device, 3 | (1 << 15), true);
    view.setUint16(l.device + 2, RING_EVENT_FLAGS_DESC, true);
    ring.post(2, 1, false);
    expect(ring.publish()).toBe(false); // 2 → 3
    ring.post(3, 1, false);
    expect(ring.publish()).toBe(true); // 3 → 4 includes 3
    // By default DESC is treated as ENABLE: every batch notifies while the device waits.
    ring.exactEvents = false;
    view.setUint16(l.device, 7 | (1 << 15), true);
    ring.post(4, 1, false);
    expect(ring.publish()).toBe(true);
    dev.take();
  });
});
