// Decoding, for people: a submission queue entry, a completion queue entry, a PRP list
// and an SGL descriptor, field by field, with the names and the sections of the
// specifications that define them. The tracer prints these; tests and learners can
// call them on any entry. Nothing here is on the hot path.
//
// NVM Express Base Specification 2.0: "Common Command Format" (the 64-byte entry),
// "Completion Queue Entry", "Physical Region Page Entry and List", "Scatter Gather
// List (SGL)"; the admin commands in §5 (Abort §5.1 ... Set Features §5.27); Flush
// in §7.1. NVM Command Set Specification 1.0 §3.2: Compare 3.2.1, Dataset Management
// 3.2.3, Read 3.2.4, Verify 3.2.5, Write 3.2.6, Write Uncorrectable 3.2.7, Write
// Zeroes 3.2.8.

import { AdminOpcode, NvmOpcode, SQE } from './commands.js';
import { SglType } from './prp.js';
import { CQE, decodeStatus, statusName } from './status.js';
import { AQA, CC, CSTS, getField } from './registers.js';

/** A decoded field: its name as the specification spells it, and its value. */
export type DecodedField = readonly [name: string, value: number | string | boolean];

/** A submission queue entry, decoded. */
export interface DecodedSqe {
  /** CDW0 bits 7:0. */
  opcode: number;
  /** The command's name ("Read", "Identify"), or "Vendor specific 0xc2" / "Reserved opcode 0x.." for others. */
  name: string;
  /** Where the command is defined ("NVM 1.0 §3.2.4"), empty when unknown. */
  section: string;
  /** CDW0 bits 31:16, Command Identifier. */
  cid: number;
  /** CDW0 bits 9:8, Fused Operation. */
  fuse: number;
  /** CDW0 bits 15:14, PRP or SGL for Data Transfer. */
  psdt: number;
  /** Namespace Identifier. */
  nsid: number;
  /** The command's own fields (CDW10-15), then the data pointer. */
  fields: DecodedField[];
  /** One line: `Read cid=3 nsid=1 slba=0x1000 nlb=7 (8 blocks) prp1=0x... prp2=0x0`. */
  text: string;
}

/** A completion queue entry, decoded. */
export interface DecodedCqe {
  /** DW0, command specific. */
  dw0: number;
  /** DW1, command specific. */
  dw1: number;
  /** SQ Head Pointer: how far the controller has consumed the SQ. */
  sqhd: number;
  /** SQ Identifier: which SQ the command came from. */
  sqid: number;
  /** Command Identifier. */
  cid: number;
  /** Phase Tag (0 or 1): flips each time the controller wraps around the CQ. */
  phase: number;
  /** Status Code Type. */
  sct: number;
  /** Status Code. */
  sc: number;
  /** The status's name ("Successful Completion", "LBA Out of Range"). */
  status: string;
  /** More: the Error Information log page has more. */
  more: boolean;
  /** Do Not Retry. */
  dnr: boolean;
  /** One line: `cid=3 status=Successful Completion sqhd=4 sqid=1 phase=1 dw0=0x0`. */
  text: string;
}

const TWO_32 = 0x1_0000_0000;

const hex = (n: number): string => `0x${n.toString(16)}`;

function u64(u32: Uint32Array, dw: number): number {
  return u32[dw + 1]! * TWO_32 + u32[dw]!;
}

interface Layout {
  name: string;
  section: string;
  /** The command's own fields from CDW10-CDW15 (dword index of the entry's CDW0 given). */
  fields?: (u32: Uint32Array, sqe: number) => DecodedField[];
  /** Whether the data pointer means anything for this command (false: it is reserved). */
  data?: boolean;
}

