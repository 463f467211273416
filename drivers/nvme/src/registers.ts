// NVMe controller registers (the "controller properties" of PCIe controllers), as
// the NVM Express Base Specification 2.0 names them in §3.1.3. One table of offsets,
// one table of {shift, mask} fields per register, one getter and one setter.
//
// 32-bit registers are plain numbers; CAP, ASQ, ACQ, BPMBL and CMBMSC are 64 bits
// wide and read as bigint. getField works on both.

/** Offsets in BAR0 (§3.1.3, "Controller Properties"). Reserved gaps are not listed. */
export const Register = {
  /** Controller Capabilities (64 bits). */
  CAP: 0x00,
  /** Version. */
  VS: 0x08,
  /** Interrupt Mask Set (pin-based and MSI only; unused with MSI-X). */
  INTMS: 0x0c,
  /** Interrupt Mask Clear. */
  INTMC: 0x10,
  /** Controller Configuration. */
  CC: 0x14,
  /** Controller Status. */
  CSTS: 0x1c,
  /** NVM Subsystem Reset (optional; CAP.NSSRS). */
  NSSR: 0x20,
  /** Admin Queue Attributes. */
  AQA: 0x24,
  /** Admin Submission Queue Base Address (64 bits). */
  ASQ: 0x28,
  /** Admin Completion Queue Base Address (64 bits). */
  ACQ: 0x30,
  /** Controller Memory Buffer Location. */
  CMBLOC: 0x38,
  /** Controller Memory Buffer Size. */
  CMBSZ: 0x3c,
  /** Boot Partition Information. */
  BPINFO: 0x40,
  /** Boot Partition Read Select. */
  BPRSEL: 0x44,
  /** Boot Partition Memory Buffer Location (64 bits). */
  BPMBL: 0x48,
  /** Controller Memory Buffer Memory Space Control (64 bits). */
  CMBMSC: 0x50,
  /** Controller Memory Buffer Status. */
  CMBSTS: 0x58,
  /** Controller Memory Buffer Elasticity Buffer Size. */
  CMBEBS: 0x5c,
  /** Controller Memory Buffer Sustained Write Throughput. */
  CMBSWTP: 0x60,
  /** NVM Subsystem Shutdown. */
  NSSD: 0x64,
  /** Controller Ready Timeouts. */
  CRTO: 0x68,
  /** Persistent Memory Region Capabilities. */
  PMRCAP: 0xe00,
  /** Persistent Memory Region Control. */
  PMRCTL: 0xe04,
  /** Persistent Memory Region Status. */
  PMRSTS: 0xe08,
  /** Persistent Memory Region Elasticity Buffer Size. */
  PMREBS: 0xe0c,
  /** Persistent Memory Region Sustained Write Throughput. */
  PMRSWTP: 0xe10,
  /** Persistent Memory Region Controller Memory Space Control Lower / Upper. */
  PMRMSCL: 0xe14,
  PMRMSCU: 0xe18,
  /** Start of the doorbells: Submission Queue 0 Tail Doorbell (§3.1.3, SQyTDBL / CQyHDBL). */
  SQ0TDBL: 0x1000,
} as const;

/** The name of a controller register (CAP, VS, CC, CSTS, ...). */
export type RegisterName = keyof typeof Register;

/** A bit field: value = (register >> shift) & mask. */
export interface Field {
  readonly shift: number;
  readonly mask: number;
}

const f = (shift: number, bits: number): Field => ({ shift, mask: bits >= 32 ? 0xffffffff : (1 << bits) - 1 });

/** CAP, Controller Capabilities (§3.1.3.1). 64 bits. */
export const CAP = {
  /** Maximum Queue Entries Supported, 0's based. */
  MQES: f(0, 16),
  /** Contiguous Queues Required. */
  CQR: f(16, 1),
  /** Arbitration Mechanism Supported (bit 17: WRR with urgent, bit 18: vendor specific). */
  AMS: f(17, 2),
  /** Timeout, in 500 ms units: worst-case time to CSTS.RDY after CC.EN changes. */
  TO: f(24, 8),
  /** Doorbell Stride: doorbells are (4 << DSTRD) bytes apart. */
  DSTRD: f(32, 4),
  /** NVM Subsystem Reset Supported. */
  NSSRS: f(36, 1),
  /** Command Sets Supported (bit 37: NVM command set, bit 43: I/O command sets, bit 44: admin only). */
  CSS: f(37, 8),
  /** Boot Partition Support. */
  BPS: f(45, 1),
  /** Controller Power Scope. */
  CPS: f(46, 2),
  /** Memory Page Size Minimum: 2 ^ (12 + MPSMIN) bytes. */
  MPSMIN: f(48, 4),
  /** Memory Page Size Maximum: 2 ^ (12 + MPSMAX) bytes. */
  MPSMAX: f(52, 4),
  /** Persistent Memory Region Supported. */
  PMRS: f(56, 1),
  /** Controller Memory Buffer Supported. */
  CMBS: f(57, 1),
  /** NVM Subsystem Shutdown Supported. */
  NSSS: f(58, 1),
  /** Controller Ready Modes Supported. */
  CRMS: f(59, 2),
} as const;

