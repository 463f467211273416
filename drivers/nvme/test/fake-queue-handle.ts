// A fake of the native queue handle (NvmeQueue, native/src/nvme_queue.cc) over plain
// memory, for unit tests of QueuePair's own logic (CIDs, PRP lists, onComplete/onFail,
// reset, suspend) without DMA buffers: QueuePairInit.handle = fakeQueueHandle. It reaps by
// Phase Tag into the host words and writes doorbells straight into the BAR's ArrayBuffer,
// as the handle does; it has no shadow doorbells and none of the handle's ordering or
// bounds guarantees (native/test and queue-native.test.ts test those on the real one).
import type { QueueHandle, QueueHandleInit } from '../src/queue.js';

/** The fake, plus what it was asked to do (for assertions). */
export interface FakeQueueHandle extends QueueHandle {
  readonly calls: { poll: number; ring: number; forced: number; announceHead: number };
  readonly closed: boolean;
}

export function fakeQueueHandle(init: QueueHandleInit): FakeQueueHandle {
  if (init.shadow !== null) throw new Error('fakeQueueHandle: no shadow doorbells in the fake');
  const cq = new Uint32Array(init.cq.bytes.buffer, init.cq.bytes.byteOffset, init.cq.size / 4);
  const depth = init.cq.size / 16;
  const host = init.host;
  const calls = { poll: 0, ring: 0, forced: 0, announceHead: 0 };
  let closed = false;
  const open = () => {
    if (closed) throw Object.assign(new Error('the NVMe queue handle was closed'), { code: 'ERR_CLOSED' });
  };
  const write = (bar: ArrayBuffer, offset: number, value: number) => {
    new Uint32Array(bar)[offset / 4] = value;
    return true;
  };
  return {
    calls,
    get closed() {
      return closed;
    },
    poll(bar, max, announce = true) {
      open();
      calls.poll++;
      let head = host[0]!;
      let phase = host[1]!;
      let n = 0;
      for (; n < max; n++) {
        const dw3 = cq[head * 4 + 3]!;
        if (((dw3 >>> 16) & 1) !== phase) break;
        host.set([dw3 & 0xffff, (dw3 >>> 16) & 0xfffe, cq[head * 4 + 2]! & 0xffff, cq[head * 4]!], 2 + 4 * n);
        if (++head === depth) {
          head = 0;
          phase ^= 1;
        }
      }
      host[0] = head;
      host[1] = phase;
      if (n > 0 && announce) write(bar, init.cqDoorbell, head);
      return n;
    },
    pollTraced(bar, max, announce = true) {
      const n = this.poll(bar, max, announce);
      return n * 2 + (n > 0 && announce ? 1 : 0);
    },
    ring(bar, tail, force = false) {
      open();
      calls.ring++;
      if (force) calls.forced++;
      return write(bar, init.sqDoorbell, tail);
    },
    announceHead(bar) {
      open();
      calls.announceHead++;
      return write(bar, init.cqDoorbell, host[0]!);
    },
    close() {
      closed = true;
    },
  };
}
