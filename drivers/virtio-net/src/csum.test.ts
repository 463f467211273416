import { describe, expect, it } from 'vitest';
import { completeChecksum, onesComplementSum, prepareChecksumOffload } from './csum.js';

// Ethernet + IPv4 (10.0.0.1 → 10.0.0.2, UDP) + UDP 0x4242 → 0x1234 + payload 0..17.
function udp4(): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 18 + 4); // 4 bytes of Ethernet padding after the datagram
  f.set([0x08, 0x00], 12);
  f.set([0x45, 0, 0, 20 + 8 + 18, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  f.set([0x42, 0x42, 0x12, 0x34, 0, 26, 0, 0], 34);
  for (let i = 0; i < 18; i++) f[42 + i] = i;
  f.fill(0xee, 60); // padding is not part of the checksum
  return f;
}

// Ethernet + IPv6 (fe80::1 → fe80::2, TCP) + a 20-byte TCP header (SYN) + "hello".
function tcp6(): Uint8Array {
  const f = new Uint8Array(14 + 40 + 25);
  f.set([0x86, 0xdd], 12);
  f.set([0x60, 0, 0, 0, 0, 25, 6, 64], 14);
  f.set([0xfe, 0x80], 22);
  f[37] = 1;
  f.set([0xfe, 0x80], 38);
  f[53] = 2;
  f.set([0x03, 0xe8, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x04, 0x00, 0, 0, 0, 0], 54);
  f.set(Array.from('hello', (c) => c.charCodeAt(0)), 74);
  return f;
}

describe('checksum offload arithmetic (§5.1.6.2, §5.1.6.4)', () => {
  it('sums 16-bit words, an odd last byte as the high half, folding the carries', () => {
    expect(onesComplementSum(Uint8Array.of(0xff, 0xff, 0x00, 0x02), 0, 4)).toBe(0x0002);
    expect(onesComplementSum(Uint8Array.of(0x12, 0x34, 0x56), 0, 3)).toBe(0x1234 + 0x5600);
    expect(onesComplementSum(Uint8Array.of(0x00, 0x01), 0, 2, 0xffff)).toBe(0x0001);
  });

  it('prepares a UDP/IPv4 frame: csum_start 34, csum_offset 6, the pseudo-header sum in the field', () => {
    const f = udp4();
    expect(prepareChecksumOffload(f, 0, f.length)).toBe(34 * 65536 + 6);
    expect([f[40], f[41]]).toEqual([0x14, 0x2e]); // 10.0.0.1 + 10.0.0.2 + 17 + 26, folded (computed independently)
    // What the device does then: the known answer 0x4ef0.
    expect(completeChecksum(f, 0, 60, 34, 6)).toBe(true);
    expect([f[40], f[41]]).toEqual([0x4e, 0xf0]);
  });

  it('prepares a TCP/IPv6 frame: csum_start 54, csum_offset 16', () => {
    const f = tcp6();
    expect(prepareChecksumOffload(f, 0, f.length)).toBe(54 * 65536 + 16);
    expect(completeChecksum(f, 0, f.length, 54, 16)).toBe(true);
    expect([f[70], f[71]]).toEqual([0x66, 0xce]);
  });

  it('works at an offset inside a larger buffer', () => {
    const f = udp4();
    const buf = new Uint8Array(200);
    buf.set(f, 100);
    expect(prepareChecksumOffload(buf, 100, 60)).toBe(34 * 65536 + 6);
    completeChecksum(buf, 100, 60, 34, 6);
    expect([buf[140], buf[141]]).toEqual([0x4e, 0xf0]);
  });

  it('leaves alone what it cannot offload: ARP, ICMP, fragments, lengths past the frame', () => {
    const arp = udp4();
    arp.set([0x08, 0x06], 12);
    expect(prepareChecksumOffload(arp, 0, 60)).toBe(0);
    const icmp = udp4();
    icmp[23] = 1;
    expect(prepareChecksumOffload(icmp, 0, 60)).toBe(0);
    const frag = udp4();
    frag[20] = 0x20; // MF
    expect(prepareChecksumOffload(frag, 0, 60)).toBe(0);
    const short = udp4();
    expect(prepareChecksumOffload(short, 0, 50)).toBe(0); // IPv4 total length 46 > 50 - 14
    for (const f of [arp, icmp, frag, short]) expect([f[40], f[41]]).toEqual([0, 0]);
    expect(completeChecksum(udp4(), 0, 40, 34, 6)).toBe(false);
  });
});
