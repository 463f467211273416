// Caller memory registered for DMA (ctrl.registerMemory, as spdk_mem_register): written
// and read by QEMU's NVMe in place, through real VFIO; the refusals (misaligned,
// overlapping, past dma_entry_limit, released) and the unmap that waits for a command.
// Run with: node packages/cli/bin/vfio-node.js lab run --nvme size=256M,serial=LABSERIAL --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1 --nics 2 --hugepages 256 -- node_modules/.bin/vitest run --project lab test/lab/dma-register.test.ts
import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, type Namespace } from '@vfio-node/nvme';
import { allocUserMemory, pageAlignedSubarray, type DmaRegistration } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const PAGE = 4096;

describe('memory the program owns, registered for DMA, is read and written by the device in place', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  const regs: DmaRegistration[] = [];
  const register = (view: ArrayBufferView) => {
    const r = ctrl.registerMemory(view);
    regs.push(r);
    return r;
  };
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
    ns = ctrl.namespace(1);
  });
  afterAll(async () => {
    for (const r of regs) r.release();
    await ctrl?.close();
  });

  it('a buffer filled in JavaScript is written from its own memory and read back into another registered buffer', async () => {
    const src = new Uint8Array(allocUserMemory(64 * 1024));
    const dst = new Uint8Array(allocUserMemory(64 * 1024));
    const before = ctrl.device.dma.stats();
    const a = register(src);
    const b = register(dst);
    expect(ctrl.device.dma.stats()).toMatchObject({ registrations: before.registrations + 2, registeredBytes: before.registeredBytes + 128 * 1024, chunks: before.chunks });
    expect(a.bytes).toBe(src); // no copy: the registration is the caller's own view
    expect(a.iova % BigInt(PAGE)).toBe(0n);
    randomFillSync(src);
    await ns.write(30_000, 128, src);
    await ns.read(30_000, 128, dst);
    expect(Buffer.from(dst).equals(Buffer.from(src))).toBe(true);
    // Views inside the registration translate too (a subarray, an offset).
    randomFillSync(src);
    await ns.write(30_010, 8, src.subarray(PAGE, PAGE + 8 * 512));
    await ns.read(30_000, 128, dst);
    expect(Buffer.from(dst.subarray(10 * 512, 18 * 512)).equals(Buffer.from(src.subarray(PAGE, PAGE + 8 * 512)))).toBe(true);
  });

  it('writev from registered memory and allocator memory together, readv into registered memory', async () => {
    const user = new Uint8Array(allocUserMemory(4 * PAGE));
    register(user);
    const dma = ctrl.allocBuffer(2 * PAGE);
    try {
      randomFillSync(user);
      randomFillSync(dma.bytes);
      await ns.writev(31_000, [user.subarray(0, 2 * PAGE), dma.bytes, user.subarray(2 * PAGE)]);
      const back = new Uint8Array(allocUserMemory(6 * PAGE));
      register(back);
      await ns.readv(31_000, [back.subarray(0, 3 * PAGE), back.subarray(3 * PAGE)]);
      const expected = Buffer.concat([user.subarray(0, 2 * PAGE), dma.bytes, user.subarray(2 * PAGE)]);
      expect(Buffer.from(back).equals(expected)).toBe(true);
    } finally {
      dma.release();
    }
  });

  it('the whole pages of a SharedArrayBuffer can be registered, never the pages it shares with other objects; a plain heap Buffer is refused', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(5 * PAGE));
    const part = pageAlignedSubarray(shared)!;
    expect(part.byteLength % PAGE).toBe(0);
    expect(part.byteLength).toBeGreaterThanOrEqual(4 * PAGE);
    // (the whole view from its second byte: never page aligned, whatever the heap gave)
    expect(() => ctrl.registerMemory(shared.subarray(1))).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_MISALIGNED', hint: expect.stringMatching(/allocUserMemory/) }));
    // A plain ArrayBuffer could be transferred away and its pages reused by the heap while mapped.
    const heapPart = pageAlignedSubarray(Buffer.alloc(5 * PAGE))!;
    expect(() => ctrl.registerMemory(heapPart)).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_DETACHABLE', hint: expect.stringMatching(/SharedArrayBuffer/) }));
    register(part);
    randomFillSync(part);
    await ns.write(32_000, 8, part);
    const check = ctrl.allocBuffer(PAGE);
    await ns.read(32_000, 8, check.bytes);
    expect(Buffer.from(check.bytes).equals(Buffer.from(part.subarray(0, PAGE)))).toBe(true);
    check.release();
  });

  it('refuses misaligned, overlapping and allocator memory, and memory past dma_entry_limit', () => {
    const mem = allocUserMemory(4 * PAGE);
    expect(() => ctrl.registerMemory(new Uint8Array(mem, 512, PAGE))).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_MISALIGNED', message: expect.stringMatching(/starts 512 bytes past a page boundary/) }));
    expect(() => ctrl.registerMemory(new Uint8Array(mem, 0, PAGE + 512))).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_MISALIGNED' }));
    const r = register(new Uint8Array(mem, 0, 2 * PAGE));
    expect(() => ctrl.registerMemory(new Uint8Array(mem, PAGE, 2 * PAGE))).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_OVERLAP' }));
    register(new Uint8Array(mem, 2 * PAGE, PAGE)); // the next pages are fine
    const dma = ctrl.allocBuffer(PAGE);
    expect(() => ctrl.registerMemory(dma.bytes)).toThrow(expect.objectContaining({ code: 'ERR_DMA_REGISTER_OVERLAP' }));
    dma.release();
    // The kernel's limit (65535 by default) counts chunks and registrations; lower it to what is mapped + 1.
    const dmaAlloc = ctrl.device.dma;
    const limit = dmaAlloc.entryLimit;
    expect(limit).toBeGreaterThan(0);
    const s = dmaAlloc.stats();
    dmaAlloc.entryLimit = s.chunks + s.registrations + 1;
    try {
      register(new Uint8Array(mem, 3 * PAGE, PAGE));
      expect(() => ctrl.registerMemory(new Uint8Array(allocUserMemory(PAGE)))).toThrow(expect.objectContaining({ code: 'ERR_DMA_ENTRY_LIMIT' }));
    } finally {
      dmaAlloc.entryLimit = limit;
    }
    r.release();
  });

  it('I/O refuses memory that was never registered or whose registration was released', async () => {
    const plain = new Uint8Array(allocUserMemory(PAGE));
    await expect(ns.read(0, 8, plain)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    const r = ctrl.registerMemory(plain);
    await ns.read(0, 8, plain);
    r.release();
    await r.unmapped;
    await expect(ns.read(0, 8, plain)).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
    await expect(ns.readv(0, [plain])).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
  });

  it('release() while a command uses the memory keeps it mapped until the command ends, then unmaps', async () => {
    const mem = new Uint8Array(allocUserMemory(128 * 1024));
    const r = ctrl.registerMemory(mem);
    const before = ctrl.device.dma.stats().registrations;
    const reading = ns.read(0, 256, mem);
    expect(r.inflight).toBe(1);
    r.release();
    // Out of reach of new I/O at once, but still mapped at its IOVA (checked before any
    // await: completions are reaped in later microtasks, so the read is still outstanding).
    const refused = ns.read(0, 8, mem);
    expect(ctrl.device.dma.stats().registrations).toBe(before);
    expect(r.inflight).toBe(1);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA', message: expect.stringMatching(/released/) });
    await reading;
    await r.unmapped;
    expect(r.inflight).toBe(0);
    expect(ctrl.device.dma.stats().registrations).toBe(before - 1);
  });
});
