// The queue trace on rings in ordinary memory, with the device's side written by hand
// from the specification's layouts: what a transmit, a receive and the notification
// decisions look like in the trace, in order, for split and packed rings.

import { describe, expect, it } from 'vitest';
import { Tracer, type TraceEvent } from '@vfio-node/core';
import { PacketPool, RxQueue, TxQueue } from './queue.js';
import { QueueTrace, netQueueName, packedNotifyReason, splitNotifyReason, splitSection } from './queue-trace.js';
import { SplitRing, splitLayout } from './split-ring.js';
import { PackedRing, packedLayout, RING_EVENT_FLAGS_DISABLE } from './packed-ring.js';
import { VIRTIO_NET_HDR_SIZE } from './net-hdr.js';

const SIZE = 8;
const BUF = 128;

function setUp(kind: 'split' | 'packed', eventIdx: boolean, dir: 'rx' | 'tx') {
  const total = kind === 'split' ? splitLayout(SIZE).total : packedLayout(SIZE).total;
  const mem = new Uint8Array(new ArrayBuffer(total + 64), 0, total);
  const ring = kind === 'split' ? new SplitRing(mem, 0x10000n, SIZE, eventIdx) : new PackedRing(mem, 0x10000n, SIZE, eventIdx);
  const pool = new PacketPool(new Uint8Array(SIZE * BUF), 0x20000n, SIZE, BUF);
  const rung: number[] = [];
  const notify = (vq: number) => rung.push(vq);
  const vq = dir === 'rx' ? 0 : 1;
  const q = dir === 'rx' ? new RxQueue(0, vq, ring, pool, notify, false) : new TxQueue(0, vq, ring, pool, notify, BUF - VIRTIO_NET_HDR_SIZE, 1500);
  const tracer = new Tracer({ keep: true, write: () => {} });
  q.setTrace(new QueueTrace(tracer, 'nic', vq, ring, pool.bytes, BUF, 'BAR4+0x3004'));
  return { q, ring, mem: new DataView(mem.buffer, mem.byteOffset, total), pool, rung, events: tracer.events };
}

const lines = (ev: readonly TraceEvent[]) => ev.map((e) => `${e.kind} ${e.text}${e.section ? ` [${e.section}]` : ''}`);

