// Identify data structures built from the subsystem and its bdevs (NVMe Base 2.0 §5.17.2;
// NVM Command Set 1.0 §4.1.5.1 for the namespace). Every structure is 4096 bytes.

import { createHash } from 'node:crypto';
import type { Bdev } from '@vfio-node/bdev';

/** Identify's CNS values the target answers (Base 2.0 Figure "CNS Values"). */
export const CNS = {
  Namespace: 0x00,
  Controller: 0x01,
  ActiveNamespaceIdList: 0x02,
  NamespaceIdentificationDescriptorList: 0x03,
} as const;

/** Controller type (CNTRLTYPE, byte 111). */
export const CNTRLTYPE = { IoController: 1, DiscoveryController: 2 } as const;

/** What Identify Controller reports. */
export interface ControllerIdentity {
  cntlid: number;
  cntrltype: number;
  /** SN (20 bytes), MN (40), FR (8): ASCII, padded with spaces. */
  sn: string;
  mn: string;
  fr: string;
  /** VER, the same as the VS property. */
  ver: number;
  /** MDTS: 2^MDTS units of CAP.MPSMIN (4 KiB). */
  mdts: number;
  /** NN: the largest namespace ID. */
  nn: number;
  /** ONCS bits (DSM bit 2, Write Zeroes bit 3). */
  oncs: number;
  /** VWC byte. */
  vwc: number;
  /** IOCCSZ and IORCSZ in 16-byte units (the capsule sizes of an I/O queue). */
  ioccsz: number;
  iorcsz: number;
  /** MAXCMD: commands outstanding per queue. */
  maxcmd: number;
  /** KAS: keep alive granularity in 100 ms units. */
  kas: number;
  /** AERL: Asynchronous Event Requests outstanding, 0's based. */
  aerl: number;
  subnqn: string;
}

function ascii(b: Buffer, at: number, len: number, text: string): void {
  b.fill(0x20, at, at + len);
  b.write(text.slice(0, len), at, 'latin1');
}

/** Identify Controller (CNS 01h, Base 2.0 §5.17.2.1). */
export function identifyController(c: ControllerIdentity): Buffer {
  const b = Buffer.alloc(4096);
  // VID/SSVID 0: not a PCI function.
  ascii(b, 4, 20, c.sn); // SN
  ascii(b, 24, 40, c.mn); // MN
  ascii(b, 64, 8, c.fr); // FR
  b[72] = 0; // RAB
  b[76] = 0x02; // CMIC bit 1: the subsystem may have two or more controllers (one per host association)
  b[77] = c.mdts; // MDTS
  b.writeUInt16LE(c.cntlid, 78); // CNTLID
  b.writeUInt32LE(c.ver, 80); // VER
  // OAES bit 8: Namespace Attribute Notices (an I/O controller reports namespace changes).
  b.writeUInt32LE(c.cntrltype === CNTRLTYPE.IoController ? 1 << 8 : 0, 92);
  b[111] = c.cntrltype; // CNTRLTYPE
  b.writeUInt16LE(0, 256); // OACS: no optional admin commands
  b[258] = 3; // ACL: 4 Aborts (0's based)
  b[259] = c.aerl; // AERL
  b[260] = 0x03; // FRMW: slot 1 read-only, 1 slot
  b[261] = 0x04; // LPA bit 2: extended data for Get Log Page (NUMDU, LPOL/LPOU)
  b[262] = 0; // ELPE: 1 Error Information Log entry (0's based)
  b.writeUInt16LE(c.kas, 320); // KAS
  if (c.cntrltype === CNTRLTYPE.IoController) {
    b[512] = 0x66; // SQES: 64-byte entries (required 6, maximum 6)
    b[513] = 0x44; // CQES: 16-byte entries
  }
  b.writeUInt16LE(c.maxcmd, 514); // MAXCMD
  b.writeUInt32LE(c.nn, 516); // NN
  b.writeUInt16LE(c.oncs, 520); // ONCS
  b[525] = c.vwc; // VWC
  // SGLS: bit 0 SGLs supported (no alignment rule), bit 20 the Address field of a Data
  // Block descriptor may be an offset (in-capsule data; NVMe/TCP 1.0 §2.3).
  b.writeUInt32LE((1 << 0) | (1 << 20), 536);
  b.write(c.subnqn, 768, 256, 'utf8'); // SUBNQN
  // Fabrics (Base 2.0 §5.17.2.1, bytes 1792+): IOCCSZ, IORCSZ, ICDOFF 0, FCATT 0 (dynamic controller model), MSDBD 1.
  b.writeUInt32LE(c.ioccsz, 1792);
  b.writeUInt32LE(c.iorcsz, 1796);
  b.writeUInt16LE(0, 1800);
  b[1802] = 0;
  b[1803] = 1;
  return b;
}

