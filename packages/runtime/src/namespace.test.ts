// RuntimeNamespace turns the driver's call shapes into the runtime's one way in: these
// tests check what it hands over for each command (opcode, LBA, flags, pieces) and what it
// refuses, with a fake runtime and a fake driver Namespace (no device: pure logic).

import { describe, expect, it } from 'vitest';
import { VfioError } from '@vfio-node/core';
import { NvmOpcode, ONCS, RW_FUA, WRITE_ZEROES_DEAC, type Namespace } from '@vfio-node/nvme';
import { RuntimeNamespace, type RuntimeSubmit } from './namespace.js';

type Call = unknown[];

function make(oncs = ONCS.WriteZeroes | ONCS.DatasetManagement, allocated = new Map<ArrayBuffer, number>()): { ns: RuntimeNamespace; calls: Call[]; checks: string[] } {
  const calls: Call[] = [];
  // The driver's buffer checks, and for each transfer whether the runtime is told to retain registered memory.
  const checks: string[] = [];
  const driver = {
    nsid: 3,
    blockSize: 512,
    blocks: 1000n,
    size: 512_000n,
    checkRange(lba: number | bigint, blocks: number): number {
      const n = Number(lba);
      if (n + blocks > 1000) throw new VfioError({ code: 'ERR_NVME_LBA_OUT_OF_RANGE', message: 'beyond' });
      return n;
    },
    checkBuffer(buffer: Uint8Array, blocks: number): number {
      checks.push('checkBuffer');
      if (buffer.byteLength < blocks * 512) throw new VfioError({ code: 'ERR_NVME_BUFFER_TOO_SMALL', message: 'small' });
      return 0x10000;
    },
  } as unknown as Namespace;
  const rt: RuntimeSubmit = {
    submit: (...args) => {
      calls.push(['submit', ...args.slice(1, 8), args[8] !== null]);
      if (args[8] !== null) checks.push(args[10] ? 'registered' : 'allocated');
      return Promise.resolve();
    },
    submitBatch: (_ns, opcode, slbas, blocks, iovas, count, maxBlocks, flags, what, buffers, _signal, registered) => {
      calls.push(['batch', opcode, [...slbas], blocks, [...iovas], count, maxBlocks, flags, what, buffers.length, registered?.length ?? 0]);
      return Promise.resolve();
    },
    submitDatasetManagement: (_ns, ranges) => {
      calls.push(['dsm', ranges]);
      return Promise.resolve();
    },
    // The allocator's memory: the ArrayBuffers in `allocated`, at the IOVAs given there.
    dma: { iovaOf: (view) => { const base = allocated.get(view.buffer as ArrayBuffer); return base === undefined ? -1 : base + view.byteOffset; } },
    oncs,
    address: '0000:00:04.0',
    maxTransfer: 128 * 1024,
  };
  return { ns: new RuntimeNamespace(rt, driver), calls, checks };
}

