// readv/writev: one NVM Read or Write whose data lies in several buffers, described by a
// PRP list that spans them or, where PRPs cannot (a buffer that starts or ends inside a
// page), by SGL Data Block descriptors when the controller has SGLs (vectored.ts builds
// both). NVM Command Set Specification 1.0 (Read, Write) on the Base Specification 2.0
// data pointers (§4.1.1, §4.1.2).
//
// A vector is one command, never split: more than MDTS (Identify Controller) is refused.
// The per-CID PRP list memory covers the driver's usual transfer size (2 MiB at most);
// a longer vector (MDTS allows more) gets list pages of its own for that command,
// given back when the command ends. Registered caller memory is held (DmaAllocator.retain)
// until the command ends, so releasing a registration waits for it.

import type { DmaMemory } from '@vfio-node/core';
import { newPending } from './command-queue.js';
import { sqeReadWrite } from './commands.js';
import type { NvmeController } from './controller.js';
import { sglUnsupported, vectorBufferNotDma, vectorInvalid, vectorMisaligned, vectorTooLarge } from './errors.js';
import type { PrpListPages } from './prp.js';
import { prpVectorListPages, prpVectorProblem, setPrpsVectored, setSglVectored, sglSegmentPages, type IoSegment } from './vectored.js';

/** NLB is 16 bits, 0's based: at most 65536 blocks per command. */
const MAX_NLB = 65536;

/** What a vectored request needs of its namespace. */
export interface VectorTarget {
  readonly nsid: number;
  readonly blockSize: number;
  checkRange(lba: number | bigint, blocks: number): number;
}

/** The largest transfer one command may carry by MDTS (Identify Controller; 0 = no limit), bytes. */
export function mdtsBytes(ctrl: NvmeController): number {
  const mdts = ctrl.identify.mdts;
  return mdts > 0 ? 2 ** mdts * ctrl.cap.mpsMinBytes : Infinity;
}

const NAMES: Record<number, string> = { 0x01: 'Write', 0x02: 'Read' };

/**
 * Checks a vector, builds its command and runs it on the first I/O queue pair; resolves
 * when it completed. Rejects (never throws) with the errors of the checks.
 */
export function runVectored(ctrl: NvmeController, ns: VectorTarget, opcode: number, lba: number | bigint, buffers: Uint8Array[], cdw12: number, sgl: boolean | undefined): Promise<void> {
  let cleanup: (() => void) | null = null;
  try {
    if (!Array.isArray(buffers) || buffers.length === 0) throw vectorInvalid('buffers must be a non-empty array of Uint8Arrays');
    const dma = ctrl.device.dma;
    const segments: IoSegment[] = [];
    let total = 0;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (!ArrayBuffer.isView(b)) throw vectorInvalid(`buffer ${i} is ${typeof b}, not a Uint8Array`);
      const iova = dma.translate(b);
      if (iova === undefined) throw vectorBufferNotDma(i, dma.refusal(b));
      if (b.byteLength === 0) throw vectorInvalid(`buffer ${i} is empty`);
      segments.push({ iova: Number(iova), length: b.byteLength });
      total += b.byteLength;
    }
    if (total % ns.blockSize !== 0) throw vectorInvalid(`the buffers hold ${total} bytes in all, not a multiple of the block size ${ns.blockSize}`);
    const blocks = total / ns.blockSize;
    const slba = ns.checkRange(lba, blocks);
    const mdts = mdtsBytes(ctrl);
    if (total > mdts) throw vectorTooLarge(total, mdts, `MDTS ${ctrl.identify.mdts}`);
    if (blocks > MAX_NLB) throw vectorTooLarge(total, MAX_NLB * ns.blockSize, 'NLB counts at most 65536 blocks');

    // PRPs or SGLs: asked for, or SGLs only where PRPs cannot describe the vector.
    const sgls = ctrl.identify.sgls;
    const hasSgl = (sgls & 3) !== 0;
    const pageSize = ctrl.pageSize;
    let useSgl = sgl ?? ctrl.useSgl;
    if (useSgl && !hasSgl) throw sglUnsupported(ctrl.address, sgls);
    if (!useSgl) {
      const problem = prpVectorProblem(segments, pageSize);
      if (problem) {
        if (!hasSgl || sgl === false) throw vectorMisaligned(problem.index, problem.why, pageSize, hasSgl);
        useSgl = true;
      }
    }
    if (useSgl && (sgls & 3) === 2) {
      // SGLS 10b: SGLs with a dword alignment and granularity requirement.
      const bad = segments.findIndex((s) => s.iova % 4 !== 0 || s.length % 4 !== 0);
      if (bad >= 0) throw vectorMisaligned(bad, 'is not dword aligned in address and length, as this controller\'s SGLs require (SGLS 10b)', pageSize, false);
    }

    const q = ctrl.ioQueue();
    const need = useSgl ? sglSegmentPages(segments.length, pageSize) : prpVectorListPages(segments, pageSize);
    let own: DmaMemory | null = null;
    let ownList: PrpListPages | null = null;
    if (need > q.qp.prpList(0).pages) {
      own = dma.alloc(need * pageSize, { align: pageSize, internal: true });
      const m = own;
      ownList = { u32: new Uint32Array(m.bytes.buffer, m.bytes.byteOffset, m.size / 4), dw: 0, iova: Number(m.iova), pages: need };
    }
    // Each buffer stays mapped (registered memory) or out of reuse (allocator memory) until the command ends.
    const holds = buffers.map((b) => dma.hold(b));
    cleanup = () => {
      for (const done of holds) done();
      own?.release();
    };
    const p = newPending();
    p.name = `${NAMES[opcode] ?? `opcode ${opcode}`} of ${buffers.length} buffers (${total} bytes) of nsid ${ns.nsid} at LBA ${slba}`;
    const nsid = ns.nsid;
    p.fill = (u32, sqe, cid) => {
      sqeReadWrite(u32, sqe, opcode, cid, nsid, slba, blocks, cdw12);
      const list = ownList ?? q.qp.prpList(cid);
      if (useSgl) setSglVectored(u32, sqe, segments, pageSize, list);
      else setPrpsVectored(u32, sqe, segments, pageSize, list);
    };
    const done = cleanup;
    cleanup = null;
    return q.run(p).then(
      () => {
        done();
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
  } catch (err) {
    cleanup?.();
    return Promise.reject(err);
  }
}