/** VS, Version (§3.1.3.2). */
export const VS = {
  /** Tertiary Version Number. */
  TER: f(0, 8),
  /** Minor Version Number. */
  MNR: f(8, 8),
  /** Major Version Number. */
  MJR: f(16, 16),
} as const;

/** CC, Controller Configuration (§3.1.3.5). */
export const CC = {
  /** Enable. */
  EN: f(0, 1),
  /** I/O Command Set Selected (000b: NVM Command Set). */
  CSS: f(4, 3),
  /** Memory Page Size: 2 ^ (12 + MPS) bytes. */
  MPS: f(7, 4),
  /** Arbitration Mechanism Selected (000b: Round Robin). */
  AMS: f(11, 3),
  /** Shutdown Notification (01b normal, 10b abrupt). */
  SHN: f(14, 2),
  /** I/O Submission Queue Entry Size: 2 ^ IOSQES bytes (6: 64 bytes). */
  IOSQES: f(16, 4),
  /** I/O Completion Queue Entry Size: 2 ^ IOCQES bytes (4: 16 bytes). */
  IOCQES: f(20, 4),
  /** Controller Ready Independent of Media Enable. */
  CRIME: f(24, 1),
} as const;

/** CC.CSS values. */
export const CC_CSS_NVM = 0b000;
/** CC.AMS values. */
export const CC_AMS_RR = 0b000;
/** CC.SHN values. */
export const CC_SHN_NONE = 0b00;
/** CC.SHN: normal shutdown notification. */
export const CC_SHN_NORMAL = 0b01;
/** CC.SHN: abrupt shutdown notification. */
export const CC_SHN_ABRUPT = 0b10;

/** CSTS, Controller Status (§3.1.3.6). */
export const CSTS = {
  /** Ready. */
  RDY: f(0, 1),
  /** Controller Fatal Status. */
  CFS: f(1, 1),
  /** Shutdown Status (00b normal operation, 01b occurring, 10b complete). */
  SHST: f(2, 2),
  /** NVM Subsystem Reset Occurred. */
  NSSRO: f(4, 1),
  /** Processing Paused. */
  PP: f(5, 1),
  /** Shutdown Type. */
  ST: f(6, 1),
} as const;

/** CSTS.SHST values. */
export const CSTS_SHST_NORMAL = 0b00;
/** CSTS.SHST: shutdown processing occurring. */
export const CSTS_SHST_OCCURRING = 0b01;
/** CSTS.SHST: shutdown processing complete. */
export const CSTS_SHST_COMPLETE = 0b10;

/** AQA, Admin Queue Attributes (§3.1.3.8). Both sizes are 0's based. */
export const AQA = {
  /** Admin Submission Queue Size. */
  ASQS: f(0, 12),
  /** Admin Completion Queue Size. */
  ACQS: f(16, 12),
} as const;

/** NSSR holds this value ("NVMe") to start an NVM Subsystem Reset (§3.1.3.7). */
export const NSSR_NSSRC = 0x4e564d65;

/** Reads a field of a 32-bit (number) or 64-bit (bigint) register value. */
export function getField(value: number | bigint, field: Field): number {
  if (typeof value === 'bigint') return Number((value >> BigInt(field.shift)) & BigInt(field.mask));
  return field.shift >= 32 ? 0 : (value >>> field.shift) & field.mask;
}

/** Returns the 32-bit register value with one field replaced (the field value is masked). */
export function setField(value: number, field: Field, fieldValue: number): number {
  const mask = (field.mask << field.shift) >>> 0;
  return ((value & ~mask) | ((fieldValue << field.shift) & mask)) >>> 0;
}

