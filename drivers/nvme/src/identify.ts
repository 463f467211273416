// Parsers for the Identify data structures (each 4096 bytes) and the log pages this
// driver reads. NVM Express Base Specification 2.0, Identify command: "Identify
// Controller Data Structure" (CNS 01h), "Active Namespace ID list" (CNS 02h),
// "Namespace Identification Descriptor" (CNS 03h); NVM Command Set Specification 1.0,
// "Identify Namespace Data Structure" (CNS 00h). Field names as the specifications
// spell them, in lower case.

/** Every Identify data structure is 4096 bytes. */
export const IDENTIFY_SIZE = 4096;

/** A Power State Descriptor of Identify Controller (32 bytes each, PSD0 to PSD31). */
export interface PowerStateDescriptor {
  /** Maximum Power, in 0.01 W (or 0.0001 W when mxps). */
  mp: number;
  mxps: boolean;
  nops: boolean;
  /** Entry / Exit Latency, microseconds. */
  enlat: number;
  exlat: number;
}

/** Identify Controller data structure (CNS 01h), the fields a driver uses. */
export interface IdentifyController {
  /** PCI Vendor ID. */
  vid: number;
  /** PCI Subsystem Vendor ID. */
  ssvid: number;
  /** Serial Number (ASCII, trailing spaces removed). */
  sn: string;
  /** Model Number. */
  mn: string;
  /** Firmware Revision. */
  fr: string;
  /** Recommended Arbitration Burst. */
  rab: number;
  /** IEEE OUI Identifier. */
  ieee: number;
  /** Controller Multi-Path I/O and Namespace Sharing Capabilities. */
  cmic: number;
  /** Maximum Data Transfer Size: 2^mdts units of CAP.MPSMIN; 0 means no limit. */
  mdts: number;
  /** Controller ID. */
  cntlid: number;
  /** Version (same layout as the VS register). */
  ver: number;
  rtd3r: number;
  rtd3e: number;
  /** Optional Asynchronous Events Supported. */
  oaes: number;
  /** Controller Attributes. */
  ctratt: number;
  /** Controller Type (1: I/O controller). */
  cntrltype: number;
  /** Optional Admin Command Support (bit 8: Doorbell Buffer Config; bit 1: Format NVM). */
  oacs: number;
  /** Abort Command Limit, 0's based. */
  acl: number;
  /** Asynchronous Event Request Limit, 0's based. */
  aerl: number;
  /** Firmware Updates. */
  frmw: number;
  /** Log Page Attributes. */
  lpa: number;
  /** Error Log Page Entries, 0's based. */
  elpe: number;
  /** Number of Power States Support, 0's based. */
  npss: number;
  /** Warning / Critical Composite Temperature Threshold, kelvin. */
  wctemp: number;
  cctemp: number;
  /** Keep Alive Support, 100 ms units. */
  kas: number;
  /** Submission Queue Entry Size: bits 3:0 required, 7:4 maximum (log2). */
  sqes: number;
  /** Completion Queue Entry Size: bits 3:0 required, 7:4 maximum (log2). */
  cqes: number;
  /** Maximum Outstanding Commands (fabrics). */
  maxcmd: number;
  /** Number of Namespaces: the largest namespace ID. */
  nn: number;
  /** Optional NVM Command Support (bit 0 Compare, 1 Write Uncorrectable, 2 Dataset Management, 3 Write Zeroes, 4 Save/Select, 5 Reservations, 6 Timestamp, 7 Verify, 8 Copy). */
  oncs: number;
  /** Fused Operation Support. */
  fuses: number;
  /** Format NVM Attributes. */
  fna: number;
  /** Volatile Write Cache (bit 0: present). */
  vwc: number;
  /** Atomic Write Unit Normal / Power Fail, 0's based, in logical blocks. */
  awun: number;
  awupf: number;
  /** SGL Support (bits 1:0: 01b supported, 10b supported with dword alignment). */
  sgls: number;
  /** NVM Subsystem NVMe Qualified Name. */
  subnqn: string;
  psd: PowerStateDescriptor[];
}

