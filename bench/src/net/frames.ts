// Ethernet, ARP, IPv4, UDP and ICMP frames for the packet apps, built and parsed in
// place in packet buffers (no allocation): RFC 894 (IPv4 over Ethernet), RFC 826 (ARP),
// RFC 791 (IPv4), RFC 768 (UDP), RFC 792 (ICMP echo), RFC 1071 (the Internet checksum).

/** Length of an Ethernet header (destination, source, EtherType). */
export const ETH_HLEN = 14;
/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** IPv4 protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IPv4 protocol number of UDP. */
export const IPPROTO_UDP = 17;
/** ARP (RFC 826): htype Ethernet 1, ptype IPv4, opcodes. */
export const ARP_REQUEST = 1;
/** ARP opcode: reply. */
export const ARP_REPLY = 2;
/** ICMP types (RFC 792). */
export const ICMP_ECHO_REPLY = 0;
/** ICMP type: echo request. */
export const ICMP_ECHO_REQUEST = 8;

/** Frames pktgen makes: Ethernet + IPv4 (20) + UDP (8) + payload, the sequence number first in the payload. */
export const PKTGEN_UDP_PORT = 0x4242;
/** Where pktgen's sequence number sits in its frames: the start of the UDP payload. */
export const SEQ_OFFSET = ETH_HLEN + 20 + 8;
/** Smallest Ethernet frame without its FCS (64 on the wire with it); pktgen also needs room for the sequence number. */
export const MIN_FRAME = 60;