describe('the queue trace (issue 16)', () => {
  it('names the queues as §5.1.2 does and moves a decoder\'s section into its own field', () => {
    expect([0, 1, 2, 3].map(netQueueName)).toEqual(['receiveq1', 'transmitq1', 'receiveq2', 'transmitq2']);
    expect(splitSection('desc[3] addr=0x10 len=1 flags=0 (§2.7.5)')).toEqual(['desc[3] addr=0x10 len=1 flags=0', 'virtio 1.2 §2.7.5']);
    expect(splitSection('no section here')).toEqual(['no section here', undefined]);
  });

  it('explains the notification decisions: avail_event in or out of (old, new], the NO_NOTIFY flag, packed event flags', () => {
    expect(splitNotifyReason(true, 0, 1, 0)).toEqual({ notify: true, why: 'avail_event=0 in (old 0, new 1]' });
    expect(splitNotifyReason(true, 5, 1, 0)).toEqual({ notify: false, why: 'avail_event=5 not in (old 0, new 1]' });
    expect(splitNotifyReason(true, 0xffff, 2, 0xfffe)).toEqual({ notify: true, why: 'avail_event=65535 in (old 65534, new 2]' });
    expect(splitNotifyReason(false, 1, 4, 3)).toEqual({ notify: false, why: 'used.flags=VIRTQ_USED_F_NO_NOTIFY' });
    expect(splitNotifyReason(false, 0, 4, 3).notify).toBe(true);
    expect(packedNotifyReason(RING_EVENT_FLAGS_DISABLE, 0)).toEqual({ notify: false, why: 'device event flags=RING_EVENT_FLAGS_DISABLE' });
    expect(packedNotifyReason(2, 0x8003).why).toBe('device event flags=RING_EVENT_FLAGS_DESC off_wrap=3 wrap=1 (notified: PackedRing.exactEvents is off)');
  });

  it('split, transmit: the descriptor, the frame\'s virtio_net_hdr, avail.idx, then the doorbell (used.flags 0)', () => {
    const { q, rung, events } = setUp('split', false, 'tx');
    expect((q as TxQueue).send([new Uint8Array(60)])).toBe(1);
    const id = (q as TxQueue).slots[0]!;
    expect(lines(events)).toEqual([
      `desc transmitq1 desc[${id}] addr=0x${(0x20000 + id * BUF).toString(16)} len=72 flags=0 [virtio 1.2 §2.7.5]`,
      `hdr transmitq1 buffer ${id}: virtio_net_hdr flags=0 gso_type=NONE num_buffers=0 [virtio 1.2 §5.1.6.2]`,
      'avail transmitq1 avail.idx <- 1 (1 new: ring[0..0]) [virtio 1.2 §2.7.13.3]',
      'notify transmitq1 notify: write 1 to BAR4+0x3004: used.flags=0 [virtio 1.2 §2.7.10, §4.1.5.2]',
    ]);
    expect(rung).toEqual([1]);
  });

  it('split with EVENT_IDX: no doorbell when the device\'s avail_event lies outside the batch, and the trace says why', () => {
    const { q, ring, mem, rung, events } = setUp('split', true, 'tx');
    const l = (ring as SplitRing).layout;
    mem.setUint16(l.used + 4 + 8 * SIZE, 5, true); // avail_event: the device wants a notification at 5
    (q as TxQueue).send([new Uint8Array(60), new Uint8Array(61)]);
    expect(events.at(-2)!.text).toBe('transmitq1 avail.idx <- 2 (2 new: ring[0..1])');
    expect(events.at(-1)).toMatchObject({ kind: 'notify', text: 'transmitq1 notify skipped: avail_event=5 not in (old 0, new 2]', section: 'virtio 1.2 §2.7.10, §2.7.13.4' });
    expect(rung).toEqual([]);
    // The device catches up and asks for a notification at 2: the next batch rings.
    mem.setUint16(l.used + 4 + 8 * SIZE, 2, true);
    (q as TxQueue).send([new Uint8Array(62)]);
    expect(events.at(-1)!.text).toBe('transmitq1 notify: write 1 to BAR4+0x3004: avail_event=2 in (old 2, new 3]');
    expect(rung).toEqual([1]);
  });

  it('split, receive: the used entry, the frame\'s header; the next receive gives the descriptor back, with avail.idx and the notification', () => {
    const { q, ring, mem, pool, rung, events } = setUp('split', false, 'rx');
    const rx = q as RxQueue;
    rx.fill();
    expect(lines(events)).toEqual([
      'desc receiveq1 8 receive buffers made available, the first: desc[0] addr=0x20000 len=128 flags=WRITE [virtio 1.2 §2.7.5]',
      'avail receiveq1 avail.idx <- 8; no notification before DRIVER_OK [virtio 1.2 §5.1.5, §5.1.6.3]',
    ]);
    // The device: a 60-byte frame in buffer 2, DATA_VALID, used ring[0] = { id 2, len 72 }, used.idx 1.
    pool.bytes[2 * BUF] = 2;
    pool.bytes[2 * BUF + 10] = 1;
    const l = (ring as SplitRing).layout;
    mem.setUint32(l.used + 4, 2, true);
    mem.setUint32(l.used + 8, 72, true);
    mem.setUint16(l.used + 2, 1, true);
    const from = events.length;
    expect(rx.receive()).toBe(1);
    expect(lines(events.slice(from))).toEqual([
      'used receiveq1 used ring[0] id=2 len=72 (used.idx 1) [virtio 1.2 §2.7.8, §2.7.14]',
      'hdr receiveq1 frame of 60 bytes in buffer 2: virtio_net_hdr flags=DATA_VALID gso_type=NONE num_buffers=1 [virtio 1.2 §5.1.6.4]',
    ]);
    const next = events.length;
    expect(rx.receive()).toBe(0);
    expect(lines(events.slice(next))).toEqual([
      'desc receiveq1 desc[2] addr=0x20100 len=128 flags=WRITE [virtio 1.2 §2.7.5]',
      'avail receiveq1 avail.idx <- 9 (1 new: ring[0..0]) [virtio 1.2 §2.7.13.3]',
      'notify receiveq1 notify: write 0 to BAR4+0x3004: used.flags=0 [virtio 1.2 §2.7.10, §4.1.5.2]',
    ]);
    expect(rung).toEqual([0]);
  });

  it('packed, transmit: the descriptor with the flags it gets last, the header, the batch, and the device\'s event flags', () => {
    const { q, ring, mem, rung, events } = setUp('packed', false, 'tx');
    (q as TxQueue).send([new Uint8Array(60)]);
    const id = (q as TxQueue).slots[0]!;
    expect(lines(events)).toEqual([
      `desc transmitq1 desc[0] addr=0x${(0x20000 + id * BUF).toString(16)} len=72 id=${id} flags=AVAIL (available, wrap=1) [virtio 1.2 §2.8]`,
      `hdr transmitq1 buffer ${id}: virtio_net_hdr flags=0 gso_type=NONE num_buffers=0 [virtio 1.2 §5.1.6.2]`,
      'avail transmitq1 1 descriptor made available from desc[0], its flags written last; next_avail=1 wrap=1 [virtio 1.2 §2.8.21]',
      'notify transmitq1 notify: write 1 to BAR4+0x3004: device event flags=RING_EVENT_FLAGS_ENABLE [virtio 1.2 §2.8.10, §2.8.21.3, §4.1.5.2]',
    ]);
    expect(rung).toEqual([1]);
    mem.setUint16((ring as PackedRing).layout.device + 2, RING_EVENT_FLAGS_DISABLE, true);
    (q as TxQueue).send([new Uint8Array(60)]);
    expect(events.at(-1)!.text).toBe('transmitq1 notify skipped: device event flags=RING_EVENT_FLAGS_DISABLE');
    expect(rung).toEqual([1]);
  });

  it('the transmit loop in C: the descriptor and header it posted, avail.idx it stored, and the decision it reports with the word it read', () => {
    const { q, ring, mem, rung, events } = setUp('split', true, 'tx');
    const tx = q as TxQueue;
    const bar = new ArrayBuffer(64);
    expect(tx.useNativeBurst({ bar, offset: 4 })).toBe(true);
    const l = (ring as SplitRing).layout;
    mem.setUint16(l.used + 4 + 8 * SIZE, 5, true); // avail_event 5: not this batch
    expect(tx.burst(1, 60)).toBe(1);
    expect(lines(events)).toEqual([
      'desc transmitq1 desc[0] addr=0x20000 len=72 flags=0 [virtio 1.2 §2.7.5]',
      'hdr transmitq1 buffer 0: virtio_net_hdr flags=0 gso_type=NONE num_buffers=0 [virtio 1.2 §5.1.6.2]',
      'avail transmitq1 avail.idx <- 1 (1 new, stored in C) [virtio 1.2 §2.7.13.3]',
      'notify transmitq1 notify skipped: avail_event=5 not in (old 0, new 1] (decided in C) [virtio 1.2 §2.7.10, §2.7.13.4]',
    ]);
    expect(new Uint16Array(bar)[2]).toBe(0);
    // The device takes it (used ring[0] = { id 0, len 0 }) and asks for a notification at 1.
    mem.setUint32(l.used + 4, 0, true);
    mem.setUint16(l.used + 2, 1, true);
    mem.setUint16(l.used + 4 + 8 * SIZE, 1, true);
    const from = events.length;
    expect(tx.burst(1, 60)).toBe(1);
    expect(lines(events.slice(from))[0]).toBe('used transmitq1 used ring[0] id=0 len=0 (used.idx 1; reclaimed in C) [virtio 1.2 §2.7.8, §2.7.14]');
    expect(events.at(-1)!.text).toBe('transmitq1 notify: write 1 to BAR4+0x3004: avail_event=1 in (old 1, new 2] (decided in C)');
    expect(new Uint16Array(bar)[2]).toBe(1); // the loop wrote vq 1 to the doorbell
    expect(rung).toEqual([]); // the C loop rings, not the queue's notify callback
  });
});
