// AbortSignal on the promise layer (CommandQueue), in plain memory: the test plays the
// controller (it reads the SQ and writes CQEs). What must hold: an aborted signal sends
// nothing; a request still in the software queue is taken out; a command on the device
// gets an NVMe Abort, its promise rejects at once with signal.reason, and its CID and
// buffer stay the device's until it completes or a reset fails it; a request whose buffer
// overlaps waits for that; the abort listener goes when a request settles.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CommandQueue, newPending, type Pending } from './command-queue.js';
import { NvmOpcode } from './commands.js';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';
import { plainDma } from '../test/plain-dma.js';
import { RequestState } from './request.js';
import { sqTailDoorbell } from './registers.js';

/** A queue pair of `depth` entries with its promise layer, and the controller's side of it. */
function setup(depth = 8) {
  const bar = new ArrayBuffer(0x2000);
  const qp = new QueuePair({ qid: 1, depth, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma: plainDma(), bar: { mapping: { buffer: bar } }, completion: 'poll', handle: fakeQueueHandle });
  const q = new CommandQueue(qp, 'test');
  const aborts: number[] = [];
  const holds: Uint8Array[] = [];
  let unholds = 0;
  q.sendAbort = (cid) => aborts.push(cid);
  q.holdMemory = (view) => {
    holds.push(view);
    return () => void unholds++;
  };
  const regs = new Uint32Array(bar);
  const sq = new Uint32Array(qp.sq.bytes.buffer);
  const cq = new DataView(qp.cq.bytes.buffer);
  let head = 0; // how far the "controller" has fetched the SQ
  let cqTail = 0;
  let phase = 1;
  const device = {
    /** The CIDs rung since the last fetch (SQyTDBL), as a controller fetches them. */
    fetch(): number[] {
      const tail = regs[sqTailDoorbell(1, 0) / 4]!;
      const cids: number[] = [];
      for (; head !== tail; head = (head + 1) % depth) cids.push(sq[head * 16]! >>> 16);
      return cids;
    },
    /** Posts a completion for cid (status 0: success). */
    complete(cid: number, status = 0): void {
      const at = cqTail * 16;
      cq.setUint32(at, 0, true);
      cq.setUint16(at + 8, head, true);
      cq.setUint16(at + 10, 1, true);
      cq.setUint16(at + 12, cid, true);
      cq.setUint16(at + 14, (status << 1) | phase, true);
      if (++cqTail === depth) {
        cqTail = 0;
        phase ^= 1;
      }
    },
  };
  return { qp, q, aborts, holds, unholds: () => unholds, device };
}

function read(buffer: Uint8Array, slba: number, signal?: AbortSignal): Pending {
  const p = newPending();
  p.opcode = NvmOpcode.Read;
  p.nsid = 1;
  p.slba = slba;
  p.total = 1;
  p.maxBlocks = 1;
  p.iova = 0x20_0000;
  p.blockSize = 512;
  p.buffer = buffer;
  p.signal = signal ?? null;
  return p;
}

/** Lets the microtask ring and a few polling rounds run. */
const turn = () => new Promise((r) => setImmediate(r));

