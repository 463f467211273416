// lab: --nvme size=256M,serial=LABSERIAL --hugepages 128
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { CC, CSTS, NvmeController, Register, getField } from '@vfio-node/nvme';
import { labNvme } from '../lab/lab-env.js';

const nvmeDist = fileURLToPath(new URL('../../drivers/nvme/dist/index.js', import.meta.url));
const LBA = 400_000;
const BLOCKS = 256; // 128 KiB of 512-byte blocks

/** The data the killed process writes (source shared with the child, so both sides compute the same bytes). */
const PATTERN_SRC = `function pattern(seed, size) {
  const out = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}`;
const pattern = new Function(`return ${PATTERN_SRC}`)() as (seed: number, size: number) => Buffer;

// The child: write the pattern and flush, say so, then keep 64 random writes and reads in
// flight (never to the pattern's blocks) until it is killed.
const child = (addr: string) => `
  const { NvmeController } = await import(${JSON.stringify(nvmeDist)});
  ${PATTERN_SRC}
  const ctrl = await NvmeController.open(${JSON.stringify(addr)}, { queueDepth: 128 });
  const ns = ctrl.namespace(1);
  const buf = ctrl.allocBuffer(${BLOCKS} * 512);
  buf.bytes.set(pattern(20261125, ${BLOCKS} * 512));
  await ns.write(${LBA}, ${BLOCKS}, buf.bytes);
  await ns.flush();
  console.log('FLUSHED');
  const junk = ctrl.allocBuffer(64 * 4096);
  let done = 0;
  const one = (i) => {
    const lba = 10_000 + Math.floor(Math.random() * 40_000) * 8;
    const b = junk.bytes.subarray(i * 4096, (i + 1) * 4096);
    return (i % 2 ? ns.read(lba, 8, b) : ns.write(lba, 8, b)).then(() => { done++; return one(i); });
  };
  for (let i = 0; i < 64; i++) one(i);
  setInterval(() => console.log('IO ' + done), 200);
`;

describe('a process killed with SIGKILL in the middle of I/O leaves a controller the next process recovers, with the flushed data intact', () => {
  it('opens the controller again after the SIGKILL: ready, no fatal status, its queues work, the flushed data reads back and new data round-trips', async () => {
    const addr = labNvme()[0]!;
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child(addr)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (b) => (out += b));
    proc.stderr.on('data', (b) => (err += b));
    const exited = new Promise<[number | null, string | null]>((r) => proc.on('close', (c, s) => r([c, s])));
    // Wait until the data is flushed and I/O has been running for a while.
    const t0 = Date.now();
    const ioCount = () => Number(/IO (\d+)\n(?![\s\S]*IO \d)/.exec(out)?.[1] ?? -1);
    try {
      while (ioCount() < 200 && proc.exitCode === null && Date.now() - t0 < 90_000) await new Promise((r) => setTimeout(r, 50));
      expect(out, err).toContain('FLUSHED');
      expect(ioCount(), `child output:\n${out.slice(-400)}\nstderr:\n${err.slice(-400)}`).toBeGreaterThanOrEqual(200);
    } finally {
      // Never leave the child holding the device, whatever failed above.
      proc.kill('SIGKILL');
    }
    expect(await exited).toEqual([null, 'SIGKILL']);

    // What the next opener finds (vfio-pci resets the function when the last user closes
    // it, or when the next one opens it, if the device supports a reset). Either way is
    // fine: with CC.EN still 1 the driver's bring-up resets the controller itself (§3.5.1
    // step 1). What is not fine is a device that reads all ones or reports a fatal status.
    const dev = Device.open(addr);
    const cc = dev.bar(0).read32(Register.CC);
    const csts = dev.bar(0).read32(Register.CSTS);
    dev.close();
    console.log(`after SIGKILL: CC = 0x${cc.toString(16)} (CC.EN = ${getField(cc, CC.EN)}), CSTS = 0x${csts.toString(16)}`);
    expect(csts).not.toBe(0xffffffff);
    expect(getField(csts, CSTS.CFS)).toBe(0);

    const ctrl = await NvmeController.open(addr, { queueDepth: 128 });
    const buf = ctrl.allocBuffer(BLOCKS * 512);
    const fresh = ctrl.allocBuffer(96 * 4096);
    const back = ctrl.allocBuffer(96 * 4096);
    try {
      // The controller is enabled and ready, with no fatal status and no shutdown under way.
      const now = ctrl.bar.read32(Register.CSTS);
      expect(getField(now, CSTS.RDY)).toBe(1);
      expect(getField(now, CSTS.CFS)).toBe(0);
      expect(getField(now, CSTS.SHST)).toBe(0);
      expect(ctrl.resets).toBe(0); // brought up without a recovery reset
      // It answers admin commands: the same controller (its serial), no critical warning.
      expect(ctrl.identify.sn.trim()).toBe('LABSERIAL');
      expect((await ctrl.admin.smartLog()).criticalWarning).toBe(0);
      // Bring-up created I/O queue pair 1 again, the id the killed process had in use: the
      // controller no longer had it (Create I/O Completion Queue fails on an id in use), so
      // the new process works on fresh queues, not on the dead one's.
      expect(ctrl.queuePairs.map((qp) => qp.qid)).toEqual([1]);

      // The flushed data survived.
      const ns = ctrl.namespace(1);
      await ns.read(LBA, BLOCKS, buf.bytes);
      expect(Buffer.compare(Buffer.from(buf.bytes), pattern(20261125, BLOCKS * 512))).toBe(0);

      // The queue pair takes as much in flight as the killed process had (96 > 64), writes and
      // reads land where they are sent, and nothing stale completes among them.
      fresh.bytes.set(pattern(7, 96 * 4096));
      await Promise.all(Array.from({ length: 96 }, (_, i) => ns.write(LBA + BLOCKS + i * 8, 8, fresh.bytes.subarray(i * 4096, (i + 1) * 4096))));
      await Promise.all(Array.from({ length: 96 }, (_, i) => ns.read(LBA + BLOCKS + i * 8, 8, back.bytes.subarray(i * 4096, (i + 1) * 4096))));
      expect(Buffer.compare(Buffer.from(back.bytes), Buffer.from(fresh.bytes))).toBe(0);
      expect(ctrl.queuePairs[0]!.outstanding).toBe(0);
      expect(ctrl.resets).toBe(0);
      expect(getField(ctrl.bar.read32(Register.CSTS), CSTS.CFS)).toBe(0);
    } finally {
      buf.release();
      fresh.release();
      back.release();
      await ctrl.close();
    }
  });
});
