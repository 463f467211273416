// Submission Queue Entries: the 64-byte command format and the builders that fill
// one in place. NVM Express Base Specification 2.0, "Submission Queue Entry"
// (Common Command Format, Figure "Common Command Format"); the NVM command set's
// commands from the NVM Command Set Specification 1.0.
//
// Builders write into a Uint32Array view of the submission queue (sqe = dword index
// of the entry) and never allocate: addresses are plain numbers (IOVAs stay far
// below 2^53), split into two dwords here.

/** Size of a submission queue entry in bytes (CC.IOSQES = 6). */
export const SQE_SIZE = 64;
/** log2(SQE_SIZE), the value for CC.IOSQES. */
export const SQES_LOG2 = 6;
/** A submission queue entry in 32-bit words (16). */
export const SQE_DWORDS = SQE_SIZE / 4;

/** Byte offsets inside a submission queue entry (Common Command Format). */
export const SQE = {
  /** CDW0 bits 7:0, Opcode. */
  OPC: 0,
  /** CDW0 bits 15:8: FUSE (bits 9:8) and PSDT (bits 15:14). */
  FLAGS: 1,
  /** CDW0 bits 31:16, Command Identifier. */
  CID: 2,
  /** Namespace Identifier. */
  NSID: 4,
  CDW2: 8,
  CDW3: 12,
  /** Metadata Pointer (64 bits). */
  MPTR: 16,
  /** Data Pointer: PRP Entry 1 (64 bits) or the first 8 bytes of SGL1. */
  PRP1: 24,
  /** Data Pointer: PRP Entry 2 (64 bits) or the last 8 bytes of SGL1. */
  PRP2: 32,
  CDW10: 40,
  CDW11: 44,
  CDW12: 48,
  CDW13: 52,
  CDW14: 56,
  CDW15: 60,
} as const;

/** CDW0.PSDT, PRP or SGL for Data Transfer. */
export const PSDT_PRP = 0b00;
/** SGLs for data; MPTR is the address of a contiguous metadata buffer. */
export const PSDT_SGL_MPTR_CONTIGUOUS = 0b01;
/** SGLs for data; MPTR is the address of an SGL segment. */
export const PSDT_SGL_MPTR_SGL = 0b10;

/** CDW0.FUSE values. */
export const FUSE_NORMAL = 0b00;
/** CDW0.FUSE: first command of a fused operation. */
export const FUSE_FIRST = 0b01;
/** CDW0.FUSE: second command of a fused operation. */
export const FUSE_SECOND = 0b10;

/** Admin command opcodes (Base 2.0, "Opcodes for Admin Commands"). */
export const AdminOpcode = {
  DeleteIoSubmissionQueue: 0x00,
  CreateIoSubmissionQueue: 0x01,
  GetLogPage: 0x02,
  DeleteIoCompletionQueue: 0x04,
  CreateIoCompletionQueue: 0x05,
  Identify: 0x06,
  Abort: 0x08,
  SetFeatures: 0x09,
  GetFeatures: 0x0a,
  AsynchronousEventRequest: 0x0c,
  NamespaceManagement: 0x0d,
  FirmwareCommit: 0x10,
  FirmwareImageDownload: 0x11,
  DeviceSelfTest: 0x14,
  NamespaceAttachment: 0x15,
  KeepAlive: 0x18,
  DirectiveSend: 0x19,
  DirectiveReceive: 0x1a,
  VirtualizationManagement: 0x1c,
  NvmeMiSend: 0x1d,
  NvmeMiReceive: 0x1e,
  DoorbellBufferConfig: 0x7c,
  FormatNvm: 0x80,
  SecuritySend: 0x81,
  SecurityReceive: 0x82,
  Sanitize: 0x84,
  GetLbaStatus: 0x86,
} as const;

/** NVM command set I/O opcodes (NVM Command Set 1.0, "Opcodes for NVM Commands"). */
export const NvmOpcode = {
  Flush: 0x00,
  Write: 0x01,
  Read: 0x02,
  WriteUncorrectable: 0x04,
  Compare: 0x05,
  WriteZeroes: 0x08,
  DatasetManagement: 0x09,
  Verify: 0x0c,
  ReservationRegister: 0x0d,
  ReservationReport: 0x0e,
  ReservationAcquire: 0x11,
  ReservationRelease: 0x15,
  Copy: 0x19,
} as const;

/** Identify CNS values (Base 2.0, Identify command, "CNS Values"). */
export const Cns = {
  Namespace: 0x00,
  Controller: 0x01,
  ActiveNamespaceIdList: 0x02,
  NamespaceIdentificationDescriptorList: 0x03,
} as const;

