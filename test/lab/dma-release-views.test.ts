import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const coreDist = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url));
// A released allocation's slice is finalized on a later turn of the event loop.
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

// Each DMA allocation has an ArrayBuffer of its own; release() detaches it, so a view kept
// after release reaches nothing, even once its bytes belong to the next allocation.
describe('released DMA memory is out of reach of the views kept on it', () => {
  let dev: Device;
  beforeAll(() => {
    dev = Device.open(labNvme()[0]!);
  });
  afterAll(() => dev?.close());

  it('after release, kept bytes, subarrays, typed arrays and DataViews have length 0', () => {
    const a = dev.dma.alloc(4096);
    const bytes = a.bytes;
    const sub = a.bytes.subarray(512, 1024);
    const words = new Uint32Array(a.bytes.buffer, 0, 1024);
    const view = a.view;
    expect(a.bytes.buffer.byteLength).toBe(4096); // its own buffer, exactly its size
    bytes.fill(0x11);
    a.release();
    expect([bytes.length, sub.length, words.length, bytes.buffer.byteLength]).toEqual([0, 0, 0, 0]);
    expect(() => view.getUint32(0)).toThrow(TypeError);
    expect(bytes[0]).toBeUndefined();
    a.release(); // idempotent
  });

  it('the next allocation of the same bytes does not see writes through the old view', async () => {
    await turns(); // what earlier tests released is back in the free ranges
    expect(dev.dma.stats().quarantined).toBe(0);
    const a = dev.dma.alloc(4096);
    const old = a.bytes;
    const { offset, iova } = a;
    const chunk = a.native.id;
    a.release();
    // Same turn: the range waits in quarantine until native reports its slice finalized.
    const early = dev.dma.alloc(4096);
    expect(early.offset).not.toBe(offset);
    expect(dev.dma.stats().quarantined).toBe(1);
    await turns();
    expect(dev.dma.stats().quarantined).toBe(0);
    // First fit gives the same bytes again, to the next owner.
    const next = dev.dma.alloc(4096);
    expect([next.native.id, next.offset, next.iova]).toEqual([chunk, offset, iova]);
    expect(next.bytes.every((b) => b === 0)).toBe(true); // zeroed for its new owner
    next.bytes.fill(0x5a);
    expect(() => old.fill(0xff)).toThrow(TypeError); // "on a detached ArrayBuffer"
    old[0] = 0xee; // an element store on a detached view does nothing
    expect(old.length).toBe(0);
    expect(next.bytes.every((b) => b === 0x5a)).toBe(true);
    expect(new Uint8Array(next.native.buffer, offset, 4096).every((b) => b === 0x5a)).toBe(true);
    next.release();
    early.release();
  });

  it('translate() refuses the old view and refusal() says it was released; the new owner is translated', async () => {
    await turns();
    const a = dev.dma.alloc(8192);
    const stale = a.bytes.subarray(4096);
    expect(dev.dma.translate(stale)).toBe(a.iova + 4096n);
    a.release();
    expect(dev.dma.translate(stale)).toBeUndefined();
    expect(dev.dma.translate(a.bytes)).toBeUndefined();
    expect(dev.dma.refusal(stale)).toMatch(/released/);
    await turns();
    const b = dev.dma.alloc(8192);
    expect(b.iova).toBe(a.iova); // the same IOVA, now b's
    expect(dev.dma.translate(stale)).toBeUndefined();
    expect(dev.dma.translate(b.bytes.subarray(4096))).toBe(b.iova + 4096n);
    // A view over the whole chunk reaches every allocation in it: never an I/O buffer.
    const whole = new Uint8Array(b.native.buffer);
    expect(dev.dma.translate(whole)).toBeUndefined();
    expect(dev.dma.refusal(whole)).toMatch(/whole DMA chunk/);
    b.release();
  });

  it('closing the last device of the container detaches what is still allocated', () => {
    const small = dev.dma.alloc(4096);
    const big = dev.dma.alloc(4 * 1024 * 1024); // a chunk of its own
    const kept = [small.bytes, small.bytes.subarray(10), big.bytes];
    dev.close(); // the only device of this process: its allocator closes
    expect(kept.map((v) => v.length)).toEqual([0, 0, 0]);
    small.release(); // harmless after close
    big.release();
  });
});

// ArrayBuffer.prototype.transfer (behind --harmony-rab-gsab-transfer in Node 20) moves a
// slice's memory into a new ArrayBuffer before release() can detach it. The range then
// stays in quarantine until V8 collects that buffer. In a child process, for the flags; it
// opens the device itself, so nothing here holds it.
describe('a slice moved out with transfer() keeps its range out of use until it is collected', () => {
  it('is not handed out again while the moved buffer lives, is never translated, and comes back once collected', () => {
    const script = `
      const { Device } = await import(${JSON.stringify(coreDist)});
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const dev = Device.open(${JSON.stringify(labNvme()[0]!)});
      const out = {};
      const a = dev.dma.alloc(4096);
      const offset = a.offset;
      let moved = a.bytes.buffer.transfer();
      a.release();
      for (let i = 0; i < 10; i++) { gc(); await sleep(10); }
      out.quarantinedWhileMovedLives = dev.dma.stats().quarantined;
      const b = dev.dma.alloc(4096);
      out.reusedWhileMovedLives = b.offset === offset;
      out.movedTranslated = dev.dma.translate(new Uint8Array(moved)) !== undefined;
      new Uint8Array(moved).fill(0x77);
      out.nextOwnerUntouched = b.bytes.every((x) => x === 0);
      moved = null;
      for (let i = 0; i < 40 && dev.dma.stats().quarantined > 0; i++) { gc(); await sleep(10); }
      out.quarantinedAfterCollect = dev.dma.stats().quarantined;
      const c = dev.dma.alloc(4096);
      out.reusedAfterCollect = c.offset === offset;
      out.reusedZeroed = c.bytes.every((x) => x === 0);
      b.release(); c.release(); dev.close();
      console.log(JSON.stringify(out));`;
    const child = spawnSync(process.execPath, ['--expose-gc', '--harmony-rab-gsab-transfer', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 90_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout.trim().split('\n').at(-1)!)).toEqual({
      quarantinedWhileMovedLives: 1,
      reusedWhileMovedLives: false,
      movedTranslated: false,
      nextOwnerUntouched: true,
      quarantinedAfterCollect: 0,
      reusedAfterCollect: true,
      reusedZeroed: true,
    });
  });
});
