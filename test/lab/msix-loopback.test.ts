import { Worker } from 'node:worker_threads';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device } from '@vfio-node/core';
import { labNvme } from './lab-env.js';

const nativeEntry = new URL('../../native/index.js', import.meta.url).href;

describe('an MSI-X vector fired by VFIO loopback arrives through its eventfd', () => {
  let dev: Device;
  beforeAll(() => {
    dev = Device.open(labNvme()[0]!);
  });
  afterAll(() => dev?.close());

  it('the NVMe controller offers 65 MSI-X vectors', () => {
    expect(dev.irq.info('msix').count).toBe(65);
  });

  it('arrives on the main thread through libuv', async () => {
    const [v0, v1] = dev.irq.enableMsix(2);
    const got = v1!.next(5000);
    v1!.trigger();
    expect(await got).toBe(1n);
    expect(v1!.received).toBe(1n);
    expect(v0!.received).toBe(0n);
    // The async iterator form.
    const it = v0![Symbol.asyncIterator]();
    const first = it.next();
    v0!.trigger();
    expect((await first).value).toBe(1n);
    await it.return(undefined);
    dev.irq.disable();
  });

  it('wakes a worker thread blocked on the eventfd', async () => {
    const [v] = dev.irq.enableMsix(1);
    // An ESM worker that loads the native core by itself and blocks in eventfdWait.
    const code = `import { workerData, parentPort } from 'node:worker_threads';
       const native = (await import(workerData.entry)).default;
       parentPort.postMessage('waiting');
       const ready = native.eventfdWait([workerData.fd], 10000);
       parentPort.postMessage(ready);`;
    const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: { entry: nativeEntry, fd: v!.fd } });
    const messages: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => {
        messages.push(m);
        if (m === 'waiting') setTimeout(() => v!.trigger(), 100);
        else resolve();
      });
      worker.on('error', reject);
    });
    await done;
    await worker.terminate();
    expect(messages).toEqual(['waiting', 0]);
    dev.irq.disable();
  });

  it('refuses more vectors than the device has', () => {
    expect(() => dev.irq.enableMsix(66)).toThrow(expect.objectContaining({ code: 'ERR_IRQ_COUNT' }));
  });
});
