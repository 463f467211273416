// Data pointers for one command over several buffers (readv/writev): a PRP list that
// spans buffers, or an SGL with a Data Block descriptor per buffer.
// NVM Express Base Specification 2.0, §4.1.1 "Physical Region Page Entry and List" and
// §4.1.2 "Scatter Gather List (SGL)".
//
// PRPs describe memory in whole pages: only PRP1 may carry an offset into its page, and
// every further entry is a page-aligned address of a page that is used from its first
// byte. So in a vector, every buffer but the first must start on a page boundary, and
// every buffer but the last must end on one (prpVectorProblem says which breaks the rule).
// The entries after PRP1 are every page the buffers touch, in order; more than one goes in
// a PRP List, whose full pages chain through their last entry.
//
// SGLs have no such rules: one Data Block descriptor per buffer, in segments of list
// memory. A segment of n descriptors fills a page of pageSize / 16 slots; when more
// follow, its last slot is a Segment (or, for the final segment, Last Segment) descriptor
// pointing at the next (§4.1.2.1: only the last descriptor of a segment may point at
// another segment, and the Last Segment holds data descriptors only).
//
// Not the hot path: these build one command for a caller's vector, and may allocate.

import { SQE, PSDT_SGL_MPTR_CONTIGUOUS } from './commands.js';
import { SGL_DESCRIPTOR_SIZE, SglType, prpListPagesFor, put64, writeSglDescriptor, type PrpListPages } from './prp.js';

/** One buffer of a vector: `length` bytes at IOVA `iova`. */
export interface IoSegment {
  iova: number;
  length: number;
}

/** Why a vector cannot be described with PRPs: the buffer at `index` and what it breaks. */
export interface PrpVectorProblem {
  index: number;
  why: string;
}

/**
 * The first PRP rule a vector breaks, or null when PRPs can describe it: the first
 * buffer dword aligned, every other starting on a page boundary, every buffer but the
 * last ending on one.
 */
export function prpVectorProblem(segments: readonly IoSegment[], pageSize: number): PrpVectorProblem | null {
  const last = segments.length - 1;
  for (let i = 0; i <= last; i++) {
    const s = segments[i]!;
    if (i === 0 && s.iova % 4 !== 0) return { index: i, why: `starts at IOVA 0x${s.iova.toString(16)}, which is not dword aligned (PRP1 offsets must be)` };
    if (i > 0 && s.iova % pageSize !== 0) return { index: i, why: `starts ${s.iova % pageSize} bytes into a page; every buffer after the first must start on a page boundary (${pageSize} bytes)` };
    if (i < last && (s.iova + s.length) % pageSize !== 0) return { index: i, why: `ends ${(s.iova + s.length) % pageSize} bytes into a page; every buffer before the last must end on a page boundary (${pageSize} bytes)` };
  }
  return null;
}

/** The page addresses after PRP1 that a vector needs (PRP2, or the PRP List entries). */
export function prpVectorPages(segments: readonly IoSegment[], pageSize: number): number[] {
  const pages: number[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const first = s.iova - (s.iova % pageSize);
    for (let a = first; a < s.iova + s.length; a += pageSize) pages.push(a);
  }
  pages.shift(); // the page of PRP1
  return pages;
}

/** PRP list pages a vector needs (0 when PRP1 and PRP2 suffice). */
export function prpVectorListPages(segments: readonly IoSegment[], pageSize: number): number {
  const entries = prpVectorPages(segments, pageSize).length;
  return entries <= 1 ? 0 : prpListPagesFor(entries * pageSize, pageSize);
}

/**
 * Writes PRP1, PRP2 and the (chained) PRP List for a vector into the entry at dword sqe.
 * Returns the number of list entries written (0: no list). Throws RangeError when the
 * vector breaks the PRP rules (check prpVectorProblem first) or the list pages are too few.
 */