/** NGUID of a namespace: stable for one subsystem NQN and NSID (a hash, not a registered EUI). */
export function nguid(subnqn: string, nsid: number): Buffer {
  return createHash('sha256').update(`${subnqn}\0${nsid}`).digest().subarray(0, 16);
}

/** A UUID (RFC 4122 version 4 layout) from the same hash, for the descriptor list. */
export function nsUuid(subnqn: string, nsid: number): Buffer {
  const u = Buffer.from(createHash('sha256').update(`uuid\0${subnqn}\0${nsid}`).digest().subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  return u;
}

/** Identify Namespace (CNS 00h, NVM Command Set 1.0 §4.1.5.1) for a bdev. */
export function identifyNamespace(bdev: Bdev, subnqn: string, nsid: number): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(bdev.blocks, 0); // NSZE
  b.writeBigUInt64LE(bdev.blocks, 8); // NCAP
  b.writeBigUInt64LE(bdev.blocks, 16); // NUSE
  b[24] = 0; // NSFEAT
  b[25] = 0; // NLBAF: one format (0's based)
  b[26] = 0; // FLBAS: format 0, no metadata
  // DLFEAT: bits 2:0 001b, a deallocated block reads as zeroes (true of the RAM and null
  // devices; an NVMe namespace's own behaviour is not known here: 000b), bit 3 Write
  // Zeroes supports DEAC.
  b[33] = bdev.kind === 'nvme' ? 0x00 : 0x09;
  b[30] = 0x01; // NMIC bit 0: may be attached to two or more controllers
  nguid(subnqn, nsid).copy(b, 104); // NGUID
  // LBAF0: MS 0, LBADS = log2(block size), RP 0.
  b.writeUInt32LE(Math.log2(bdev.blockSize) << 16, 128);
  return b;
}

/** Active Namespace ID list (CNS 02h): the active NSIDs greater than `after`, ascending, up to 1024. */
export function activeNamespaceList(nsids: readonly number[], after: number): Buffer {
  const b = Buffer.alloc(4096);
  const list = [...nsids].filter((n) => n > after).sort((x, y) => x - y).slice(0, 1024);
  list.forEach((n, i) => b.writeUInt32LE(n, 4 * i));
  return b;
}

/** Namespace Identification Descriptor list (CNS 03h, Base 2.0 §5.17.2.3): NGUID, UUID, CSI. */
export function namespaceDescriptors(subnqn: string, nsid: number): Buffer {
  const b = Buffer.alloc(4096);
  let at = 0;
  const put = (nidt: number, nid: Buffer) => {
    b[at] = nidt; // NIDT
    b[at + 1] = nid.length; // NIDL
    nid.copy(b, at + 4);
    at += 4 + nid.length;
  };
  put(0x02, nguid(subnqn, nsid)); // NGUID
  put(0x03, nsUuid(subnqn, nsid)); // UUID
  put(0x04, Buffer.from([0x00])); // CSI: NVM Command Set
  return b;
}
