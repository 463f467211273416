import { describe, expect, it } from 'vitest';
import {
  arpReplyInPlace, formatIp, formatMac, icmpEchoReplyInPlace, internetChecksum, isPktgenFrame, parseIp, parseMac, readSeq,
  udpChecksumStatus, writeArpRequest, writeIcmpEchoRequest, writeSeq, writeUdpFrame, SEQ_OFFSET, UDP_CSUM_BAD, UDP_CSUM_GOOD, UDP_CSUM_NONE,
} from './frames.js';
import { completeChecksum, prepareChecksumOffload } from '@vfio-node/virtio-net';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));
const me = parseMac('02:00:00:00:00:01');
const peer = parseMac('52:54:00:12:34:56');

describe('Internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 example sum and a known IPv4 header', () => {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2; the checksum is its complement.
    expect(internetChecksum(hex('0001f203f4f5f6f7'), 0, 8)).toBe(~0xddf2 & 0xffff);
    // A textbook IPv4 header with checksum 0xb861 (checksum field zeroed).
    expect(internetChecksum(hex('450000730000400040110000c0a80001c0a800c7'), 0, 20)).toBe(0xb861);
    // Odd length: the last byte is padded with zero.
    expect(internetChecksum(hex('0102 03'), 0, 3)).toBe(~0x0402 & 0xffff);
  });
});

describe('addresses', () => {
  it('parses and formats MAC and IPv4 addresses, and refuses malformed ones', () => {
    expect(formatMac(parseMac('52:54:00:AB:cd:0f'))).toBe('52:54:00:ab:cd:0f');
    expect(parseIp('10.0.2.15')).toBe(0x0a00020f);
    expect(formatIp(0xc0a80001)).toBe('192.168.0.1');
    expect(() => parseIp('10.0.2')).toThrow(/not an IPv4 address/);
    expect(() => parseIp('10.0.2.256')).toThrow(TypeError);
    expect(() => parseMac('52:54:00:ab:cd')).toThrow(/not a MAC address/);
  });
});

describe("pktgen's frame", () => {
  it('is Ethernet/IPv4/UDP with a valid IP checksum, lengths and a big-endian sequence number at byte 42', () => {
    const b = new Uint8Array(64 + 4);
    writeUdpFrame(b, 4, 64, { srcMac: me, dstMac: peer, srcIp: parseIp('10.0.0.1'), dstIp: parseIp('10.0.0.2') });
    const f = b.subarray(4);
    expect(Array.from(f.subarray(0, 14))).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    expect((f[16]! << 8) | f[17]!).toBe(50); // IPv4 total length
    expect(internetChecksum(f, 14, 20)).toBe(0); // a valid header sums to 0xffff
    expect((f[38]! << 8) | f[39]!).toBe(30); // UDP length
    expect(SEQ_OFFSET).toBe(42);
    writeSeq(b, 4, 0x01020304);
    expect(Array.from(f.subarray(42, 46))).toEqual([1, 2, 3, 4]);
    expect(readSeq(b, 4)).toBe(0x01020304);
    expect(isPktgenFrame(b, 4, 64)).toBe(true);
    expect(isPktgenFrame(b, 4, 45)).toBe(false);
  });
  it('is recognised by its destination port whatever its source port (pktgen --flows varies it)', () => {
    const b = new Uint8Array(64);
    writeUdpFrame(b, 0, 64, { srcMac: me, dstMac: peer, srcIp: 1, dstIp: 2, srcPort: 5000 });
    expect(isPktgenFrame(b, 0, 64)).toBe(true);
    writeUdpFrame(b, 0, 64, { srcMac: me, dstMac: peer, srcIp: 1, dstIp: 2, dstPort: 53 });
    expect(isPktgenFrame(b, 0, 64)).toBe(false);
  });
  it('has its UDP checksum checked in software: none (0), good once completed as the device would, bad after a flipped byte', () => {
    const b = new Uint8Array(100);
    writeUdpFrame(b, 0, 100, { srcMac: me, dstMac: peer, srcIp: parseIp('10.0.0.1'), dstIp: parseIp('10.0.0.2'), srcPort: 1234 });
    expect(udpChecksumStatus(b, 0, 100)).toBe(UDP_CSUM_NONE);
    expect(prepareChecksumOffload(b, 0, 100)).toBe(34 * 65536 + 6);
    expect(udpChecksumStatus(b, 0, 100)).toBe(UDP_CSUM_BAD); // the pseudo-header sum alone is not a checksum
    completeChecksum(b, 0, 100, 34, 6);
    expect(udpChecksumStatus(b, 0, 100)).toBe(UDP_CSUM_GOOD);
    b[77] ^= 0x10;
    expect(udpChecksumStatus(b, 0, 100)).toBe(UDP_CSUM_BAD);
    expect(udpChecksumStatus(b, 0, 50)).toBe(UDP_CSUM_BAD); // UDP length past the frame
  });
  it('refuses a frame below 60 bytes', () => {
    expect(() => writeUdpFrame(new Uint8Array(64), 0, 59, { srcMac: me, dstMac: peer, srcIp: 1, dstIp: 2 })).toThrow(RangeError);
  });
});

