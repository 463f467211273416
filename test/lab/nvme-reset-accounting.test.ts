import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DmaMemory } from '@vfio-node/core';
import { NvmeController, NvmOpcode, type Namespace, type QueuePair } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// As SPDK's reset test does: many reads and writes in flight on the promise API and on a
// raw queue pair, a controller reset in the middle, and then every command must be
// accounted for: completed successfully or failed with ERR_NVME_RESET, none lost, none
// completed twice; I/O submitted while the reset runs waits and then succeeds.

const BLOCKS = 8; // 4 KiB per I/O on 512-byte LBAs
const PROMISE_OPS = 600;
const RAW_OPS = 600;
const BASE = 100_000; // LBAs used: BASE .. BASE + (PROMISE_OPS + RAW_OPS + 64) * 8

describe('a controller reset during heavy random I/O accounts for every command, and I/O works after it', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  let mem: DmaMemory;
  let rawMem: DmaMemory;
  let qp: QueuePair;
  let halted: QueuePair;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { ioQueues: 1, maxIoQueues: 3, queueDepth: 64 });
    ns = ctrl.namespace(1);
    mem = ctrl.allocBuffer((PROMISE_OPS + 64) * BLOCKS * 512);
    rawMem = ctrl.allocBuffer(32 * BLOCKS * 512);
    qp = await ctrl.createQueuePair({ depth: 32 });
    halted = await ctrl.createQueuePair({ depth: 8 });
  });
  afterAll(async () => {
    mem?.release();
    rawMem?.release();
    await ctrl?.close();
  });

  it('settles every promise and every raw command exactly once (completed, or failed with ERR_NVME_RESET), none lost', async () => {
    randomFillSync(mem.bytes);
    const slice = (i: number) => mem.bytes.subarray(i * BLOCKS * 512, (i + 1) * BLOCKS * 512);

    // Promise API: each write has blocks of its own (so its data can be checked after),
    // reads go anywhere in the area.
    type Outcome = { state: 'pending' | 'ok' | 'error'; write: boolean; code?: string };
    const outcomes: Outcome[] = [];
    const promises: Promise<void>[] = [];
    let completedBeforeReset = 0;
    let reset: Promise<void> | null = null;
    let resetting = false;
    let launch: (i: number, write: boolean) => void = () => {};
    // Reset from inside a completion, so that the rest are surely in flight or waiting for a
    // CID; and submit 16 writes while the reset runs.
    // QEMU's controller drains the I/O it has fetched when CC.EN goes to 0 and is quick to
    // fetch what is rung, so the commands in flight at a reset mostly complete (seen: 94 in
    // flight, none failed). Ring a full raw queue right before the reset so that as many as
    // possible are in flight at that instant; and so that the reset surely catches commands
    // the controller never completed, ring a batch on a third queue pair with Bus Master
    // Enable clear (the controller cannot fetch it) right before the reset: those must fail
    // with ERR_NVME_RESET, exactly once each.
    let inflightAtReset = 0;
    const haltedDone = new Uint8Array(7);
    const haltedFailCodes: string[] = [];
    halted.onComplete = (_cid, _status, _dw0, tag) => haltedDone[tag]!++;
    halted.onFail = (_cid, tag, err) => {
      haltedDone[tag]!++;
      haltedFailCodes.push((err as { code?: string }).code ?? String(err));
    };
    const startReset = () => {
      submitRaw();
      qp.ring();
      ctrl.device.config.disableBusMaster();
      for (let tag = 0; tag < 7; tag++) halted.submitIo(NvmOpcode.Read, 1, BASE + tag * BLOCKS, BLOCKS, Number(rawMem.iova) + (tag % 32) * BLOCKS * 512, BLOCKS * 512, tag);
      halted.ring();
      inflightAtReset = qp.outstanding + ctrl.queuePairs[0]!.outstanding;
      resetting = true;
      reset = ctrl.reset();
      for (let i = PROMISE_OPS; i < PROMISE_OPS + 16; i++) launch(i, true);
    };
    launch = (i: number, write: boolean) => {
      const o: Outcome = { state: 'pending', write };
      outcomes[i] = o;
      const lba = write ? BASE + i * BLOCKS : BASE + Math.floor(Math.random() * PROMISE_OPS) * BLOCKS;
      const p = write ? ns.write(lba, BLOCKS, slice(i)) : ns.read(lba, BLOCKS, mem.bytes.subarray(i * BLOCKS * 512, (i + 1) * BLOCKS * 512));
      promises.push(
        p.then(
          () => {
            if (o.state !== 'pending') throw new Error(`promise ${i} settled twice`);
            o.state = 'ok';
            if (++completedBeforeReset === 40) startReset();
          },
          (err: { code?: string }) => {
            if (o.state !== 'pending') throw new Error(`promise ${i} settled twice`);
            o.state = 'error';
            o.code = err.code;
          },
        ),
      );
    };

    // Raw queue pair: tags are command numbers; each must come back exactly once, through
    // onComplete (status) or onFail (reset).
    const rawDone = new Uint8Array(RAW_OPS);
    const rawStatus: number[] = [];
    const rawFailCodes: string[] = [];
    let rawSubmitted = 0;
    let rawSubmittedDuringReset = 0;
    qp.onComplete = (_cid, status, _dw0, tag) => {
      rawDone[tag]!++;
      rawStatus[tag] = status;
    };
    qp.onFail = (_cid, tag, err) => {
      rawDone[tag]!++;
      rawFailCodes.push((err as { code?: string }).code ?? String(err));
    };
    let rawStop = false;
    const submitRaw = () => {
      while (!rawStop && rawSubmitted < RAW_OPS && qp.canSubmit) {
        const tag = rawSubmitted++;
        if (resetting) rawSubmittedDuringReset++;
        const slot = tag % 32;
        const op = tag % 2 === 0 ? NvmOpcode.Write : NvmOpcode.Read;
        const lba = BASE + (PROMISE_OPS + 64) * BLOCKS + tag * BLOCKS;
        qp.submitIo(op, 1, lba, BLOCKS, Number(rawMem.iova) + slot * BLOCKS * 512, BLOCKS * 512, tag);
      }
    };
    const rawLoop = (async () => {
      while (!rawStop || qp.outstanding > 0) {
        submitRaw();
        qp.ring();
        qp.poll();
        if (rawSubmitted >= RAW_OPS) rawStop = true;
        await new Promise((r) => setImmediate(r));
      }
    })();

    for (let i = 0; i < PROMISE_OPS; i++) launch(i, i % 2 === 0);

    const t0 = Date.now();
    while (reset === null && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 1));
    expect(reset).not.toBeNull();
    await reset;
    resetting = false;
    expect(ctrl.resets).toBe(1);

    // Everything settles within a deadline: nothing is lost.
    const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000));
    expect(await Promise.race([Promise.all(promises).then(() => 'all'), deadline])).toBe('all');
    expect(await Promise.race([rawLoop.then(() => 'all'), deadline])).toBe('all');

    const total = outcomes.length;
    const ok = outcomes.filter((o) => o.state === 'ok').length;
    const failed = outcomes.filter((o) => o.state === 'error');
    console.log(`${inflightAtReset} commands in flight at the reset; promise API: ${total} submitted, ${ok} ok, ${failed.length} failed by the reset; raw: ${rawSubmitted} submitted (${rawSubmittedDuringReset} during the reset), ${rawFailCodes.length} failed by the reset`);
    expect(total).toBe(PROMISE_OPS + 16);
    expect(outcomes.filter((o) => o.state === 'pending')).toEqual([]);
    expect(ok + failed.length).toBe(total);
    // The reset caught commands in flight; failures, if any, are the reset's.
    expect(inflightAtReset).toBeGreaterThan(31);
    expect(failed.filter((o) => o.code !== 'ERR_NVME_RESET')).toEqual([]);
    // And the reset really failed commands it caught unfinished: the batch the controller
    // could not fetch, each exactly once, with ERR_NVME_RESET.
    halted.poll();
    expect([...haltedDone]).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(haltedFailCodes).toEqual(Array(7).fill('ERR_NVME_RESET'));
    expect(halted.outstanding).toBe(0);
    // Those submitted during the reset all went through.
    expect(outcomes.slice(PROMISE_OPS).every((o) => o.state === 'ok')).toBe(true);

    // Raw queue pair: each tag exactly once; failures are the reset's, the rest succeeded.
    expect(rawSubmitted).toBe(RAW_OPS);
    // Raw commands posted while the reset ran were kept and completed.
    expect(rawSubmittedDuringReset).toBeGreaterThan(0);
    expect([...rawDone].filter((n) => n !== 1)).toEqual([]);
    expect(rawFailCodes.filter((c) => c !== 'ERR_NVME_RESET')).toEqual([]);
    const rawOk = rawStatus.filter((s) => s === 0).length;
    expect(rawOk + rawFailCodes.length).toBe(RAW_OPS);
    expect(qp.outstanding).toBe(0);

    // Every write that succeeded is on the device.
    const check = ctrl.allocBuffer(BLOCKS * 512);
    try {
      for (let i = 0; i < total; i++) {
        const o = outcomes[i]!;
        if (!o.write || o.state !== 'ok') continue;
        await ns.read(BASE + i * BLOCKS, BLOCKS, check.bytes);
        if (Buffer.compare(Buffer.from(check.bytes), Buffer.from(slice(i))) !== 0) throw new Error(`write ${i} succeeded but its blocks differ`);
      }
    } finally {
      check.release();
    }
  });

  it('keeps working after the reset on both queue pairs', async () => {
    const a = ctrl.allocBuffer(64 * 1024);
    const b = ctrl.allocBuffer(64 * 1024);
    try {
      randomFillSync(a.bytes);
      await ns.write(50_000, 128, a.bytes);
      await ns.read(50_000, 128, b.bytes);
      expect(Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes))).toBe(0);
      let status = -1;
      qp.onComplete = (_cid, s) => (status = s);
      qp.submitIo(NvmOpcode.Read, 1, 50_000, 8, Number(b.iova), 4096, 0);
      qp.ring();
      const t0 = Date.now();
      while (status < 0 && Date.now() - t0 < 10_000) {
        qp.poll();
        await new Promise((r) => setImmediate(r));
      }
      expect(status).toBe(0);
      expect((await ctrl.admin.identifyController()).sn).toBe(ctrl.identify.sn);
    } finally {
      a.release();
      b.release();
    }
  });
});
