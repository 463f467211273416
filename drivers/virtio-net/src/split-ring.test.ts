import { describe, expect, it } from 'vitest';
import { SplitRing, splitLayout, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, VIRTQ_AVAIL_F_NO_INTERRUPT } from './split-ring.js';
import { vring_need_event } from './ring.js';

/** The device side of a split ring, reading and writing the same bytes with a DataView (little-endian, as the spec says). */
class FakeDevice {
  lastAvail = 0;
  usedIdx = 0;
  constructor(
    readonly v: DataView,
    readonly size: number,
  ) {}
  get l() {
    return splitLayout(this.size);
  }
  availIdx() {
    return this.v.getUint16(this.l.avail + 2, true);
  }
  /** Takes every available head: [id, addr, len, flags, next]. */
  take(): Array<{ id: number; addr: bigint; len: number; flags: number; next: number }> {
    const out = [];
    while (this.lastAvail !== this.availIdx()) {
      const id = this.v.getUint16(this.l.avail + 4 + 2 * (this.lastAvail % this.size), true);
      const d = this.l.desc + 16 * id;
      out.push({ id, addr: this.v.getBigUint64(d, true), len: this.v.getUint32(d + 8, true), flags: this.v.getUint16(d + 12, true), next: this.v.getUint16(d + 14, true) });
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
    }
    return out;
  }
  use(id: number, len: number) {
    const e = this.l.used + 4 + 8 * (this.usedIdx % this.size);
    this.v.setUint32(e, id, true);
    this.v.setUint32(e + 4, len, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.v.setUint16(this.l.used + 2, this.usedIdx, true);
  }
}

function make(size: number, eventIdx = false) {
  const l = splitLayout(size);
  const buf = new ArrayBuffer(l.total + 64);
  const mem = new Uint8Array(buf, 0, l.total);
  const ring = new SplitRing(mem, 0x10000000n, size, eventIdx);
  return { ring, dev: new FakeDevice(new DataView(buf), size), view: new DataView(buf), l };
}

describe('split virtqueue layout (virtio 1.2 §2.7)', () => {
  it('places descriptors, available and used rings at the exact offsets for 256 entries', () => {
    expect(splitLayout(256)).toEqual({ size: 256, desc: 0, avail: 4096, used: 4672, descBytes: 4096, availBytes: 518, usedBytes: 2054, total: 6726 });
  });
  it('for 8 entries: 128 bytes of descriptors, avail 22 bytes at 128, used 70 bytes at 192', () => {
    const l = splitLayout(8);
    expect([l.desc, l.avail, l.availBytes, l.used, l.usedBytes, l.total]).toEqual([0, 128, 22, 192, 70, 262]);
  });
  it('refuses sizes that are not powers of 2 or exceed 32768', () => {
    expect(() => splitLayout(100)).toThrow(RangeError);
    expect(() => splitLayout(65536)).toThrow(RangeError);
    expect(() => splitLayout(0)).toThrow(RangeError);
  });
  it('gives the three device addresses from the base IOVA', () => {
    const { ring } = make(256);
    expect([ring.descIova, ring.driverIova, ring.deviceIova]).toEqual([0x10000000n, 0x10001000n, 0x10001240n]);
  });
});

describe('split virtqueue driver side', () => {
  it('writes descriptor addr, len, flags and the avail entry, and publishes idx only on publish()', () => {
    const { ring, dev, view, l } = make(8);
    ring.setBuffer(3, 0x12345678, 0x9);
    ring.post(3, 1526, true);
    expect(dev.availIdx()).toBe(0); // not visible before publish
    expect(ring.publish()).toBe(true); // used.flags 0: the device wants notifications
    expect(dev.take()).toEqual([{ id: 3, addr: 0x912345678n, len: 1526, flags: VIRTQ_DESC_F_WRITE, next: 0 }]);
    ring.post(4, 60, false);
    view.setUint16(l.used, VIRTQ_USED_F_NO_NOTIFY, true);
    expect(ring.publish()).toBe(false);
    expect(ring.publish()).toBe(false); // nothing new
    expect(dev.take()[0]).toMatchObject({ id: 4, len: 60, flags: 0 });
  });

  it('collects used entries in order with their lengths, across the 16-bit index wrap', () => {
    const { ring, dev } = make(4);
    const ids = new Uint16Array(4);
    const lens = new Uint32Array(4);
    let expected = 0;
    const bad: string[] = [];
    for (let round = 0; round < 22000; round++) {
      for (let i = 0; i < 3; i++) ring.post((round + i) % 4, 100 + i, true);
      ring.publish();
      for (const d of dev.take()) dev.use(d.id, d.len + 1);
      const a = ring.poll(ids, lens, 2);
      const p = ring.pending();
      const b = ring.poll(ids, lens, 4, 2); // appended behind the first two
      const got = `${a} ${p} ${b} ${ids.subarray(0, 3).join(',')} ${lens.subarray(0, 3).join(',')} ${ring.pending()}`;
      const want = `2 true 1 ${round % 4},${(round + 1) % 4},${(round + 2) % 4} 101,102,103 false`;
      if (got !== want && bad.length < 3) bad.push(`round ${round}: ${got}`);
      expected += 3;
    }
    expect(bad).toEqual([]);
    expect(expected).toBeGreaterThan(65536); // the indexes wrapped
    expect(dev.usedIdx).toBe(expected & 0xffff);
  });

  it('chains a readable and a writable descriptor for the control queue', () => {
    const { ring, dev } = make(2);
    ring.postChain(0, 4, 1, 1);
    ring.publish();
    const [head] = dev.take();
    expect(head).toMatchObject({ id: 0, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
  });

  it('suppresses and requests interrupts with avail.flags without EVENT_IDX', () => {
    const { ring, view, l, dev } = make(8);
    ring.disableInterrupts();
    expect(view.getUint16(l.avail, true)).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
    expect(ring.enableInterrupts()).toBe(false);
    expect(view.getUint16(l.avail, true)).toBe(0);
    dev.use(0, 10);
    expect(ring.enableInterrupts()).toBe(true); // work arrived: the caller polls instead of sleeping
  });

  it('with EVENT_IDX writes used_event and honours avail_event', () => {
    const { ring, view, l, dev } = make(8, true);
    const usedEvent = l.avail + 4 + 2 * 8;
    const availEvent = l.used + 4 + 8 * 8;
    dev.use(0, 1);
    ring.poll(new Uint16Array(8), new Uint32Array(8), 8);
    ring.enableInterrupts();
    expect(view.getUint16(usedEvent, true)).toBe(1);
    ring.disableInterrupts();
    expect(view.getUint16(usedEvent, true)).toBe(0x8001);
    // The device asks to be notified when avail idx passes 2.
    view.setUint16(availEvent, 2, true);
    ring.post(0, 1, false);
    ring.post(1, 1, false);
    expect(ring.publish()).toBe(false); // idx 0 → 2: event index 2 not crossed
    ring.post(2, 1, false);
    expect(ring.publish()).toBe(true); // idx 2 → 3 crosses it
  });
});

describe('vring_need_event (§2.7.10)', () => {
  it('is true exactly when event_idx lies in [old, new)', () => {
    expect(vring_need_event(5, 6, 5)).toBe(true);
    expect(vring_need_event(5, 5, 4)).toBe(false);
    expect(vring_need_event(4, 8, 0)).toBe(true);
    expect(vring_need_event(8, 8, 0)).toBe(false);
    expect(vring_need_event(0xffff, 2, 0xfffe)).toBe(true); // across the wrap
    expect(vring_need_event(2, 2, 0xfffe)).toBe(false);
  });
});
