// lab: --nvme backing=null,latency=10000000000,size=64M,serial=LABSERIAL --hugepages 64
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DmaMemory } from '@vfio-node/core';
import { NvmeController, NvmOpcode } from '@vfio-node/nvme';
import { labNvme } from '../lab/lab-env.js';

// A controller whose every command takes 10 s (QEMU's null-co with latency-ns and
// read-zeroes: a read writes zeroes into its buffer when it ends), and a driver that gives
// a command 1 s: the watchdog sends Abort after 1 s, gives up after 2 s more, stops the
// controller (Bus Master Enable off, CC.EN = 0, which QEMU's controller answers only once
// the read has ended) and only then fails the command. (10 s, not less: on a loaded
// machine the guest's timers run late, and a 3 s read could end before the watchdog acts.)

/** Long enough for any transfer of a 10 s command to have landed. */
const AFTER_LATENCY_MS = 11_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until released DMA ranges have left quarantine (their ArrayBuffers finalized, one
 * turn of the event loop after release()), so that the next allocation may reuse them.
 */
async function quarantineOver(ctrl: NvmeController): Promise<void> {
  for (let i = 0; i < 1000 && ctrl.device.dma.stats().quarantined > 0; i++) await new Promise((r) => setImmediate(r));
  expect(ctrl.device.dma.stats().quarantined).toBe(0);
}

describe('a command that outlives its timeout gets an Abort (which QEMU declines), then the controller is reset and the command fails with ERR_NVME_TIMEOUT', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { timeoutMs: 1000, maxIoQueues: 2 });
  });
  afterAll(() => ctrl?.close());

  it('fails the slow read with ERR_NVME_TIMEOUT saying what the Abort returned, and keeps the controller usable', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    const started = Date.now();
    const err = await ns.read(0, 8, buf.bytes).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_NVME_TIMEOUT', details: { qid: 1, opcode: NvmOpcode.Read } });
    // The Abort was sent and answered: QEMU 7.2's controller never aborts (DW0 bit 0 = 1).
    expect((err as { details: { abort: string } }).details.abort).toBe('not aborted');
    expect((err as Error).message).toMatch(/Abort: not aborted/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    // After the reset the admin queue and the I/O queue pair were recreated.
    const id = await ctrl.admin.identifyController();
    expect(id.sn).toBe(ctrl.identify.sn);
    expect(ctrl.queuePairs[0]!.outstanding).toBe(0);
    expect(ctrl.resets).toBe(1);
    // And I/O works again: given 60 s, a read takes its 10 s and completes.
    ctrl.timeoutMs = 60_000;
    await ns.read(8, 8, buf.bytes);
    expect(ctrl.resets).toBe(1);
    buf.release();
  });

  it('never lets the timed-out read write into its buffer once a promise caller has released it and the memory went to a new owner', async () => {
    ctrl.timeoutMs = 1000;
    const ns = ctrl.namespace(1);
    const resets = ctrl.resets;
    await quarantineOver(ctrl); // the earlier tests' buffers are free again: first fit starts clean
    const buf = ctrl.allocBuffer(4096);
    const iova = buf.iova;
    let next: DmaMemory | null = null;
    const code = await ns.read(16, 8, buf.bytes).then(
      () => 'ok',
      async (e: { code?: string }) => {
        // The caller hears of the failure and hands the memory back; once V8 has let go of
        // its views (a turn of the event loop: released ranges wait in quarantine), the next
        // allocation gets the same memory (first fit) and fills it with its own data.
        const stale = buf.bytes;
        buf.release();
        expect(stale.length).toBe(0);
        await quarantineOver(ctrl);
        next = ctrl.allocBuffer(4096);
        next.bytes.fill(0xa5);
        return e.code;
      },
    );
    expect(code).toBe('ERR_NVME_TIMEOUT');
    expect(next!.iova).toBe(iova);
    await sleep(AFTER_LATENCY_MS);
    // The read's zeroes landed before the failure was reported, or never: not in the new owner's data.
    expect(next!.bytes.every((b) => b === 0xa5)).toBe(true);
    expect(ctrl.resets).toBe(resets + 1);
    next!.release();
  });

  it('never lets the timed-out read write into its buffer once a raw queue pair\'s onFail has reused it', async () => {
    ctrl.timeoutMs = 1000;
    const resets = ctrl.resets;
    const qp = await ctrl.createQueuePair({ depth: 4 });
    await quarantineOver(ctrl);
    const buf = ctrl.allocBuffer(4096);
    const iova = buf.iova;
    let next: DmaMemory | null = null;
    const failures: string[] = [];
    let completions = 0;
    qp.onComplete = () => completions++;
    // onFail runs synchronously inside the driver: hand the memory back right there (its
    // views are detached at once), and give it to a new owner as soon as the allocator may.
    let staleLength = -1;
    qp.onFail = (_cid, _tag, err) => {
      failures.push((err as { code?: string }).code ?? String(err));
      const stale = buf.bytes;
      buf.release();
      staleLength = stale.length;
    };
    qp.submitIo(NvmOpcode.Read, 1, 24, 8, Number(iova), 4096, 1);
    qp.ring();
    const t0 = Date.now();
    while (failures.length === 0 && completions === 0 && Date.now() - t0 < 60_000) {
      qp.poll();
      await sleep(5);
    }
    expect(completions).toBe(0);
    expect(failures).toEqual(['ERR_NVME_TIMEOUT']);
    expect(staleLength).toBe(0);
    await quarantineOver(ctrl);
    next = ctrl.allocBuffer(4096);
    next.bytes.fill(0xa5);
    expect(next!.iova).toBe(iova);
    await sleep(AFTER_LATENCY_MS);
    qp.poll();
    expect(next!.bytes.every((b) => b === 0xa5)).toBe(true);
    expect(completions).toBe(0);
    expect(ctrl.resets).toBe(resets + 1);
    next!.release();
  });
});
