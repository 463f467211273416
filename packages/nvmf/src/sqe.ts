// The fields of a submission queue entry the target reads (NVMe Base 2.0 §4.2 Common
// Command Format; Fabrics command format §6.1; NVMe/TCP 1.0 §2.3 for the SGL
// descriptors a capsule carries), and the opcodes it serves.

/** Admin command opcodes (Base 2.0 §5, Figure "Opcodes for Admin Commands"). */
export const AdminOpcode = {
  GetLogPage: 0x02,
  Identify: 0x06,
  Abort: 0x08,
  SetFeatures: 0x09,
  GetFeatures: 0x0a,
  AsynchronousEventRequest: 0x0c,
  KeepAlive: 0x18,
  /** Every Fabrics command has opcode 7Fh; FCTYPE (byte 4) says which (§6.1). */
  Fabrics: 0x7f,
} as const;

/** Fabrics Command Type (FCTYPE, Base 2.0 §6, Figure "Fabrics Command Types"). */
export const FabricsType = {
  PropertySet: 0x00,
  Connect: 0x01,
  PropertyGet: 0x04,
  AuthenticationSend: 0x05,
  AuthenticationReceive: 0x06,
  Disconnect: 0x08,
} as const;

/** NVM Command Set I/O opcodes (NVM Command Set 1.0 §3, Figure "Opcodes for NVM Commands"). */
export const NvmOpcode = {
  Flush: 0x00,
  Write: 0x01,
  Read: 0x02,
  WriteZeroes: 0x08,
  DatasetManagement: 0x09,
} as const;

/** SGL Descriptor Type/Sub Type byte (Base 2.0 §4.3.2; NVMe/TCP 1.0 §2.3). */
export const SglIdentifier = {
  /** Data Block, Sub Type Offset: in-capsule data at ADDRESS (an offset) in the capsule. */
  DataBlockOffset: 0x01,
  /** Transport Data Block, Sub Type Transport Specific: data moved by C2HData, or by R2T + H2CData. */
  TransportDataBlock: 0x5a,
} as const;

/** A read-only view of one 64-byte SQE. */
export class Sqe {
  /** @param b the 64 bytes */
  constructor(readonly b: Buffer) {}
  /** OPC, byte 0. */
  get opcode(): number {
    return this.b[0]!;
  }
  /** CID, bytes 2-3. */
  get cid(): number {
    return this.b.readUInt16LE(2);
  }
  /** NSID, bytes 4-7. */
  get nsid(): number {
    return this.b.readUInt32LE(4);
  }
  /** FCTYPE of a Fabrics command, byte 4. */
  get fctype(): number {
    return this.b[4]!;
  }
  /** SGL1 ADDRESS, bytes 24-31 (an offset into the capsule for in-capsule data). */
  get sglAddress(): bigint {
    return this.b.readBigUInt64LE(24);
  }
  /** SGL1 LENGTH, bytes 32-35. */
  get sglLength(): number {
    return this.b.readUInt32LE(32);
  }
  /** SGL1 Descriptor Type (7:4) and Sub Type (3:0), byte 39. */
  get sglIdentifier(): number {
    return this.b[39]!;
  }
  /** Command Dword n (10 to 15) at byte 4 * n. */
  cdw(n: number): number {
    return this.b.readUInt32LE(4 * n);
  }
}

/**
 * Which way a command's data goes: the low two bits of the opcode (Base 2.0 §5, "data
 * transfer" bits: 01b host to controller, 10b controller to host); for a Fabrics command
 * the low two bits of FCTYPE, the same way (§6.1).
 */
export function dataDirection(sqe: Sqe): 'none' | 'h2c' | 'c2h' | 'both' {
  const bits = (sqe.opcode === AdminOpcode.Fabrics ? sqe.fctype : sqe.opcode) & 3;
  return (['none', 'h2c', 'c2h', 'both'] as const)[bits]!;
}
