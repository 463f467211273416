import { describe, expect, it } from 'vitest';
import { readNetHdr, writeNetHdr, VIRTIO_NET_HDR_SIZE, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE } from './net-hdr.js';

describe('struct virtio_net_hdr (virtio 1.2 §5.1.6)', () => {
  it('is 12 bytes with VERSION_1, little-endian fields at 0,1,2,4,6,8,10', () => {
    expect(VIRTIO_NET_HDR_SIZE).toBe(12);
    const b = new Uint8Array(16).fill(0xaa);
    writeNetHdr(b, 2, { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gso_type: VIRTIO_NET_HDR_GSO_NONE, hdr_len: 0x0102, gso_size: 0x0304, csum_start: 34, csum_offset: 6, num_buffers: 0x0506 });
    expect(Array.from(b)).toEqual([0xaa, 0xaa, 1, 0, 0x02, 0x01, 0x04, 0x03, 34, 0, 6, 0, 0x06, 0x05, 0xaa, 0xaa]);
    expect(readNetHdr(b, 2)).toEqual({ flags: 1, gso_type: 0, hdr_len: 0x0102, gso_size: 0x0304, csum_start: 34, csum_offset: 6, num_buffers: 0x0506 });
  });
  it('a plain transmit header is all zeros (num_buffers 0 on transmit)', () => {
    const b = new Uint8Array(12).fill(7);
    writeNetHdr(b, 0);
    expect(Array.from(b)).toEqual(new Array(12).fill(0));
  });
});