/** Offset of SQyTDBL, Submission Queue y Tail Doorbell: 1000h + (2y × (4 << CAP.DSTRD)) (§3.1.3). */
export function sqTailDoorbell(qid: number, dstrd: number): number {
  return Register.SQ0TDBL + 2 * qid * (4 << dstrd);
}

/** Offset of CQyHDBL, Completion Queue y Head Doorbell: 1000h + ((2y + 1) × (4 << CAP.DSTRD)) (§3.1.3). */
export function cqHeadDoorbell(qid: number, dstrd: number): number {
  return Register.SQ0TDBL + (2 * qid + 1) * (4 << dstrd);
}

/**
 * Where each register is defined, for the trace (NVMe Base 2.0 §3.1.3, Controller
 * Properties; the doorbells in the NVMe over PCIe Transport Specification 1.0). SQyTDBL
 * and CQyHDBL stand for every queue's doorbell.
 */
export const REGISTER_SECTIONS: Readonly<Record<string, string>> = {
  CAP: 'Base 2.0 §3.1.3.1', VS: 'Base 2.0 §3.1.3.2', INTMS: 'Base 2.0 §3.1.3.3', INTMC: 'Base 2.0 §3.1.3.4',
  CC: 'Base 2.0 §3.1.3.5', CSTS: 'Base 2.0 §3.1.3.6', NSSR: 'Base 2.0 §3.1.3.7', AQA: 'Base 2.0 §3.1.3.8',
  ASQ: 'Base 2.0 §3.1.3.9', ACQ: 'Base 2.0 §3.1.3.10',
  SQyTDBL: 'PCIe Transport 1.0, Submission Queue Tail Doorbell', CQyHDBL: 'PCIe Transport 1.0, Completion Queue Head Doorbell',
};

/** Register names for a BAR trace log: every named register plus the doorbells of queues 0..maxQid. */
export function registerNames(dstrd: number, maxQid: number): Record<number, string> {
  const names: Record<number, string> = {};
  for (const [name, offset] of Object.entries(Register)) if (name !== 'SQ0TDBL') names[offset] = name;
  // The upper halves of the 64-bit registers, for drivers that access them as two dwords.
  for (const name of ['CAP', 'ASQ', 'ACQ', 'BPMBL', 'CMBMSC'] as const) names[Register[name] + 4] = `${name}+4`;
  for (let y = 0; y <= maxQid; y++) {
    names[sqTailDoorbell(y, dstrd)] = `SQ${y}TDBL`;
    names[cqHeadDoorbell(y, dstrd)] = `CQ${y}HDBL`;
  }
  return names;
}

/** CAP decoded into the numbers a driver uses. */
export interface Capabilities {
  /** Maximum entries per queue (MQES + 1). */
  maxQueueEntries: number;
  contiguousQueuesRequired: boolean;
  /** CAP.TO in milliseconds (TO × 500 ms). */
  timeoutMs: number;
  /** CAP.DSTRD. */
  dstrd: number;
  /** CAP.CSS bit 0 (CAP bit 37): the NVM command set. */
  nvmCommandSet: boolean;
  nssrs: boolean;
  /** Smallest and largest memory page size in bytes. */
  mpsMinBytes: number;
  mpsMaxBytes: number;
  cmbs: boolean;
  pmrs: boolean;
}

/** Decodes CAP (§3.1.3.1). */
export function decodeCap(cap: bigint): Capabilities {
  return {
    maxQueueEntries: getField(cap, CAP.MQES) + 1,
    contiguousQueuesRequired: getField(cap, CAP.CQR) === 1,
    timeoutMs: getField(cap, CAP.TO) * 500,
    dstrd: getField(cap, CAP.DSTRD),
    nvmCommandSet: (getField(cap, CAP.CSS) & 1) === 1,
    nssrs: getField(cap, CAP.NSSRS) === 1,
    mpsMinBytes: 2 ** (12 + getField(cap, CAP.MPSMIN)),
    mpsMaxBytes: 2 ** (12 + getField(cap, CAP.MPSMAX)),
    cmbs: getField(cap, CAP.CMBS) === 1,
    pmrs: getField(cap, CAP.PMRS) === 1,
  };
}

/** VS as "major.minor.tertiary" (§3.1.3.2). */
export function formatVersion(vs: number): string {
  return `${getField(vs, VS.MJR)}.${getField(vs, VS.MNR)}.${getField(vs, VS.TER)}`;
}
