// Data really reaches the device: the host fills a backing image with a known pattern,
// the driver in the guest reads that pattern through VFIO, writes random bytes at several
// LBAs, flushes and shuts the controller down; after the guest powers off the host finds
// exactly those bytes at those offsets of the image, and nothing else changed.
// Needs a build (npx tsc -b): the guest runs drivers/nvme/dist.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startLab } from '@vfio-node/lab';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nvmeDist = path.join(root, 'drivers/nvme/dist/index.js');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-image-e2e-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const SIZE = 16 * 2 ** 20;
const LBA = 512;
/** Host-written areas: [lba, blocks]. */
const HOST_AREAS: Array<[number, number]> = [[0, 8], [1000, 1], [20_001, 24], [SIZE / LBA - 8, 8]];
/** Guest-written areas: [lba, blocks] (one crosses a 4 KiB page, one is 128 KiB, one is the last block). */
const GUEST_AREAS: Array<[number, number]> = [[7, 1], [2049, 9], [8192, 256], [30_000, 3], [SIZE / LBA - 1, 1]];

/** The guest's program: check the host's pattern, write random data, flush, close, print what it wrote. */
function guestScript(host: Array<{ lba: number; hex: string }>): string {
  return `
    const { NvmeController } = await import(${JSON.stringify(nvmeDist)});
    const { randomFillSync } = await import('node:crypto');
    const ctrl = await NvmeController.open(process.env.VFIO_LAB_NVME.split(' ')[0]);
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(256 * ${LBA});
    for (const { lba, hex } of ${JSON.stringify(host)}) {
      const want = Buffer.from(hex, 'hex');
      await ns.read(lba, want.length / ${LBA}, buf.bytes);
      if (Buffer.compare(Buffer.from(buf.bytes.subarray(0, want.length)), want) !== 0) throw new Error('host pattern differs at LBA ' + lba);
    }
    console.log('HOST-PATTERN-OK');
    const written = [];
    for (const [lba, blocks] of ${JSON.stringify(GUEST_AREAS)}) {
      const data = buf.bytes.subarray(0, blocks * ${LBA});
      randomFillSync(data);
      await ns.write(lba, blocks, data);
      written.push({ lba, hex: Buffer.from(data).toString('hex') });
    }
    await ns.flush();
    await ctrl.close();
    console.log('WRITTEN ' + JSON.stringify(written));
  `;
}

describe('data written through the driver reaches the backing image, and data in the image reaches the driver', () => {
  it('reads the host pattern in the guest, and after power-off the image holds exactly the bytes the guest wrote', async () => {
    const image = path.join(scratch, 'disk.img');
    const original = Buffer.alloc(SIZE);
    const host = HOST_AREAS.map(([lba, blocks]) => {
      const data = randomBytes(blocks * LBA);
      data.copy(original, lba * LBA);
      return { lba, hex: data.toString('hex') };
    });
    fs.writeFileSync(image, original);

    const lab = startLab({ nvme: [`size=16M,serial=IMG,image=${image}`], hugepages: 32, timeoutMs: 600_000 }, ['node', '--input-type=module', '-e', guestScript(host)]);
    const r = await lab.wait();
    expect(r.stderr.split('\n').filter((l) => l && !l.includes('"level":'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('HOST-PATTERN-OK\n');
    const line = /^WRITTEN (.*)$/m.exec(r.stdout);
    expect(line).not.toBeNull();
    const written = JSON.parse(line![1]!) as Array<{ lba: number; hex: string }>;
    expect(written.map((w) => [w.lba, w.hex.length / 2 / LBA])).toEqual(GUEST_AREAS);

    // The image after power-off: the guest's bytes where it wrote them, the host's pattern
    // and zeroes everywhere else.
    const after = fs.readFileSync(image);
    expect(after.length).toBe(SIZE);
    const expected = Buffer.from(original);
    for (const w of written) {
      const data = Buffer.from(w.hex, 'hex');
      expect(data.some((b) => b !== 0)).toBe(true);
      expect(Buffer.compare(after.subarray(w.lba * LBA, w.lba * LBA + data.length), data)).toBe(0);
      data.copy(expected, w.lba * LBA);
    }
    expect(after.equals(expected)).toBe(true);
    console.log(`image e2e: boot ${r.timings.bootMs} ms, command ${r.timings.commandMs} ms`);
  });
});