/** Feature Identifiers (Base 2.0, Set Features, "Feature Identifiers"). */
export const FeatureId = {
  Arbitration: 0x01,
  PowerManagement: 0x02,
  TemperatureThreshold: 0x04,
  ErrorRecovery: 0x05,
  VolatileWriteCache: 0x06,
  NumberOfQueues: 0x07,
  InterruptCoalescing: 0x08,
  InterruptVectorConfiguration: 0x09,
  WriteAtomicityNormal: 0x0a,
  AsynchronousEventConfiguration: 0x0b,
  AutonomousPowerStateTransition: 0x0c,
  HostMemoryBuffer: 0x0d,
  Timestamp: 0x0e,
  KeepAliveTimer: 0x0f,
} as const;

/** Log Page Identifiers (Base 2.0, Get Log Page, "Log Page Identifiers"). */
export const LogId = {
  ErrorInformation: 0x01,
  SmartHealthInformation: 0x02,
  FirmwareSlotInformation: 0x03,
  ChangedNamespaceList: 0x04,
  CommandsSupportedAndEffects: 0x05,
} as const;

/** Read/Write/Compare CDW12 bits (NVM Command Set 1.0). */
export const RW_FUA = 1 << 30;
/** Read/Write CDW12 bit 31, Limited Retry. */
export const RW_LR = 1 << 31;
/** Write Zeroes CDW12 bit 25, Deallocate. */
export const WRITE_ZEROES_DEAC = 1 << 25;
/** Dataset Management CDW11 bit 2, Attribute – Deallocate. */
export const DSM_AD = 1 << 2;

const TWO_32 = 0x1_0000_0000;

function put64(u32: Uint32Array, dw: number, value: number): void {
  u32[dw] = value % TWO_32;
  u32[dw + 1] = Math.floor(value / TWO_32);
}

/**
 * Clears the entry and writes CDW0 (opcode, FUSE=normal, PSDT, cid) and the NSID.
 * Every builder starts with this, so no field of an earlier command survives.
 */
export function sqeInit(u32: Uint32Array, sqe: number, opcode: number, cid: number, nsid: number, psdt = PSDT_PRP): void {
  // CDW0 and NSID, then dwords 2-15 zeroed one by one (V8 does not inline fill(): callgrind
  // counted ~200 instructions per command for it, 14% of the QD32 hot path).
  u32[sqe] = (opcode & 0xff) | ((psdt & 3) << 14) | ((cid & 0xffff) << 16);
  u32[sqe + 1] = nsid >>> 0;
  u32[sqe + 2] = 0;
  u32[sqe + 3] = 0;
  u32[sqe + 4] = 0;
  u32[sqe + 5] = 0;
  u32[sqe + 6] = 0;
  u32[sqe + 7] = 0;
  u32[sqe + 8] = 0;
  u32[sqe + 9] = 0;
  u32[sqe + 10] = 0;
  u32[sqe + 11] = 0;
  u32[sqe + 12] = 0;
  u32[sqe + 13] = 0;
  u32[sqe + 14] = 0;
  u32[sqe + 15] = 0;
}

/** Writes the command identifier into CDW0 bits 31:16 (keeps opcode and flags). */
export function sqeSetCid(u32: Uint32Array, sqe: number, cid: number): void {
  u32[sqe] = ((u32[sqe]! & 0xffff) | ((cid & 0xffff) << 16)) >>> 0;
}

/** Reads the command identifier from CDW0. */
export function sqeCid(u32: Uint32Array, sqe: number): number {
  return u32[sqe]! >>> 16;
}

/** PRP Entry 1 and PRP Entry 2 (0 when unused). */
export function sqeSetPrp(u32: Uint32Array, sqe: number, prp1: number, prp2: number): void {
  put64(u32, sqe + SQE.PRP1 / 4, prp1);
  put64(u32, sqe + SQE.PRP2 / 4, prp2);
}

/** Metadata Pointer. */
export function sqeSetMptr(u32: Uint32Array, sqe: number, mptr: number): void {
  put64(u32, sqe + SQE.MPTR / 4, mptr);
}

/** Sets CDW10 .. CDW15 (pass only those you need; the rest stay zero from sqeInit). */
export function sqeSetCdw(u32: Uint32Array, sqe: number, cdw10: number, cdw11 = 0, cdw12 = 0, cdw13 = 0, cdw14 = 0, cdw15 = 0): void {
  u32[sqe + 10] = cdw10 >>> 0;
  u32[sqe + 11] = cdw11 >>> 0;
  u32[sqe + 12] = cdw12 >>> 0;
  u32[sqe + 13] = cdw13 >>> 0;
  u32[sqe + 14] = cdw14 >>> 0;
  u32[sqe + 15] = cdw15 >>> 0;
}

