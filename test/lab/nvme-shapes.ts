// Shared by the NVMe data tests: every transfer shape the driver builds, written with
// random data and read back. Used once with polled queues and once with MSI-X.
import { randomFillSync, randomInt } from 'node:crypto';
import { expect } from 'vitest';
import type { NvmeController } from '@vfio-node/nvme';

export interface Shape {
  name: string;
  /** Byte offset of the I/O buffer inside a page-aligned DMA allocation. */
  offset: number;
  blocks: number;
  sgl?: boolean;
}

/** The shapes, for 512-byte blocks and 4 KiB memory pages, with MDTS 7 (512 KiB per command). */
export function shapes(blockSize: number, maxTransfer: number): Shape[] {
  const b = (bytes: number) => Math.ceil(bytes / blockSize);
  return [
    { name: 'one block, PRP1 only', offset: 0, blocks: 1 },
    { name: 'one page, PRP1 only', offset: 0, blocks: b(4096) },
    { name: 'crossing one page boundary at offset 8 (PRP2 = next page)', offset: 8, blocks: b(4096) },
    { name: 'two whole pages (PRP2 = next page)', offset: 0, blocks: b(8192) },
    { name: '8 KiB + one block at offset 16 (PRP list of 2 entries)', offset: 16, blocks: b(8192) + 1 },
    { name: '256 KiB at offset 4 (PRP list of 64 entries)', offset: 4, blocks: b(256 * 1024) },
    { name: 'exactly MDTS', offset: 0, blocks: b(maxTransfer) },
    { name: 'larger than MDTS (split into 5 commands)', offset: 4, blocks: b(4 * maxTransfer) + 3 },
    { name: 'SGL data block at a byte offset of 3', offset: 3, blocks: b(12 * 1024) + 1, sgl: true },
    { name: 'SGL larger than MDTS', offset: 0, blocks: b(2 * maxTransfer) + 1, sgl: true },
  ];
}

/** Writes random data with each shape at a random LBA, reads it back into a zeroed buffer and compares. */
export async function checkEveryShape(ctrl: NvmeController): Promise<void> {
  const ns = ctrl.namespace(1);
  const max = Math.max(...shapes(ns.blockSize, ctrl.maxTransfer).map((s) => s.offset + s.blocks * ns.blockSize));
  const src = ctrl.allocBuffer(max + 4096);
  const dst = ctrl.allocBuffer(max + 4096);
  try {
    for (const s of shapes(ns.blockSize, ctrl.maxTransfer)) {
      const bytes = s.blocks * ns.blockSize;
      const lba = randomInt(0, Number(ns.blocks) - s.blocks);
      const w = src.bytes.subarray(s.offset, s.offset + bytes);
      const r = dst.bytes.subarray(s.offset, s.offset + bytes);
      randomFillSync(w);
      r.fill(0);
      await ns.write(lba, s.blocks, w, { sgl: s.sgl });
      await ns.read(lba, s.blocks, r, { sgl: s.sgl });
      expect(Buffer.compare(w, r), `${s.name} (lba ${lba}, ${s.blocks} blocks)`).toBe(0);
    }
  } finally {
    src.release();
    dst.release();
  }
}

/** Many concurrent 4 KiB writes at random distinct LBAs, then concurrent reads, all compared. */
export async function checkManyLbas(ctrl: NvmeController, count = 256): Promise<void> {
  const ns = ctrl.namespace(1);
  const per = 4096 / ns.blockSize;
  const src = ctrl.allocBuffer(count * 4096);
  const dst = ctrl.allocBuffer(count * 4096);
  try {
    randomFillSync(src.bytes);
    const slots = Number(ns.blocks) / per;
    const lbas = new Set<number>();
    while (lbas.size < count) lbas.add(randomInt(0, slots) * per);
    const list = [...lbas];
    await Promise.all(list.map((lba, i) => ns.write(lba, per, src.bytes.subarray(i * 4096, (i + 1) * 4096))));
    await Promise.all(list.map((lba, i) => ns.read(lba, per, dst.bytes.subarray(i * 4096, (i + 1) * 4096))));
    for (let i = 0; i < count; i++) {
      expect(Buffer.compare(src.bytes.subarray(i * 4096, (i + 1) * 4096), dst.bytes.subarray(i * 4096, (i + 1) * 4096)), `LBA ${list[i]}`).toBe(0);
    }
  } finally {
    src.release();
    dst.release();
  }
}