export function setPrpsVectored(sqeU32: Uint32Array, sqe: number, segments: readonly IoSegment[], pageSize: number, list: PrpListPages | null): number {
  if (segments.length === 0) throw new RangeError('an empty vector');
  const problem = prpVectorProblem(segments, pageSize);
  if (problem) throw new RangeError(`buffer ${problem.index} ${problem.why}`);
  const pages = prpVectorPages(segments, pageSize);
  put64(sqeU32, sqe + SQE.PRP1 / 4, segments[0]!.iova);
  const prp2Dw = sqe + SQE.PRP2 / 4;
  if (pages.length <= 1) {
    put64(sqeU32, prp2Dw, pages.length === 1 ? pages[0]! : 0);
    return 0;
  }
  const need = prpListPagesFor(pages.length * pageSize, pageSize);
  if (list === null || need > list.pages) {
    throw new RangeError(`the vector needs ${pages.length} PRP list entries on ${need} list page(s); only ${list ? list.pages : 0} available`);
  }
  put64(sqeU32, prp2Dw, list.iova);
  const perPage = pageSize / 8;
  const pageDwords = pageSize / 4;
  let page = 0;
  let slot = 0;
  for (let i = 0; i < pages.length; i++) {
    if (slot === perPage - 1 && i < pages.length - 1) {
      // §4.1.1: the last entry of a full list page points at the next list page.
      put64(list.u32, list.dw + page * pageDwords + 2 * slot, list.iova + (page + 1) * pageSize);
      page++;
      slot = 0;
    }
    put64(list.u32, list.dw + page * pageDwords + 2 * slot, pages[i]!);
    slot++;
  }
  return pages.length;
}

/** SGL segment pages a vector of n buffers needs (0: one Data Block descriptor in SGL1). */
export function sglSegmentPages(n: number, pageSize: number): number {
  if (n <= 1) return 0;
  const perPage = pageSize / SGL_DESCRIPTOR_SIZE;
  return n <= perPage ? 1 : Math.ceil((n - 1) / (perPage - 1));
}

/**
 * Describes a vector with SGLs and sets CDW0.PSDT to 01b: one Data Block descriptor in
 * SGL1 for one buffer, else SGL1 points at segments of Data Block descriptors in the
 * list pages (chained with Segment / Last Segment descriptors). Returns the number of
 * segment pages used. Throws RangeError when the list pages are too few.
 */
export function setSglVectored(sqeU32: Uint32Array, sqe: number, segments: readonly IoSegment[], pageSize: number, list: PrpListPages | null): number {
  const n = segments.length;
  if (n === 0) throw new RangeError('an empty vector');
  sqeU32[sqe] = ((sqeU32[sqe]! & ~(3 << 14)) | (PSDT_SGL_MPTR_CONTIGUOUS << 14)) >>> 0;
  const sgl1 = sqe + SQE.PRP1 / 4;
  if (n === 1) {
    writeSglDescriptor(sqeU32, sgl1, SglType.DataBlock, segments[0]!.iova, segments[0]!.length);
    return 0;
  }
  const pages = sglSegmentPages(n, pageSize);
  if (list === null || pages > list.pages) {
    throw new RangeError(`${n} SGL Data Block descriptors need ${pages} segment page(s); only ${list ? list.pages : 0} available`);
  }
  const perPage = pageSize / SGL_DESCRIPTOR_SIZE;
  const pageDwords = pageSize / 4;
  const descDwords = SGL_DESCRIPTOR_SIZE / 4;
  // Descriptors in each segment page: full pages hold perPage - 1 data descriptors and the pointer.
  const inPage = (p: number) => (p < pages - 1 ? perPage - 1 : n - (pages - 1) * (perPage - 1));
  const pointerType = (p: number) => (p === pages - 1 ? SglType.LastSegment : SglType.Segment);
  writeSglDescriptor(sqeU32, sgl1, pointerType(0), list.iova, inPage(0) * SGL_DESCRIPTOR_SIZE + (pages > 1 ? SGL_DESCRIPTOR_SIZE : 0));
  let k = 0;
  for (let p = 0; p < pages; p++) {
    const base = list.dw + p * pageDwords;
    const count = inPage(p);
    for (let j = 0; j < count; j++, k++) {
      writeSglDescriptor(list.u32, base + j * descDwords, SglType.DataBlock, segments[k]!.iova, segments[k]!.length);
    }
    if (p < pages - 1) {
      const next = p + 1;
      const nextBytes = inPage(next) * SGL_DESCRIPTOR_SIZE + (next < pages - 1 ? SGL_DESCRIPTOR_SIZE : 0);
      writeSglDescriptor(list.u32, base + count * descDwords, pointerType(next), list.iova + next * pageSize, nextBytes);
    }
  }
  return pages;
}
