// Passthrough without a device: the checks (each refusal's code and message), the entry
// it builds (exact dwords, PRPs, a PRP list of its own where the admin queue has none),
// and the completion it returns (DW0, DW1) from a completion queue the test writes.
import { describe, expect, it } from 'vitest';
import type { DmaAllocator } from '@vfio-node/core';
import { CommandQueue } from './command-queue.js';
import { MANAGED_ADMIN_OPCODES, checkPassthru, fillPassthru, opcodeDirection, runPassthru, type PassthruCommand } from './passthru.js';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';
import { encodeStatus, NvmeStatusError } from './status.js';

const MAX = 128 * 1024;

function refusal(command: unknown, admin = true): { code: string; message: string } {
  try {
    checkPassthru(command as PassthruCommand, admin, MAX);
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('not refused');
}

describe('checkPassthru', () => {
  it('accepts a command and fills in defaults: no data is direction none, data takes the opcode bits', () => {
    const c = checkPassthru({ opcode: 0x06, cdw10: 1, data: 4096 }, true, MAX);
    expect(c).toMatchObject({ opcode: 6, nsid: 0, direction: 'read', length: 4096, buffer: null, timeoutMs: 0 });
    expect(c.cdw).toEqual({ 2: 0, 3: 0, 10: 1, 11: 0, 12: 0, 13: 0, 14: 0, 15: 0 });
    expect(checkPassthru({ opcode: 0x09, cdw10: 6, cdw11: 1 }, true, MAX).direction).toBe('none');
    expect(checkPassthru({ opcode: 0x01, nsid: 1, data: 512 }, false, MAX).direction).toBe('write');
    expect(checkPassthru({ opcode: 0xff, cdw15: 0xffffffff, nsid: 0xffffffff }, false, MAX).cdw[15]).toBe(0xffffffff);
  });

  it('refuses fields out of range, naming the field', () => {
    expect(refusal({ opcode: 256 })).toEqual({ code: 'ERR_NVME_PASSTHRU_INVALID', message: 'passthrough command: invalid opcode 256 (0x100) (expected an integer from 0 to 255 (0xff))' });
    expect(refusal({ opcode: -1 }).code).toBe('ERR_NVME_PASSTHRU_INVALID');
    expect(refusal({ opcode: 1.5 }).message).toContain('invalid opcode 1.5');
    expect(refusal({}).message).toContain('invalid opcode undefined');
    expect(refusal(null).message).toContain('invalid command null');
    expect(refusal({ opcode: 6, cdw10: 0x1_0000_0000 }).message).toBe('passthrough command: invalid cdw10 4294967296 (0x100000000) (expected a 32-bit unsigned integer, 0 to 0xffffffff)');
    expect(refusal({ opcode: 6, cdw3: -1 }).message).toContain('invalid cdw3 -1');
    expect(refusal({ opcode: 6, nsid: '1' }).message).toContain("invalid nsid '1'");
    expect(refusal({ opcode: 6, timeoutMs: 0 }).message).toContain('invalid timeoutMs 0');
    expect(refusal({ opcode: 6, direction: 'in' }).message).toContain("invalid direction 'in' (expected 'none', 'read' or 'write')");
    expect(refusal({ opcode: 6, data: 'abc' }).message).toContain("invalid data 'string' (expected a Uint8Array of DMA memory or a byte length)");
  });

  it('refuses the admin commands the driver manages, saying why, and lets the same opcodes through on an I/O queue', () => {
    for (const opcode of [0x00, 0x01, 0x04, 0x05, 0x08, 0x0c, 0x7c]) {
      const r = refusal({ opcode });
      expect(r.code).toBe('ERR_NVME_PASSTHRU_MANAGED_OPCODE');
      expect(r.message).toContain(`(${MANAGED_ADMIN_OPCODES.get(opcode)!.name}) refused: the driver manages it itself, and `);
    }
    expect(refusal({ opcode: 0x00 }).message).toBe(
      'passthrough of admin opcode 00h (Delete I/O Submission Queue) refused: the driver manages it itself, and deleting one of its queues would fail every command on it and leave it posting to a queue that is gone',
    );
    expect(checkPassthru({ opcode: 0x01, nsid: 1, data: 512 }, false, MAX).opcode).toBe(1); // Write on an I/O queue
  });

  it('refuses a data direction against the opcode bits 1:0 unless forced', () => {
    expect(opcodeDirection(0x06)).toBe('read');
    expect(opcodeDirection(0x09)).toBe('write');
    expect(opcodeDirection(0x80)).toBe('none');
    expect(opcodeDirection(0x03)).toBe('bidirectional');
    const r = refusal({ opcode: 0x06, data: 4096, direction: 'write' });
    expect(r).toEqual({ code: 'ERR_NVME_PASSTHRU_DIRECTION', message: "passthrough opcode 06h: data direction 'write' disagrees with the opcode's data transfer bits 1:0 (10b: controller to host, 'read')" });
    expect(checkPassthru({ opcode: 0x06, data: 4096, direction: 'write', force: true }, true, MAX).direction).toBe('write');
    // 00b with data: refused without force; with force the direction must be said.
    expect(refusal({ opcode: 0xc0, data: 512, direction: 'read' }).code).toBe('ERR_NVME_PASSTHRU_DIRECTION');
    expect(refusal({ opcode: 0xc0, data: 512, force: true }).message).toContain("invalid direction undefined (expected 'read' or 'write': opcode c0h's bits 1:0 (00b, no data)");
    expect(checkPassthru({ opcode: 0xc0, data: 512, direction: 'read', force: true }, true, MAX).direction).toBe('read');
    // Data and direction must agree with each other.
    expect(refusal({ opcode: 0x06, direction: 'read' }).message).toContain("direction 'read' moves data");
    expect(refusal({ opcode: 0x06, data: 4096, direction: 'none' }).message).toContain('the command has 4096 bytes of data');
  });

  it('refuses a transfer beyond MDTS, which a raw command cannot split', () => {
    expect(refusal({ opcode: 0x02, nsid: 1, data: MAX + 4 }, false)).toEqual({
      code: 'ERR_NVME_TRANSFER_TOO_LARGE',
      message: `passthrough opcode 2h: ${MAX + 4} bytes is more than the controller transfers in one command (${MAX} bytes, from MDTS), and a raw command cannot be split`,
    });
    expect(checkPassthru({ opcode: 0x02, nsid: 1, data: MAX }, false, MAX).length).toBe(MAX);
  });
});

describe('fillPassthru', () => {
  it('writes opcode, CID, NSID and the command dwords where the Common Command Format puts them, and clears the rest', () => {
    const u32 = new Uint32Array(32).fill(0xdeadbeef);
    const c = checkPassthru({ opcode: 0x86, nsid: 7, cdw2: 2, cdw3: 3, cdw10: 10, cdw11: 11, cdw12: 12, cdw13: 13, cdw14: 14, cdw15: 0xffffffff }, true, MAX);
    fillPassthru(u32, 16, 0x1234, c);
    expect([...u32.subarray(16, 32)]).toEqual([0x1234_0086, 7, 2, 3, 0, 0, 0, 0, 0, 0, 10, 11, 12, 13, 14, 0xffffffff]);
    expect(u32[15]).toBe(0xdeadbeef); // the entry before is untouched
  });
});

// ---- runPassthru on a queue pair in plain memory --------------------------------------

function fakeDma() {
  let next = 0x10_0000;
  const owned = new Map<ArrayBufferLike, bigint>();
  const allocated: number[] = [];
  const retained = { count: 0 };
  const dma = {
    alloc(size: number) {
      const bytes = new Uint8Array(size);
      const iova = BigInt(next);
      owned.set(bytes.buffer, iova);
      allocated.push(size);
      next += Math.ceil(size / 4096) * 4096;
      return { bytes, iova, size, view: new DataView(bytes.buffer), offset: 0, iovaAt: (o: number) => iova + BigInt(o), release() {} };
    },
    translate(view: Uint8Array) {
      const base = owned.get(view.buffer);
      return base === undefined ? undefined : base + BigInt(view.byteOffset);
    },
    refusal: () => 'it is not DMA memory of this device',
    /** Like the allocator's: a release function for the view while a command uses it (counted here). */
    retain(view: Uint8Array) {
      if (!owned.has(view.buffer)) return undefined;
      retained.count++;
      return () => {
        retained.count--;
      };
    },
  };
  return { dma: dma as unknown as DmaAllocator, allocated, retained };
}

function queue(qid: number, maxTransfer: number) {
  const { dma, allocated, retained } = fakeDma();
  const bar = new ArrayBuffer(0x2000);
  const qp = new QueuePair({ qid, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer, dma, bar: { mapping: { buffer: bar } }, completion: 'poll', handle: fakeQueueHandle });
  const q = new CommandQueue(qp, '0000:00:03.0');
  const sq = new Uint32Array(qp.sq.bytes.buffer, qp.sq.bytes.byteOffset, qp.sq.size / 4);
  const cq = new DataView(qp.cq.bytes.buffer, qp.cq.bytes.byteOffset, qp.cq.size);
  /** Completes the entry in SQ slot `slot` through CQ slot `slot` (phase 1), as a controller does. */
  const complete = (slot: number, status: number, dw0: number, dw1: number) => {
    cq.setUint32(slot * 16, dw0, true);
    cq.setUint32(slot * 16 + 4, dw1, true);
    cq.setUint16(slot * 16 + 8, slot + 1, true);
    cq.setUint16(slot * 16 + 10, qid, true);
    cq.setUint16(slot * 16 + 12, sq[slot * 16]! >>> 16, true);
    cq.setUint16(slot * 16 + 14, (status << 1) | 1, true);
  };
  return { qp, q, dma, allocated, retained, sq, complete };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('runPassthru', () => {
  it('returns DW0 and DW1 of the completion and a copy of the data it allocated; the timeout goes to the watchdog', async () => {
    const { qp, q, dma, sq, complete } = queue(0, 8192);
    const run = runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: 128 * 1024, admin: true }, { opcode: 0x06, cdw10: 1, data: 4096, timeoutMs: 60_000 });
    await turn();
    expect(sq[0]! & 0xff).toBe(0x06);
    const cid = sq[0]! >>> 16;
    expect(qp.requests.timeoutMs[cid]).toBe(60_000);
    expect(sq[10]).toBe(1);
    expect(sq[6]! % 4096).toBe(0); // PRP1: the page the driver allocated
    complete(0, 0, 0xcafe, 0xbeef0001);
    const r = await run;
    expect(r).toMatchObject({ dw0: 0xcafe, dw1: 0xbeef0001, status: 0 });
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(r.data!.length).toBe(4096);
  });

  it('uses a DMA buffer it is given, and refuses one that is not DMA memory', async () => {
    const { q, dma, sq, complete, retained } = queue(1, 128 * 1024);
    const mem = dma.alloc(8192);
    const buf = mem.bytes.subarray(512, 512 + 1024);
    const run = runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: 128 * 1024, admin: false }, { opcode: 0x02, nsid: 1, cdw10: 0, cdw12: 1, data: buf });
    await turn();
    expect(sq[1]).toBe(1); // NSID
    expect(sq[6]).toBe(Number(mem.iova) + 512); // PRP1
    expect(sq[8]).toBe(0); // PRP2: the data ends in the first page
    expect(retained.count).toBe(1); // the caller's memory is held while the command runs
    complete(0, 0, 0, 0);
    expect((await run).data).toBe(buf);
    expect(retained.count).toBe(0); // and let go when it ends
    await expect(runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: MAX, admin: false }, { opcode: 0x02, nsid: 1, data: new Uint8Array(512) })).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    await expect(runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: MAX, admin: false }, { opcode: 0x02, nsid: 1, data: mem.bytes.subarray(2, 514) })).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_MISALIGNED' });
  });

  it('brings a PRP list of its own when the per-CID list of the queue is too short (one page holds 512 entries)', async () => {
    const { q, dma, sq, complete, allocated } = queue(0, 8192);
    const bytes = 2 * 1024 * 1024 + 8192; // 514 pages: PRP1 and 513 list entries, two list pages
    const run = runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: 4 * 1024 * 1024, admin: true }, { opcode: 0xc2, data: bytes });
    await turn();
    expect(allocated.slice(-2)).toEqual([bytes, 8192]); // the data, then two list pages
    const list = Number(sq[8]) + Number(sq[9]) * 2 ** 32;
    expect(list).toBe(0x10_0000 + (allocated.slice(0, -1).reduce((a, n) => a + Math.ceil(n / 4096) * 4096, 0))); // PRP2: the list's IOVA
    complete(0, 0, 0, 0);
    expect((await run).data!.length).toBe(bytes);
  });

  it('rejects with an NvmeStatusError carrying the controller status', async () => {
    const { q, dma, complete } = queue(0, 8192);
    const run = runPassthru({ queue: q, dma, pageSize: 4096, maxTransfer: MAX, admin: true }, { opcode: 0xc3 });
    await turn();
    complete(0, encodeStatus(0, 0x01, true) >>> 1, 0, 0);
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect(err).toMatchObject({ code: 'ERR_NVME_INVALID_COMMAND_OPCODE', sct: 0, sc: 1, dnr: true });
    expect((err as Error).message).toMatch(/^Admin passthrough \(opcode c3h\) failed: Invalid Command Opcode/);
  });
});
