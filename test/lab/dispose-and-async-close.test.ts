// `using` and `await using` on everything that holds a resource, and close() that lets the
// event loop run during the shutdown. The descriptors a device holds are counted in
// /proc/self/fd: VFIO device descriptors read anon_inode:[vfio-device], interrupt vectors
// anon_inode:[eventfd].

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { NvmeController } from '@vfio-node/nvme';
import { NvmeRuntime } from '@vfio-node/runtime';
import { VirtioNet } from '@vfio-node/virtio-net';
import { labNics, labNvme } from './lab-env.js';

/** How many descriptors of this process point at `kind` (vfio-device, eventfd). */
function fds(kind: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === `anon_inode:[${kind}]`) n++;
    } catch {
      // the directory's own descriptor is gone by now
    }
  }
  return n;
}

/** Writes a block of random bytes at lba through ctrl and reads it back. */
async function roundTrip(ctrl: NvmeController, lba: number): Promise<void> {
  const ns = ctrl.namespace();
  using out = ctrl.allocBuffer(ns.blockSize);
  using back = ctrl.allocBuffer(ns.blockSize);
  for (let i = 0; i < out.bytes.length; i++) out.bytes[i] = (i * 7 + lba) & 0xff;
  await ns.write(lba, 1, out.bytes);
  await ns.read(lba, 1, back.bytes);
  expect(Buffer.compare(back.bytes, out.bytes)).toBe(0);
}

/** Counts turns of the event loop (setImmediate callbacks) until stop() is called. */
function loopTurns(): { readonly turns: number; stop(): void } {
  let turns = 0;
  let running = true;
  const turn = () => {
    if (!running) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  return {
    get turns() {
      return turns;
    },
    stop() {
      running = false;
    },
  };
}

describe('an NVMe controller in an await using block is closed after the block', () => {
  it('does I/O inside the block; after it the device descriptor is gone and the controller opens again', async () => {
    const address = labNvme()[0]!;
    const before = fds('vfio-device');
    let inside = 0;
    {
      await using ctrl = await NvmeController.open(address);
      inside = fds('vfio-device');
      await roundTrip(ctrl, 10);
    }
    expect(inside).toBe(before + 1);
    expect(fds('vfio-device')).toBe(before);
    await using again = await NvmeController.open(address);
    await roundTrip(again, 11);
  });

  it('a plain using block closes it synchronously (closeSync) with the same result', async () => {
    const address = labNvme()[0]!;
    const before = fds('vfio-device');
    {
      using ctrl = await NvmeController.open(address);
      await roundTrip(ctrl, 12);
    }
    expect(fds('vfio-device')).toBe(before);
    const again = await NvmeController.open(address);
    await roundTrip(again, 13);
    again.closeSync();
    expect(fds('vfio-device')).toBe(before);
  });

  it('a queue pair in an await using block is deleted on the controller after it, and its queue id is free again', async () => {
    await using ctrl = await NvmeController.open(labNvme()[0]!, { maxIoQueues: 2 });
    let qid = 0;
    {
      await using qp = await ctrl.createQueuePair({ depth: 8 });
      qid = qp.qid;
      expect(ctrl.queuePairs).toContain(qp);
    }
    expect(ctrl.queuePairs.map((q) => q.qid)).not.toContain(qid);
    // Create I/O CQ/SQ for the same id succeed only if the deletion reached the controller.
    await using next = await ctrl.createQueuePair({ depth: 8 });
    expect(next.qid).toBe(qid);
    await roundTrip(ctrl, 14);
  });

  it('DMA memory in a using block is released after it (its views detached)', async () => {
    await using ctrl = await NvmeController.open(labNvme()[0]!);
    let bytes!: Uint8Array;
    {
      using mem = ctrl.allocBuffer(4096);
      bytes = mem.bytes;
      expect(bytes.byteLength).toBe(4096);
    }
    expect(bytes.byteLength).toBe(0);
  });
});

describe('await ctrl.close() does not hold the event loop during the shutdown', () => {
  it('close() returns before the shutdown is done (it waits on the controller with timers and completions); closeSync() returns done and lets no callback run', async () => {
    const address = labNvme()[0]!;
    const before = fds('vfio-device');
    const ctrl = await NvmeController.open(address);
    await roundTrip(ctrl, 20);
    const closing = ctrl.close();
    // Structural, not timed: the admin commands and the CSTS reads wait for the event loop,
    // so when close() returns the device is still open. (Counting setImmediate turns until
    // the promise settles was racy: a shutdown that needs one macrotask can settle before
    // the loop reaches its check phase.)
    expect(fds('vfio-device')).toBe(before + 1);
    expect(ctrl.close()).toBe(closing); // one close, one promise
    await closing;
    expect(fds('vfio-device')).toBe(before);

    // The contrast: the synchronous close is done when it returns, and no other callback ran.
    const other = await NvmeController.open(address);
    await roundTrip(other, 21);
    const still = loopTurns();
    other.closeSync();
    const turnsDuringSync = still.turns;
    still.stop();
    expect(turnsDuringSync).toBe(0);
    expect(fds('vfio-device')).toBe(before);
  });

  it('closeSync() during a close() (process exit) finishes it at once; the close() promise then resolves and the controller opens again', async () => {
    const address = labNvme()[0]!;
    const before = fds('vfio-device');
    const ctrl = await NvmeController.open(address);
    await roundTrip(ctrl, 22);
    const closing = ctrl.close();
    ctrl.closeSync();
    expect(fds('vfio-device')).toBe(before);
    await expect(closing).resolves.toBeUndefined();
    await using again = await NvmeController.open(address);
    await roundTrip(again, 23);
  });

  it('commands pending when close() begins fail with ERR_CLOSED', async () => {
    const ctrl = await NvmeController.open(labNvme()[0]!);
    const ns = ctrl.namespace();
    const mem = ctrl.allocBuffer(64 * ns.blockSize);
    const reads = Array.from({ length: 64 }, (_, i) => ns.read(i, 1, mem.bytes.subarray(i * ns.blockSize, (i + 1) * ns.blockSize)).then(() => 'ok', (e: { code?: string }) => e.code));
    await ctrl.close();
    const outcomes = await Promise.all(reads);
    // Each read either completed before close() began or failed with ERR_CLOSED, nothing else.
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'ERR_CLOSED')).toEqual([]);
    expect(() => ctrl.ioQueue()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });
});

