// lab: --nvme size=256M,serial=LABSERIAL --hugepages 128
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { NvmeController, Register } from '@vfio-node/nvme';
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
  it('opens the controller again after the SIGKILL and reads back the flushed data', async () => {
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
    // it, or when the next one opens it, if the device supports a reset).
    const dev = Device.open(addr);
    const cc = dev.bar(0).read32(Register.CC);
    dev.close();
    console.log(`after SIGKILL: CC = 0x${cc.toString(16)} (CC.EN = ${cc & 1})`);

    const ctrl = await NvmeController.open(addr);
    const buf = ctrl.allocBuffer(BLOCKS * 512);
    try {
      await ctrl.namespace(1).read(LBA, BLOCKS, buf.bytes);
      expect(Buffer.compare(Buffer.from(buf.bytes), pattern(20261125, BLOCKS * 512))).toBe(0);
    } finally {
      buf.release();
      ctrl.close();
    }
  });
});
