// The virtio decoders on queue memory laid out by the driver's own SplitRing and on
// structures written by hand from the specification's layouts.

import { describe, expect, it } from 'vitest';
import { describeAvail, describeNetHdr, describePackedDesc, describeSplitDesc, describeUsed } from './decode.js';
import { writeNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_SIZE } from './net-hdr.js';
import { VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED } from './packed-ring.js';
import { splitLayout, SplitRing, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './split-ring.js';

describe('split virtqueue (§2.7)', () => {
  it('decodes a descriptor, the available ring and the used ring as the driver laid them out', () => {
    const l = splitLayout(8);
    const mem = new Uint8Array(l.total);
    const ring = new SplitRing(mem, 0x10000n, 8, true);
    ring.setBuffer(3, 0x20_3000, 0x1);
    const v = new DataView(mem.buffer);
    v.setUint32(l.desc + 16 * 3 + 8, 1526, true);
    v.setUint16(l.desc + 16 * 3 + 12, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, true);
    v.setUint16(l.desc + 16 * 3 + 14, 4, true);
    expect(describeSplitDesc(v, l, 3)).toBe('desc[3] addr=0x100203000 len=1526 flags=NEXT|WRITE next=4 (§2.7.5)');
    // avail: idx 9, ring[1] = 3, used_event 7
    v.setUint16(l.avail + 2, 9, true);
    v.setUint16(l.avail + 4 + 2 * 1, 3, true);
    v.setUint16(l.avail + 4 + 2 * 8, 7, true);
    expect(describeAvail(v, l, 9)).toBe('avail flags=0 idx=9 ring[1]=3 used_event=7 (§2.7.6)');
    // used: idx 2, ring[1] = { id 3, len 60 }, NO_NOTIFY
    v.setUint16(l.used, 1, true);
    v.setUint16(l.used + 2, 2, true);
    v.setUint32(l.used + 4 + 8, 3, true);
    v.setUint32(l.used + 4 + 8 + 4, 60, true);
    expect(describeUsed(v, l, 1)).toBe('used flags=NO_NOTIFY idx=2 ring[1]={id=3 len=60} avail_event=0 (§2.7.8)');
  });
});

describe('packed virtqueue (§2.8)', () => {
  it('says whether a descriptor is available or used for the wrap counter', () => {
    const v = new DataView(new ArrayBuffer(32));
    v.setBigUint64(16, 0x5000n, true);
    v.setUint32(24, 2048, true);
    v.setUint16(28, 1, true);
    v.setUint16(30, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_WRITE, true);
    expect(describePackedDesc(v, 0, 1, true)).toBe('desc[1] addr=0x5000 len=2048 id=1 flags=WRITE|AVAIL (available, wrap=1) (§2.8)');
    v.setUint16(30, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED, true);
    expect(describePackedDesc(v, 0, 1, true)).toContain('(used, wrap=1)');
    // After the ring wraps, the same bits mean "not ours yet" to a driver whose counter is 0.
    expect(describePackedDesc(v, 0, 1, false)).toContain('(not ours yet, wrap=0)');
  });
});

describe('virtio_net_hdr (§5.1.6)', () => {
  it('decodes the header the driver writes for checksum offload', () => {
    const b = new Uint8Array(VIRTIO_NET_HDR_SIZE);
    writeNetHdr(b, 0, { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start: 34, csum_offset: 6 });
    expect(describeNetHdr(new DataView(b.buffer), 0)).toBe('virtio_net_hdr flags=NEEDS_CSUM gso_type=NONE csum_start=34 csum_offset=6 num_buffers=0 (§5.1.6)');
  });

  it('decodes a received header with several merged buffers and GSO by hand', () => {
    const v = new DataView(new ArrayBuffer(12));
    v.setUint8(0, 2); // DATA_VALID
    v.setUint8(1, 0x81); // TCPV4 | ECN
    v.setUint16(2, 54, true);
    v.setUint16(4, 1448, true);
    v.setUint16(10, 3, true);
    expect(describeNetHdr(v, 0)).toBe('virtio_net_hdr flags=DATA_VALID gso_type=TCPV4|ECN hdr_len=54 gso_size=1448 num_buffers=3 (§5.1.6)');
  });
});