/** Read, Write, Compare, Verify, Write Uncorrectable, Write Zeroes: SLBA in CDW11:10, NLB (0's based) in CDW12 15:0. */
function lbaRange(u32: Uint32Array, sqe: number): DecodedField[] {
  const cdw12 = u32[sqe + 12]!;
  const nlb = cdw12 & 0xffff;
  const out: DecodedField[] = [['slba', hex(u64(u32, sqe + 10))], ['nlb', `${nlb} (${nlb + 1} blocks)`]];
  if (cdw12 & (1 << 31)) out.push(['LR', true]);
  if (cdw12 & (1 << 30)) out.push(['FUA', true]);
  return out;
}

const ADMIN: Record<number, Layout> = {
  [AdminOpcode.Abort]: { name: 'Abort', section: 'Base 2.0 §5.1', fields: (u, s) => [['sqid', u[s + 10]! & 0xffff], ['cid', u[s + 10]! >>> 16]], data: false },
  [AdminOpcode.AsynchronousEventRequest]: { name: 'Asynchronous Event Request', section: 'Base 2.0 §5.2', data: false },
  [AdminOpcode.CreateIoCompletionQueue]: {
    name: 'Create I/O Completion Queue', section: 'Base 2.0 §5.4',
    fields: (u, s) => [['qid', u[s + 10]! & 0xffff], ['qsize', `${u[s + 10]! >>> 16} (${(u[s + 10]! >>> 16) + 1} entries)`], ['PC', (u[s + 11]! & 1) === 1], ['IEN', (u[s + 11]! & 2) === 2], ['iv', u[s + 11]! >>> 16]],
  },
  [AdminOpcode.CreateIoSubmissionQueue]: {
    name: 'Create I/O Submission Queue', section: 'Base 2.0 §5.5',
    fields: (u, s) => [['qid', u[s + 10]! & 0xffff], ['qsize', `${u[s + 10]! >>> 16} (${(u[s + 10]! >>> 16) + 1} entries)`], ['PC', (u[s + 11]! & 1) === 1], ['qprio', (u[s + 11]! >>> 1) & 3], ['cqid', u[s + 11]! >>> 16]],
  },
  [AdminOpcode.DeleteIoCompletionQueue]: { name: 'Delete I/O Completion Queue', section: 'Base 2.0 §5.6', fields: (u, s) => [['qid', u[s + 10]! & 0xffff]], data: false },
  [AdminOpcode.DeleteIoSubmissionQueue]: { name: 'Delete I/O Submission Queue', section: 'Base 2.0 §5.7', fields: (u, s) => [['qid', u[s + 10]! & 0xffff]], data: false },
  [AdminOpcode.DoorbellBufferConfig]: { name: 'Doorbell Buffer Config', section: 'Base 2.0 §5.8' },
  [AdminOpcode.DeviceSelfTest]: { name: 'Device Self-test', section: 'Base 2.0 §5.9', fields: (u, s) => [['stc', u[s + 10]! & 0xf]], data: false },
  [AdminOpcode.FirmwareCommit]: { name: 'Firmware Commit', section: 'Base 2.0 §5.12', data: false },
  [AdminOpcode.FirmwareImageDownload]: { name: 'Firmware Image Download', section: 'Base 2.0 §5.13' },
  [AdminOpcode.FormatNvm]: { name: 'Format NVM', section: 'Base 2.0 §5.14', fields: (u, s) => [['lbaf', (u[s + 10]! & 0xf) | (((u[s + 10]! >>> 12) & 3) << 4)], ['ses', (u[s + 10]! >>> 9) & 7]], data: false },
  [AdminOpcode.GetFeatures]: { name: 'Get Features', section: 'Base 2.0 §5.15', fields: (u, s) => [['fid', hex(u[s + 10]! & 0xff)], ['sel', (u[s + 10]! >>> 8) & 7], ['cdw11', hex(u[s + 11]!)]] },
  [AdminOpcode.GetLogPage]: {
    name: 'Get Log Page', section: 'Base 2.0 §5.16',
    fields: (u, s) => {
      const numd = ((u[s + 10]! >>> 16) | ((u[s + 11]! & 0xffff) << 16)) >>> 0;
      return [['lid', hex(u[s + 10]! & 0xff)], ['lsp', (u[s + 10]! >>> 8) & 0x7f], ['rae', (u[s + 10]! & (1 << 15)) !== 0], ['numd', `${numd} (${(numd + 1) * 4} bytes)`], ['lpo', u64(u, s + 12)]];
    },
  },
  [AdminOpcode.Identify]: { name: 'Identify', section: 'Base 2.0 §5.17', fields: (u, s) => [['cns', hex(u[s + 10]! & 0xff)], ['cntid', u[s + 10]! >>> 16], ['csi', u[s + 11]! >>> 24]] },
  [AdminOpcode.KeepAlive]: { name: 'Keep Alive', section: 'Base 2.0 §5.18', data: false },
  [AdminOpcode.NvmeMiReceive]: { name: 'NVMe-MI Receive', section: 'Base 2.0 §5.20' },
  [AdminOpcode.NvmeMiSend]: { name: 'NVMe-MI Send', section: 'Base 2.0 §5.21' },
  [AdminOpcode.NamespaceAttachment]: { name: 'Namespace Attachment', section: 'Base 2.0 §5.22' },
  [AdminOpcode.NamespaceManagement]: { name: 'Namespace Management', section: 'Base 2.0 §5.23' },
  [AdminOpcode.Sanitize]: { name: 'Sanitize', section: 'Base 2.0 §5.24', data: false },
  [AdminOpcode.SecurityReceive]: { name: 'Security Receive', section: 'Base 2.0 §5.25' },
  [AdminOpcode.SecuritySend]: { name: 'Security Send', section: 'Base 2.0 §5.26' },
  [AdminOpcode.SetFeatures]: { name: 'Set Features', section: 'Base 2.0 §5.27', fields: (u, s) => [['fid', hex(u[s + 10]! & 0xff)], ['sv', (u[s + 10]! >>> 31) === 1], ['cdw11', hex(u[s + 11]!)]] },
  [AdminOpcode.VirtualizationManagement]: { name: 'Virtualization Management', section: 'Base 2.0 §5.28', data: false },
  [AdminOpcode.DirectiveReceive]: { name: 'Directive Receive', section: 'Base 2.0 §5.10' },
  [AdminOpcode.DirectiveSend]: { name: 'Directive Send', section: 'Base 2.0 §5.11' },
  [AdminOpcode.GetLbaStatus]: { name: 'Get LBA Status', section: 'NVM 1.0' },
};

