// The controller properties a Fabrics host reads and writes with Property Get/Set
// (NVMe Base 2.0 §3.1.4 "Controller Properties"; on PCIe these are the BAR0 registers).
// Only CAP, VS, CC and CSTS exist over a fabric that the target serves; the rest read 0.

/** Property offsets (Base 2.0 Figure "Property Definition"). */
export const Property = {
  CAP: 0x00,
  VS: 0x08,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
} as const;

/** A register field: shift and mask (of the field, before the shift). */
export interface Field {
  shift: number;
  mask: number;
}

/** CC fields (§3.1.4.5). */
export const CC = {
  EN: { shift: 0, mask: 0x1 },
  CSS: { shift: 4, mask: 0x7 },
  MPS: { shift: 7, mask: 0xf },
  AMS: { shift: 11, mask: 0x7 },
  SHN: { shift: 14, mask: 0x3 },
  IOSQES: { shift: 16, mask: 0xf },
  IOCQES: { shift: 20, mask: 0xf },
} as const satisfies Record<string, Field>;

/** CSTS fields (§3.1.4.6). */
export const CSTS = {
  RDY: { shift: 0, mask: 0x1 },
  CFS: { shift: 1, mask: 0x1 },
  SHST: { shift: 2, mask: 0x3 },
} as const satisfies Record<string, Field>;

/** Reads a field out of a 32-bit register value. */
export function getField(value: number, f: Field): number {
  return (value >>> f.shift) & f.mask;
}

/** Returns value with field f set to v. */
export function setField(value: number, f: Field, v: number): number {
  return ((value & ~(f.mask << f.shift)) | ((v & f.mask) << f.shift)) >>> 0;
}

/** VS: NVMe 2.0.0 (MJR 2, MNR 0, TER 0, §3.1.4.2). */
export const VS_2_0 = 0x00020000;

/**
 * CAP (§3.1.4.1) for a fabrics controller: MQES (0's based entries per queue), CQR 1
 * (queues are contiguous: always true of a capsule queue), TO in 500 ms units, CSS bit 37
 * (the NVM Command Set), MPSMIN = MPSMAX = 0 (4 KiB).
 */
export function capValue(mqes: number, to: number): bigint {
  return BigInt(mqes & 0xffff) | (1n << 16n) | (BigInt(to & 0xff) << 24n) | (1n << 37n);
}