// ---- NVM command set: Read, Write, Compare, Write Zeroes, Flush, Dataset Management ----

/**
 * Read (02h), Write (01h) or Compare (05h): SLBA in CDW10/11, NLB (0's based) in CDW12
 * bits 15:0, plus flags (RW_FUA, RW_LR). The data pointer is set separately (PRP or SGL).
 */
export function sqeReadWrite(u32: Uint32Array, sqe: number, opcode: number, cid: number, nsid: number, slba: number, nlb: number, flags = 0): void {
  sqeInit(u32, sqe, opcode, cid, nsid);
  put64(u32, sqe + 10, slba);
  u32[sqe + 12] = (((nlb - 1) & 0xffff) | flags) >>> 0;
}

/** Write Zeroes (08h): no data pointer; DEAC asks the controller to deallocate as well. */
export function sqeWriteZeroes(u32: Uint32Array, sqe: number, cid: number, nsid: number, slba: number, nlb: number, flags = 0): void {
  sqeReadWrite(u32, sqe, NvmOpcode.WriteZeroes, cid, nsid, slba, nlb, flags);
}

/** Flush (00h). */
export function sqeFlush(u32: Uint32Array, sqe: number, cid: number, nsid: number): void {
  sqeInit(u32, sqe, NvmOpcode.Flush, cid, nsid);
}

/** Dataset Management (09h): NR (number of ranges, 0's based) in CDW10, attributes (DSM_AD) in CDW11. */
export function sqeDatasetManagement(u32: Uint32Array, sqe: number, cid: number, nsid: number, ranges: number, attributes: number): void {
  sqeInit(u32, sqe, NvmOpcode.DatasetManagement, cid, nsid);
  u32[sqe + 10] = (ranges - 1) & 0xff;
  u32[sqe + 11] = attributes >>> 0;
}

/** Size of one Dataset Management range (Context Attributes, Length in LBAs, Starting LBA). */
export const DSM_RANGE_SIZE = 16;

/** Writes one Dataset Management range at byte offset `at` of view. */
export function writeDsmRange(view: DataView, at: number, slba: number, nlb: number, contextAttributes = 0): void {
  view.setUint32(at, contextAttributes, true);
  view.setUint32(at + 4, nlb, true);
  view.setBigUint64(at + 8, BigInt(slba), true);
}

// ---- Admin commands ----------------------------------------------------------------

/** Identify (06h): CNS in CDW10 bits 7:0, CNTID bits 31:16; CSI in CDW11 bits 31:24. */
export function sqeIdentify(u32: Uint32Array, sqe: number, cid: number, cns: number, nsid = 0, cntid = 0, csi = 0): void {
  sqeInit(u32, sqe, AdminOpcode.Identify, cid, nsid);
  u32[sqe + 10] = ((cns & 0xff) | ((cntid & 0xffff) << 16)) >>> 0;
  u32[sqe + 11] = ((csi & 0xff) << 24) >>> 0;
}

/** Get Features (0Ah): FID in CDW10 bits 7:0, SEL bits 10:8. */
export function sqeGetFeatures(u32: Uint32Array, sqe: number, cid: number, fid: number, sel = 0, nsid = 0, cdw11 = 0): void {
  sqeInit(u32, sqe, AdminOpcode.GetFeatures, cid, nsid);
  u32[sqe + 10] = (fid & 0xff) | ((sel & 7) << 8);
  u32[sqe + 11] = cdw11 >>> 0;
}

/** Set Features (09h): FID in CDW10 bits 7:0, SV (save) bit 31; the value in CDW11. */
export function sqeSetFeatures(u32: Uint32Array, sqe: number, cid: number, fid: number, cdw11: number, save = false, nsid = 0, cdw12 = 0): void {
  sqeInit(u32, sqe, AdminOpcode.SetFeatures, cid, nsid);
  u32[sqe + 10] = ((fid & 0xff) | (save ? 1 << 31 : 0)) >>> 0;
  u32[sqe + 11] = cdw11 >>> 0;
  u32[sqe + 12] = cdw12 >>> 0;
}

/**
 * Create I/O Completion Queue (05h): PRP1 = queue base; CDW10 QID bits 15:0, QSIZE
 * (0's based) bits 31:16; CDW11 PC bit 0, IEN bit 1, IV bits 31:16.
 */
