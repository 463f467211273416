// Completion Queue Entries and their Status Field. NVM Express Base Specification 2.0,
// "Completion Queue Entry" and "Status Field Definition" (with the NVM Command Set
// Specification 1.0 for the NVM-specific codes 80h and above).
//
// CQE layout (16 bytes):
//   DW0  command specific          DW1  command specific (reserved for most)
//   DW2  SQHD bits 15:0 (SQ Head Pointer), SQID bits 31:16
//   DW3  CID bits 15:0, P (Phase Tag) bit 16, Status Field bits 31:17
// The Status Field, counted from bit 16 of DW3 together with the phase tag:
//   P bit 0, SC bits 8:1, SCT bits 11:9, CRD bits 13:12, M (More) bit 14, DNR bit 15.

import { VfioError } from '@vfio-node/core';
import type { NvmeStatusCode } from './errors.js';

/** Size of a completion queue entry (16 bytes). */
export const CQE_SIZE = 16;
/** log2(CQE_SIZE), the value for CC.IOCQES. */
export const CQES_LOG2 = 4;

/** Byte offsets inside a completion queue entry. */
export const CQE = {
  DW0: 0,
  DW1: 4,
  SQHD: 8,
  SQID: 10,
  CID: 12,
  /** Phase tag (bit 0) and Status Field (bits 15:1), 16 bits. */
  STATUS: 14,
} as const;

/** Status Code Types (SCT). */
export const Sct = {
  Generic: 0,
  CommandSpecific: 1,
  MediaAndDataIntegrity: 2,
  PathRelated: 3,
  VendorSpecific: 7,
} as const;

/** A decoded status (from the 16-bit phase+status half of DW3). */
export interface NvmeStatus {
  sct: number;
  sc: number;
  /** Command Retry Delay index. */
  crd: number;
  /** More: the Error Information log page has more. */
  more: boolean;
  /** Do Not Retry. */
  dnr: boolean;
}

/** The status field with the phase bit dropped: 0 means Successful Completion. */
export function statusField(phaseAndStatus: number): number {
  return (phaseAndStatus >>> 1) & 0x7fff;
}

/** Decodes the 16-bit phase+status half of DW3 (bit 0 is the phase tag and is ignored). */
export function decodeStatus(phaseAndStatus: number): NvmeStatus {
  return {
    sc: (phaseAndStatus >>> 1) & 0xff,
    sct: (phaseAndStatus >>> 9) & 0x7,
    crd: (phaseAndStatus >>> 12) & 0x3,
    more: ((phaseAndStatus >>> 14) & 1) === 1,
    dnr: ((phaseAndStatus >>> 15) & 1) === 1,
  };
}

/** Encodes a status back into the 16-bit form (phase bit 0 clear); for tests and fakes. */
export function encodeStatus(sct: number, sc: number, dnr = false, more = false, crd = 0): number {
  return ((sc & 0xff) << 1) | ((sct & 7) << 9) | ((crd & 3) << 12) | (more ? 1 << 14 : 0) | (dnr ? 1 << 15 : 0);
}

/** Generic Command Status values (SCT 0h), names as in the specification. */
const GENERIC: Record<number, string> = {
  0x00: 'Successful Completion',
  0x01: 'Invalid Command Opcode',
  0x02: 'Invalid Field in Command',
  0x03: 'Command ID Conflict',
  0x04: 'Data Transfer Error',
  0x05: 'Commands Aborted due to Power Loss Notification',
  0x06: 'Internal Error',
  0x07: 'Command Abort Requested',
  0x08: 'Command Aborted due to SQ Deletion',
  0x09: 'Command Aborted due to Failed Fused Command',
  0x0a: 'Command Aborted due to Missing Fused Command',
  0x0b: 'Invalid Namespace or Format',
  0x0c: 'Command Sequence Error',
  0x0d: 'Invalid SGL Segment Descriptor',
  0x0e: 'Invalid Number of SGL Descriptors',
  0x0f: 'Data SGL Length Invalid',
  0x10: 'Metadata SGL Length Invalid',
  0x11: 'SGL Descriptor Type Invalid',
  0x12: 'Invalid Use of Controller Memory Buffer',
  0x13: 'PRP Offset Invalid',
  0x14: 'Atomic Write Unit Exceeded',
  0x15: 'Operation Denied',
  0x16: 'SGL Offset Invalid',
  0x18: 'Host Identifier Inconsistent Format',
  0x19: 'Keep Alive Timer Expired',
  0x1a: 'Keep Alive Timeout Invalid',
  0x1b: 'Command Aborted due to Preempt and Abort',
  0x1c: 'Sanitize Failed',
  0x1d: 'Sanitize In Progress',
  0x1e: 'SGL Data Block Granularity Invalid',
  0x1f: 'Command Not Supported for Queue in CMB',
  0x20: 'Namespace is Write Protected',
  0x21: 'Command Interrupted',
  0x22: 'Transient Transport Error',
  0x23: 'Command Prohibited by Command and Feature Lockdown',
  0x24: 'Admin Command Media Not Ready',
  // NVM Command Set (80h..BFh)
  0x80: 'LBA Out of Range',
  0x81: 'Capacity Exceeded',
  0x82: 'Namespace Not Ready',
  0x83: 'Reservation Conflict',
  0x84: 'Format In Progress',
};