describe('RuntimeNamespace', () => {
  it('read and write: the driver\'s checks, MDTS pieces of 256 blocks (128 KiB of 512-byte blocks), FUA in CDW12 bit 30', async () => {
    const { ns, calls } = make();
    const buf = new Uint8Array(4096);
    await ns.read(10n, 8, buf);
    await ns.write(20, 8, buf, { fua: true });
    expect(calls).toEqual([
      ['submit', NvmOpcode.Read, 10, 8, 0x10000, 256, 0, 'Read', true],
      ['submit', NvmOpcode.Write, 20, 8, 0x10000, 256, RW_FUA, 'Write', true],
    ]);
  });

  it('readAt and writeAt turn byte offsets into LBAs, and refuse misaligned ones with ERR_MISALIGNED', async () => {
    const { ns, calls } = make();
    const buf = new Uint8Array(1024);
    await ns.readAt(2048, buf);
    await ns.writeAt(512n, buf);
    expect(calls.map((c) => [c[1], c[2], c[3]])).toEqual([[NvmOpcode.Read, 4, 2], [NvmOpcode.Write, 1, 2]]);
    await expect(ns.readAt(100, buf)).rejects.toMatchObject({ code: 'ERR_MISALIGNED' });
    await expect(ns.writeAt(0, new Uint8Array(100))).rejects.toMatchObject({ code: 'ERR_MISALIGNED' });
  });

  it('refusals reject (as the driver\'s do), never throw', async () => {
    const { ns, calls } = make();
    const p = ns.read(999, 2, new Uint8Array(1024));
    await expect(p).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
    await expect(ns.write(0, 4, new Uint8Array(1024))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_TOO_SMALL' });
    expect(calls).toEqual([]);
  });

  it('flush: opcode 00h, slba 0, one block, no data', async () => {
    const { ns, calls } = make();
    await ns.flush();
    expect(calls).toEqual([['submit', NvmOpcode.Flush, 0, 1, 0, 1, 0, 'Flush', false]]);
  });

  it('writeZeroes: DEAC (CDW12 bit 25) and FUA (bit 30), pieces of at most 65536 blocks, no data', async () => {
    const { ns, calls } = make();
    await ns.writeZeroes(5, 100, { deallocate: true, fua: true });
    await ns.writeZeroes(5, 1);
    expect(calls).toEqual([
      ['submit', NvmOpcode.WriteZeroes, 5, 100, 0, 65536, WRITE_ZEROES_DEAC | RW_FUA, 'Write Zeroes', false],
      ['submit', NvmOpcode.WriteZeroes, 5, 1, 0, 65536, 0, 'Write Zeroes', false],
    ]);
    expect(WRITE_ZEROES_DEAC).toBe(1 << 25);
    expect(RW_FUA).toBe(1 << 30);
  });

  it('deallocate: the ranges checked against NSZE, at least one', async () => {
    const { ns, calls } = make();
    await ns.deallocate([{ lba: 1, blocks: 2 }, { lba: 100n, blocks: 8 }]);
    expect(calls).toEqual([['dsm', [[1, 2], [100, 8]]]]);
    await expect(ns.deallocate([])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ns.deallocate([{ lba: 999, blocks: 2 }])).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });

  it('Write Zeroes and Dataset Management need their ONCS bits, refused with the driver\'s ERR_NVME_UNSUPPORTED_COMMAND', async () => {
    const { ns, calls } = make(0);
    await expect(ns.writeZeroes(0, 1)).rejects.toMatchObject({ code: 'ERR_NVME_UNSUPPORTED_COMMAND', message: expect.stringContaining('Write Zeroes') });
    await expect(ns.deallocate([{ lba: 0, blocks: 1 }])).rejects.toMatchObject({ code: 'ERR_NVME_UNSUPPORTED_COMMAND', message: expect.stringContaining('Dataset Management') });
    expect(calls).toEqual([]);
  });

  it('takes the IOVA of allocator memory with one lookup (no driver check, nothing to retain); other buffers go through the driver\'s check', async () => {
    const mem = new ArrayBuffer(8192);
    const { ns, calls, checks } = make(undefined, new Map([[mem, 0x200000]]));
    await ns.read(1, 8, new Uint8Array(mem, 4096, 4096));
    expect(calls).toEqual([['submit', NvmOpcode.Read, 1, 8, 0x200000 + 4096, 256, 0, 'Read', true]]);
    expect(checks).toEqual(['allocated']);
    // Too small for 16 blocks: the driver's check refuses it, with its error.
    await expect(ns.read(1, 16, new Uint8Array(mem, 4096, 4096))).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_TOO_SMALL' });
    // Not dword-aligned: the driver's check decides (this fake driver accepts it as registered memory).
    await ns.write(2, 1, new Uint8Array(mem, 2, 512));
    // Not the allocator's: the driver's check, and the runtime retains it.
    await ns.read(3, 1, new Uint8Array(512));
    expect(checks).toEqual(['allocated', 'checkBuffer', 'checkBuffer', 'registered', 'checkBuffer', 'registered']);
    expect(calls.slice(1).map((c) => c[4])).toEqual([0x10000, 0x10000]);
  });

  it('readBatch and writeBatch: each LBA checked, each buffer\'s IOVA (allocator memory with one lookup, other buffers through the driver\'s check and listed to retain), one submitBatch', async () => {
    const mem = new ArrayBuffer(3 * 4096);
    const { ns, calls, checks } = make(undefined, new Map([[mem, 0x200000]]));
    const bufs = [0, 1, 2].map((i) => new Uint8Array(mem, i * 4096, 4096));
    await ns.readBatch([7, 20n, 3], 8, bufs);
    await ns.writeBatch([1, 2], 8, [bufs[0]!, new Uint8Array(4096)], { fua: true });
    expect(calls).toEqual([
      ['batch', NvmOpcode.Read, [7, 20, 3], 8, [0x200000, 0x201000, 0x202000], 3, 256, 0, 'Read', 3, 0],
      ['batch', NvmOpcode.Write, [1, 2], 8, [0x200000, 0x10000], 2, 256, RW_FUA, 'Write', 2, 1],
    ]);
    expect(checks).toEqual(['checkBuffer']);
  });

  it('readBatch refusals reject before anything is submitted: an LBA out of range, a buffer too small, not one buffer per LBA, an empty batch', async () => {
    const mem = new ArrayBuffer(2 * 4096);
    const { ns, calls } = make(undefined, new Map([[mem, 0x200000]]));
    const bufs = [new Uint8Array(mem, 0, 4096), new Uint8Array(mem, 4096, 4096)];
    await expect(ns.readBatch([0, 995], 8, bufs)).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
    await expect(ns.readBatch([0, 8], 16, bufs)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_TOO_SMALL' });
    await expect(ns.readBatch([0, 8, 16], 8, bufs)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('3 LBAs and 2 buffers') });
    await expect(ns.readBatch([], 8, [])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ns.readBatch([0], 8, 'x' as unknown as Uint8Array[])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    expect(calls).toEqual([]);
  });
});
