// The NVMe driver's background events ('reset', 'error', 'asyncEvent', 'removal') and
// AbortSignal on namespace I/O, against the lab's QEMU NVMe controllers through real VFIO.
// QEMU 7.2's controller declines every Abort (it completes it with DW0 bit 0 = 1, "not
// aborted"), so an aborted command on the device ends by completing: what must hold is
// that the promise rejects at once with the signal's reason, that the Abort was sent and
// answered, and that the buffer is nobody else's until the command has really ended.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindDevice, currentDriver, type DmaMemory } from '@vfio-node/core';
import { FeatureId, NvmeController, type ResetEvent } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

const turn = () => new Promise((r) => setImmediate(r));

/** Waits (turns of the event loop, at most limitMs) until cond() holds; fails the test otherwise. */
async function until(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Until the allocator's released ranges have left quarantine (their views finalized). */
async function quarantineOver(ctrl: NvmeController): Promise<void> {
  for (let i = 0; i < 1000 && ctrl.device.dma.stats().quarantined > 0; i++) await turn();
  expect(ctrl.device.dma.stats().quarantined).toBe(0);
}

describe('AbortSignal on namespace I/O against the lab NVMe controller', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    // Three CIDs per I/O queue: the fourth request waits in the driver's software queue.
    ctrl = await NvmeController.open(labNvme()[0]!, { queueDepth: 4 });
  });
  afterAll(() => ctrl?.close());

  it('rejects with the reason of an already aborted signal and sends nothing', async () => {
    const ns = ctrl.namespace(1);
    using buf = ctrl.allocBuffer(4096);
    const rings = ctrl.queuePairs[0]!.doorbellStats.rings;
    const reason = new Error('not wanted any more');
    const signal = AbortSignal.abort(reason);
    await expect(ns.read(0, 1, buf.bytes, { signal })).rejects.toBe(reason);
    await expect(ns.write(0, 1, buf.bytes, { signal })).rejects.toBe(reason);
    await expect(ns.flush({ signal })).rejects.toBe(reason);
    await expect(ns.writeZeroes(0, 1, { signal })).rejects.toBe(reason);
    await expect(ns.deallocate([{ lba: 0, blocks: 1 }], { signal })).rejects.toBe(reason);
    await expect(ns.passthru({ opcode: 0x02, cdw10: 0, cdw12: 0, data: buf.bytes.subarray(0, ns.blockSize) }, { signal })).rejects.toBe(reason);
    await expect(ns.readAt(0, buf.bytes.subarray(0, ns.blockSize), { signal })).rejects.toBe(reason);
    await turn();
    expect(ctrl.queuePairs[0]!.doorbellStats.rings).toBe(rings);
    expect(ctrl.abortStats).toMatchObject({ beforeSubmit: 7, inFlight: 0, abortsSent: 0 });
  });

  it('refuses a signal option that is not an AbortSignal, naming it', async () => {
    using buf = ctrl.allocBuffer(4096);
    await expect(ctrl.namespace(1).read(0, 1, buf.bytes, { signal: 'soon' as unknown as AbortSignal })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: /signal/ });
  });

  it('takes a request that waits for a command identifier out of the software queue: rejected, never sent, the others complete', async () => {
    const ns = ctrl.namespace(1);
    using buf = ctrl.allocBuffer(8 * 4096);
    const before = ctrl.abortStats;
    const ac = new AbortController();
    // Three fill the CIDs; the last waits in the backlog and is aborted there.
    const first = [0, 1, 2].map((i) => ns.read(i, 1, buf.bytes.subarray(i * 4096)));
    const waiting = ns.read(3, 1, buf.bytes.subarray(3 * 4096), { signal: ac.signal });
    ac.abort('never mind');
    await expect(waiting).rejects.toBe('never mind');
    await Promise.all(first);
    const after = ctrl.abortStats;
    expect(after.beforeSubmit - before.beforeSubmit).toBe(1);
    expect(after.abortsSent - before.abortsSent).toBe(0);
  });

  it('sends an NVMe Abort for a read on the device, rejects at once with the reason, and records that QEMU declined it', async () => {
    const ns = ctrl.namespace(1);
    const blocks = Math.floor(ctrl.maxTransfer / ns.blockSize);
    using buf = ctrl.allocBuffer(blocks * ns.blockSize);
    const before = ctrl.abortStats;
    const ac = new AbortController();
    // Large reads ahead of it, so that it is still on the device when the Abort arrives.
    const ahead = [0, 1].map((i) => ns.read(i * blocks, blocks, buf.bytes));
    const last = ns.read(2 * blocks, blocks, buf.bytes, { signal: ac.signal });
    ac.abort(new DOMException('took too long', 'AbortError'));
    await expect(last).rejects.toMatchObject({ name: 'AbortError', message: 'took too long' });
    await Promise.all(ahead);
    await until(() => ctrl.abortStats.notAborted + ctrl.abortStats.aborted > before.notAborted + before.aborted, 'the Abort answered');
    await until(() => ctrl.abortStats.pending === 0, 'the aborted read ended');
    const after = ctrl.abortStats;
    expect(after.inFlight - before.inFlight).toBe(1);
    expect(after.abortsSent - before.abortsSent).toBe(1);
    expect(after.notAborted - before.notAborted).toBe(1); // QEMU 7.2: "command not aborted"
    expect(after.retired - before.retired).toBe(1);
    expect(ctrl.queuePairs[0]!.outstanding).toBe(0);
    // The queue goes on as before.
    await ns.read(0, 1, buf.bytes);
  });

  it('keeps an aborted command\'s buffer away from every new allocation until the command ends, then gives it back', async () => {
    const ns = ctrl.namespace(1);
    const qp = ctrl.queuePairs[0]!;
    await quarantineOver(ctrl);
    const buf = ctrl.allocBuffer(4096);
    const iova = buf.iova;
    // Hold the doorbell (as a controller reset does): the read is on the SQ and the
    // controller will run it only once the doorbell is written, so it is certainly
    // outstanding while the buffer is released and memory allocated again.
    qp.suspend();
    const ac = new AbortController();
    const read = ns.read(64, 8, buf.bytes, { signal: ac.signal });
    ac.abort('abandon it');
    await expect(read).rejects.toBe('abandon it');
    expect(ctrl.abortStats.pending).toBe(1);
    buf.release();
    // Its views are finalized a turn or so later; held, the range stays out of use.
    for (let i = 0; i < 50; i++) await turn();
    expect(ctrl.device.dma.stats().quarantined).toBeGreaterThanOrEqual(1);
    expect(ctrl.abortStats.pending).toBe(1);
    const other: DmaMemory[] = [];
    for (let i = 0; i < 4; i++) other.push(ctrl.allocBuffer(4096));
    expect(other.map((m) => m.iova)).not.toContain(iova);
    // A write into another buffer is not held back by the aborted read.
    other[0]!.bytes.fill(0x5a);
    qp.resume(); // the controller now runs the read (and the write)
    await ns.write(128, 1, other[0]!.bytes.subarray(0, ns.blockSize));
    await until(() => ctrl.abortStats.pending === 0, 'the aborted read ended');
    for (const m of other) m.release();
    await quarantineOver(ctrl);
    // Ended: the range is free again (first fit hands it out).
    const again = Array.from({ length: 5 }, () => ctrl.allocBuffer(4096));
    expect(again.map((m) => m.iova)).toContain(iova);
    for (const m of again) m.release();
  });

  it('holds back a later request into the same buffer until the aborted command has ended, then runs it', async () => {
    const ns = ctrl.namespace(1);
    const qp = ctrl.queuePairs[0]!;
    using buf = ctrl.allocBuffer(4096);
    qp.suspend();
    const ac = new AbortController();
    const aborted = ns.read(200, 1, buf.bytes, { signal: ac.signal });
    ac.abort('first one');
    await expect(aborted).rejects.toBe('first one');
    let done = false;
    const retry = ns.read(200, 1, buf.bytes).then(() => (done = true));
    await turn();
    expect(done).toBe(false);
    expect(qp.outstanding).toBe(1); // only the aborted read: the retry waits in the driver
    qp.resume();
    await retry;
    expect(ctrl.abortStats.pending).toBe(0);
  });

  it('with one signal over many requests, leaves no listener on it once they completed', async () => {
    const { getEventListeners } = await import('node:events');
    const ns = ctrl.namespace(1);
    using buf = ctrl.allocBuffer(4096);
    const ac = new AbortController();
    for (let i = 0; i < 200; i++) await ns.read(i % 8, 1, buf.bytes, { signal: ac.signal });
    await Promise.all(Array.from({ length: 30 }, (_, i) => ns.read(i, 1, buf.bytes, { signal: ac.signal })));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe("the NVMe controller's events", () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it("emits 'reset' with the reason once ctrl.reset() has brought the controller back", async () => {
    const events: ResetEvent[] = [];
    ctrl.on('reset', (e) => events.push(e));
    const resets = ctrl.resets;
    await ctrl.reset();
    expect(events).toHaveLength(1);
    expect(events[0]!.reason).toMatchObject({ code: 'ERR_NVME_RESET', message: /reset\(\) was called/ });
    expect(events[0]!.resets).toBe(resets + 1);
    ctrl.removeAllListeners('reset');
  });

  it("emits 'reset' after the watchdog reset the controller for a command that timed out", async () => {
    const ns = ctrl.namespace(1);
    using buf = ctrl.allocBuffer(4096);
    const got = new Promise<ResetEvent>((resolve) => ctrl.once('reset', resolve));
    const qp = ctrl.queuePairs[0]!;
    ctrl.timeoutMs = 300;
    // The doorbell held: the read waits on the SQ, outlives its timeout, gets an Abort,
    // and the watchdog resets the controller. (The controller never saw the read, so the
    // reset keeps it and it runs once the queue exists again.)
    qp.suspend();
    try {
      const read = ns.read(0, 1, buf.bytes);
      const e = await got;
      expect(e.reason).toMatchObject({ code: 'ERR_NVME_RESET', message: /timed out/ });
      await read;
    } finally {
      ctrl.timeoutMs = 30_000;
    }
    expect(qp.isSuspended).toBe(false); // the reset created the queue again
    await ns.read(0, 1, buf.bytes);
  });

  it("emits 'error' (ERR_NVME_RESET_FAILED) when a reset the watchdog started fails, and stays usable after a reset() that works", async () => {
    const ns = ctrl.namespace(1);
    using buf = ctrl.allocBuffer(4096);
    const errors: Error[] = [];
    ctrl.on('error', (e) => errors.push(e));
    // A reset listener that cannot restart (as a runtime worker that died) fails the reset.
    const off = ctrl.onReset(() => Promise.reject(new Error('the worker could not restart its rings')));
    ctrl.timeoutMs = 300;
    ctrl.queuePairs[0]!.suspend();
    try {
      const read = ns.read(0, 1, buf.bytes).catch(() => undefined); // may fail with the listener's error
      await until(() => errors.length > 0, "the 'error' event");
      await read;
    } finally {
      off();
      ctrl.timeoutMs = 30_000;
    }
    expect(errors[0]).toMatchObject({ code: 'ERR_NVME_RESET_FAILED', message: /worker could not restart/ });
    expect((errors[0] as Error).cause).toBeInstanceOf(Error);
    ctrl.removeAllListeners('error');
    await ctrl.reset();
    await ns.read(0, 1, buf.bytes);
  });

  it("emits 'asyncEvent' with the log page for a SMART/health temperature event", async () => {
    const got = new Promise<{ type: number; info: number; logPage: number; log: Uint8Array | null }>((resolve) => ctrl.once('asyncEvent', resolve));
    const threshold = await ctrl.admin.getFeatures(FeatureId.TemperatureThreshold);
    const aec = await ctrl.admin.getFeatures(FeatureId.AsynchronousEventConfiguration);
    let e;
    try {
      await ctrl.admin.setFeatures(FeatureId.AsynchronousEventConfiguration, 0xff);
      const smart = await ctrl.admin.smartLog();
      await ctrl.admin.setFeatures(FeatureId.TemperatureThreshold, smart.compositeTemperature - 10);
      e = await Promise.race([got, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no asyncEvent within 10 s')), 10_000))]);
    } finally {
      await ctrl.admin.setFeatures(FeatureId.TemperatureThreshold, threshold & 0xffff);
      await ctrl.admin.setFeatures(FeatureId.AsynchronousEventConfiguration, aec);
    }
    expect(e).toMatchObject({ type: 1, info: 0x01, logPage: 0x02 });
    expect(e.log![0]! & 0x02).toBe(0x02);
  });
});

describe("the NVMe controller's 'removal' event", () => {
  it("fails pending I/O, emits 'removal' and lets the kernel's unbind finish; the device binds back to vfio-pci", async () => {
    const addr = labNvme().at(-1)!;
    const ctrl = await NvmeController.open(addr);
    let removal: Error | null = null;
    let closedOnRemoval = false;
    ctrl.on('removal', (e) => {
      removal = e;
      closedOnRemoval = ctrl.device.closed;
    });
    try {
      using buf = ctrl.allocBuffer(4096);
      // A read kept pending (its doorbell held) when the request arrives.
      ctrl.queuePairs[0]!.suspend();
      const pending = ctrl.namespace(1).read(0, 1, buf.bytes).then(() => null, (e: unknown) => e);
      // The unbind blocks in the kernel until we let go: from the thread pool, not this thread.
      const unbind = writeFile(`/sys/bus/pci/devices/${addr}/driver/unbind`, addr);
      await unbind;
      expect(removal).toMatchObject({ code: 'ERR_DEVICE_GONE', message: /being removed/ });
      expect(await pending).toMatchObject({ code: 'ERR_DEVICE_GONE' });
      expect(closedOnRemoval).toBe(false); // the listener ran before the close
      await expect(ctrl.namespace(1).read(0, 1, buf.bytes)).rejects.toMatchObject({ code: 'ERR_DEVICE_GONE' });
    } finally {
      await ctrl.close();
      if (currentDriver(addr) !== 'vfio-pci') bindDevice(addr);
    }
    expect(currentDriver(addr)).toBe('vfio-pci');
    // And it opens again.
    const again = await NvmeController.open(addr);
    await again.close();
  });
});
