// The main thread's half of the runtime's promise path on the host, without a device: the
// runtime's RequestTable (dispatch.ts: pooled request records, the request and completion
// rings, the completion pump) driven as NvmeRuntime.submit() drives it (open, post to the next
// queue, one promise per read), with a worker thread playing the runtime's worker: it takes the
// request records and answers each with a success completion at once, publishing once per turn
// as worker.ts does. Not counted: the namespace's checks (checkRange, the DMA translation) and
// the device. A tool for comparing two commits of packages/runtime, not a figure of the lab.
//
//   valgrind --tool=callgrind --separate-threads=yes --dump-before=getppid --smc-check=all-non-file --fair-sched=yes \
//     --callgrind-out-file=OUT/callgrind.out node --single-threaded-gc bench/cost/runtime-host.mjs [--root DIR] [--qd 32] [--n 20000] [--warmup 40000] --out OUT
//   node bench/cost/runtime-host.mjs --analyze OUT
//
// --root: the repository whose packages/runtime/dist is measured (default: this one), so that
// the same script measures two trees. Each depth: a warm-up of W reads, a window of N, a window
// of 2N, each ended by a marker on the main thread (getppid, where callgrind dumps);
// Ir/IO = (Ir(2N window) - Ir(N window)) / N, main thread only.

import { writeFileSync, writeSync } from 'node:fs';
import { markerWindows, windowsText } from './marker-dumps.mjs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const qds = opt('qd', '32').split(',').map(Number);

if (args.includes('--analyze')) {
  // The main thread's dumps (thread 1), per depth [warm-up, N, 2N].
  markerWindows(opt('analyze', '.'), qds.length, /^callgrind\.out.*-01$/).forEach((w, k) => {
    console.log(`runtime main thread (host) qd${qds[k]}: ${w.perOp.toFixed(1)} Ir/IO  ${windowsText(w, 'I/O')}`);
  });
  process.exit(0);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(opt('root', path.join(here, '../..')));
const dist = (f) => pathToFileURL(path.join(root, 'packages/runtime/dist', f)).href;
const { RequestTable } = await import(dist('dispatch.js'));
const { WorkerQueue } = await import(dist('worker-queue.js'));
const { Ring } = await import(dist('ring.js'));
const n = Number(opt('n', '20000'));
const warmup = Number(opt('warmup', '40000'));
const out = opt('out', null);
const DEPTH = 64;
const batch = Number(opt('batch', '1'));
const BS = 4096;

// The worker: the serve loop's ring work, with every request completing at once.
const code = `
  import { workerData } from 'node:worker_threads';
  const { Ring } = await import(workerData.ring);
  const req = new Ring(workerData.req);
  const cpl = new Ring(workerData.cpl);
  const stop = new Int32Array(workerData.stop);
  const rd = req.data, cd = cpl.data;
  while (Atomics.load(stop, 0) === 0) {
    const seen = req.seq;
    let k = 0;
    for (let at = req.peek(0); at >= 0; at = req.peek(++k)) {
      const c = cpl.reserve(k);
      if (c < 0) break;
      cd[c] = rd[at + 6];
      cd[c + 1] = 0;
    }
    if (k) { req.consume(k); cpl.publish(k); continue; }
    req.waitForData(seen, 20);
  }`;
const bell = Ring.createBell();
const channel = new MessageChannel();
const q = new WorkerQueue(0, DEPTH, channel.port1, {}, bell);
q.qid = 1;
const stop = new SharedArrayBuffer(4);
const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: { ring: dist('ring.js'), req: q.req.init(), cpl: q.cpl.init(), stop } });
const table = new RequestTable([q], { statusError: (s) => new Error(`status ${s}`), cancelled() {}, unwatch() {} });

// What NvmeRuntime.submit() does for a one-piece read (no signal, allocator memory).
function read(slba) {
  const p = table.open(1, 'Read', 1, slba, 1);
  const promise = p.promise ?? new Promise(p.executor); // before and after 'no p.promise' (this script measures both)
  table.post(table.nextQueue(), p, 2, 1, slba, 8, 0x100000 + (slba % 64) * BS, BS, 0);
  return promise;
}

// What NvmeRuntime.submitBatch() does for a batch of b one-piece reads (readBatch; no signal, allocator memory).
function readBatch(slba, b) {
  const p = table.open(b, 'Read (a batch)', 1, slba, 1);
  const promise = new Promise(p.executor);
  for (let i = 0; i < b; i++) table.post(table.nextQueue(), p, 2, 1, slba + i * 8, 8, 0x100000 + ((slba / 8 + i) % 64) * BS, BS, 0);
  return promise;
}

// cost.mjs's viaRuntime(): qd promises in flight, the next read issued from each completion.
function lanes(qd, count, start) {
  if (batch > 1) return batchLanes(qd, count, start);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const issue = () => {
      const i = next++;
      read((start + i) * 8).then(onDone, reject);
    };
    const onDone = () => {
      if (++done === count) resolve();
      else if (next < count) issue();
    };
    for (let k = 0; k < Math.min(qd, count); k++) issue();
  });
}

// VFIO_COST_TRACE=1: each marker on stdout, in order with V8's --trace-opt/--trace-deopt lines.
// --batch B: qd / B batches of B reads in flight (cost.mjs's viaBatch()), count a multiple of B.
function batchLanes(qd, count, start) {
  const batches = Math.ceil(count / batch);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const issue = () => {
      const i = next++;
      readBatch((start + i * batch) * 8, batch).then(onDone, reject);
    };
    const onDone = () => {
      if (++done === batches) resolve();
      else if (next < batches) issue();
    };
    for (let k = 0; k < Math.min(qd / batch, batches); k++) issue();
  });
}

const marker = (label) => {
  if (process.env.VFIO_COST_TRACE) writeSync(1, `cost-marker main: ${label}\n`);
  return process.ppid;
};
// The warm-up in pieces, as cost.mjs's: each run of lanes starts the pump and ends it, and a
// path taken only once per run (the pump's start and end, the first post outside a drain)
// would otherwise be taken once before its function had feedback (V8 allocates it after a
// few calls) and deoptimise the function at the first window's start.
const PIECES = Number(opt('pieces', '16'));
let start = 0;
for (const qd of qds) {
  for (let k = 0; k < PIECES; k++) {
    const m = Math.floor(warmup / PIECES / batch) * batch;
    await lanes(qd, m, start);
    start += m;
  }
  marker(`qd${qd} warm-up`);
  await lanes(qd, n, start);
  start += n;
  marker(`qd${qd} N`);
  await lanes(qd, 2 * n, start);
  start += 2 * n;
  marker(`qd${qd} 2N`);
}
Atomics.store(new Int32Array(stop), 0, 1);
await worker.terminate();
channel.port1.close();
if (out) writeFileSync(path.join(out, 'n.txt'), String(n));
