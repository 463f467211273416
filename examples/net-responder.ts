// net-responder: a virtio-net NIC driven from userspace that answers ARP requests for
// its IPv4 address and ICMP echo requests (ping) to it, frame by frame, with the frames
// built and parsed right here (Ethernet, ARP per RFC 826, IPv4 per RFC 791, ICMP per
// RFC 792, the Internet checksum per RFC 1071).
//
//   node examples/dist/net-responder.js 0000:00:04.0                  answer on 10.0.0.1 until Ctrl-C
//   node examples/dist/net-responder.js 0000:00:04.0 0000:00:05.0 5   ...and ping it 5 times from a second NIC
//   npx vfio-node lab run --nics 2 -- node examples/dist/net-responder.js
//
// With a second NIC on the same link (the lab joins its NICs on one hub) the program is
// also the other end: it asks for 10.0.0.1's MAC address by ARP from 10.0.0.2, then
// sends the echo requests and prints each reply, and exits 0 when every one came back.
// Both NICs are polled from one event loop. Without addresses the lab's NICs
// ($VFIO_LAB_NICS) are used. Each NIC must be bound to vfio-pci.

import { VirtioNet } from '@vfio-node/virtio-net';

const RESPONDER_IP = Uint8Array.of(10, 0, 0, 1);
const PINGER_IP = Uint8Array.of(10, 0, 0, 2);
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const BROADCAST = new Uint8Array(6).fill(0xff);

const labNics = process.env.VFIO_LAB_NICS?.split(' ').filter(Boolean) ?? [];
const responderAddress = process.argv[2] ?? labNics[0];
const pingerAddress = process.argv[2] ? process.argv[3] : labNics[1];
const pings = Number(process.argv[4] ?? 3);
if (!responderAddress) {
  console.error('usage: node net-responder.js NIC_ADDRESS [PEER_NIC_ADDRESS [COUNT]]');
  process.exit(2);
}

// ---- frames -------------------------------------------------------------------------------

/** RFC 1071: the 16-bit one's complement of the one's complement sum of the 16-bit words. */
function internetChecksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payloadLength: number): { frame: Uint8Array; view: DataView } {
  // 60 bytes at least: the shortest Ethernet frame without its FCS.
  const frame = new Uint8Array(Math.max(60, 14 + payloadLength));
  frame.set(dst, 0);
  frame.set(src, 6);
  const view = new DataView(frame.buffer);
  view.setUint16(12, type);
  return { frame, view };
}

/** An ARP packet (RFC 826) for IPv4 over Ethernet: oper 1 request, 2 reply. */
function arp(oper: 1 | 2, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array, dst: Uint8Array): Uint8Array {
  const { frame, view } = ethernet(dst, sha, ETHERTYPE_ARP, 28);
  view.setUint16(14, 1); // htype: Ethernet
  view.setUint16(16, ETHERTYPE_IPV4); // ptype
  frame[18] = 6; // hlen
  frame[19] = 4; // plen
  view.setUint16(20, oper);
  frame.set(sha, 22);
  frame.set(spa, 28);
  frame.set(tha, 32);
  frame.set(tpa, 38);
  return frame;
}

