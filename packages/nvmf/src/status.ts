// Completion queue entries and the status values the target returns (NVMe Base 2.0
// §4.6.1 Completion Queue Entry; §4.6.1.2 Status Field; Fabrics status values §3.3 and
// Figure "Connect Command Status Values").

/** Status Code Type (SCT, §4.6.1.2). */
export const SCT = { Generic: 0, CommandSpecific: 1, MediaAndDataIntegrity: 2, PathRelated: 3 } as const;

/** A status: SCT, SC and DNR (Do Not Retry). */
export interface Status {
  sct: number;
  sc: number;
  dnr: boolean;
}

const s = (sct: number, sc: number, dnr = true): Status => ({ sct, sc, dnr });

/** The statuses the target uses, named as the specification names them. */
export const Sts = {
  /** Generic 00h. */
  SuccessfulCompletion: s(SCT.Generic, 0x00, false),
  /** Generic 01h. */
  InvalidCommandOpcode: s(SCT.Generic, 0x01),
  /** Generic 02h. */
  InvalidFieldInCommand: s(SCT.Generic, 0x02),
  /** Generic 03h. */
  CommandIdConflict: s(SCT.Generic, 0x03),
  /** Generic 04h. */
  DataTransferError: s(SCT.Generic, 0x04, false),
  /** Generic 06h. */
  InternalError: s(SCT.Generic, 0x06, false),
  /** Generic 07h: what a held AER ends with when its queue goes away. */
  CommandAbortRequested: s(SCT.Generic, 0x07, false),
  /** Generic 0Bh. */
  InvalidNamespaceOrFormat: s(SCT.Generic, 0x0b),
  /** Generic 0Ch: a command before the controller is ready, or an I/O queue before Connect. */
  CommandSequenceError: s(SCT.Generic, 0x0c),
  /** Generic 0Fh. */
  DataSglLengthInvalid: s(SCT.Generic, 0x0f),
  /** Generic 11h. */
  SglDescriptorTypeInvalid: s(SCT.Generic, 0x11),
  /** Generic 16h. */
  SglOffsetInvalid: s(SCT.Generic, 0x16),
  /** Generic 22h: the Transient Transport Error of a data digest that does not match (NVMe/TCP 1.0 §3.6.1). */
  TransientTransportError: s(SCT.Generic, 0x22, false),
  /** Generic 80h (NVM Command Set). */
  LbaOutOfRange: s(SCT.Generic, 0x80),
  /** Command specific 02h: Set Features Number of Queues after the queues exist... or a queue size out of range. */
  InvalidQueueSize: s(SCT.CommandSpecific, 0x02),
  /** Command specific 05h. */
  AsynchronousEventRequestLimitExceeded: s(SCT.CommandSpecific, 0x05),
  /** Command specific 09h. */
  InvalidLogPage: s(SCT.CommandSpecific, 0x09),
  /** Command specific 0Dh. */
  FeatureIdentifierNotSaveable: s(SCT.CommandSpecific, 0x0d),
  /** Fabrics command specific 80h. */
  ConnectIncompatibleFormat: s(SCT.CommandSpecific, 0x80),
  /** Fabrics command specific 81h. */
  ConnectControllerBusy: s(SCT.CommandSpecific, 0x81),
  /** Fabrics command specific 82h (CQE DW0: IATTR and IPO say which field). */
  ConnectInvalidParameters: s(SCT.CommandSpecific, 0x82),
  /** Fabrics command specific 84h. */
  ConnectInvalidHost: s(SCT.CommandSpecific, 0x84),
  /** Media 80h. */
  WriteFault: s(SCT.MediaAndDataIntegrity, 0x80, false),
  /** Media 81h. */
  UnrecoveredReadError: s(SCT.MediaAndDataIntegrity, 0x81, false),
} as const;

/** The result of one command: its status and the command-specific DW0/DW1 of the CQE. */
export interface Completion {
  status: Status;
  dw0?: number;
  dw1?: number;
}

/** A successful completion with DW0 (and DW1). */
export function ok(dw0 = 0, dw1 = 0): Completion {
  return { status: Sts.SuccessfulCompletion, dw0, dw1 };
}

/** A failed completion. */
export function fail(status: Status, dw0 = 0): Completion {
  return { status, dw0 };
}

/**
 * A CQE (§4.6.1): DW0, DW1, SQHD, SQID, CID, then the Status Field (bit 0 the phase tag,
 * which a fabric does not use, SC 8:1, SCT 11:9, DNR 15).
 */
export function encodeCqe(c: Completion, cid: number, sqid: number, sqhd: number): Buffer {
  // From Node's pool: all 16 bytes are written below.
  const b = Buffer.allocUnsafe(16);
  b.writeUInt32LE((c.dw0 ?? 0) >>> 0, 0);
  b.writeUInt32LE((c.dw1 ?? 0) >>> 0, 4);
  b.writeUInt16LE(sqhd & 0xffff, 8);
  b.writeUInt16LE(sqid, 10);
  b.writeUInt16LE(cid, 12);
  const st = c.status;
  b.writeUInt16LE(((st.sc & 0xff) << 1) | ((st.sct & 7) << 9) | (st.dnr ? 1 << 15 : 0), 14);
  return b;
}

/** Reads the status back out of a CQE (for tests and logs): SCT, SC, DNR. */
export function decodeCqeStatus(cqe: Uint8Array): Status & { cid: number; dw0: number } {
  const v = Buffer.from(cqe.buffer, cqe.byteOffset, 16);
  const sf = v.readUInt16LE(14);
  return { sct: (sf >> 9) & 7, sc: (sf >> 1) & 0xff, dnr: (sf & 0x8000) !== 0, cid: v.readUInt16LE(12), dw0: v.readUInt32LE(0) };
}