/** ONCS bits (Identify Controller, Optional NVM Command Support). */
export const ONCS = {
  Compare: 1 << 0,
  WriteUncorrectable: 1 << 1,
  DatasetManagement: 1 << 2,
  WriteZeroes: 1 << 3,
  SaveSelect: 1 << 4,
  Reservations: 1 << 5,
  Timestamp: 1 << 6,
  Verify: 1 << 7,
  Copy: 1 << 8,
} as const;

/** OACS bits (Identify Controller, Optional Admin Command Support). */
export const OACS = {
  SecuritySendReceive: 1 << 0,
  FormatNvm: 1 << 1,
  FirmwareCommitDownload: 1 << 2,
  NamespaceManagement: 1 << 3,
  DeviceSelfTest: 1 << 4,
  Directives: 1 << 5,
  NvmeMi: 1 << 6,
  VirtualizationManagement: 1 << 7,
  DoorbellBufferConfig: 1 << 8,
  GetLbaStatus: 1 << 9,
} as const;

function ascii(bytes: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s.trimEnd();
}

function viewOf(bytes: Uint8Array): DataView {
  if (bytes.byteLength < IDENTIFY_SIZE) throw new RangeError(`identify data: ${bytes.byteLength} bytes, need ${IDENTIFY_SIZE}`);
  return new DataView(bytes.buffer, bytes.byteOffset, IDENTIFY_SIZE);
}

/** Parses the Identify Controller data structure (byte offsets as in the specification). */
export function parseIdentifyController(bytes: Uint8Array): IdentifyController {
  const v = viewOf(bytes);
  const u8 = (o: number) => v.getUint8(o);
  const u16 = (o: number) => v.getUint16(o, true);
  const u32 = (o: number) => v.getUint32(o, true);
  const npss = u8(263);
  const psd: PowerStateDescriptor[] = [];
  for (let i = 0; i <= npss && i < 32; i++) {
    const at = 2048 + 32 * i;
    psd.push({ mp: u16(at), mxps: (u8(at + 3) & 1) === 1, nops: (u8(at + 3) & 2) === 2, enlat: u32(at + 4), exlat: u32(at + 8) });
  }
  return {
    vid: u16(0),
    ssvid: u16(2),
    sn: ascii(bytes, 4, 20),
    mn: ascii(bytes, 24, 40),
    fr: ascii(bytes, 64, 8),
    rab: u8(72),
    ieee: u8(73) | (u8(74) << 8) | (u8(75) << 16),
    cmic: u8(76),
    mdts: u8(77),
    cntlid: u16(78),
    ver: u32(80),
    rtd3r: u32(84),
    rtd3e: u32(88),
    oaes: u32(92),
    ctratt: u32(96),
    cntrltype: u8(111),
    oacs: u16(256),
    acl: u8(258),
    aerl: u8(259),
    frmw: u8(260),
    lpa: u8(261),
    elpe: u8(262),
    npss,
    wctemp: u16(266),
    cctemp: u16(268),
    kas: u16(320),
    sqes: u8(512),
    cqes: u8(513),
    maxcmd: u16(514),
    nn: u32(516),
    oncs: u16(520),
    fuses: u16(522),
    fna: u8(524),
    vwc: u8(525),
    awun: u16(526),
    awupf: u16(528),
    sgls: u32(536),
    subnqn: ascii(bytes, 768, 256),
    psd,
  };
}

/** One LBA Format (Identify Namespace, "LBA Format Data Structure"). */
export interface LbaFormat {
  /** Metadata Size in bytes per logical block. */
  ms: number;
  /** LBA Data Size: log2 of the logical block size. */
  lbads: number;
  /** Relative Performance (0 best .. 3 degraded). */
  rp: number;
}