const NVM: Record<number, Layout> = {
  [NvmOpcode.Flush]: { name: 'Flush', section: 'Base 2.0 §7.1', data: false },
  [NvmOpcode.Write]: { name: 'Write', section: 'NVM 1.0 §3.2.6', fields: lbaRange },
  [NvmOpcode.Read]: { name: 'Read', section: 'NVM 1.0 §3.2.4', fields: lbaRange },
  [NvmOpcode.WriteUncorrectable]: { name: 'Write Uncorrectable', section: 'NVM 1.0 §3.2.7', fields: lbaRange, data: false },
  [NvmOpcode.Compare]: { name: 'Compare', section: 'NVM 1.0 §3.2.1', fields: lbaRange },
  [NvmOpcode.WriteZeroes]: {
    name: 'Write Zeroes', section: 'NVM 1.0 §3.2.8', data: false,
    fields: (u, s) => {
      const out = lbaRange(u, s);
      if (u[s + 12]! & (1 << 25)) out.push(['DEAC', true]);
      return out;
    },
  },
  [NvmOpcode.DatasetManagement]: {
    name: 'Dataset Management', section: 'NVM 1.0 §3.2.3',
    fields: (u, s) => {
      const nr = u[s + 10]! & 0xff;
      const a = u[s + 11]!;
      return [['nr', `${nr} (${nr + 1} ranges)`], ['AD', (a & 4) !== 0], ['IDW', (a & 2) !== 0], ['IDR', (a & 1) !== 0]];
    },
  },
  [NvmOpcode.Verify]: { name: 'Verify', section: 'NVM 1.0 §3.2.5', fields: lbaRange, data: false },
  [NvmOpcode.Copy]: { name: 'Copy', section: 'NVM 1.0 §3.2.2' },
};

