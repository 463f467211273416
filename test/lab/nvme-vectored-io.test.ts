// readv/writev: one NVMe command over several buffers, against QEMU's NVMe through real
// VFIO. PRP lists that span buffers, SGL segments where PRPs cannot describe the vector
// (QEMU's controller has SGLs), and the refusals. The chained PRP list (more than 512
// entries) needs MDTS above 2 MiB: test/lab-scenarios/nvme-chained-prp.test.ts.
// Run with: node packages/cli/bin/vfio-node.js lab run --nvme size=256M,serial=LABSERIAL --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1 --nics 2 --hugepages 256 -- node_modules/.bin/vitest run --project lab test/lab/nvme-vectored-io.test.ts
import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, type Namespace } from '@vfio-node/nvme';
import type { DmaMemory } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const PAGE = 4096;

describe('readv and writev move one command\'s data through several DMA buffers', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  const held: DmaMemory[] = [];
  const buffer = (size: number): DmaMemory => {
    const m = ctrl.allocBuffer(size);
    held.push(m);
    return m;
  };
  const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
    ns = ctrl.namespace(1);
  });
  afterAll(async () => {
    for (const m of held) m.release();
    await ctrl?.close();
  });

  it('writev of 3 page-aligned buffers, then readv into 5 differently split buffers, gives back the same bytes (PRP list across buffers)', async () => {
    const out = [buffer(2 * PAGE).bytes, buffer(3 * PAGE).bytes, buffer(PAGE + 1024).bytes];
    for (const b of out) randomFillSync(b);
    await ns.writev(20_000, out);
    // Read it back in other pieces: the first ends on a page, the middle ones are whole
    // pages, the last is what remains.
    const back = [buffer(PAGE).bytes, buffer(PAGE).bytes, buffer(2 * PAGE).bytes, buffer(PAGE).bytes, buffer(PAGE + 1024).bytes.subarray(0, 1024 + PAGE)];
    await ns.readv(20_000, back);
    expect(concat(back).equals(concat(out))).toBe(true);
    // And the medium holds the concatenation, as a plain read shows.
    const whole = buffer(6 * PAGE + 1024);
    await ns.read(20_000, (6 * PAGE + 1024) / 512, whole.bytes);
    expect(Buffer.from(whole.bytes).equals(concat(out))).toBe(true);
  });

  it('the first buffer may start inside a page and the last may end inside one', async () => {
    const first = buffer(PAGE).bytes.subarray(PAGE - 512); // the last 512 bytes of its page
    const mid = buffer(4 * PAGE).bytes;
    const last = buffer(PAGE).bytes.subarray(0, 1536);
    const out = [first, mid, last];
    for (const b of out) randomFillSync(b);
    await ns.writev(21_000, out);
    const whole = buffer(512 + 4 * PAGE + 1536);
    await ns.read(21_000, whole.size / 512, whole.bytes);
    expect(Buffer.from(whole.bytes).equals(concat(out))).toBe(true);
  });

  it('a vector PRPs cannot describe goes out as SGL Data Block descriptors (QEMU has SGLs), and is refused with sgl: false', async () => {
    expect(ctrl.identify.sgls & 3).not.toBe(0);
    const out = [buffer(PAGE).bytes.subarray(0, 1024), buffer(PAGE).bytes.subarray(100, 100 + 2048), buffer(PAGE).bytes.subarray(12, 12 + 1024)];
    for (const b of out) randomFillSync(b);
    await expect(ns.writev(22_000, out, { sgl: false })).rejects.toMatchObject({ code: 'ERR_NVME_VECTOR_MISALIGNED', message: expect.stringMatching(/buffer 0 of the vector ends 1024 bytes into a page/) });
    await ns.writev(22_000, out);
    const back = [buffer(PAGE).bytes.subarray(4, 4 + 2048), buffer(PAGE).bytes.subarray(1000, 1000 + 2048)];
    await ns.readv(22_000, back);
    expect(concat(back).equals(concat(out))).toBe(true);
  });

  it('300 buffers of one block each: SGL segments chained by a Segment descriptor (more than a page of descriptors)', async () => {
    const pool = buffer(300 * 512);
    const out = Array.from({ length: 300 }, (_, i) => pool.bytes.subarray(i * 512, (i + 1) * 512));
    randomFillSync(pool.bytes);
    // Written in reverse order: block k of the medium holds buffer k.
    await ns.writev(23_000, out.slice().reverse(), { sgl: true });
    const whole = buffer(300 * 512);
    await ns.read(23_000, 300, whole.bytes);
    expect(Buffer.from(whole.bytes).equals(concat(out.slice().reverse()))).toBe(true);
    const back = buffer(300 * 512);
    await ns.readv(23_000, Array.from({ length: 300 }, (_, i) => back.bytes.subarray(i * 512, (i + 1) * 512)), { sgl: true });
    expect(Buffer.from(back.bytes).equals(Buffer.from(whole.bytes))).toBe(true);
  });

  it('refuses a vector longer than MDTS, memory that is not DMA memory, a total that is not whole blocks, and an empty vector', async () => {
    const big = buffer(ctrl.maxTransfer + PAGE);
    await expect(ns.readv(0, [big.bytes])).rejects.toMatchObject({ code: 'ERR_NVME_TRANSFER_TOO_LARGE', message: expect.stringMatching(/MDTS 7/) });
    const ok = buffer(PAGE).bytes;
    await expect(ns.writev(0, [ok, new Uint8Array(PAGE)])).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA', message: expect.stringMatching(/^buffer 1 of the vector/) });
    await expect(ns.writev(0, [ok.subarray(0, 100)])).rejects.toMatchObject({ code: 'ERR_NVME_VECTOR_INVALID' });
    await expect(ns.writev(0, [])).rejects.toMatchObject({ code: 'ERR_NVME_VECTOR_INVALID' });
    // An abort signal is refused rather than ignored: readv/writev cannot abort yet.
    await expect(ns.readv(0, [ok], { signal: new AbortController().signal })).rejects.toMatchObject({ code: 'ERR_NVME_SIGNAL_UNSUPPORTED' });
    await expect(ns.readv(ns.blocks, [ok])).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });
});