/** Identify Namespace data structure (CNS 00h, NVM Command Set). */
export interface IdentifyNamespace {
  /** Namespace Size, in logical blocks. */
  nsze: bigint;
  /** Namespace Capacity. */
  ncap: bigint;
  /** Namespace Utilization. */
  nuse: bigint;
  /** Namespace Features. */
  nsfeat: number;
  /** Number of LBA Formats, 0's based. */
  nlbaf: number;
  /** Formatted LBA Size: bits 3:0 (and 6:5 for formats above 15) the format index, bit 4 metadata at the end of the LBA. */
  flbas: number;
  /** Metadata Capabilities. */
  mc: number;
  /** End-to-end Data Protection Capabilities / Settings. */
  dpc: number;
  dps: number;
  /** Namespace Multi-path I/O and Namespace Sharing Capabilities. */
  nmic: number;
  /** Deallocate Logical Block Features. */
  dlfeat: number;
  /** Namespace Optimal I/O Boundary, logical blocks. */
  noiob: number;
  nguid: Uint8Array;
  eui64: Uint8Array;
  /** LBA Formats 0..nlbaf. */
  lbaf: LbaFormat[];
  /** The format in use, decoded from flbas. */
  lbafIndex: number;
  /** Logical block size in bytes (2^lbads of the format in use). */
  blockSize: number;
  /** Metadata bytes per block of the format in use. */
  metadataSize: number;
}

/** Parses the Identify Namespace data structure. */
export function parseIdentifyNamespace(bytes: Uint8Array): IdentifyNamespace {
  const v = viewOf(bytes);
  const nlbaf = v.getUint8(25);
  const flbas = v.getUint8(26);
  const lbaf: LbaFormat[] = [];
  for (let i = 0; i <= nlbaf && i < 64; i++) {
    const d = v.getUint32(128 + 4 * i, true);
    lbaf.push({ ms: d & 0xffff, lbads: (d >>> 16) & 0xff, rp: (d >>> 24) & 3 });
  }
  // FLBAS bits 3:0 are the low bits of the format index; bits 6:5 the high bits when nlbaf > 16.
  const lbafIndex = (flbas & 0xf) | (nlbaf >= 16 ? ((flbas >> 5) & 3) << 4 : 0);
  const inUse = lbaf[lbafIndex] ?? { ms: 0, lbads: 9, rp: 0 };
  return {
    nsze: v.getBigUint64(0, true),
    ncap: v.getBigUint64(8, true),
    nuse: v.getBigUint64(16, true),
    nsfeat: v.getUint8(24),
    nlbaf,
    flbas,
    mc: v.getUint8(27),
    dpc: v.getUint8(28),
    dps: v.getUint8(29),
    nmic: v.getUint8(30),
    dlfeat: v.getUint8(33),
    noiob: v.getUint16(46, true),
    nguid: bytes.slice(104, 120),
    eui64: bytes.slice(120, 128),
    lbaf,
    lbafIndex,
    blockSize: 2 ** inUse.lbads,
    metadataSize: inUse.ms,
  };
}

/** Active Namespace ID list (CNS 02h): ascending NSIDs, ended by the first 0. */
export function parseActiveNamespaceList(bytes: Uint8Array): number[] {
  const v = viewOf(bytes);
  const ids: number[] = [];
  for (let at = 0; at < IDENTIFY_SIZE; at += 4) {
    const id = v.getUint32(at, true);
    if (id === 0) break;
    ids.push(id);
  }
  return ids;
}

/** Namespace Identifier Type (NIDT) values. */
export const Nidt = { Eui64: 1, Nguid: 2, Uuid: 3, Csi: 4 } as const;

/** One Namespace Identification Descriptor: its type (NIDT) and value. */
export interface NamespaceDescriptor {
  /** Namespace Identifier Type. */
  nidt: number;
  /** Namespace Identifier (NIDL bytes). */
  nid: Uint8Array;
}

/** Namespace Identification Descriptor list (CNS 03h): NIDT, NIDL, 2 reserved bytes, NID; ends at NIDL 0. */
export function parseNamespaceDescriptors(bytes: Uint8Array): NamespaceDescriptor[] {
  const v = viewOf(bytes);
  const out: NamespaceDescriptor[] = [];
  let at = 0;
  while (at + 4 <= IDENTIFY_SIZE) {
    const nidt = v.getUint8(at);
    const nidl = v.getUint8(at + 1);
    if (nidt === 0 || nidl === 0 || at + 4 + nidl > IDENTIFY_SIZE) break;
    out.push({ nidt, nid: bytes.slice(at + 4, at + 4 + nidl) });
    at += 4 + nidl;
  }
  return out;
}

