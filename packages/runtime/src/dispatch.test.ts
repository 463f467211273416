import { MessageChannel, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { DmaMemory, DmaPin, VfioError } from '@vfio-node/core';
import { RequestTable, type Pending } from './dispatch.js';
import { resetInFlight, workerExit } from './errors.js';
import { STATUS_RESET } from './protocol.js';
import { Ring } from './ring.js';
import { WorkerQueue } from './worker-queue.js';

// The worker's side, played by the test: takes request records, answers with completions.
const channels: MessageChannel[] = [];
// The main thread's bell, shared by the completion rings of one table's queues (as the runtime does).
let bell = Ring.createBell();
function queue(index: number, depth: number): WorkerQueue {
  const c = new MessageChannel();
  channels.push(c);
  if (index === 0) bell = Ring.createBell();
  return new WorkerQueue(index, depth, c.port1, {} as DmaMemory, bell);
}
afterEach(() => {
  for (const c of channels.splice(0)) c.port1.close();
});

/**
 * Pops every record in q's request ring: [opcode, nsid, slba, nlb, iova, length, tag, flags].
 * After a microtask: the table publishes what one run of JavaScript posted from one (flush()).
 */
async function take(q: WorkerQueue): Promise<number[][]> {
  await undefined;
  const out: number[][] = [];
  let k = 0;
  for (let at = q.req.peek(0); at >= 0; at = q.req.peek(++k)) out.push(Array.from(q.req.data.subarray(at, at + 8)));
  q.req.consume(k);
  return out;
}

/** Publishes completions [tag, status] in one batch, as the worker does once per turn. */
function complete(q: WorkerQueue, ...cpls: [number, number][]): void {
  cpls.forEach(([tag, status], k) => {
    const at = q.cpl.reserve(k);
    q.cpl.data[at] = tag;
    q.cpl.data[at + 1] = status;
  });
  q.cpl.publish(cpls.length);
}

function table(queues: WorkerQueue[], unpinned: DmaPin[] = []): RequestTable {
  return new RequestTable(queues, {
    statusError: (status, p) => (status === STATUS_RESET ? resetInFlight(`${p.what} at LBA ${p.slba}`) : new Error(`status ${status}`)),
    cancelled: () => {},
    unwatch: () => {},
    unpin: (pin) => void unpinned.push(pin),
  });
}

/** A one-piece read of LBA slba on the next queue; the request and its settlement, recorded. */
function read(t: RequestTable, slba: number, log: string[]): { p: Pending; done: Promise<void> } {
  const p = t.open(1, 'Read', 1, slba, 1);
  const done = new Promise<void>(p.executor).then(() => void log.push(`ok ${slba}`), (e: VfioError) => void log.push(`${e.code} ${slba}`));
  t.post(t.nextQueue(), p, 2, 1, slba, 1, 0x10000 + slba * 4096, 4096, 0);
  return { p, done };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

const hooks = { statusError: (s: number) => new Error(`status ${s}`), cancelled: () => {}, unwatch: () => {}, unpin: () => {} };

/** One read on q through t; settles with its completion. */
function readOne(t: RequestTable, q: WorkerQueue, lba: number): Promise<void> {
  const p = t.open(1, 'Read', 1, lba, 1);
  const done = new Promise<void>(p.executor);
  t.post(q, p, 2, 1, lba, 1, 0x10000, 4096, 0);
  return done;
}

/**
 * Another thread playing q's worker: it answers every request at once, with success. It
 * reads and writes the rings by ring.ts's layout: HEAD, TAIL, then Float64 records at byte
 * 16 (requests 8 words wide, the tag at 6; completions [tag, status]); the completion
 * rings' shared bell is [SEQ, SLEEP]. A read of LBA `hold` is answered only after release().
 */
async function echoWorker(q: WorkerQueue, hold = -1): Promise<{ stop(): Promise<void>; release(): void }> {
  // [stop, release]: the thread ends; the read of LBA `hold` (kept unanswered) is answered.
  const halt = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(`
    const { parentPort, workerData: { req, cpl, bell, reqCap, cplCap, halt, hold } } = require('node:worker_threads');
    const rc = new Int32Array(req, 0, 4), cc = new Int32Array(cpl, 0, 4), stop = new Int32Array(halt);
    const rd = new Float64Array(req, 16), cd = new Float64Array(cpl, 16), b = new Int32Array(bell, 0, 2);
    let head = 0, tail = 0, held = -1;
    const answer = (tag) => {
      cd[(tail & (cplCap - 1)) * 2] = tag;
      cd[(tail & (cplCap - 1)) * 2 + 1] = 0;
      tail++;
    };
    parentPort.postMessage('ready');
    while (Atomics.load(stop, 0) === 0) {
      const before = tail;
      if (held >= 0 && Atomics.load(stop, 1) !== 0) { answer(held); held = -1; }
      const n = Atomics.load(rc, 1) - head;
      if (n > 0 && cplCap - (tail - Atomics.load(cc, 0)) >= n) {
        for (let k = 0; k < n; k++) {
          const at = ((head + k) & (reqCap - 1)) * 8;
          if (rd[at + 2] === hold) held = rd[at + 6];
          else answer(rd[at + 6]);
        }
        head += n;
        Atomics.store(rc, 0, head);
      }
      if (tail === before) continue;
      Atomics.store(cc, 1, tail);
      if (Atomics.load(b, 1) !== 0) { Atomics.store(b, 1, 0); Atomics.add(b, 0, 1); Atomics.notify(b, 0); }
    }`, { eval: true, workerData: { req: q.req.sab, cpl: q.cpl.sab, bell: q.cpl.bell.buffer, reqCap: q.req.capacity, cplCap: q.cpl.capacity, halt: halt.buffer, hold } });
  await new Promise((resolve) => w.once('message', resolve));
  return {
    async stop() {
      Atomics.store(halt, 0, 1);
      await w.terminate();
    },
    release() {
      Atomics.store(halt, 1, 1);
    },
  };
}

describe('the promise path\'s hand-off (RequestTable)', () => {
  it('writes each request straight into the ring in order, and settles each promise from its own completion', async () => {
    const q = queue(0, 16);
    const t = table([q]);
    const log: string[] = [];
    const rs = [10, 11, 12].map((lba) => read(t, lba, log));
    const recs = await take(q);
    expect(recs.map((r) => r.slice(0, 6))).toEqual([10, 11, 12].map((lba) => [2, 1, lba, 1, 0x10000 + lba * 4096, 4096]));
    expect(recs.map((r) => r[6])).toEqual(rs.map((r) => r.p.tag));
    // Completions in another order than the requests, in one batch.
    complete(q, [recs[2]![6]!, 0], [recs[0]![6]!, 0], [recs[1]![6]!, 0]);
    await Promise.all(rs.map((r) => r.done));
    expect(log).toEqual(['ok 12', 'ok 10', 'ok 11']);
    expect(t.outstanding).toBe(0);
    expect(t.pending).toBe(0);
  });

  it('holds requests on the main thread, in order, while the queue is full, and moves them in as completions free room', async () => {
    const q = queue(0, 4); // depth 4: 3 commands at a time
    const t = table([q]);
    const log: string[] = [];
    const rs = [0, 1, 2, 3, 4, 5, 6].map((lba) => read(t, lba, log));
    await undefined;
    expect(q.req.length).toBe(3);
    expect(q.waiting.map((w) => w.record[2])).toEqual([3, 4, 5, 6]);
    let seen: number[] = [];
    for (let round = 0; seen.length < 7 && round < 10; round++) {
      const recs = await take(q);
      seen = seen.concat(recs.map((r) => r[2]!));
      complete(q, ...recs.map((r): [number, number] => [r[6]!, 0]));
      await settle();
      expect(q.inflight).toBeLessThanOrEqual(3);
    }
    await Promise.all(rs.map((r) => r.done));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(log).toEqual(['ok 0', 'ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5', 'ok 6']);
    expect(q.waiting).toHaveLength(0);
  });

  it('carries a batch that wraps around the end of both rings intact', async () => {
    const q = queue(0, 4); // rings of 8 records
    const t = table([q]);
    const log: string[] = [];
    // Move both rings' head and tail to 6 of 8.
    for (let i = 0; i < 2; i++) {
      const rs = [100 + 3 * i, 101 + 3 * i, 102 + 3 * i].map((lba) => read(t, lba, log));
      complete(q, ...(await take(q)).map((r): [number, number] => [r[6]!, 0]));
      await Promise.all(rs.map((r) => r.done));
    }
    expect(Atomics.load(q.req.ctl, 1) % 8).toBe(6);
    // Three records: slots 6, 7, then 0.
    const rs = [200, 201, 202].map((lba) => read(t, lba, log));
    const recs = await take(q);
    expect(recs.map((r) => r[2])).toEqual([200, 201, 202]);
    expect(recs.map((r) => r[4])).toEqual([200, 201, 202].map((lba) => 0x10000 + lba * 4096));
    complete(q, ...recs.map((r): [number, number] => [r[6]!, 0]));
    await Promise.all(rs.map((r) => r.done));
    expect(log.slice(-3)).toEqual(['ok 200', 'ok 201', 'ok 202']);
  });

  it('resolves a request split over two queues once both pieces completed, under one tag', async () => {
    const a = queue(0, 8);
    const b = queue(1, 8);
    const t = table([a, b]);
    const p = t.open(2, 'Read', 512, 0, 1);
    let done = false;
    const promise = new Promise<void>(p.executor).then(() => (done = true));
    t.post(t.nextQueue(), p, 2, 1, 0, 256, 0x100000, 256 * 512, 0);
    t.post(t.nextQueue(), p, 2, 1, 256, 256, 0x100000 + 256 * 512, 256 * 512, 0);
    const [ra] = await take(a);
    const [rb] = await take(b);
    expect(ra![6]).toBe(rb![6]);
    expect([ra![2], rb![2]]).toEqual([0, 256]);
    complete(a, [ra![6]!, 0]);
    await settle();
    expect(done).toBe(false);
    complete(b, [rb![6]!, 0]);
    await promise;
    expect(done).toBe(true);
  });

  it("keeps a request's pin on its buffer until its last piece completed, then ends it once", async () => {
    const a = queue(0, 8);
    const b = queue(1, 8);
    const unpinned: DmaPin[] = [];
    const t = table([a, b], unpinned);
    const p = t.open(2, 'Read', 512, 0, 1);
    const pin = { iova: 0x100000 };
    p.pin = pin;
    const promise = new Promise<void>(p.executor);
    t.post(t.nextQueue(), p, 2, 1, 0, 256, 0x100000, 256 * 512, 0);
    t.post(t.nextQueue(), p, 2, 1, 256, 256, 0x100000 + 256 * 512, 256 * 512, 0);
    const [ra] = await take(a);
    const [rb] = await take(b);
    complete(a, [ra![6]!, 0]);
    await settle();
    expect(unpinned).toEqual([]); // one piece may still write the buffer
    complete(b, [rb![6]!, 0]);
    await promise;
    expect(unpinned).toEqual([pin]);
    expect(p.pin).toBeNull(); // the pooled record does not carry it to its next request
  });

  it('rejects the commands a controller reset failed with ERR_NVME_RESET, and the queue serves again afterwards', async () => {
    const q = queue(0, 8);
    const t = table([q]);
    const log: string[] = [];
    const before = [1, 2].map((lba) => read(t, lba, log));
    const recs = await take(q);
    // The worker's reset check (reset-handshake.ts) failed both (onFail): STATUS_RESET completions.
    complete(q, [recs[0]![6]!, STATUS_RESET], [recs[1]![6]!, STATUS_RESET]);
    await Promise.all(before.map((r) => r.done));
    expect(log).toEqual(['ERR_NVME_RESET 1', 'ERR_NVME_RESET 2']);
    const after = read(t, 3, log);
    const [r] = await take(q);
    // A slot is used again under another tag: a late record with the old tag does not settle the new request.
    expect(r![6]).not.toBe(recs[0]![6]);
    complete(q, [recs[0]![6]!, 0]);
    await settle();
    expect(log).toHaveLength(2);
    complete(q, [r![6]!, 0]);
    await after.done;
    expect(log).toEqual(['ERR_NVME_RESET 1', 'ERR_NVME_RESET 2', 'ok 3']);
  });

  it('fails the requests of a dead worker\'s queue, ignores its late completions, and sends new requests to the live queue', async () => {
    const a = queue(0, 8);
    const b = queue(1, 8);
    const t = table([a, b]);
    const log: string[] = [];
    const rs = [1, 2, 3].map((lba) => read(t, lba, log)); // a, b, a
    const fromA = await take(a);
    a.dead = () => workerExit(0, 1, new Error('gone'), 'deleted');
    t.failQueue(a, a.dead);
    complete(a, [fromA[0]![6]!, 0]); // published too late: ignored
    await Promise.all([rs[0]!.done, rs[2]!.done]);
    expect(log.sort()).toEqual(['ERR_WORKER_EXIT 1', 'ERR_WORKER_EXIT 3']);
    const next = read(t, 4, log);
    expect(a.req.length).toBe(0);
    const fromB = await take(b);
    expect(fromB.map((r) => r[2])).toEqual([2, 4]);
    complete(b, ...fromB.map((r): [number, number] => [r[6]!, 0]));
    await Promise.all([rs[1]!.done, next.done]);
    expect(log).toContain('ok 2');
    expect(log).toContain('ok 4');
    expect(t.outstanding).toBe(0);
  });

  it('publishes the pieces posted in one run of JavaScript together, in order: one TAIL store, and one more batch for the next run', async () => {
    const q = queue(0, 32);
    const t = table([q]);
    const publishes: number[] = [];
    const publish = q.req.publish.bind(q.req);
    q.req.publish = (n: number) => {
      publishes.push(n);
      publish(n);
    };
    const log: string[] = [];
    const first = [5, 6, 7, 8, 9].map((lba) => read(t, lba, log));
    // Written, not yet visible to the worker: TAIL has not moved.
    expect(q.req.length).toBe(0);
    expect(q.inflight).toBe(5);
    const recs = await take(q);
    expect(publishes).toEqual([5]);
    expect(recs.map((r) => r[2])).toEqual([5, 6, 7, 8, 9]);
    // The callbacks of one drain post the next batch (as an embedder's lanes of await do): one more publish for all of them.
    const second: { done: Promise<void> }[] = [];
    const lanes = first.map((r, i) => r.done.then(() => void second.push(read(t, 20 + i, log))));
    complete(q, ...recs.map((r): [number, number] => [r[6]!, 0]));
    await Promise.all(lanes);
    const next = await take(q);
    expect(publishes).toEqual([5, 5]);
    expect(next.map((r) => r[2])).toEqual([20, 21, 22, 23, 24]);
    complete(q, ...next.map((r): [number, number] => [r[6]!, 0]));
    await Promise.all(second.map((r) => r.done));
    expect(log).toEqual(['ok 5', 'ok 6', 'ok 7', 'ok 8', 'ok 9', 'ok 20', 'ok 21', 'ok 22', 'ok 23', 'ok 24']);
    expect(t.outstanding).toBe(0);
  });

  it('under back-pressure, moves waiting pieces into the ring in order behind the staged ones, across the ring\'s end, one publish per batch', async () => {
    const q = queue(0, 4); // 3 commands at a time, rings of 8 records
    const t = table([q]);
    const publishes: number[] = [];
    const publish = q.req.publish.bind(q.req);
    q.req.publish = (n: number) => {
      publishes.push(n);
      publish(n);
    };
    const log: string[] = [];
    const lbas = Array.from({ length: 14 }, (_, i) => 300 + i);
    const rs = lbas.map((lba) => read(t, lba, log));
    const seen: number[] = [];
    let recs = await take(q);
    expect(recs.map((r) => r[2])).toEqual([300, 301, 302]);
    expect(q.waiting).toHaveLength(11);
    for (let round = 0; round < 20 && seen.length < lbas.length; round++) {
      seen.push(...recs.map((r) => r[2]!));
      // Complete only the first of each batch now, the rest in the next round: room frees up one or two at a time.
      complete(q, ...recs.map((r): [number, number] => [r[6]!, 0]));
      await settle();
      expect(q.inflight).toBeLessThanOrEqual(3);
      recs = await take(q);
    }
    await Promise.all(rs.map((r) => r.done));
    expect(seen).toEqual(lbas);
    expect(log).toEqual(lbas.map((lba) => `ok ${lba}`));
    // 14 records through a ring of 8: its TAIL passed the end of the ring, batches of up to 3.
    expect(Atomics.load(q.req.ctl, 1)).toBe(14);
    expect(publishes.every((n) => n >= 1 && n <= 3)).toBe(true);
    expect(publishes.reduce((a, b) => a + b, 0)).toBe(14);
  });

  it('publishes staged pieces on flush() at once (what the runtime does before it aborts a request or closes)', () => {
    const q = queue(0, 8);
    const t = table([q]);
    const log: string[] = [];
    read(t, 1, log);
    read(t, 2, log);
    expect(q.req.length).toBe(0);
    t.flush();
    expect(q.req.length).toBe(2);
    expect(q.staged).toBe(0);
    t.flush(); // nothing staged: nothing more
    expect(q.req.length).toBe(2);
  });

  it('lets the event loop run while it polls a stream of completions that never pauses (a timer fires before the stream ends)', async () => {
    const q = queue(0, 16);
    // Polls for up to 10 s before sleeping: without its turns for the event loop, the
    // pump would never leave its microtasks while completions keep coming.
    const t = new RequestTable([q], hooks, 10_000);
    const echo = await echoWorker(q);
    try {
      const LIMIT = 200_000;
      let completions = 0;
      let atTimer = -1;
      // Eight lanes, each posting its next read as soon as the last one settled, until the
      // timer set after the 100th completion ran (or LIMIT).
      await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
        while (atTimer < 0 && completions < LIMIT) {
          await readOne(t, q, lane);
          if (++completions === 100) setTimeout(() => { atTimer = completions; }, 0);
        }
      }));
      // The timer ran while reads were still completing, long before the stream's end.
      expect(atTimer).toBeGreaterThanOrEqual(100);
      expect(atTimer).toBeLessThan(LIMIT);
      expect(t.outstanding).toBe(0);
    } finally {
      await echo.stop();
    }
  });

  it('while it polls, lets code several awaits deep post its next request at once (not after the spin)', async () => {
    const q = queue(0, 16);
    // Spin and event-loop turns both a minute away: a pump that polled without letting the
    // queued microtasks run would hold each next request back that long.
    const t = new RequestTable([q], hooks, 60_000, 60_000);
    const echo = await echoWorker(q);
    try {
      const deep = async (lba: number) => {
        await readOne(t, q, lba);
        await undefined;
        await Promise.resolve();
      };
      let done = 0;
      for (let i = 0; i < 500; i++) {
        await deep(i);
        await undefined;
        done++;
      }
      expect(done).toBe(500);
      expect(t.outstanding).toBe(0);
    } finally {
      await echo.stop();
    }
  });

  it('while it polls for a request the device holds, lets a timer (code run from the event loop) post and complete others', async () => {
    const q = queue(0, 16);
    const t = new RequestTable([q], hooks, 60_000, 60_000);
    const echo = await echoWorker(q, 999);
    try {
      const log: string[] = [];
      // Outstanding and unanswered: the pump polls for it (a minute's spin) ...
      const slow = readOne(t, q, 999).then(() => void log.push('999'));
      // ... while a timer's callback posts three more reads, which complete first.
      await new Promise<void>((resolve) => setTimeout(() => {
        void Promise.all([1, 2, 3].map((lba) => readOne(t, q, lba).then(() => void log.push(String(lba))))).then(() => resolve());
      }, 0));
      expect(log).toEqual(['1', '2', '3']);
      echo.release();
      await slow;
      expect(log).toEqual(['1', '2', '3', '999']);
      expect(t.outstanding).toBe(0);
    } finally {
      await echo.stop();
    }
  });
});