describe('ARP responder (RFC 826)', () => {
  it('turns a request for our address into the reply, byte for byte', () => {
    const b = new Uint8Array(60);
    const n = writeArpRequest(b, 0, peer, parseIp('10.0.0.1'), parseIp('10.0.0.2'));
    expect(n).toBe(42);
    expect(arpReplyInPlace(b, 0, 60, me, parseIp('10.0.0.2'))).toBe(60);
    expect(formatMac(b, 0)).toBe('52:54:00:12:34:56');
    expect(formatMac(b, 6)).toBe('02:00:00:00:00:01');
    const arp = b.subarray(14, 42);
    expect(Array.from(arp)).toEqual([0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 10, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 0, 1]);
  });
  it('ignores requests for another address and replies', () => {
    const b = new Uint8Array(60);
    writeArpRequest(b, 0, peer, parseIp('10.0.0.1'), parseIp('10.0.0.9'));
    expect(arpReplyInPlace(b, 0, 60, me, parseIp('10.0.0.2'))).toBe(0);
    writeArpRequest(b, 0, peer, parseIp('10.0.0.1'), parseIp('10.0.0.2'));
    arpReplyInPlace(b, 0, 60, me, parseIp('10.0.0.2'));
    expect(arpReplyInPlace(b, 0, 60, me, parseIp('10.0.0.2'))).toBe(0); // a reply is not answered
  });
});

describe('ICMP echo responder (RFC 792)', () => {
  it('answers an echo request with type 0, same id/seq/data, swapped addresses and valid checksums', () => {
    const b = new Uint8Array(128);
    const n = writeIcmpEchoRequest(b, 0, peer, me, parseIp('10.0.0.1'), parseIp('10.0.0.2'), 0x1234, 7);
    expect(n).toBe(98); // what ping sends by default: 56 data bytes
    expect(internetChecksum(b, 34, 64)).toBe(0);
    const data = Array.from(b.subarray(42, 98));
    expect(icmpEchoReplyInPlace(b, 0, n, me, parseIp('10.0.0.2'))).toBe(98);
    expect(formatMac(b, 0)).toBe('52:54:00:12:34:56');
    expect(formatIp(((b[26]! << 24) | (b[27]! << 16) | (b[28]! << 8) | b[29]!) >>> 0)).toBe('10.0.0.2');
    expect(formatIp(((b[30]! << 24) | (b[31]! << 16) | (b[32]! << 8) | b[33]!) >>> 0)).toBe('10.0.0.1');
    expect(internetChecksum(b, 14, 20)).toBe(0);
    expect(b[34]).toBe(0);
    expect(internetChecksum(b, 34, 64)).toBe(0);
    expect([(b[38]! << 8) | b[39]!, (b[40]! << 8) | b[41]!]).toEqual([0x1234, 7]);
    expect(Array.from(b.subarray(42, 98))).toEqual(data);
  });
  it('ignores echo requests to another address, and echo replies', () => {
    const b = new Uint8Array(128);
    const n = writeIcmpEchoRequest(b, 0, peer, me, parseIp('10.0.0.1'), parseIp('10.0.0.3'), 1, 1);
    expect(icmpEchoReplyInPlace(b, 0, n, me, parseIp('10.0.0.2'))).toBe(0);
    writeIcmpEchoRequest(b, 0, peer, me, parseIp('10.0.0.1'), parseIp('10.0.0.2'), 1, 1);
    icmpEchoReplyInPlace(b, 0, n, me, parseIp('10.0.0.2'));
    expect(icmpEchoReplyInPlace(b, 0, n, me, parseIp('10.0.0.2'))).toBe(0);
  });
});
