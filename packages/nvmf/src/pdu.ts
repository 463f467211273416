// NVMe/TCP PDUs (NVMe/TCP Transport Specification 1.0, §3.6): the common header, the
// nine PDU types, their fixed header lengths and fields, and a stream reader that cuts
// a TCP byte stream into whole PDUs, checking each header before it waits for the rest
// (so a bad PLEN never makes it buffer). Header and data digests are CRC32C (§3.6.1).
//
// A PDU on the wire: CH (8 bytes) + PSH (HLEN - 8) + [HDGST 4] + [PAD to PDO] + [DATA] + [DDGST 4].

import { crc32c } from './crc32c.js';
import { pduFault } from './errors.js';

/** PDU-Type (§3.6.1, Figure "PDU Type values"). */
export const PduType = {
  ICReq: 0x00,
  ICResp: 0x01,
  H2CTermReq: 0x02,
  C2HTermReq: 0x03,
  CapsuleCmd: 0x04,
  CapsuleResp: 0x05,
  H2CData: 0x06,
  C2HData: 0x07,
  R2T: 0x09,
} as const;
/** A PDU-Type value. */
export type PduTypeValue = (typeof PduType)[keyof typeof PduType];

/** FLAGS of the common header (§3.6.1). */
export const PduFlags = {
  /** HDGSTF: a header digest follows the PDU header. */
  HDGSTF: 0x01,
  /** DDGSTF: a data digest follows the data. */
  DDGSTF: 0x02,
  /** LAST_PDU (H2CData, C2HData): the last data PDU of the transfer. */
  LAST_PDU: 0x04,
  /** SUCCESS (C2HData with LAST_PDU): the command succeeded; no CapsuleResp follows. */
  SUCCESS: 0x08,
} as const;

/** Fatal Error Status of a TermReq (§3.6.2.4, §3.6.2.5). */
export const FES = {
  InvalidPduHeaderField: 0x01,
  PduSequenceError: 0x02,
  HeaderDigestError: 0x03,
  DataTransferOutOfRange: 0x04,
  DataTransferLimitExceeded: 0x05,
  UnsupportedParameter: 0x06,
} as const;
/** A Fatal Error Status value. */
export type FesValue = (typeof FES)[keyof typeof FES];

/** Byte offsets of the common header fields (§3.6.1): the FEI of an Invalid PDU Header Field names one. */
export const CH = { PDU_TYPE: 0, FLAGS: 1, HLEN: 2, PDO: 3, PLEN: 4 } as const;
/** Size of the common header. */
export const CH_SIZE = 8;
/** HDGST and DDGST are 4 bytes. */
export const DIGEST_SIZE = 4;
/** The 64-byte submission queue entry and 16-byte completion queue entry a capsule carries. */
export const SQE_SIZE = 64;
/** See {@link SQE_SIZE}. */
export const CQE_SIZE = 16;

/** HLEN of each PDU type (§3.6.2.x): ICReq/ICResp 128, CapsuleCmd 8 + 64, CapsuleResp 8 + 16, the rest 24. */
export const HLEN: Record<PduTypeValue, number> = {
  [PduType.ICReq]: 128,
  [PduType.ICResp]: 128,
  [PduType.H2CTermReq]: 24,
  [PduType.C2HTermReq]: 24,
  [PduType.CapsuleCmd]: CH_SIZE + SQE_SIZE,
  [PduType.CapsuleResp]: CH_SIZE + CQE_SIZE,
  [PduType.H2CData]: 24,
  [PduType.C2HData]: 24,
  [PduType.R2T]: 24,
};
/** A TermReq's PLEN is 24 to 152: its header and up to 128 bytes of the PDU header in error (§3.6.2.4). */
export const TERMREQ_MAX_PLEN = 152;

/** ICReq/ICResp field offsets (§3.6.2.2, §3.6.2.3). */
const IC = { PFV: 8, HPDA_CPDA: 10, DGST: 11, MAXR2T_MAXH2CDATA: 12 } as const;
/** C2HData/H2CData/R2T field offsets (§3.6.2.8 to §3.6.2.10): DATAO/R2TO and DATAL/R2TL share places. */
const DATA = { CCCID: 8, TTAG: 10, DATAO: 12, DATAL: 16 } as const;
/** TermReq field offsets (§3.6.2.4, §3.6.2.5). */
const TERM = { FES: 8, FEI: 10 } as const;