function unknown(opcode: number, admin: boolean): Layout {
  const vendor = admin ? opcode >= 0xc0 : opcode >= 0x80;
  return { name: `${vendor ? 'Vendor specific' : 'Reserved opcode'} ${hex(opcode)}`, section: '', fields: (u, s) => [10, 11, 12, 13, 14, 15].map((k) => [`cdw${k}`, hex(u[s + k]!)] as DecodedField) };
}

function line(name: string, fields: readonly DecodedField[]): string {
  return [name, ...fields.map(([k, v]) => (v === true ? k : v === false ? null : `${k}=${v}`)).filter((x) => x !== null)].join(' ');
}

/**
 * Decodes the submission queue entry at dword `sqe` of `u32` (the SQ as 32-bit words),
 * from an admin queue (`admin`) or an I/O queue of the NVM command set.
 */
export function decodeSqe(u32: Uint32Array, sqe: number, admin: boolean): DecodedSqe {
  const cdw0 = u32[sqe]!;
  const opcode = cdw0 & 0xff;
  const layout = (admin ? ADMIN : NVM)[opcode] ?? unknown(opcode, admin);
  const cid = cdw0 >>> 16;
  const fuse = (cdw0 >>> 8) & 3;
  const psdt = (cdw0 >>> 14) & 3;
  const nsid = u32[sqe + SQE.NSID / 4]!;
  const fields: DecodedField[] = [['cid', cid]];
  if (nsid !== 0) fields.push(['nsid', nsid === 0xffffffff ? 'all (0xffffffff)' : nsid]);
  if (fuse !== 0) fields.push(['fuse', fuse === 1 ? 'first' : fuse === 2 ? 'second' : 'reserved']);
  fields.push(...(layout.fields?.(u32, sqe) ?? []));
  if (layout.data !== false) {
    if (psdt === 0) fields.push(['prp1', hex(u64(u32, sqe + SQE.PRP1 / 4))], ['prp2', hex(u64(u32, sqe + SQE.PRP2 / 4))]);
    else fields.push(['sgl1', decodeSglDescriptor(u32, sqe + SQE.PRP1 / 4).text]);
  }
  return { opcode, name: layout.name, section: layout.section, cid, fuse, psdt, nsid, fields, text: line(layout.name, fields) };
}

/** Decodes the completion queue entry at dword `cqe` of `u32` (the CQ as 32-bit words). */
export function decodeCqe(u32: Uint32Array, cqe: number): DecodedCqe {
  const dw0 = u32[cqe + CQE.DW0 / 4]!;
  const dw1 = u32[cqe + CQE.DW1 / 4]!;
  const dw2 = u32[cqe + 2]!;
  const dw3 = u32[cqe + 3]!;
  const sqhd = dw2 & 0xffff;
  const sqid = dw2 >>> 16;
  const cid = dw3 & 0xffff;
  const phaseAndStatus = dw3 >>> 16;
  const s = decodeStatus(phaseAndStatus);
  const status = statusName(s.sct, s.sc);
  const parts = [`cid=${cid}`, `status=${status}`];
  if (s.sct !== 0 || s.sc !== 0) parts.push(`(sct=${s.sct} sc=${hex(s.sc)}${s.dnr ? ' DNR' : ''}${s.more ? ' M' : ''})`);
  parts.push(`sqhd=${sqhd}`, `sqid=${sqid}`, `phase=${phaseAndStatus & 1}`, `dw0=${hex(dw0)}`);
  if (dw1 !== 0) parts.push(`dw1=${hex(dw1)}`);
  return { dw0, dw1, sqhd, sqid, cid, phase: phaseAndStatus & 1, sct: s.sct, sc: s.sc, status, more: s.more, dnr: s.dnr, text: parts.join(' ') };
}