/** An IPv4 packet carrying an ICMP echo request (type 8) or reply (type 0). */
function icmpEcho(type: 0 | 8, srcMac: Uint8Array, dstMac: Uint8Array, srcIp: Uint8Array, dstIp: Uint8Array, id: number, seq: number, data: Uint8Array): Uint8Array {
  const ipLength = 20 + 8 + data.length;
  const { frame, view } = ethernet(dstMac, srcMac, ETHERTYPE_IPV4, ipLength);
  frame[14] = 0x45; // version 4, IHL 5 (20 bytes, no options)
  view.setUint16(16, ipLength);
  frame[22] = 64; // TTL
  frame[23] = 1; // protocol: ICMP
  frame.set(srcIp, 26);
  frame.set(dstIp, 30);
  view.setUint16(24, internetChecksum(frame, 14, 34));
  frame[34] = type;
  view.setUint16(38, id);
  view.setUint16(40, seq);
  frame.set(data, 42);
  view.setUint16(36, internetChecksum(frame, 34, 14 + ipLength));
  return frame;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What a received frame is, as far as this program cares. */
type Parsed =
  | { kind: 'arp'; oper: number; sha: Uint8Array; spa: Uint8Array; tpa: Uint8Array }
  | { kind: 'echo'; type: number; srcMac: Uint8Array; srcIp: Uint8Array; dstIp: Uint8Array; id: number; seq: number; data: Uint8Array }
  | { kind: 'other' };

function parse(f: Uint8Array): Parsed {
  if (f.length < 42) return { kind: 'other' };
  const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const type = view.getUint16(12);
  if (type === ETHERTYPE_ARP && view.getUint16(14) === 1 && view.getUint16(16) === ETHERTYPE_IPV4) {
    return { kind: 'arp', oper: view.getUint16(20), sha: f.slice(22, 28), spa: f.slice(28, 32), tpa: f.slice(38, 42) };
  }
  if (type === ETHERTYPE_IPV4 && f[14] === 0x45 && f[23] === 1 && internetChecksum(f, 14, 34) === 0) {
    const ipLength = view.getUint16(16);
    if (ipLength < 28 || 14 + ipLength > f.length || internetChecksum(f, 34, 14 + ipLength) !== 0) return { kind: 'other' };
    return { kind: 'echo', type: f[34]!, srcMac: f.slice(6, 12), srcIp: f.slice(26, 30), dstIp: f.slice(30, 34), id: view.getUint16(38), seq: view.getUint16(40), data: f.slice(42, 14 + ipLength) };
  }
  return { kind: 'other' };
}

/** Received frames of a NIC, copied out of the receive ring (receive() reuses the buffers on its next call). */
function receiveFrames(nic: VirtioNet): Uint8Array[] {
  const rx = nic.rxQueue(0);
  const n = rx.receive(32);
  return Array.from({ length: n }, (_, i) => rx.frames.slice(rx.offsets[i]!, rx.offsets[i]! + rx.lengths[i]!));
}

// ---- the responder ------------------------------------------------------------------------

const counts = { arpReplies: 0, echoReplies: 0, ignored: 0 };

/** Answers what arrived at the responder: ARP requests for its IP, echo requests to it. */
function respond(nic: VirtioNet): void {
  const replies: Uint8Array[] = [];
  for (const f of receiveFrames(nic)) {
    const p = parse(f);
    if (p.kind === 'arp' && p.oper === 1 && same(p.tpa, RESPONDER_IP)) {
      replies.push(arp(2, nic.mac, RESPONDER_IP, p.sha, p.spa, p.sha));
      counts.arpReplies++;
    } else if (p.kind === 'echo' && p.type === 8 && same(p.dstIp, RESPONDER_IP)) {
      replies.push(icmpEcho(0, nic.mac, p.srcMac, RESPONDER_IP, p.srcIp, p.id, p.seq, p.data));
      counts.echoReplies++;
    } else counts.ignored++;
  }
  if (replies.length) nic.send(replies);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

using responder = VirtioNet.open(responderAddress);
console.log(`responder ${responder.address} (MAC ${responder.macString}) answers ARP and ping for ${RESPONDER_IP.join('.')}`);

if (!pingerAddress) {
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  let last = Date.now();
  while (!stop) {
    respond(responder);
    if (Date.now() - last >= 1000) {
      last = Date.now();
      console.log(`arp replies ${counts.arpReplies}, echo replies ${counts.echoReplies}, ignored ${counts.ignored}`);
    }
    await tick();
  }
} else {
  using pinger = VirtioNet.open(pingerAddress);
  console.log(`pinger ${pinger.address} (MAC ${pinger.macString}) is ${PINGER_IP.join('.')}`);

  /** Polls both NICs until the pinger receives a frame `want` accepts, or 5 s pass. */
  async function awaitReply<T>(want: (p: Parsed) => T | undefined): Promise<T | undefined> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      respond(responder);
      for (const f of receiveFrames(pinger)) {
        const found = want(parse(f));
        if (found !== undefined) return found;
      }
      await tick();
    }
    return undefined;
  }

  pinger.send([arp(1, pinger.mac, PINGER_IP, new Uint8Array(6), RESPONDER_IP, BROADCAST)]);
  const mac = await awaitReply((p) => (p.kind === 'arp' && p.oper === 2 && same(p.spa, RESPONDER_IP) ? p.sha : undefined));
  if (mac) console.log(`arp: ${RESPONDER_IP.join('.')} is at ${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':')}`);
  else console.log(`no ARP reply for ${RESPONDER_IP.join('.')}`);

  let received = 0;
  const id = process.pid & 0xffff;
  for (let seq = 1; mac && seq <= pings; seq++) {
    const payload = new TextEncoder().encode(`vfio-node ping ${seq}`);
    const sent = process.hrtime.bigint();
    pinger.send([icmpEcho(8, pinger.mac, mac, PINGER_IP, RESPONDER_IP, id, seq, payload)]);
    const reply = await awaitReply((p) => (p.kind === 'echo' && p.type === 0 && p.id === id && p.seq === seq && same(p.data, payload) ? p : undefined));
    if (reply) {
      received++;
      console.log(`${payload.length + 8} bytes from ${reply.srcIp.join('.')}: icmp_seq=${seq} time=${(Number(process.hrtime.bigint() - sent) / 1e6).toFixed(2)} ms`);
    } else console.log(`no reply to icmp_seq=${seq}`);
  }
  console.log(`${pings} packets transmitted, ${received} received`);
  process.exitCode = received === pings ? 0 : 1;
}
