// lab: --nvme size=64M,mdts=10,serial=LABSERIAL --hugepages 64
// A chained PRP list through real VFIO: with MDTS 10 (4 MiB with QEMU's 4 KiB pages) one
// vectored command carries more than 512 pages, so its PRP list fills a page and chains
// to the next through the page's last entry (NVMe base spec §4.1.1). The driver's usual
// transfers stop at 2 MiB (one list page per command), so the vector gets list pages of
// its own. Checked against plain reads and writes (contiguous PRPs, split at 2 MiB).
import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, type Namespace } from '@vfio-node/nvme';
import { allocUserMemory, type DmaMemory } from '@vfio-node/core';
import { labNvme } from '../lab/lab-env.js';

const PAGE = 4096;
const MiB = 1024 * 1024;

describe('a vectored command of more than 512 pages chains its PRP list pages', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  const held: DmaMemory[] = [];
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
    ns = ctrl.namespace(1);
  });
  afterAll(async () => {
    for (const m of held) m.release();
    await ctrl?.close();
  });
  const buffer = (size: number) => {
    const m = ctrl.allocBuffer(size);
    held.push(m);
    return m.bytes;
  };

  it('the lab controller reports MDTS 10 (4 MiB)', () => {
    expect(ctrl.identify.mdts).toBe(10);
    expect(ctrl.cap.mpsMinBytes).toBe(PAGE);
  });

  it('writev of 3 MiB + 48 KiB over 3 buffers (780 pages: 779 list entries on 2 chained list pages) reads back equal with plain reads', async () => {
    const out = [buffer(MiB), buffer(MiB + 8 * PAGE), buffer(MiB + 4 * PAGE)];
    for (const b of out) randomFillSync(b);
    await ns.writev(1000, out);
    const total = out.reduce((n, b) => n + b.byteLength, 0);
    const whole = buffer(total);
    await ns.read(1000, total / ns.blockSize, whole);
    expect(Buffer.from(whole).equals(Buffer.concat(out))).toBe(true);
  });

  // QEMU 7.2's controller takes at most 1024 data pages per command (IOV_MAX mappings; more
  // fail with Internal Error), so a 4 MiB vector whose first buffer starts inside a page
  // (1025 pages) is beyond it: 4 MiB - 4 KiB at an offset touches exactly 1024 pages.
  it('readv of 4 MiB - 4 KiB with the first buffer at an offset (1024 pages: 1023 list entries on 2 chained list pages), into allocator and registered memory, gives what plain writes wrote', async () => {
    const TOTAL = 4 * MiB - PAGE;
    const src = buffer(TOTAL);
    randomFillSync(src);
    await ns.write(20_000, TOTAL / ns.blockSize, src);
    const user = new Uint8Array(allocUserMemory(3 * MiB));
    const reg = ctrl.registerMemory(user);
    try {
      const first = buffer(PAGE).subarray(PAGE - 512);
      const mid = buffer(2 * MiB - 4 * PAGE);
      const last = user.subarray(0, TOTAL - 512 - mid.byteLength);
      await ns.readv(20_000, [first, mid, last]);
      const got = Buffer.concat([first, mid, last]);
      expect(got.byteLength).toBe(TOTAL);
      expect(got.equals(Buffer.from(src))).toBe(true);
    } finally {
      reg.release();
    }
  });

  it('more than MDTS in one vector is refused', async () => {
    await expect(ns.readv(0, [buffer(4 * MiB), buffer(PAGE)])).rejects.toMatchObject({ code: 'ERR_NVME_TRANSFER_TOO_LARGE', message: expect.stringMatching(/MDTS 10/) });
  });
});
