// Data pointers: PRP entries and lists, and SGL Data Block descriptors.
// NVM Express Base Specification 2.0, "Physical Region Page Entry and List" and
// "Scatter Gather List (SGL)".
//
// PRP rules, in short. A PRP entry is a 64-bit memory address whose low bits
// (within the memory page size CC.MPS) are an offset; only the first entry of a
// command may have a non-zero offset, and offsets must be dword aligned (bits 1:0
// zero). PRP1 points at the first byte. If the data ends in that first page, PRP2
// is unused (0). If it ends in the next page, PRP2 is that page. Otherwise PRP2 is
// the address of a PRP List: page-aligned entries, one per further page; when a list
// page fills up and more entries follow, its last entry points at the next list page.
//
// Everything here writes into typed arrays and allocates nothing.

import { SQE, PSDT_SGL_MPTR_CONTIGUOUS } from './commands.js';

const TWO_32 = 0x1_0000_0000;

/** PRP list memory preallocated for one command: `pages` pages of pageSize bytes. */
export interface PrpListPages {
  /** A dword view of the memory holding the list pages. */
  u32: Uint32Array;
  /** Dword index in u32 of the first list page. */
  dw: number;
  /** IOVA of the first list page (page aligned). */
  iova: number;
  /** How many list pages there are. */
  pages: number;
}

/** Number of PRP list pages a transfer of up to maxBytes (at any dword offset) can need. */
export function prpListPagesFor(maxBytes: number, pageSize: number): number {
  // Worst case: a non-zero offset makes the data touch ceil(maxBytes / pageSize) + 1 pages,
  // the first of which is PRP1; the rest are list entries.
  const entries = Math.ceil(maxBytes / pageSize);
  const perPage = pageSize / 8;
  if (entries <= 1) return 0;
  if (entries <= perPage) return 1;
  // Each full page but the last gives up its last slot to the chain pointer.
  return Math.ceil((entries - 1) / (perPage - 1));
}

/** Writes a 64-bit little-endian entry as two dwords. */
export function put64(u32: Uint32Array, dw: number, value: number): void {
  u32[dw] = value % TWO_32;
  u32[dw + 1] = Math.floor(value / TWO_32);
}

/**
 * Writes PRP1 and PRP2 (and the PRP list, when one is needed) for `length` bytes at
 * IOVA `addr` into the submission queue entry at dword `sqe` of `sqeU32`.
 * Returns the number of PRP list entries written (0 when no list was needed).
 * Throws RangeError when addr is not dword aligned, length is 0, or the list pages are too few.
 */
export function setPrps(sqeU32: Uint32Array, sqe: number, addr: number, length: number, pageSize: number, list: PrpListPages | null): number {
  if (addr % 4 !== 0) throw new RangeError(`PRP1 ${addr.toString(16)} is not dword aligned`);
  if (!(length > 0)) throw new RangeError(`PRP transfer length ${length}`);
  const offset = addr % pageSize;
  const first = pageSize - offset;
  const prp1Dw = sqe + SQE.PRP1 / 4;
  const prp2Dw = sqe + SQE.PRP2 / 4;
  put64(sqeU32, prp1Dw, addr);
  if (length <= first) {
    put64(sqeU32, prp2Dw, 0);
    return 0;
  }
  const rest = length - first;
  const next = addr - offset + pageSize;
  if (rest <= pageSize) {
    put64(sqeU32, prp2Dw, next);
    return 0;
  }
  const entries = Math.ceil(rest / pageSize);
  if (list === null || prpListPagesFor(entries * pageSize, pageSize) > list.pages) {
    throw new RangeError(`a ${length}-byte transfer needs ${entries} PRP list entries; only ${list ? list.pages : 0} list page(s) available`);
  }
  put64(sqeU32, prp2Dw, list.iova);
  const perPage = pageSize / 8;
  const pageDwords = pageSize / 4;
  let page = 0;
  let slot = 0;
  const u32 = list.u32;
  for (let i = 0; i < entries; i++) {
    if (slot === perPage - 1 && i < entries - 1) {
      // The last entry of a full list page points at the next list page.
      put64(u32, list.dw + page * pageDwords + 2 * slot, list.iova + (page + 1) * pageSize);
      page++;
      slot = 0;
    }
    put64(u32, list.dw + page * pageDwords + 2 * slot, next + i * pageSize);
    slot++;
  }
  return entries;
}

/** Reads a 64-bit little-endian entry stored as two dwords (for tests and traces). */
export function get64(u32: Uint32Array, dw: number): number {
  return u32[dw]! + u32[dw + 1]! * TWO_32;
}

// ---- SGL ---------------------------------------------------------------------------

/** SGL descriptor size (16 bytes) and SGL Identifier byte (type in bits 7:4, sub type 3:0). */
export const SGL_DESCRIPTOR_SIZE = 16;
/** SGL descriptor types (the SGL Identifier's bits 7:4). */
export const SglType = {
  DataBlock: 0x0,
  BitBucket: 0x1,
  Segment: 0x2,
  LastSegment: 0x3,
} as const;

/** Writes one SGL descriptor (Address, Length, SGL Identifier) at dword dw of u32. */
export function writeSglDescriptor(u32: Uint32Array, dw: number, type: number, addr: number, length: number): void {
  put64(u32, dw, addr);
  u32[dw + 2] = length >>> 0;
  // Bytes 14:12 reserved; byte 15 the SGL Identifier, sub type 0h (Address).
  u32[dw + 3] = ((type & 0xf) << 28) >>> 0;
}

/**
 * Uses SGL1 in the entry as one SGL Data Block descriptor for `length` bytes at `addr`
 * and sets CDW0.PSDT to 01b (SGLs for data). SGLs need no page alignment at all
 * (Identify Controller SGLS bits 1:0 = 01b) and one descriptor covers any contiguous buffer.
 */
export function setSglDataBlock(sqeU32: Uint32Array, sqe: number, addr: number, length: number): void {
  sqeU32[sqe] = ((sqeU32[sqe]! & ~(3 << 14)) | (PSDT_SGL_MPTR_CONTIGUOUS << 14)) >>> 0;
  writeSglDescriptor(sqeU32, sqe + SQE.PRP1 / 4, SglType.DataBlock, addr, length);
}

/**
 * Uses SGL1 as a Last Segment descriptor pointing at `count` Data Block descriptors
 * already written at `segmentIova` (for scattered buffers).
 */
export function setSglLastSegment(sqeU32: Uint32Array, sqe: number, segmentIova: number, count: number): void {
  sqeU32[sqe] = ((sqeU32[sqe]! & ~(3 << 14)) | (PSDT_SGL_MPTR_CONTIGUOUS << 14)) >>> 0;
  writeSglDescriptor(sqeU32, sqe + SQE.PRP1 / 4, SglType.LastSegment, segmentIova, count * SGL_DESCRIPTOR_SIZE);
}