/** Command Specific Status values (SCT 1h). */
const COMMAND_SPECIFIC: Record<number, string> = {
  0x00: 'Completion Queue Invalid',
  0x01: 'Invalid Queue Identifier',
  0x02: 'Invalid Queue Size',
  0x03: 'Abort Command Limit Exceeded',
  0x05: 'Asynchronous Event Request Limit Exceeded',
  0x06: 'Invalid Firmware Slot',
  0x07: 'Invalid Firmware Image',
  0x08: 'Invalid Interrupt Vector',
  0x09: 'Invalid Log Page',
  0x0a: 'Invalid Format',
  0x0b: 'Firmware Activation Requires Conventional Reset',
  0x0c: 'Invalid Queue Deletion',
  0x0d: 'Feature Identifier Not Saveable',
  0x0e: 'Feature Not Changeable',
  0x0f: 'Feature Not Namespace Specific',
  0x10: 'Firmware Activation Requires NVM Subsystem Reset',
  0x11: 'Firmware Activation Requires Controller Level Reset',
  0x12: 'Firmware Activation Requires Maximum Time Violation',
  0x13: 'Firmware Activation Prohibited',
  0x14: 'Overlapping Range',
  0x15: 'Namespace Insufficient Capacity',
  0x16: 'Namespace Identifier Unavailable',
  0x18: 'Namespace Already Attached',
  0x19: 'Namespace Is Private',
  0x1a: 'Namespace Not Attached',
  0x1b: 'Thin Provisioning Not Supported',
  0x1c: 'Controller List Invalid',
  0x1d: 'Device Self-test In Progress',
  0x1e: 'Boot Partition Write Prohibited',
  0x1f: 'Invalid Controller Identifier',
  0x20: 'Invalid Secondary Controller State',
  0x21: 'Invalid Number of Controller Resources',
  0x22: 'Invalid Resource Identifier',
  0x23: 'Sanitize Prohibited While Persistent Memory Region is Enabled',
  0x24: 'ANA Group Identifier Invalid',
  0x25: 'ANA Attach Failed',
  // NVM Command Set (80h..BFh)
  0x80: 'Conflicting Attributes',
  0x81: 'Invalid Protection Information',
  0x82: 'Attempted Write to Read Only Range',
  0x83: 'Command Size Limit Exceeded',
};

/** Media and Data Integrity Errors (SCT 2h). */
const MEDIA: Record<number, string> = {
  0x80: 'Write Fault',
  0x81: 'Unrecovered Read Error',
  0x82: 'End-to-end Guard Check Error',
  0x83: 'End-to-end Application Tag Check Error',
  0x84: 'End-to-end Reference Tag Check Error',
  0x85: 'Compare Failure',
  0x86: 'Access Denied',
  0x87: 'Deallocated or Unwritten Logical Block',
  0x88: 'End-to-End Storage Tag Check Error',
};

/** Path Related Status (SCT 3h). */
const PATH: Record<number, string> = {
  0x00: 'Internal Path Error',
  0x01: 'Asymmetric Access Persistent Loss',
  0x02: 'Asymmetric Access Inaccessible',
  0x03: 'Asymmetric Access Transition',
  0x60: 'Controller Pathing Error',
  0x70: 'Host Pathing Error',
  0x71: 'Command Aborted By Host',
};