/** Types that may carry a header digest (not ICReq/ICResp or the TermReqs, §3.6.2.x). */
const HAS_HDGST = new Set<number>([PduType.CapsuleCmd, PduType.CapsuleResp, PduType.H2CData, PduType.C2HData, PduType.R2T]);
/** Types that may carry data (and so a PDO and a data digest). */
const HAS_DATA = new Set<number>([PduType.CapsuleCmd, PduType.H2CData, PduType.C2HData]);

/** The digests a connection uses, agreed in ICReq/ICResp (DGST: bit 0 HDGST_ENABLE, bit 1 DDGST_ENABLE). */
export interface Digests {
  header: boolean;
  data: boolean;
}

/** A decoded ICReq (host to controller, §3.6.2.2). */
export interface ICReq { type: typeof PduType.ICReq; pfv: number; hpda: number; digests: Digests; maxr2t: number; header: Buffer }
/** A decoded ICResp (controller to host, §3.6.2.3). */
export interface ICResp { type: typeof PduType.ICResp; pfv: number; cpda: number; digests: Digests; maxh2cdata: number }
/** A decoded H2CTermReq or C2HTermReq: FES, FEI and the offending header. */
export interface TermReq { type: typeof PduType.H2CTermReq | typeof PduType.C2HTermReq; fes: number; fei: number; header: Buffer }
/** A decoded CapsuleCmd: the SQE and its in-capsule data (null when none). */
export interface CapsuleCmd { type: typeof PduType.CapsuleCmd; sqe: Buffer; data: Buffer | null; dataDigestOk: boolean }
/** A decoded CapsuleResp: the CQE. */
export interface CapsuleResp { type: typeof PduType.CapsuleResp; cqe: Buffer }
/** A decoded H2CData or C2HData PDU. */
export interface DataPdu {
  type: typeof PduType.H2CData | typeof PduType.C2HData;
  cccid: number;
  ttag: number;
  datao: number;
  datal: number;
  last: boolean;
  success: boolean;
  data: Buffer;
  dataDigestOk: boolean;
  /** The PDU header (HLEN bytes), for a TermReq that quotes it. */
  header: Buffer;
}
/** A decoded R2T. */
export interface R2T { type: typeof PduType.R2T; cccid: number; ttag: number; r2to: number; r2tl: number }
/** Any decoded PDU. */
export type Pdu = ICReq | ICResp | TermReq | CapsuleCmd | CapsuleResp | DataPdu | R2T;

/** Limits the reader enforces. */
export interface PduReaderLimits {
  /** The largest PLEN accepted: larger is Data Transfer Limit Exceeded. */
  maxPlen: number;
}

/**
 * Cuts a byte stream into PDUs. push() returns the PDUs completed by a chunk; a PDU that
 * breaks the rules throws ERR_NVMF_PDU with the FES and FEI the termination names
 * (details: { fes, fei, header }). Digests are off until setDigests() (after ICReq/ICResp).
 */
export class PduReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private digests: Digests = { header: false, data: false };

  /** @param limits the largest PDU accepted */
  constructor(private readonly limits: PduReaderLimits) {}

  /** The digests agreed for this connection, for every PDU after ICReq/ICResp. */
  setDigests(d: Digests): void {
    this.digests = { ...d };
  }

  /** Feeds a chunk; returns the whole PDUs now available, in order. */
  push(chunk: Buffer): Pdu[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Pdu[] = [];
    while (this.buffered >= CH_SIZE) {
      const head = this.peek(CH_SIZE);
      const plen = this.checkCommonHeader(head);
      if (this.buffered < plen) break;
      out.push(decodePdu(this.take(plen), this.digests));
    }
    return out;
  }

  /** Bytes received that do not yet make a whole PDU. */
  get pending(): number {
    return this.buffered;
  }

  private checkCommonHeader(ch: Buffer): number {
    const type = ch[CH.PDU_TYPE]!;
    const hlen = HLEN[type as PduTypeValue];
    if (hlen === undefined) throw pduFault(FES.InvalidPduHeaderField, CH.PDU_TYPE, ch, `unknown PDU-Type 0x${type.toString(16)}`);
    if (ch[CH.HLEN] !== hlen) throw pduFault(FES.InvalidPduHeaderField, CH.HLEN, ch, `HLEN ${ch[CH.HLEN]} of a PDU-Type 0x${type.toString(16)} PDU is not ${hlen}`);
    const plen = ch.readUInt32LE(CH.PLEN);
    const min = minimumPlen(type, this.digests);
    if (plen < min) throw pduFault(FES.InvalidPduHeaderField, CH.PLEN, ch, `PLEN ${plen} is less than the ${min} bytes of its header`);
    if (plen > this.limits.maxPlen) throw pduFault(FES.DataTransferLimitExceeded, CH.PLEN, ch, `PLEN ${plen} is more than the ${this.limits.maxPlen} bytes this controller accepts`);
    return plen;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}

