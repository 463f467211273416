import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('pushes and pops records in order and wraps around its capacity', () => {
    const r = Ring.create(4, 3);
    const out: number[][] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) expect(r.push([round, i, 2 ** 52 + i])).toBe(true);
      expect(r.length).toBe(3);
      for (let k = 0; ; k++) {
        const at = r.peek(k);
        if (at < 0) break;
        out.push([r.data[at]!, r.data[at + 1]!, r.data[at + 2]!]);
      }
      r.consume(3);
    }
    expect(out).toHaveLength(15);
    expect(out[13]).toEqual([4, 1, 2 ** 52 + 1]);
  });

  it('refuses a record when full and accepts it again after a pop', () => {
    const r = Ring.create(2, 1);
    expect(r.push([1])).toBe(true);
    expect(r.push([2])).toBe(true);
    expect(r.push([3])).toBe(false);
    expect(r.free).toBe(0);
    r.consume(1);
    expect(r.push([3])).toBe(true);
    expect(r.data[r.peek(0)]).toBe(2);
    expect(r.data[r.peek(1)]).toBe(3);
  });

  it('wakes the consumer only when it said it sleeps (SLEEP), once per sleep', async () => {
    const r = Ring.create(8, 1);
    const seq0 = r.seq;
    expect(r.push([1])).toBe(true);
    expect(r.seq).toBe(seq0); // nobody asleep: no wake
    r.consume(1);
    // The consumer goes to sleep (waitForDataAsync sets SLEEP and finds nothing), then two publishes: one wake.
    const woken = r.waitForDataAsync(r.seq, 5000);
    expect(woken).toBeInstanceOf(Promise);
    expect(r.push([2])).toBe(true);
    expect(r.push([3])).toBe(true);
    expect(r.seq).toBe(seq0 + 1);
    await woken;
    r.awake();
    // Records already there: waitForDataAsync does not wait at all.
    expect(r.waitForDataAsync(r.seq, 5000)).toBeUndefined();
  });

  it('loses no wake-up: a worker sleeping in waitForData (10 s timeout) gets 50000 records published in bursts, woken at most once per sleep', async () => {
    const r = Ring.create(64, 1);
    // The consumer: the worker side's loop in small (ring.ts, compiled), counting its sleeps.
    const ringUrl = new URL('../dist/ring.js', import.meta.url).href;
    const code = `
      import { workerData, parentPort } from 'node:worker_threads';
      const { Ring } = await import(workerData.ringUrl);
      const r = new Ring(workerData.init);
      let got = 0, bad = 0, sleeps = 0;
      while (got < workerData.n) {
        const seen = r.seq;
        let k = 0;
        for (let at = r.peek(0); at >= 0; at = r.peek(++k)) if (r.data[at] !== got + k) bad++;
        r.consume(k);
        got += k;
        if (k === 0) { sleeps++; const t = Date.now(); r.waitForData(seen, 10000); if (Date.now() - t > 5000) bad += 1e6; }
      }
      parentPort.postMessage({ got, bad, sleeps });`;
    const n = 50_000;
    const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: { init: r.init(), n, ringUrl } });
    const result = new Promise<{ got: number; bad: number; sleeps: number }>((resolve) => w.once('message', resolve));
    const seq0 = r.seq;
    let sent = 0;
    while (sent < n) {
      // Bursts of up to 40 records, then a pause now and then so that the consumer falls asleep.
      for (let i = 0; i < 40 && sent < n; i++) {
        const at = r.reserve(0);
        if (at < 0) break;
        r.data[at] = sent++;
        r.publish(1);
      }
      await new Promise((res) => (sent % 400 < 40 ? setTimeout(res, 1) : setImmediate(res)));
    }
    const { got, bad, sleeps } = await result;
    await w.terminate();
    expect(bad).toBe(0);
    expect(got).toBe(n);
    // A wake bumps SEQ: never more wakes than sleeps (a publish to an awake consumer costs no futex call).
    expect(r.seq - seq0).toBeLessThanOrEqual(sleeps);
  }, 60_000);

  it('rejects a capacity that is not a power of two', () => {
    expect(() => Ring.create(3, 1)).toThrow(RangeError);
    expect(() => Ring.create(4, 0)).toThrow(RangeError);
  });

  it('carries 100000 records from a worker thread intact, waking the consumer', async () => {
    const r = Ring.create(64, 2);
    const code = `
      import { workerData } from 'node:worker_threads';
      const ctl = new Int32Array(workerData.sab, 0, 4);
      const words = new Float64Array(workerData.sab, 16, workerData.capacity * workerData.width);
      let sent = 0;
      while (sent < workerData.n) {
        const tail = Atomics.load(ctl, 1);
        if (((tail - Atomics.load(ctl, 0)) | 0) >= workerData.capacity) { Atomics.wait(ctl, 0, Atomics.load(ctl, 0), 1); continue; }
        const at = (tail & (workerData.capacity - 1)) * 2;
        words[at] = sent; words[at + 1] = sent * 3;
        Atomics.add(ctl, 1, 1); Atomics.add(ctl, 2, 1); Atomics.notify(ctl, 2);
        sent++;
      }`;
    const n = 100_000;
    const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: { ...r.init(), n } });
    let got = 0;
    let bad = 0;
    while (got < n) {
      const seen = r.seq;
      let k = 0;
      for (let at = r.peek(k); at >= 0; at = r.peek(++k)) {
        if (r.data[at] !== got || r.data[at + 1] !== got * 3) bad++;
        got++;
      }
      r.consume(k);
      if (k === 0) await r.waitForDataAsync(seen, 100);
    }
    await w.terminate();
    expect(bad).toBe(0);
    expect(got).toBe(n);
  });

  it('a producer and a consumer on two Ring objects (two threads\' views): each reloads the other side\'s index only when the one it has is not enough', () => {
    const prod = Ring.create(4, 1);
    const cons = new Ring(prod.init());
    for (let i = 0; i < 4; i++) {
      const at = prod.reserve(i);
      expect(at).toBeGreaterThanOrEqual(0);
      prod.data[at] = i;
    }
    expect(prod.reserve(4)).toBe(-1); // a batch of 5 does not fit in 4
    expect(cons.available()).toBe(0); // nothing published yet
    prod.publish(4);
    expect(prod.reserve(0)).toBe(-1); // full
    expect(cons.available()).toBe(4);
    expect([0, 1, 2, 3].map((k) => cons.data[cons.at(k)])).toEqual([0, 1, 2, 3]);
    cons.consume(3);
    // The producer sees the room the consumer freed: a batch of 3 across the ring's end (slots 0, 1, 2 after 3).
    for (let i = 0; i < 3; i++) {
      const at = prod.reserve(i);
      expect(at).toBe(i);
      prod.data[at] = 10 + i;
    }
    expect(prod.reserve(3)).toBe(-1);
    prod.publish(3);
    const got: number[] = [];
    for (let k = 0, at = cons.peek(0); at >= 0; at = cons.peek(++k)) got.push(cons.data[at]!);
    expect(got).toEqual([3, 10, 11, 12]);
    cons.consume(4);
    expect(prod.length).toBe(0);
    expect(cons.peek(0)).toBe(-1);
  });
});
