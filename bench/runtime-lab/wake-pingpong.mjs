// Wake cost between the main thread and a worker (run T in bench/RESULTS.md). Modes: sync (both in
// Atomics.wait), async (main in Atomics.waitAsync), msg (MessagePort), spin (main spins), immediate
// (main polls through setImmediate). In the lab:
//   node packages/cli/bin/vfio-node.js lab run --nvme size=64M -- sh -c 'for m in sync async msg spin immediate; do node bench/runtime-lab/wake-pingpong.mjs $m; done'
// Wake latency between the main thread and a worker, in the lab.
import { Worker, isMainThread, parentPort, workerData, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
if (isMainThread) {
  const mode = process.argv[2];
  const sab = new SharedArrayBuffer(16); const w32 = new Int32Array(sab);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL(import.meta.url), { workerData: { sab, port: port2, mode }, transferList: [port2] });
  await new Promise((r) => worker.once('message', r));
  // w32[0]: main->worker seq; w32[1]: worker->main seq
  let n = 0; const T = 2000; const t0 = performance.now();
  if (mode === 'msg') {
    await new Promise((resolve) => {
      port1.on('message', () => { n++; if (performance.now() - t0 > T) resolve(); else { Atomics.add(w32, 0, 1); Atomics.notify(w32, 0); } });
      Atomics.add(w32, 0, 1); Atomics.notify(w32, 0);
    });
  } else {
    while (performance.now() - t0 < T) {
      const seen = Atomics.load(w32, 1);
      Atomics.add(w32, 0, 1); Atomics.notify(w32, 0);
      if (mode === 'sync') Atomics.wait(w32, 1, seen);
      else if (mode === 'async') { const r = Atomics.waitAsync(w32, 1, seen); if (r.async) await r.value; }
      else if (mode === 'spin') { while (Atomics.load(w32, 1) === seen); }
      else if (mode === 'immediate') { while (Atomics.load(w32, 1) === seen) await new Promise((r) => setImmediate(r)); }
      n++;
    }
  }
  const el = performance.now() - t0;
  console.log(`${mode}: ${n} round trips in ${el.toFixed(0)} ms: ${(el * 1000 / n).toFixed(1)} us each`);
  Atomics.store(w32, 2, 1); Atomics.add(w32, 0, 1); Atomics.notify(w32, 0);
  await worker.terminate();
} else {
  const w32 = new Int32Array(workerData.sab); let seen = Atomics.load(w32, 0); parentPort.postMessage('ready');
  for (;;) {
    Atomics.wait(w32, 0, seen);
    seen = Atomics.load(w32, 0);
    if (Atomics.load(w32, 2)) break;
    if (workerData.mode === 'msg') workerData.port.postMessage(1);
    else { Atomics.add(w32, 1, 1); Atomics.notify(w32, 1); }
  }
}