describe('CommandQueue and AbortSignal', () => {
  it('an already aborted signal rejects with its reason and submits nothing', async () => {
    const { q, qp, device } = setup();
    const reason = new Error('changed my mind');
    await expect(q.run(read(new Uint8Array(512), 0, AbortSignal.abort(reason)))).rejects.toBe(reason);
    await turn();
    expect(device.fetch()).toEqual([]);
    expect(qp.outstanding).toBe(0);
    expect(q.pending).toBe(0);
    expect(q.abortStats).toMatchObject({ beforeSubmit: 1, inFlight: 0, abortsSent: 0 });
  });

  it('a request waiting for a CID is taken out of the software queue: never submitted, no Abort sent', async () => {
    const { q, aborts, device } = setup(2); // one CID
    const first = q.run(read(new Uint8Array(512), 1));
    const ac = new AbortController();
    const second = q.run(read(new Uint8Array(512), 2, ac.signal));
    await turn();
    const [cid] = device.fetch();
    expect(cid).toBeDefined();
    ac.abort('stop');
    await expect(second).rejects.toBe('stop');
    device.complete(cid!);
    await first;
    await turn();
    expect(device.fetch()).toEqual([]); // the second never reached the SQ
    expect(aborts).toEqual([]);
    expect(q.abortStats).toMatchObject({ beforeSubmit: 1, inFlight: 0 });
  });

  it('a command on the device: Abort sent, rejected at once, CID and buffer held until its completion, an overlapping request waits', async () => {
    const { q, qp, aborts, holds, unholds, device } = setup();
    const buffer = new Uint8Array(4096);
    const ac = new AbortController();
    const reason = new DOMException('gave up', 'AbortError');
    const aborted = q.run(read(buffer, 7, ac.signal));
    await turn();
    const [cid] = device.fetch();
    ac.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(aborts).toEqual([cid]);
    expect(qp.requests.state[cid!]).toBe(RequestState.AbortSent);
    expect(qp.outstanding).toBe(1); // the CID is still the device's
    expect(holds).toEqual([buffer]);
    expect(q.abortedInFlight).toBe(1);
    // A read into the second half of the same buffer waits; one into another buffer goes.
    let overlapDone = false;
    const overlap = q.run(read(buffer.subarray(2048), 8)).then(() => (overlapDone = true));
    const other = q.run(read(new Uint8Array(512), 9));
    await turn();
    const sent = device.fetch();
    expect(sent).toHaveLength(1);
    device.complete(sent[0]!);
    await other;
    expect(overlapDone).toBe(false);
    expect(unholds()).toBe(0);
    // The device completes the aborted command after all (QEMU declines Aborts): its late
    // completion frees the CID and the buffer, and the waiting read goes out.
    device.complete(cid!);
    await turn();
    expect(unholds()).toBe(1);
    expect(q.abortedInFlight).toBe(0);
    const next = device.fetch();
    expect(next).toHaveLength(1);
    device.complete(next[0]!);
    await overlap;
    expect(q.abortStats).toMatchObject({ beforeSubmit: 0, inFlight: 1, abortsSent: 1, retired: 1 });
    expect(qp.outstanding).toBe(0);
  });

  it('a reset ends an aborted command on the device: CID and buffer free, no second rejection', async () => {
    const { q, qp, unholds, device } = setup();
    const ac = new AbortController();
    const aborted = q.run(read(new Uint8Array(512), 3, ac.signal));
    await turn();
    device.fetch();
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    q.failInflight(() => new Error('reset'));
    expect(unholds()).toBe(1);
    expect(qp.outstanding).toBe(0);
    expect(q.abortStats.retired).toBe(1);
  });

  it('one signal over many requests: one listener while any is pending, none once all settled', async () => {
    const { q, device } = setup(64);
    const ac = new AbortController();
    for (let round = 0; round < 20; round++) {
      const all = Array.from({ length: 50 }, (_, i) => q.run(read(new Uint8Array(512), i, ac.signal)));
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      await turn();
      for (const cid of device.fetch()) device.complete(cid);
      await Promise.all(all);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    }
  });

  it('one signal aborts every request sharing it, on the device or waiting, each with the reason', async () => {
    const { q, aborts, device } = setup(4); // three CIDs
    const ac = new AbortController();
    const all = Array.from({ length: 5 }, (_, i) => q.run(read(new Uint8Array(512), i, ac.signal)));
    await turn();
    const onDevice = device.fetch();
    expect(onDevice).toHaveLength(3);
    ac.abort('all of them');
    for (const r of all) await expect(r).rejects.toBe('all of them');
    expect(aborts.sort()).toEqual([...onDevice].sort());
    expect(q.abortStats).toMatchObject({ beforeSubmit: 2, inFlight: 3, abortsSent: 3 });
    for (const cid of onDevice) device.complete(cid, 0x07); // Command Abort Requested
    await turn();
    expect(q.abortStats.retired).toBe(3);
    expect(q.pending).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

// A buffer's allocation is pinned from run() until the request's last command ends, on every
// way out: completion, an abort on the device (the late completion), an abort before
// submission, a reset.
describe('CommandQueue pins each request buffer while a command may reach it', () => {
  function pinned() {
    const s = setup(4);
    const live = new Map<object, Uint8Array>();
    const unpinned: Uint8Array[] = [];
    s.q.pins = {
      pin(view) {
        const pin = { iova: 0 };
        live.set(pin, view);
        return pin;
      },
      unpin(pin) {
        expect(live.has(pin)).toBe(true); // once per pin
        unpinned.push(live.get(pin)!);
        live.delete(pin);
      },
    };
    return { ...s, live, unpinned };
  }

  it('until the completion, not before', async () => {
    const { q, device, live, unpinned } = pinned();
    const buffer = new Uint8Array(512);
    const r = q.run(read(buffer, 1));
    expect([...live.values()]).toEqual([buffer]);
    await turn();
    const [cid] = device.fetch();
    await turn();
    expect(unpinned).toEqual([]);
    device.complete(cid!);
    await r;
    expect(unpinned).toEqual([buffer]);
    expect(live.size).toBe(0);
  });

  it('aborted on the device: still pinned after the rejection, until its late completion', async () => {
    const { q, device, live, unpinned } = pinned();
    const buffer = new Uint8Array(512);
    const ac = new AbortController();
    const r = q.run(read(buffer, 2, ac.signal));
    await turn();
    const [cid] = device.fetch();
    ac.abort('stop');
    await expect(r).rejects.toBe('stop');
    expect(live.size).toBe(1);
    device.complete(cid!);
    await turn();
    expect(unpinned).toEqual([buffer]);
  });

  it('aborted before submission: unpinned at once; a reset unpins what the device held', async () => {
    const { q, device, live, unpinned } = pinned();
    const onDevice = [0, 1, 2].map((i) => q.run(read(new Uint8Array(512), i))); // three CIDs
    const ac = new AbortController();
    const waiting = new Uint8Array(512);
    const w = q.run(read(waiting, 3, ac.signal));
    await turn();
    expect(device.fetch()).toHaveLength(3);
    ac.abort('stop');
    await expect(w).rejects.toBe('stop');
    expect(unpinned).toEqual([waiting]);
    q.failInflight(() => new Error('reset'));
    for (const r of onDevice) await expect(r).rejects.toThrow('reset');
    expect(unpinned).toHaveLength(4);
    expect(live.size).toBe(0);
  });
});
