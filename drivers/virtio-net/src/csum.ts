// Checksum offload (virtio 1.2 §5.1.6.2, §5.1.6.4): the arithmetic around
// VIRTIO_NET_HDR_F_NEEDS_CSUM. A frame sent with NEEDS_CSUM carries, in its TCP or UDP
// checksum field, the sum of the pseudo-header only; the device sums from csum_start to
// the end of the frame (that field included) and stores the ones' complement at
// csum_start + csum_offset. A frame received with NEEDS_CSUM is in the same state: its
// checksum is "partial" and completeChecksum() finishes it, as the device would have.
//
// Sums are RFC 1071 ones' complement sums of big-endian 16-bit words. Pure functions on a
// Uint8Array, no allocation: they run per frame.

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** Where the checksum sits inside the transport header (RFC 793, RFC 768). */
export const TCP_CSUM_OFFSET = 16;
/** Where the checksum sits inside a UDP header (RFC 768). */
export const UDP_CSUM_OFFSET = 6;

/** The ones' complement sum (RFC 1071) of len bytes at off, added to `initial`, folded to 16 bits (not complemented). */
export function onesComplementSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * Prepares the TCP or UDP frame at off (len bytes: Ethernet, IPv4 without fragmentation or
 * IPv6 without extension headers) for checksum offload: writes the pseudo-header sum
 * (addresses, protocol, transport length; RFC 768, RFC 793, RFC 8200 §8.1) into its
 * checksum field and returns csum_start × 65536 + csum_offset for the virtio_net_hdr. Returns 0 (and
 * writes nothing) for any other frame, or one whose lengths do not fit len.
 */
export function prepareChecksumOffload(buf: Uint8Array, off: number, len: number): number {
  if (len < 14 + 20) return 0;
  const ethertype = (buf[off + 12]! << 8) | buf[off + 13]!;
  const ip = off + 14;
  let l4: number;
  let l4Len: number;
  let proto: number;
  let sum: number;
  if (ethertype === ETHERTYPE_IPV4) {
    if (buf[ip]! >> 4 !== 4) return 0;
    const ihl = (buf[ip]! & 0xf) * 4;
    const total = (buf[ip + 2]! << 8) | buf[ip + 3]!;
    // A fragment carries part of a transport segment: its checksum covers the whole datagram.
    const fragment = ((buf[ip + 6]! & 0x3f) << 8) | buf[ip + 7]!; // MF flag and fragment offset
    if (ihl < 20 || fragment !== 0 || total < ihl || 14 + total > len) return 0;
    proto = buf[ip + 9]!;
    l4 = ip + ihl;
    l4Len = total - ihl;
    sum = onesComplementSum(buf, ip + 12, 8, proto + l4Len); // source and destination address
  } else if (ethertype === ETHERTYPE_IPV6) {
    if (len < 14 + 40 || buf[ip]! >> 4 !== 6) return 0;
    proto = buf[ip + 6]!; // next header: no extension headers followed here
    l4 = ip + 40;
    l4Len = (buf[ip + 4]! << 8) | buf[ip + 5]!;
    if (14 + 40 + l4Len > len) return 0;
    sum = onesComplementSum(buf, ip + 8, 32, proto + l4Len);
  } else {
    return 0;
  }
  const csumOffset = proto === IPPROTO_TCP ? TCP_CSUM_OFFSET : proto === IPPROTO_UDP ? UDP_CSUM_OFFSET : -1;
  if (csumOffset < 0 || l4Len < csumOffset + 2) return 0;
  const field = l4 + csumOffset;
  buf[field] = sum >>> 8;
  buf[field + 1] = sum & 0xff;
  const csumStart = l4 - off;
  return csumStart * 65536 + csumOffset;
}

/**
 * Finishes a partial checksum (a frame received with NEEDS_CSUM, §5.1.6.4): sums from
 * csumStart to the end of the frame (the field holds the pseudo-header sum) and stores
 * the ones' complement at csumStart + csumOffset. Returns false, writing nothing, when the
 * field lies outside the frame.
 */
export function completeChecksum(buf: Uint8Array, off: number, len: number, csumStart: number, csumOffset: number): boolean {
  if (csumStart + csumOffset + 2 > len) return false;
  const sum = onesComplementSum(buf, off + csumStart, len - csumStart);
  const c = ~sum & 0xffff;
  buf[off + csumStart + csumOffset] = c >>> 8;
  buf[off + csumStart + csumOffset + 1] = c & 0xff;
  return true;
}