const TABLES: Record<number, Record<number, string>> = { 0: GENERIC, 1: COMMAND_SPECIFIC, 2: MEDIA, 3: PATH };
const SCT_NAMES: Record<number, string> = {
  0: 'Generic Command Status',
  1: 'Command Specific Status',
  2: 'Media and Data Integrity Errors',
  3: 'Path Related Status',
  7: 'Vendor Specific',
};

/** The specification's name of a status, or a description of an unknown one. */
export function statusName(sct: number, sc: number): string {
  const name = TABLES[sct]?.[sc];
  if (name) return name;
  return `${SCT_NAMES[sct] ?? 'Reserved status code type'} ${hex2(sc)}`;
}

/** The name of a status code type. */
export function sctName(sct: number): string {
  return SCT_NAMES[sct] ?? `SCT ${sct}`;
}

/** The stable error code for a status: ERR_NVME_ + the name in upper snake case. */
export function statusCode(sct: number, sc: number): NvmeStatusCode {
  const name = TABLES[sct]?.[sc];
  if (!name) return `ERR_NVME_STATUS_SCT${sct}_SC${hex2(sc).slice(2).toUpperCase()}`;
  // (a name of the tables above: NVME_STATUS_CODES lists what this gives, checked by a unit test)
  return ('ERR_NVME_' + name.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_|_$/g, '')) as NvmeStatusCode;
}

const HINTS: Record<string, string> = {
  ERR_NVME_LBA_OUT_OF_RANGE: 'The command addressed a logical block beyond the namespace size (Identify Namespace NSZE); check the LBA and block count.',
  ERR_NVME_INVALID_FIELD_IN_COMMAND: 'The controller rejected a field of the command; check the options against the Identify Controller data (ONCS, SGLS, MDTS).',
  ERR_NVME_INVALID_COMMAND_OPCODE: 'The controller does not implement this command; check OACS/ONCS in the Identify Controller data.',
  ERR_NVME_UNRECOVERED_READ_ERROR: 'The medium could not return these blocks; the data is lost. Rewrite the blocks to remap them.',
  ERR_NVME_COMPARE_FAILURE: 'The data on the medium differs from the buffer given to Compare.',
  ERR_NVME_DATA_TRANSFER_ERROR: 'The controller could not move the data; check that the buffer is DMA memory of this device and that the IOMMU mapping is intact.',
  ERR_NVME_INVALID_NAMESPACE_OR_FORMAT: 'The namespace identifier is not an active namespace of this controller; list them with controller.namespaces.',
  ERR_NVME_COMMAND_ABORT_REQUESTED: 'The command was aborted by an Abort command, usually after a timeout.',
};

/**
 * An NVMe command that completed with a non-zero status. `code` is
 * ERR_NVME_<NAME> from the specification's name; details has sct, sc, dnr, more.
 */
export class NvmeStatusError extends VfioError<NvmeStatusCode> {
  /** Status Code Type. */
  readonly sct: number;
  /** Status Code. */
  readonly sc: number;
  /** Do Not Retry: the same command would fail again. */
  readonly dnr: boolean;
  /** More: the Error Information log page has more about this error. */
  readonly more: boolean;

  constructor(phaseAndStatus: number, command: string, device?: string, extra?: Record<string, unknown>) {
    const s = decodeStatus(phaseAndStatus);
    const code = statusCode(s.sct, s.sc);
    super({
      code,
      message: `${command} failed: ${statusName(s.sct, s.sc)} (${sctName(s.sct)}, sct ${hex2(s.sct)} sc ${hex2(s.sc)}${s.dnr ? ', do not retry' : ''})`,
      hint: HINTS[code] ?? 'See the Status Field Definition of the NVM Express Base Specification for this status code.',
      device,
      details: { sct: s.sct, sc: s.sc, dnr: s.dnr, more: s.more, crd: s.crd, ...extra },
    });
    this.name = 'NvmeStatusError';
    this.sct = s.sct;
    this.sc = s.sc;
    this.dnr = s.dnr;
    this.more = s.more;
  }
}

function hex2(v: number): string {
  return '0x' + v.toString(16).padStart(2, '0');
}