export function sqeCreateIoCq(u32: Uint32Array, sqe: number, cid: number, qid: number, entries: number, base: number, iv: number | null): void {
  sqeInit(u32, sqe, AdminOpcode.CreateIoCompletionQueue, cid, 0);
  sqeSetPrp(u32, sqe, base, 0);
  u32[sqe + 10] = ((qid & 0xffff) | (((entries - 1) & 0xffff) << 16)) >>> 0;
  u32[sqe + 11] = (1 | (iv === null ? 0 : 2 | ((iv & 0xffff) << 16))) >>> 0;
}

/**
 * Create I/O Submission Queue (01h): PRP1 = queue base; CDW10 QID / QSIZE as above;
 * CDW11 PC bit 0, QPRIO bits 2:1, CQID bits 31:16.
 */
export function sqeCreateIoSq(u32: Uint32Array, sqe: number, cid: number, qid: number, entries: number, base: number, cqid: number, qprio = 0): void {
  sqeInit(u32, sqe, AdminOpcode.CreateIoSubmissionQueue, cid, 0);
  sqeSetPrp(u32, sqe, base, 0);
  u32[sqe + 10] = ((qid & 0xffff) | (((entries - 1) & 0xffff) << 16)) >>> 0;
  u32[sqe + 11] = (1 | ((qprio & 3) << 1) | ((cqid & 0xffff) << 16)) >>> 0;
}

/** Delete I/O Submission Queue (00h) / Delete I/O Completion Queue (04h): QID in CDW10. */
export function sqeDeleteIoQueue(u32: Uint32Array, sqe: number, cid: number, opcode: number, qid: number): void {
  sqeInit(u32, sqe, opcode, cid, 0);
  u32[sqe + 10] = qid & 0xffff;
}

/**
 * Get Log Page (02h): LID in CDW10 bits 7:0, LSP bits 14:8, RAE bit 15, NUMDL bits 31:16;
 * CDW11 NUMDU bits 15:0, LSI bits 31:16; CDW12/13 the byte offset (LPOL/LPOU).
 * NUMD is the number of dwords, 0's based.
 */
export function sqeGetLogPage(u32: Uint32Array, sqe: number, cid: number, lid: number, bytes: number, offset = 0, nsid = 0xffffffff, rae = false, lsp = 0): void {
  sqeInit(u32, sqe, AdminOpcode.GetLogPage, cid, nsid);
  const numd = bytes / 4 - 1;
  u32[sqe + 10] = ((lid & 0xff) | ((lsp & 0x7f) << 8) | (rae ? 1 << 15 : 0) | ((numd & 0xffff) << 16)) >>> 0;
  u32[sqe + 11] = (numd >>> 16) & 0xffff;
  put64(u32, sqe + 12, offset);
}

/** Abort (08h): SQID in CDW10 bits 15:0, CID bits 31:16. */
export function sqeAbort(u32: Uint32Array, sqe: number, cid: number, sqid: number, abortCid: number): void {
  sqeInit(u32, sqe, AdminOpcode.Abort, cid, 0);
  u32[sqe + 10] = ((sqid & 0xffff) | ((abortCid & 0xffff) << 16)) >>> 0;
}

/** Asynchronous Event Request (0Ch): no parameters; completes when an event occurs. */
export function sqeAsyncEventRequest(u32: Uint32Array, sqe: number, cid: number): void {
  sqeInit(u32, sqe, AdminOpcode.AsynchronousEventRequest, cid, 0);
}

/** Doorbell Buffer Config (7Ch): PRP1 = Shadow Doorbell buffer, PRP2 = EventIdx buffer (each one page). */
export function sqeDoorbellBufferConfig(u32: Uint32Array, sqe: number, cid: number, shadow: number, eventIdx: number): void {
  sqeInit(u32, sqe, AdminOpcode.DoorbellBufferConfig, cid, 0);
  sqeSetPrp(u32, sqe, shadow, eventIdx);
}

/** Format NVM (80h): CDW10 LBAF bits 3:0, MSET bit 4, PI bits 7:5, PIL bit 8, SES bits 11:9, LBAFU bits 13:12. */
export function sqeFormatNvm(u32: Uint32Array, sqe: number, cid: number, nsid: number, lbaf: number, ses = 0, mset = 0, pi = 0, pil = 0): void {
  sqeInit(u32, sqe, AdminOpcode.FormatNvm, cid, nsid);
  u32[sqe + 10] = (lbaf & 0xf) | ((mset & 1) << 4) | ((pi & 7) << 5) | ((pil & 1) << 8) | ((ses & 7) << 9) | (((lbaf >> 4) & 3) << 12);
}
