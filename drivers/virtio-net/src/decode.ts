// Decoding, for people: the virtqueue structures and the network header, field by field
// with the section of virtio 1.2 that defines each. The tracer prints these; tests and
// learners can call them on any queue's memory. Not on the hot path.
//
//   §2.7.5 struct virtq_desc        addr, len, flags (NEXT, WRITE, INDIRECT), next
//   §2.7.6 struct virtq_avail       flags (NO_INTERRUPT), idx, ring[], used_event
//   §2.7.8 struct virtq_used        flags (NO_NOTIFY), idx, ring[] of { id, len }, avail_event
//   §2.8   struct pvirtq_desc       addr, len, id, flags (NEXT, WRITE, AVAIL, USED)
//   §5.1.6 struct virtio_net_hdr    flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers

import { NetHdr, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_RSC_INFO } from './net-hdr.js';
import { VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED } from './packed-ring.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, type SplitLayout } from './split-ring.js';

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function flagNames(flags: number, names: readonly (readonly [number, string])[]): string {
  const set = names.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
  return set.length ? set.join('|') : '0';
}

const SPLIT_DESC_FLAGS = [[VIRTQ_DESC_F_NEXT, 'NEXT'], [VIRTQ_DESC_F_WRITE, 'WRITE'], [VIRTQ_DESC_F_INDIRECT, 'INDIRECT']] as const;
const PACKED_DESC_FLAGS = [[VIRTQ_DESC_F_NEXT, 'NEXT'], [VIRTQ_DESC_F_WRITE, 'WRITE'], [VIRTQ_DESC_F_INDIRECT, 'INDIRECT'], [VIRTQ_DESC_F_AVAIL, 'AVAIL'], [VIRTQ_DESC_F_USED, 'USED']] as const;

/** Split descriptor `i` of a queue (§2.7.5), from the queue's block of memory. */
export function describeSplitDesc(mem: DataView, layout: SplitLayout, i: number): string {
  const at = layout.desc + 16 * i;
  const addr = mem.getBigUint64(at, true);
  const len = mem.getUint32(at + 8, true);
  const flags = mem.getUint16(at + 12, true);
  const next = mem.getUint16(at + 14, true);
  return `desc[${i}] addr=${hex(addr)} len=${len} flags=${flagNames(flags, SPLIT_DESC_FLAGS)}${flags & VIRTQ_DESC_F_NEXT ? ` next=${next}` : ''} (§2.7.5)`;
}

/** The available ring's header and its entry for `idx` (§2.7.6). */
export function describeAvail(mem: DataView, layout: SplitLayout, idx?: number): string {
  const flags = mem.getUint16(layout.avail, true);
  const availIdx = mem.getUint16(layout.avail + 2, true);
  const usedEvent = mem.getUint16(layout.avail + 4 + 2 * layout.size, true);
  const entry = idx === undefined ? '' : ` ring[${idx % layout.size}]=${mem.getUint16(layout.avail + 4 + 2 * (idx % layout.size), true)}`;
  return `avail flags=${flags & VIRTQ_AVAIL_F_NO_INTERRUPT ? 'NO_INTERRUPT' : '0'} idx=${availIdx}${entry} used_event=${usedEvent} (§2.7.6)`;
}

/** The used ring's header and its element for `idx` (§2.7.8). */
export function describeUsed(mem: DataView, layout: SplitLayout, idx?: number): string {
  const flags = mem.getUint16(layout.used, true);
  const usedIdx = mem.getUint16(layout.used + 2, true);
  const availEvent = mem.getUint16(layout.used + 4 + 8 * layout.size, true);
  let entry = '';
  if (idx !== undefined) {
    const at = layout.used + 4 + 8 * (idx % layout.size);
    entry = ` ring[${idx % layout.size}]={id=${mem.getUint32(at, true)} len=${mem.getUint32(at + 4, true)}}`;
  }
  return `used flags=${flags & VIRTQ_USED_F_NO_NOTIFY ? 'NO_NOTIFY' : '0'} idx=${usedIdx}${entry} avail_event=${availEvent} (§2.7.8)`;
}

/**
 * Packed descriptor `i` (§2.8): with the driver's wrap counter `wrap` it also says whether
 * the descriptor is available to the device or used by it (§2.8.1: available when AVAIL
 * equals the wrap counter and USED does not; used when both equal it).
 */
export function describePackedDesc(mem: DataView, descOffset: number, i: number, wrap: boolean): string {
  const at = descOffset + 16 * i;
  const addr = mem.getBigUint64(at, true);
  const len = mem.getUint32(at + 8, true);
  const id = mem.getUint16(at + 12, true);
  const flags = mem.getUint16(at + 14, true);
  const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0;
  const used = (flags & VIRTQ_DESC_F_USED) !== 0;
  const state = avail === wrap && used !== wrap ? 'available' : avail === wrap && used === wrap ? 'used' : 'not ours yet';
  return `desc[${i}] addr=${hex(addr)} len=${len} id=${id} flags=${flagNames(flags, PACKED_DESC_FLAGS)} (${state}, wrap=${wrap ? 1 : 0}) (§2.8)`;
}

const HDR_FLAGS = [[VIRTIO_NET_HDR_F_NEEDS_CSUM, 'NEEDS_CSUM'], [VIRTIO_NET_HDR_F_DATA_VALID, 'DATA_VALID'], [VIRTIO_NET_HDR_F_RSC_INFO, 'RSC_INFO']] as const;
const GSO: Record<number, string> = { 0: 'NONE', 1: 'TCPV4', 3: 'UDP', 4: 'TCPV6', 5: 'UDP_L4' };

/** struct virtio_net_hdr at `at` (§5.1.6). */
export function describeNetHdr(mem: DataView, at: number): string {
  const flags = mem.getUint8(at + NetHdr.flags);
  const gso = mem.getUint8(at + NetHdr.gso_type);
  const gsoName = `${GSO[gso & 0x7f] ?? hex(gso & 0x7f)}${gso & 0x80 ? '|ECN' : ''}`;
  const f = (k: keyof typeof NetHdr) => mem.getUint16(at + NetHdr[k], true);
  const csum = flags & VIRTIO_NET_HDR_F_NEEDS_CSUM ? ` csum_start=${f('csum_start')} csum_offset=${f('csum_offset')}` : '';
  const gsoFields = gso & 0x7f ? ` hdr_len=${f('hdr_len')} gso_size=${f('gso_size')}` : '';
  return `virtio_net_hdr flags=${flagNames(flags, HDR_FLAGS)} gso_type=${gsoName}${gsoFields}${csum} num_buffers=${f('num_buffers')} (§5.1.6)`;
}