// ---- log pages ----------------------------------------------------------------------

/** SMART / Health Information log page (02h), 512 bytes. 128-bit counters as bigint. */
export interface SmartLog {
  criticalWarning: number;
  /** Composite Temperature, kelvin. */
  compositeTemperature: number;
  availableSpare: number;
  availableSpareThreshold: number;
  percentageUsed: number;
  /** Data Units Read/Written: thousands of 512-byte units. */
  dataUnitsRead: bigint;
  dataUnitsWritten: bigint;
  hostReadCommands: bigint;
  hostWriteCommands: bigint;
  controllerBusyTime: bigint;
  powerCycles: bigint;
  powerOnHours: bigint;
  unsafeShutdowns: bigint;
  mediaAndDataIntegrityErrors: bigint;
  numberOfErrorInformationLogEntries: bigint;
}

/** Size of the SMART / Health Information log (512 bytes). */
export const SMART_LOG_SIZE = 512;

function u128(v: DataView, at: number): bigint {
  return v.getBigUint64(at, true) | (v.getBigUint64(at + 8, true) << 64n);
}

/** Parses the SMART / Health Information log (02h). */
export function parseSmartLog(bytes: Uint8Array): SmartLog {
  const v = new DataView(bytes.buffer, bytes.byteOffset, SMART_LOG_SIZE);
  return {
    criticalWarning: v.getUint8(0),
    compositeTemperature: v.getUint16(1, true),
    availableSpare: v.getUint8(3),
    availableSpareThreshold: v.getUint8(4),
    percentageUsed: v.getUint8(5),
    dataUnitsRead: u128(v, 32),
    dataUnitsWritten: u128(v, 48),
    hostReadCommands: u128(v, 64),
    hostWriteCommands: u128(v, 80),
    controllerBusyTime: u128(v, 96),
    powerCycles: u128(v, 112),
    powerOnHours: u128(v, 128),
    unsafeShutdowns: u128(v, 144),
    mediaAndDataIntegrityErrors: u128(v, 160),
    numberOfErrorInformationLogEntries: u128(v, 176),
  };
}

/** Error Information log entry (log page 01h), 64 bytes each. */
export interface ErrorLogEntry {
  errorCount: bigint;
  sqid: number;
  cid: number;
  /** Status Field (bit 0 is the phase tag). */
  status: number;
  parameterErrorLocation: number;
  lba: bigint;
  nsid: number;
}

/** Size of one Error Information log entry (64 bytes). */
export const ERROR_LOG_ENTRY_SIZE = 64;

/** Parses the Error Information log (01h), leaving out unused entries (error count 0). */
export function parseErrorLog(bytes: Uint8Array): ErrorLogEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ErrorLogEntry[] = [];
  for (let at = 0; at + ERROR_LOG_ENTRY_SIZE <= bytes.byteLength; at += ERROR_LOG_ENTRY_SIZE) {
    const errorCount = v.getBigUint64(at, true);
    if (errorCount === 0n) continue; // an unused entry
    out.push({
      errorCount,
      sqid: v.getUint16(at + 8, true),
      cid: v.getUint16(at + 10, true),
      status: v.getUint16(at + 12, true),
      parameterErrorLocation: v.getUint16(at + 14, true),
      lba: v.getBigUint64(at + 16, true),
      nsid: v.getUint32(at + 24, true),
    });
  }
  return out;
}

/** Firmware Slot Information log page (03h), 512 bytes. */
export interface FirmwareSlotLog {
  /** Active Firmware Info: bits 2:0 the active slot, bits 6:4 the slot for the next reset. */
  afi: number;
  /** Firmware Revision for Slot 1..7 ('' for an empty slot). */
  frs: string[];
}

/** Size of the Firmware Slot Information log (512 bytes). */
export const FIRMWARE_SLOT_LOG_SIZE = 512;

/** Parses the Firmware Slot Information log (03h). */
export function parseFirmwareSlotLog(bytes: Uint8Array): FirmwareSlotLog {
  const frs: string[] = [];
  for (let i = 0; i < 7; i++) frs.push(ascii(bytes, 8 + 8 * i, 8));
  return { afi: bytes[0]!, frs };
}