/** The Internet checksum (RFC 1071) of len bytes at off: the ones' complement of the ones'-complement sum. */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  let i = off;
  const end = off + len - 1;
  for (; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Parses a MAC address written as six hex bytes (02:00:00:00:00:01 or with dashes); throws a TypeError otherwise. */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new TypeError(`not a MAC address: ${JSON.stringify(s)} (expected six hex bytes, 02:00:00:00:00:01)`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** The MAC address at b[off] as 02:00:00:00:00:01. */
export function formatMac(b: Uint8Array, off = 0): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Dotted quad to a 32-bit unsigned number. */
export function parseIp(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new TypeError(`not an IPv4 address: ${JSON.stringify(s)} (expected A.B.C.D)`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** An IPv4 address (a 32-bit number) as A.B.C.D. */
export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
/** The big-endian 16-bit value at b[o] (network byte order). */
export function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
/** The big-endian 32-bit value at b[o] (network byte order). */
export function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Writes an Ethernet header (destination, source, EtherType) at b[o]. */
export function writeEthernet(b: Uint8Array, o: number, dst: Uint8Array, src: Uint8Array, ethertype: number): void {
  b.set(dst, o);
  b.set(src, o + 6);
  put16(b, o + 12, ethertype);
}

/** An IPv4 header (20 bytes, no options, DF clear, TTL 64) with its checksum. */
export function writeIpv4(b: Uint8Array, o: number, totalLength: number, protocol: number, src: number, dst: number, id = 0): void {
  b[o] = 0x45; // version 4, IHL 5 words
  b[o + 1] = 0; // DSCP/ECN
  put16(b, o + 2, totalLength);
  put16(b, o + 4, id);
  put16(b, o + 6, 0); // flags, fragment offset
  b[o + 8] = 64; // TTL
  b[o + 9] = protocol;
  put16(b, o + 10, 0);
  put32(b, o + 12, src);
  put32(b, o + 16, dst);
  put16(b, o + 10, internetChecksum(b, o, 20));
}

/** The addresses and ports of a UDP frame writeUdpFrame() makes. */
export interface UdpFrameSpec {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC address (6 bytes). */
  dstMac: Uint8Array;
  /** Source IPv4 address, a 32-bit number. */
  srcIp: number;
  /** Destination IPv4 address, a 32-bit number. */
  dstIp: number;
  /** Source UDP port (default PKTGEN_UDP_PORT). */
  srcPort?: number;
  /** Destination UDP port (default PKTGEN_UDP_PORT). */
  dstPort?: number;
}

/**
 * Writes pktgen's frame of `size` bytes at o: Ethernet/IPv4/UDP, payload bytes
 * 0..n (sequence number 0 at SEQ_OFFSET). UDP checksum 0 (allowed over IPv4, RFC 768).
 */
export function writeUdpFrame(b: Uint8Array, o: number, size: number, spec: UdpFrameSpec): void {
  if (size < MIN_FRAME) throw new RangeError(`frame size ${size} is below the ${MIN_FRAME}-byte Ethernet minimum`);
  writeEthernet(b, o, spec.dstMac, spec.srcMac, ETHERTYPE_IPV4);
  writeIpv4(b, o + ETH_HLEN, size - ETH_HLEN, IPPROTO_UDP, spec.srcIp, spec.dstIp);
  const u = o + ETH_HLEN + 20;
  put16(b, u, spec.srcPort ?? PKTGEN_UDP_PORT);
  put16(b, u + 2, spec.dstPort ?? PKTGEN_UDP_PORT);
  put16(b, u + 4, size - ETH_HLEN - 20);
  put16(b, u + 6, 0);
  for (let i = o + SEQ_OFFSET; i < o + size; i++) b[i] = (i - o) & 0xff;
  writeSeq(b, o, 0);
}

/** The sequence number pktgen stamps into each frame (big-endian u32 at SEQ_OFFSET). */
export function writeSeq(b: Uint8Array, o: number, seq: number): void {
  put32(b, o + SEQ_OFFSET, seq);
}

/** The sequence number of the pktgen frame at b[o]. */
export function readSeq(b: Uint8Array, o: number): number {
  return get32(b, o + SEQ_OFFSET);
}

/**
 * True when the frame at o looks like one of pktgen's (IPv4 without options, UDP to port
 * PKTGEN_UDP_PORT; the source port varies with `--flows`).
 */
export function isPktgenFrame(b: Uint8Array, o: number, len: number): boolean {
  return len >= SEQ_OFFSET + 4 && get16(b, o + 12) === ETHERTYPE_IPV4 && b[o + ETH_HLEN] === 0x45 && b[o + ETH_HLEN + 9] === IPPROTO_UDP && get16(b, o + ETH_HLEN + 22) === PKTGEN_UDP_PORT;
}

/** What udpChecksumStatus() found. */
export const UDP_CSUM_NONE = 0;
/** udpChecksumStatus(): the checksum is right. */
export const UDP_CSUM_GOOD = 1;
/** udpChecksumStatus(): the checksum is wrong. */
export const UDP_CSUM_BAD = 2;

/**
 * Checks the UDP checksum of the IPv4/UDP frame at o in software (RFC 768: over the
 * pseudo-header, the UDP header and the data): UDP_CSUM_GOOD, UDP_CSUM_BAD (also for a UDP
 * length that does not fit the frame), or UDP_CSUM_NONE when the field is 0 (no checksum,
 * allowed over IPv4).
 */
export function udpChecksumStatus(b: Uint8Array, o: number, len: number): number {
  const ip = o + ETH_HLEN;
  const u = ip + (b[ip]! & 0xf) * 4;
  const udpLen = u + 8 <= o + len ? get16(b, u + 4) : 0;
  if (udpLen < 8 || u + udpLen > o + len) return UDP_CSUM_BAD;
  if (get16(b, u + 6) === 0) return UDP_CSUM_NONE;
  // Pseudo-header: source and destination address, zero, protocol, UDP length.
  const pseudo = get16(b, ip + 12) + get16(b, ip + 14) + get16(b, ip + 16) + get16(b, ip + 18) + IPPROTO_UDP + udpLen;
  return internetChecksum(b, u, udpLen, pseudo) === 0 ? UDP_CSUM_GOOD : UDP_CSUM_BAD;
}

/**
 * If the frame at o is an ARP request for myIp, turns it into the reply in place
 * (RFC 826: swap sender and target, our MAC as sender) and returns its length; else 0.
 */
export function arpReplyInPlace(b: Uint8Array, o: number, len: number, myMac: Uint8Array, myIp: number): number {
  const a = o + ETH_HLEN;
  if (len < ETH_HLEN + 28 || get16(b, o + 12) !== ETHERTYPE_ARP) return 0;
  // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, oper 1 (request), target IP ours.
  if (get16(b, a) !== 1 || get16(b, a + 2) !== ETHERTYPE_IPV4 || b[a + 4] !== 6 || b[a + 5] !== 4 || get16(b, a + 6) !== ARP_REQUEST) return 0;
  if (get32(b, a + 24) !== myIp) return 0;
  // Target ← sender (hardware at a+18, protocol at a+24), sender ← us.
  b.copyWithin(a + 18, a + 8, a + 18);
  b.set(myMac, a + 8);
  put32(b, a + 14, myIp);
  put16(b, a + 6, ARP_REPLY);
  // Ethernet: back to whoever asked.
  b.copyWithin(o, a + 18, a + 24);
  b.set(myMac, o + 6);
  return len;
}

/**
 * If the frame at o is an ICMP echo request to myIp, turns it into the echo reply in
 * place (RFC 792: type 0, same id, sequence and data; addresses swapped, checksums
 * recomputed) and returns its length; else 0.
 */
export function icmpEchoReplyInPlace(b: Uint8Array, o: number, len: number, myMac: Uint8Array, myIp: number): number {
  const ip = o + ETH_HLEN;
  if (len < ETH_HLEN + 20 + 8 || get16(b, o + 12) !== ETHERTYPE_IPV4 || b[ip]! >> 4 !== 4 || b[ip + 9] !== IPPROTO_ICMP) return 0;
  const ihl = (b[ip]! & 0xf) * 4;
  const total = get16(b, ip + 2);
  if (ihl < 20 || total > len - ETH_HLEN || total < ihl + 8 || get32(b, ip + 16) !== myIp) return 0;
  const icmp = ip + ihl;
  if (b[icmp] !== ICMP_ECHO_REQUEST || b[icmp + 1] !== 0) return 0;
  // Ethernet: swap.
  b.copyWithin(o, o + 6, o + 12);
  b.set(myMac, o + 6);
  // IPv4: destination ← source, source ← us, TTL fresh, checksum again.
  b.copyWithin(ip + 16, ip + 12, ip + 16);
  put32(b, ip + 12, myIp);
  b[ip + 8] = 64;
  put16(b, ip + 10, 0);
  put16(b, ip + 10, internetChecksum(b, ip, ihl));
  // ICMP: type 0, checksum over the whole ICMP message.
  b[icmp] = ICMP_ECHO_REPLY;
  put16(b, icmp + 2, 0);
  put16(b, icmp + 2, internetChecksum(b, icmp, total - ihl));
  return ETH_HLEN + total;
}

/** An ARP request (who has targetIp? tell srcIp), 42 bytes. For tests and for probing a peer. */
export function writeArpRequest(b: Uint8Array, o: number, srcMac: Uint8Array, srcIp: number, targetIp: number): number {
  writeEthernet(b, o, new Uint8Array([255, 255, 255, 255, 255, 255]), srcMac, ETHERTYPE_ARP);
  const a = o + ETH_HLEN;
  put16(b, a, 1);
  put16(b, a + 2, ETHERTYPE_IPV4);
  b[a + 4] = 6;
  b[a + 5] = 4;
  put16(b, a + 6, ARP_REQUEST);
  b.set(srcMac, a + 8);
  put32(b, a + 14, srcIp);
  b.fill(0, a + 18, a + 24);
  put32(b, a + 24, targetIp);
  return ETH_HLEN + 28;
}

/** An ICMP echo request with dataLength bytes of data; returns the frame length. */
export function writeIcmpEchoRequest(b: Uint8Array, o: number, srcMac: Uint8Array, dstMac: Uint8Array, srcIp: number, dstIp: number, id: number, seq: number, dataLength = 56): number {
  const total = 20 + 8 + dataLength;
  writeEthernet(b, o, dstMac, srcMac, ETHERTYPE_IPV4);
  writeIpv4(b, o + ETH_HLEN, total, IPPROTO_ICMP, srcIp, dstIp, seq);
  const c = o + ETH_HLEN + 20;
  b[c] = ICMP_ECHO_REQUEST;
  b[c + 1] = 0;
  put16(b, c + 2, 0);
  put16(b, c + 4, id);
  put16(b, c + 6, seq);
  for (let i = 0; i < dataLength; i++) b[c + 8 + i] = i & 0xff;
  put16(b, c + 2, internetChecksum(b, c, 8 + dataLength));
  return ETH_HLEN + total;
}
