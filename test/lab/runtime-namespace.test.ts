import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONCS } from '@vfio-node/nvme';
import { NvmeRuntime, type RuntimeNamespace } from '@vfio-node/runtime';
import { labNvme } from './lab-env.js';
import { releasedBufferRace } from './released-buffer-race.js';

// Code for runtime.call(): keeps a worker busy (its loop does not take requests) for ms.
const busy = `data:text/javascript,${encodeURIComponent(`
export function sleep(ctx, ms) { return new Promise((r) => setTimeout(() => r(ctx.qid), ms)); }
export function outstanding(ctx) { return ctx.qp.outstanding; }
export function suspend(ctx) { ctx.qp.suspend(); return ctx.qid; }
export function resume(ctx) { ctx.qp.resume(); return ctx.qid; }
export function throwLater() {
  setTimeout(() => { throw new Error('thrown outside the call promise'); }, 0);
  return new Promise(() => {});
}
`)}`;

const settle = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => e);
const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

describe('the runtime\'s namespaces have the driver Namespace\'s call shapes, and each command works on the lab NVMe', () => {
  let rt: NvmeRuntime;
  let ns: RuntimeNamespace;
  let bs: number;
  beforeAll(async () => {
    rt = await NvmeRuntime.open(labNvme()[0]!, { workers: 2, queueDepth: 16 });
    ns = rt.namespace(1);
    bs = ns.blockSize;
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('has the driver namespace\'s geometry', () => {
    const d = rt.controller.namespace(1);
    expect(ns.nsid).toBe(1);
    expect(ns.blockSize).toBe(d.blockSize);
    expect(ns.blocks).toBe(d.blocks);
    expect(ns.size).toBe(d.size);
    expect(rt.namespace(1)).toBe(ns);
  });

  it('write then read back (by LBA and by byte offset), with fua', async () => {
    using src = rt.allocBuffer(8 * bs);
    using dst = rt.allocBuffer(8 * bs);
    randomFillSync(src.bytes);
    await ns.write(40_000, 8, src.bytes, { fua: true });
    await ns.read(40_000, 8, dst.bytes);
    expect(Buffer.compare(src.bytes, dst.bytes)).toBe(0);
    randomFillSync(src.bytes);
    await ns.writeAt(40_100 * bs, src.bytes);
    dst.bytes.fill(0);
    await ns.readAt(40_100 * bs, dst.bytes);
    expect(Buffer.compare(src.bytes, dst.bytes)).toBe(0);
    await expect(ns.readAt(bs + 1, dst.bytes)).rejects.toMatchObject({ code: 'ERR_MISALIGNED' });
  });

  it('writeBatch then readBatch: 20 transfers of 8 blocks under one promise each (more than a queue of depth 16 holds, over both workers), data read back per buffer', async () => {
    using src = rt.allocBuffer(20 * 8 * bs);
    using dst = rt.allocBuffer(20 * 8 * bs);
    randomFillSync(src.bytes);
    const lbas = Array.from({ length: 20 }, (_, i) => 41_000 + 16 * i); // every other 8-block run
    const piece = (m: Uint8Array, i: number) => m.subarray(i * 8 * bs, (i + 1) * 8 * bs);
    await ns.writeBatch(lbas, 8, lbas.map((_, i) => piece(src.bytes, i)), { fua: true });
    await ns.readBatch(lbas.map(BigInt), 8, lbas.map((_, i) => piece(dst.bytes, i)));
    expect(Buffer.compare(src.bytes, dst.bytes)).toBe(0);
    // One read against each: the batch wrote each buffer at its own LBA.
    using one = rt.allocBuffer(8 * bs);
    await ns.read(lbas[7]!, 8, one.bytes);
    expect(Buffer.compare(one.bytes, piece(src.bytes, 7))).toBe(0);
    await expect(ns.readBatch([41_000, Number(ns.blocks)], 8, [piece(dst.bytes, 0), piece(dst.bytes, 1)])).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });

  it('flush resolves', async () => {
    await expect(ns.flush()).resolves.toBeUndefined();
  });

  it('writeZeroes reads back zeros (with and without deallocate)', async () => {
    expect(rt.controller.identify.oncs & ONCS.WriteZeroes).not.toBe(0);
    using src = rt.allocBuffer(16 * bs);
    using dst = rt.allocBuffer(16 * bs);
    randomFillSync(src.bytes);
    await ns.write(41_000, 16, src.bytes);
    await ns.writeZeroes(41_002, 5);
    await ns.writeZeroes(41_010, 3, { deallocate: true });
    await ns.read(41_000, 16, dst.bytes);
    const expected = Buffer.from(src.bytes);
    expected.fill(0, 2 * bs, 7 * bs);
    expected.fill(0, 10 * bs, 13 * bs);
    expect(Buffer.compare(expected, dst.bytes)).toBe(0);
    await expect(ns.writeZeroes(Number(ns.blocks), 1)).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });

  it('deallocate (Dataset Management, 300 ranges: two commands) completes; deallocated blocks read as DLFEAT says', async () => {
    expect(rt.controller.identify.oncs & ONCS.DatasetManagement).not.toBe(0);
    const n = 300;
    using src = rt.allocBuffer(2 * n * bs);
    using dst = rt.allocBuffer(2 * n * bs);
    randomFillSync(src.bytes);
    await ns.write(42_000, 2 * n, src.bytes);
    // Every other block.
    await ns.deallocate(Array.from({ length: n }, (_, i) => ({ lba: 42_000 + 2 * i, blocks: 1 })));
    await ns.read(42_000, 2 * n, dst.bytes);
    const dlfeat = rt.controller.namespace(1).info.dlfeat & 7;
    // DLFEAT bits 2:0 = 001b: a deallocated block reads as all zeros.
    if (dlfeat === 1) {
      const expected = Buffer.from(src.bytes);
      for (let i = 0; i < n; i++) expected.fill(0, 2 * i * bs, (2 * i + 1) * bs);
      expect(Buffer.compare(expected, dst.bytes)).toBe(0);
    } else {
      // Not reported: the blocks left alone still hold their data.
      for (let i = 0; i < n; i++) expect(Buffer.compare(src.bytes.subarray((2 * i + 1) * bs, (2 * i + 2) * bs), dst.bytes.subarray((2 * i + 1) * bs, (2 * i + 2) * bs))).toBe(0);
    }
    console.log(`DLFEAT ${dlfeat}: deallocated blocks ${dlfeat === 1 ? 'read as zeros' : 'unspecified'}`);
    await expect(ns.deallocate([])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ns.deallocate([{ lba: Number(ns.blocks), blocks: 1 }])).rejects.toMatchObject({ code: 'ERR_NVME_LBA_OUT_OF_RANGE' });
  });

  // As in nvme-polling-data for the driver: a buffer from allocBuffer released while its read
  // still waits (here behind 400 small reads, in the table on the main thread) must not be
  // handed to the next allocation before the read ends. The runtime pins it until then.
  it('a buffer released before its read (or readBatch) ends is not handed out again until it ends', async () => {
    const r = await releasedBufferRace({
      blockSize: bs,
      alloc: (n) => rt.allocBuffer(n),
      read: (l, b, buf) => ns.read(l, b, buf),
      write: (l, b, buf) => ns.write(l, b, buf),
      readBig: (round, b, buf) => (round % 2 === 0 ? ns.read(0, b, buf) : ns.readBatch([0], b, [buf])),
    }, 16, 400);
    expect(r.allocatedDuringReads).toBeGreaterThan(0);
    expect(r.overwritten).toBe(0);
  });
});

describe('an AbortSignal ends a runtime request: nothing is submitted when it is aborted first, the request is removed before its worker submits it, and an NVMe Abort is sent once it is in flight', () => {
  let rt: NvmeRuntime;
  let ns: RuntimeNamespace;
  let bs: number;
  beforeAll(async () => {
    rt = await NvmeRuntime.open(labNvme()[0]!, { workers: 1, queueDepth: 8 });
    ns = rt.namespace(1);
    bs = ns.blockSize;
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('an already aborted signal rejects with its reason and submits nothing', async () => {
    using old = rt.allocBuffer(bs);
    using src = rt.allocBuffer(bs);
    await ns.writeZeroes(43_000, 1);
    randomFillSync(src.bytes);
    const reason = new Error('not wanted');
    const before = rt.abortStats;
    await expect(ns.write(43_000, 1, src.bytes, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(ns.flush({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(ns.deallocate([{ lba: 43_000, blocks: 1 }], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(rt.abortStats).toEqual(before);
    await ns.read(43_000, 1, old.bytes);
    expect(old.bytes.every((b) => b === 0)).toBe(true);
  });

  it('aborted before the worker takes them, requests in its ring are cancelled and those waiting behind are dropped: they reject at once and never reach the controller', async () => {
    const n = 12; // depth 8: 7 go to the request ring, 5 wait on the main thread
    using src = rt.allocBuffer(n * bs);
    using dst = rt.allocBuffer(n * bs);
    await ns.writeZeroes(44_000, n);
    randomFillSync(src.bytes);
    // The worker is inside a call: it takes no requests until the call returns.
    const call = rt.call(0, busy, 'sleep', 1500);
    await new Promise((r) => setTimeout(r, 100));
    // Twelve requests share one signal: the runtime listens to it once (no listener-limit warning).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const ac = new AbortController();
    const writes = Array.from({ length: n }, (_, i) => settle(ns.write(44_000 + i, 1, src.bytes.subarray(i * bs, (i + 1) * bs), { signal: ac.signal })));
    const reason = new Error('changed my mind');
    ac.abort(reason);
    const outcomes = await Promise.all(writes);
    // All rejected with the reason while the worker was still busy.
    expect(outcomes.every((o) => o === reason)).toBe(true);
    let callDone = false;
    void call.then(() => (callDone = true));
    expect(callDone).toBe(false);
    await call;
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    // The worker cancels the ring's records when it comes back: none was submitted.
    expect(await until(() => rt.abortStats.holding === 0, 10_000)).toBe(true);
    expect(rt.abortStats).toMatchObject({ dropped: 5, cancelled: 7, sent: 0, holding: 0 });
    await ns.read(44_000, n, dst.bytes);
    expect(dst.bytes.every((b) => b === 0)).toBe(true);
    // And the runtime goes on serving.
    await ns.write(44_000, n, src.bytes);
    await ns.read(44_000, n, dst.bytes);
    expect(Buffer.compare(src.bytes, dst.bytes)).toBe(0);
  });

  it('aborted in flight, a write rejects at once, an NVMe Abort goes out (QEMU declines it), and the buffer is held until the command completes', async () => {
    // Deterministic: each worker holds its SQ doorbell (as a controller reset does), so the
    // write is posted on a worker's SQ, with its CID, and certainly not completed while the
    // signal aborts it; the controller runs it once the doorbells are written again.
    const workers = Array.from({ length: rt.workers }, (_, w) => w);
    const posted = async () => (await Promise.all(workers.map((w) => rt.call<number>(w, busy, 'outstanding', null)))).reduce((a, b) => a + b, 0);
    for (const w of workers) await rt.call(w, busy, 'suspend', null);
    const before = rt.abortStats;
    // 2 MiB: a dedicated chunk, which release() would unmap at once were it not held.
    const buf = rt.allocBuffer(2 << 20);
    const heldIova = buf.iova;
    const data = buf.bytes.subarray(0, 8 * bs);
    randomFillSync(data);
    const again: { iova: bigint; release(): void }[] = [];
    try {
      const ac = new AbortController();
      const write = settle(ns.write(100_000, 8, data, { fua: true, signal: ac.signal }));
      let onSq = 0;
      for (const end = Date.now() + 20_000; onSq === 0 && Date.now() < end; ) {
        onSq = await posted();
        if (onSq === 0) await new Promise((r) => setTimeout(r, 10));
      }
      expect(onSq).toBe(1);
      const reason = new Error('abort in flight');
      ac.abort(reason);
      expect(await write).toBe(reason); // at once: the doorbell is still held
      expect(rt.abortStats.holding).toBe(1);
      // The caller releases the buffer at once, as it may; the runtime holds its range, so
      // new allocations (after the released views are finalized) never get its IOVA.
      buf.release();
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 4; i++) again.push(rt.allocBuffer(2 << 20));
      expect(again.map((m) => m.iova)).not.toContain(heldIova);
      // The NVMe Abort goes out from the admin queue and is answered (QEMU declines it).
      expect(await until(() => { const s = rt.abortStats; return s.sent - before.sent === 1 && s.aborted + s.declined === s.sent; }, 20_000)).toBe(true);
      expect(rt.abortStats.holding).toBe(1); // the write is still on the SQ
    } finally {
      for (const w of workers) await rt.call(w, busy, 'resume', null);
      for (const m of again) m.release();
    }
    // The doorbell written, the write completes and the hold ends.
    expect(await until(() => rt.abortStats.holding === 0, 20_000)).toBe(true);
    expect(await posted()).toBe(0);
    // The queue still works, and the data is right.
    using src = rt.allocBuffer(4 * bs);
    using dst = rt.allocBuffer(4 * bs);
    randomFillSync(src.bytes);
    await ns.write(45_000, 4, src.bytes);
    await ns.read(45_000, 4, dst.bytes);
    expect(Buffer.compare(src.bytes, dst.bytes)).toBe(0);
  }, 120_000);
});

describe('the runtime is an EventEmitter: \'error\' when a worker dies', () => {
  let rt: NvmeRuntime;
  beforeAll(async () => {
    rt = await NvmeRuntime.open(labNvme()[0]!, { workers: 2, queueDepth: 8 });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('emits ERR_WORKER_EXIT naming the queue once the dead worker\'s queue pair is reclaimed, and serves on', async () => {
    const errors: { code?: string; message: string }[] = [];
    rt.on('error', (e) => errors.push(e as { code?: string; message: string }));
    const died = settle(rt.call(0, busy, 'throwLater', null));
    expect(await died).toMatchObject({ code: 'ERR_WORKER_EXIT' });
    expect(await until(() => errors.length > 0, 10_000)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_WORKER_EXIT' });
    expect(errors[0]!.message).toContain('thrown outside the call promise');
    expect(rt.alive(0)).toBe(false);
    const ns = rt.namespace(1);
    using buf = rt.allocBuffer(ns.blockSize);
    await expect(ns.read(0, 1, buf.bytes)).resolves.toBeUndefined();
  });
});