/** The data of a PDU without data (never written to). */
const EMPTY = Buffer.alloc(0);

/** The smallest PLEN a PDU of this type can have. */
function minimumPlen(type: number, d: Digests): number {
  if (type === PduType.ICReq || type === PduType.ICResp) return 128;
  return HLEN[type as PduTypeValue] + (d.header && HAS_HDGST.has(type) ? DIGEST_SIZE : 0);
}

/**
 * Decodes one whole PDU (exactly PLEN bytes) and checks its fields.
 * @throws ERR_NVMF_PDU with FES/FEI (details) for a PDU the specification says to terminate on
 */
export function decodePdu(pdu: Buffer, digests: Digests): Pdu {
  const type = pdu[CH.PDU_TYPE]! as PduTypeValue;
  const flags = pdu[CH.FLAGS]!;
  const hlen = pdu[CH.HLEN]!;
  const pdo = pdu[CH.PDO]!;
  const plen = pdu.length;
  const header = pdu.subarray(0, hlen);

  if (type === PduType.ICReq || type === PduType.ICResp) {
    if (plen !== 128) throw pduFault(FES.InvalidPduHeaderField, CH.PLEN, header, `PLEN ${plen} of an ICReq/ICResp is not 128`);
    const pfv = pdu.readUInt16LE(IC.PFV);
    const dgst = pdu[IC.DGST]!;
    const d: Digests = { header: (dgst & 1) !== 0, data: (dgst & 2) !== 0 };
    if (type === PduType.ICReq) return { type, pfv, hpda: pdu[IC.HPDA_CPDA]!, digests: d, maxr2t: pdu.readUInt32LE(IC.MAXR2T_MAXH2CDATA), header };
    return { type, pfv, cpda: pdu[IC.HPDA_CPDA]!, digests: d, maxh2cdata: pdu.readUInt32LE(IC.MAXR2T_MAXH2CDATA) };
  }
  if (type === PduType.H2CTermReq || type === PduType.C2HTermReq) {
    if (plen > TERMREQ_MAX_PLEN) throw pduFault(FES.InvalidPduHeaderField, CH.PLEN, header, `PLEN ${plen} of a TermReq is more than ${TERMREQ_MAX_PLEN}`);
    return { type, fes: pdu.readUInt16LE(TERM.FES), fei: pdu.readUInt32LE(TERM.FEI), header: pdu.subarray(hlen) };
  }

  // The header digest: present exactly when agreed (HDGSTF says so), CRC32C over the header.
  let dataStart = hlen;
  if (digests.header) {
    if (!(flags & PduFlags.HDGSTF)) throw pduFault(FES.InvalidPduHeaderField, CH.FLAGS, header, 'HDGSTF is clear on a connection with header digests');
    if (pdu.readUInt32LE(hlen) !== crc32c(header)) throw pduFault(FES.HeaderDigestError, 0, header, 'the header digest does not match the header');
    dataStart += DIGEST_SIZE;
  } else if (flags & PduFlags.HDGSTF) {
    throw pduFault(FES.InvalidPduHeaderField, CH.FLAGS, header, 'HDGSTF is set on a connection without header digests');
  }

  // Data: from PDO to PLEN (less DDGST). PDO is 0 when there is none.
  let data: Buffer = EMPTY;
  let dataDigestOk = true;
  if (HAS_DATA.has(type) && plen > dataStart) {
    const ddgst = digests.data ? DIGEST_SIZE : 0;
    if (pdo < dataStart || pdo > plen - ddgst) throw pduFault(FES.InvalidPduHeaderField, CH.PDO, header, `PDO ${pdo} is outside the PDU (data may start at ${dataStart}, PLEN is ${plen})`);
    if (digests.data && !(flags & PduFlags.DDGSTF)) throw pduFault(FES.InvalidPduHeaderField, CH.FLAGS, header, 'DDGSTF is clear on a connection with data digests');
    data = pdu.subarray(pdo, plen - ddgst);
    if (digests.data) dataDigestOk = pdu.readUInt32LE(plen - DIGEST_SIZE) === crc32c(data);
  } else if (plen !== dataStart) {
    throw pduFault(FES.InvalidPduHeaderField, CH.PLEN, header, `PLEN ${plen} leaves bytes after a PDU that carries no data`);
  } else if (pdo !== 0 && type !== PduType.H2CData && type !== PduType.C2HData) {
    throw pduFault(FES.InvalidPduHeaderField, CH.PDO, header, `PDO ${pdo} on a PDU without data`);
  }

  switch (type) {
    case PduType.CapsuleCmd:
      return { type, sqe: pdu.subarray(CH_SIZE, CH_SIZE + SQE_SIZE), data: data.length ? data : null, dataDigestOk };
    case PduType.CapsuleResp:
      return { type, cqe: pdu.subarray(CH_SIZE, CH_SIZE + CQE_SIZE) };
    case PduType.R2T:
      return { type, cccid: pdu.readUInt16LE(DATA.CCCID), ttag: pdu.readUInt16LE(DATA.TTAG), r2to: pdu.readUInt32LE(DATA.DATAO), r2tl: pdu.readUInt32LE(DATA.DATAL) };
    default: {
      // H2CData, C2HData (§3.6.2.8, §3.6.2.9): DATAL must be the data the PDU carries.
      const datal = pdu.readUInt32LE(DATA.DATAL);
      if (datal !== data.length) throw pduFault(FES.InvalidPduHeaderField, DATA.DATAL, header, `DATAL ${datal} is not the ${data.length} bytes of data the PDU carries`);
      if (datal === 0) throw pduFault(FES.InvalidPduHeaderField, DATA.DATAL, header, 'a data PDU without data');
      return {
        type: type as typeof PduType.H2CData | typeof PduType.C2HData,
        cccid: pdu.readUInt16LE(DATA.CCCID),
        ttag: pdu.readUInt16LE(DATA.TTAG),
        datao: pdu.readUInt32LE(DATA.DATAO),
        datal,
        last: (flags & PduFlags.LAST_PDU) !== 0,
        success: (flags & PduFlags.SUCCESS) !== 0,
        data,
        dataDigestOk,
        header,
      };
    }
  }
}