describe('the other resource holders in using blocks', () => {
  it('a Device and its interrupts: the eventfds go with the Interrupts block, the device descriptor with the Device block', () => {
    const before = { dev: fds('vfio-device'), efd: fds('eventfd') };
    {
      using dev = Device.open(labNvme()[0]!);
      {
        using irq = dev.irq;
        irq.enableMsix(2);
        expect(fds('eventfd')).toBe(before.efd + 2);
      }
      expect(fds('eventfd')).toBe(before.efd);
      expect(fds('vfio-device')).toBe(before.dev + 1);
    }
    expect(fds('vfio-device')).toBe(before.dev);
  });

  it('a virtio-net device in a using block is closed after it and opens again', () => {
    const address = labNics()[0]!;
    const before = fds('vfio-device');
    {
      using nic = VirtioNet.open(address);
      expect(fds('vfio-device')).toBe(before + 1);
      expect(nic.mac).toBeDefined();
    }
    expect(fds('vfio-device')).toBe(before);
    using again = VirtioNet.open(address);
    expect(fds('vfio-device')).toBe(before + 1);
  });

  it('the runtime in an await using block stops its workers and closes the controller after it', async () => {
    const address = labNvme()[0]!;
    const before = fds('vfio-device');
    {
      await using rt = await NvmeRuntime.open(address, { workers: 1, queueDepth: 16, workerMemory: 4 * 1024 * 1024 });
      expect(fds('vfio-device')).toBe(before + 1);
      await roundTrip(rt.controller, 30);
    }
    expect(fds('vfio-device')).toBe(before);
    await using again = await NvmeController.open(address);
    await roundTrip(again, 31);
  });
});