/** An SGL descriptor, decoded. */
export interface DecodedSgl {
  /** The descriptor type (SGL Identifier bits 7:4): Data Block, Bit Bucket, Segment, Last Segment, or a number. */
  type: string;
  /** Sub type (SGL Identifier bits 3:0): 0 is Address. */
  subtype: number;
  /** Address. */
  address: number;
  /** Length in bytes. */
  length: number;
  /** One line: `Data Block addr=0x... len=4096`. */
  text: string;
}

const SGL_NAMES: Record<number, string> = {
  [SglType.DataBlock]: 'Data Block',
  [SglType.BitBucket]: 'Bit Bucket',
  [SglType.Segment]: 'Segment',
  [SglType.LastSegment]: 'Last Segment',
};

/** Decodes the 16-byte SGL descriptor at dword `dw` of `u32` (Base 2.0, "SGL Descriptor"). */
export function decodeSglDescriptor(u32: Uint32Array, dw: number): DecodedSgl {
  const address = u64(u32, dw);
  const length = u32[dw + 2]!;
  const id = u32[dw + 3]! >>> 24;
  const type = SGL_NAMES[id >>> 4] ?? `type ${hex(id >>> 4)}`;
  const subtype = id & 0xf;
  return { type, subtype, address, length, text: `${type} addr=${hex(address)} len=${length}${subtype ? ` subtype=${subtype}` : ''}` };
}

/**
 * Decodes `count` PRP list entries starting at dword `dw` of `u32` (Base 2.0, "PRP
 * List"): each a page address. Returns one line: `PRP list [0x2000, 0x3000, ...]`.
 */
export function decodePrpList(u32: Uint32Array, dw: number, count: number): string {
  const entries: string[] = [];
  for (let i = 0; i < count; i++) entries.push(hex(u64(u32, dw + 2 * i)));
  return `PRP list [${entries.join(', ')}]`;
}

// ---- controller registers (Base 2.0 §3.1.3), for the bring-up's explanation -----------

/** CC (§3.1.3.5) decoded: `EN=1 CSS=000b MPS=0 (4096-byte pages) AMS=000b SHN=00b IOSQES=6 (64 B) IOCQES=4 (16 B)`. */
export function decodeCc(cc: number): string {
  const bits = (v: number, n: number) => `${v.toString(2).padStart(n, '0')}b`;
  const mps = getField(cc, CC.MPS);
  const sqes = getField(cc, CC.IOSQES);
  const cqes = getField(cc, CC.IOCQES);
  return `EN=${getField(cc, CC.EN)} CSS=${bits(getField(cc, CC.CSS), 3)} MPS=${mps} (${2 ** (12 + mps)}-byte pages) AMS=${bits(getField(cc, CC.AMS), 3)} SHN=${bits(getField(cc, CC.SHN), 2)} IOSQES=${sqes}${sqes ? ` (${2 ** sqes} B)` : ''} IOCQES=${cqes}${cqes ? ` (${2 ** cqes} B)` : ''}`;
}

/** CSTS (§3.1.3.6) decoded: `RDY=1 CFS=0 SHST=00b (normal operation)`. */
export function decodeCsts(csts: number): string {
  const shst = getField(csts, CSTS.SHST);
  const shstName = ['normal operation', 'shutdown occurring', 'shutdown complete', 'reserved'][shst]!;
  return `RDY=${getField(csts, CSTS.RDY)} CFS=${getField(csts, CSTS.CFS)} SHST=${shst.toString(2).padStart(2, '0')}b (${shstName})`;
}

/** AQA (§3.1.3.8) decoded: `ASQS=31 ACQS=31 (0's based: 32 entries each)`. */
export function decodeAqa(aqa: number): string {
  const sq = getField(aqa, AQA.ASQS);
  const cq = getField(aqa, AQA.ACQS);
  return sq === cq ? `ASQS=${sq} ACQS=${cq} (0's based: ${sq + 1} entries each)` : `ASQS=${sq} ACQS=${cq} (0's based: ${sq + 1} SQ and ${cq + 1} CQ entries)`;
}
