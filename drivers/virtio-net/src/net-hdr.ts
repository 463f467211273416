// struct virtio_net_hdr (virtio 1.2 §5.1.6): the header in front of every frame on
// the receive and transmit queues. With VIRTIO_F_VERSION_1 it is always 12 bytes:
// num_buffers is present even without VIRTIO_NET_F_MRG_RXBUF (§5.1.6.1).
//
//   0 u8   flags        VIRTIO_NET_HDR_F_*
//   1 u8   gso_type     VIRTIO_NET_HDR_GSO_*
//   2 le16 hdr_len
//   4 le16 gso_size
//   6 le16 csum_start
//   8 le16 csum_offset
//  10 le16 num_buffers

/** Size of struct virtio_net_hdr with num_buffers, as modern devices use it (12 bytes). */
export const VIRTIO_NET_HDR_SIZE = 12;

/** Byte offsets of the fields of struct virtio_net_hdr (virtio 1.2 §5.1.6). */
export const NetHdr = {
  flags: 0,
  gso_type: 1,
  hdr_len: 2,
  gso_size: 4,
  csum_start: 6,
  csum_offset: 8,
  num_buffers: 10,
} as const;

/** flags (§5.1.6). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** virtio_net_hdr flags: the device checked the checksum (receive, with VIRTIO_NET_F_GUEST_CSUM). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;
/** gso_type (§5.1.6). */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** A virtio_net_hdr, field by field (§5.1.6). */
export interface VirtioNetHdr {
  flags: number;
  gso_type: number;
  hdr_len: number;
  gso_size: number;
  csum_start: number;
  csum_offset: number;
  num_buffers: number;
}

/**
 * Writes a header at offset. For transmit without offloads it is all zeros (§5.1.6.2:
 * flags 0, gso_type NONE); with VIRTIO_NET_F_CSUM a frame may instead ask the device to
 * fill in a checksum: flags NEEDS_CSUM, the checksum field at csum_start + csum_offset.
 */
export function writeNetHdr(buf: Uint8Array, offset: number, h: Partial<VirtioNetHdr> = {}): void {
  const v = new DataView(buf.buffer, buf.byteOffset + offset, VIRTIO_NET_HDR_SIZE);
  v.setUint8(NetHdr.flags, h.flags ?? 0);
  v.setUint8(NetHdr.gso_type, h.gso_type ?? VIRTIO_NET_HDR_GSO_NONE);
  v.setUint16(NetHdr.hdr_len, h.hdr_len ?? 0, true);
  v.setUint16(NetHdr.gso_size, h.gso_size ?? 0, true);
  v.setUint16(NetHdr.csum_start, h.csum_start ?? 0, true);
  v.setUint16(NetHdr.csum_offset, h.csum_offset ?? 0, true);
  // §5.1.6.2: the driver sets num_buffers to 0 on transmit.
  v.setUint16(NetHdr.num_buffers, h.num_buffers ?? 0, true);
}

/** Reads a header at offset (tests and diagnostics; the hot path reads the two fields it needs). */
export function readNetHdr(buf: Uint8Array, offset: number): VirtioNetHdr {
  const v = new DataView(buf.buffer, buf.byteOffset + offset, VIRTIO_NET_HDR_SIZE);
  return {
    flags: v.getUint8(NetHdr.flags),
    gso_type: v.getUint8(NetHdr.gso_type),
    hdr_len: v.getUint16(NetHdr.hdr_len, true),
    gso_size: v.getUint16(NetHdr.gso_size, true),
    csum_start: v.getUint16(NetHdr.csum_start, true),
    csum_offset: v.getUint16(NetHdr.csum_offset, true),
    num_buffers: v.getUint16(NetHdr.num_buffers, true),
  };
}
