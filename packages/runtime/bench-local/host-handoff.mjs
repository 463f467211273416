// Host-only: the hand-off protocol's round trip with a fake worker that "completes" each
// request at once (no device). node packages/runtime/bench-local/host-handoff.mjs [spinUs]
import { Worker, MessageChannel, isMainThread, workerData } from 'node:worker_threads';
import { Ring } from '../dist/ring.js';

if (isMainThread) {
  const { RequestTable } = await import('../dist/dispatch.js');
  const { WorkerQueue } = await import('../dist/worker-queue.js');
  const spinUs = Number(process.argv[2] ?? 0);
  const c = new MessageChannel();
  const q = new WorkerQueue(0, 64, c.port1, {});
  const t = new RequestTable([q], { statusError: () => new Error('x'), cancelled() {}, unwatch() {} }, spinUs / 1000);
  const w = new Worker(new URL(import.meta.url), { workerData: { req: q.req.init(), cpl: q.cpl.init(), ctl: q.control, spinUs } });
  for (const qd of [1, 32]) {
    for (const ms of [300, 1500]) {
      const t0 = performance.now();
      let done = 0;
      await new Promise((resolve) => {
        let inflight = 0;
        const issue = () => { inflight++; const p = t.open(1, 'Read', 1, 0, 1); p.promise.then(onDone); t.post(q, p, 2, 1, 0, 1, 4096, 4096, 0); };
        const onDone = () => { inflight--; done++; if (performance.now() - t0 < ms) issue(); else if (inflight === 0) resolve(); };
        for (let i = 0; i < qd; i++) issue();
      });
      const el = performance.now() - t0;
      if (ms > 300) console.log(`spin ${spinUs} us qd ${qd}: ${done} in ${el.toFixed(0)} ms: ${(done / el * 1000).toFixed(0)} IOPS, ${(el * 1000 * qd / done).toFixed(1)} us mean`);
    }
  }
  Atomics.store(q.ctl, 0, 1); q.req.wake();
  await w.terminate();
} else {
  const req = new Ring(workerData.req), cpl = new Ring(workerData.cpl);
  const ctl = new Int32Array(workerData.ctl);
  const rd = req.data, cd = cpl.data;
  const spinMs = workerData.spinUs / 1000;
  let idleSince = -1, turns = 0;
  for (;;) {
    const seen = req.seq;
    if (Atomics.load(ctl, 0)) break;
    let k = 0;
    for (let at = req.peek(0); at >= 0; at = req.peek(++k)) { const o = cpl.reserve(k); cd[o] = rd[at + 6]; cd[o + 1] = 0; }
    if (k) { req.consume(k); cpl.publish(k); idleSince = -1; continue; }
    if (idleSince < 0) { idleSince = performance.now(); turns = 0; }
    if (spinMs > 0 && ((++turns & 63) !== 0 || performance.now() - idleSince < spinMs)) continue;
    req.waitForData(seen, 20);
    idleSince = -1;
  }
}