// --- Encoding ------------------------------------------------------------------------

function commonHeader(type: PduTypeValue, flags: number, pdo: number, plen: number): Buffer {
  // From Node's pool (a small Buffer.alloc is an ArrayBuffer of its own each time); zeroed
  // here, reserved fields included.
  const b = Buffer.allocUnsafe(HLEN[type]).fill(0);
  b[CH.PDU_TYPE] = type;
  b[CH.FLAGS] = flags;
  b[CH.HLEN] = HLEN[type];
  b[CH.PDO] = pdo;
  b.writeUInt32LE(plen, CH.PLEN);
  return b;
}

/**
 * A PDU with a header digest and data as the connection agreed: the parts to write in
 * order (the data is not copied). `fill` writes the PDU-specific header fields.
 */
function withData(type: PduTypeValue, flags: number, digests: Digests, data: Uint8Array | null, fill: (h: Buffer) => void): Buffer[] {
  const hlen = HLEN[type];
  const hd = digests.header && HAS_HDGST.has(type) ? DIGEST_SIZE : 0;
  const len = data?.length ?? 0;
  const dd = len && digests.data ? DIGEST_SIZE : 0;
  // PDO: data right after the header (and its digest); we ask for no padding (CPDA 0) and
  // a host's HPDA 0 wants none either.
  const pdo = len ? hlen + hd : 0;
  const f = flags | (hd ? PduFlags.HDGSTF : 0) | (dd ? PduFlags.DDGSTF : 0);
  const h = commonHeader(type, f, pdo, hlen + hd + len + dd);
  fill(h);
  const parts: Buffer[] = [h];
  if (hd) parts.push(u32(crc32c(h)));
  if (len) {
    parts.push(Buffer.from(data!.buffer, data!.byteOffset, data!.byteLength));
    if (dd) parts.push(u32(crc32c(data!)));
  }
  return parts;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function dgstByte(d: Digests): number {
  return (d.header ? 1 : 0) | (d.data ? 2 : 0);
}

/** ICReq (§3.6.2.2): PFV 0, HPDA, DGST, MAXR2T (0's based). */
export function encodeICReq(o: { hpda?: number; digests?: Digests; maxr2t?: number } = {}): Buffer {
  const b = commonHeader(PduType.ICReq, 0, 0, 128);
  b[IC.HPDA_CPDA] = o.hpda ?? 0;
  b[IC.DGST] = dgstByte(o.digests ?? { header: false, data: false });
  b.writeUInt32LE(o.maxr2t ?? 0, IC.MAXR2T_MAXH2CDATA);
  return b;
}

/** ICResp (§3.6.2.3): PFV 0, CPDA, DGST, MAXH2CDATA (bytes, at least 4096). */
export function encodeICResp(o: { cpda: number; digests: Digests; maxh2cdata: number }): Buffer {
  const b = commonHeader(PduType.ICResp, 0, 0, 128);
  b[IC.HPDA_CPDA] = o.cpda;
  b[IC.DGST] = dgstByte(o.digests);
  b.writeUInt32LE(o.maxh2cdata, IC.MAXR2T_MAXH2CDATA);
  return b;
}

/** H2CTermReq or C2HTermReq (§3.6.2.4, §3.6.2.5): FES, FEI and up to 128 bytes of the header in error. */
export function encodeTermReq(type: typeof PduType.H2CTermReq | typeof PduType.C2HTermReq, fes: number, fei: number, offending: Uint8Array): Buffer {
  const tail = offending.subarray(0, TERMREQ_MAX_PLEN - 24);
  const b = commonHeader(type, 0, 0, 24 + tail.length);
  b.writeUInt16LE(fes, TERM.FES);
  b.writeUInt32LE(fei >>> 0, TERM.FEI);
  return Buffer.concat([b, tail]);
}

/** CapsuleCmd (§3.6.2.6): an SQE with optional in-capsule data. */
export function encodeCapsuleCmd(sqe: Uint8Array, data: Uint8Array | null, digests: Digests): Buffer {
  return Buffer.concat(withData(PduType.CapsuleCmd, 0, digests, data, (h) => h.set(sqe.subarray(0, SQE_SIZE), CH_SIZE)));
}

/** CapsuleResp (§3.6.2.7): a CQE. One buffer, written in place (one for every command). */
export function encodeCapsuleResp(cqe: Uint8Array, digests: Digests): Buffer {
  const hlen = HLEN[PduType.CapsuleResp];
  const hd = digests.header ? DIGEST_SIZE : 0;
  const b = Buffer.allocUnsafe(hlen + hd);
  b[CH.PDU_TYPE] = PduType.CapsuleResp;
  b[CH.FLAGS] = hd ? PduFlags.HDGSTF : 0;
  b[CH.HLEN] = hlen;
  b[CH.PDO] = 0;
  b.writeUInt32LE(hlen + hd, CH.PLEN);
  b.set(cqe.subarray(0, CQE_SIZE), CH_SIZE);
  if (hd) b.writeUInt32LE(crc32c(b.subarray(0, hlen)), hlen);
  return b;
}

/** H2CData or C2HData (§3.6.2.8, §3.6.2.9), as parts to write (the data is not copied). */
export function encodeDataPdu(
  type: typeof PduType.H2CData | typeof PduType.C2HData,
  f: { cccid: number; ttag?: number; datao: number; last: boolean; success?: boolean },
  data: Uint8Array,
  digests: Digests,
): Buffer[] {
  const flags = (f.last ? PduFlags.LAST_PDU : 0) | (f.success ? PduFlags.SUCCESS : 0);
  return withData(type, flags, digests, data, (h) => {
    h.writeUInt16LE(f.cccid, DATA.CCCID);
    h.writeUInt16LE(f.ttag ?? 0, DATA.TTAG);
    h.writeUInt32LE(f.datao, DATA.DATAO);
    h.writeUInt32LE(data.length, DATA.DATAL);
  });
}

/** R2T (§3.6.2.10): the controller asks for R2TL bytes at R2TO of command CCCID, tagged TTAG. */
export function encodeR2T(f: { cccid: number; ttag: number; r2to: number; r2tl: number }, digests: Digests): Buffer {
  return Buffer.concat(
    withData(PduType.R2T, 0, digests, null, (h) => {
      h.writeUInt16LE(f.cccid, DATA.CCCID);
      h.writeUInt16LE(f.ttag, DATA.TTAG);
      h.writeUInt32LE(f.r2to, DATA.DATAO);
      h.writeUInt32LE(f.r2tl, DATA.DATAL);
    }),
  );
}
