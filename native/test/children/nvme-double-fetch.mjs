// Issue 12.1: memory another thread (or a device) can write is read once, checked, then
// used. A worker opens the queue's DMA buffer by id and scribbles on the completion ring,
// on the shadow doorbell and EventIdx entries, and on the host words (head, phase) while
// this thread polls, rings and announces the head. Before the fix, poll checked the head
// (< depth) and the reaping loop loaded it again, so a rewrite in between sent the loop
// outside the ring (SIGSEGV). Prints one JSON line: the error codes seen.
import { Worker } from 'node:worker_threads';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const ROUNDS = Number(process.argv[2] ?? 100_000);
const DEPTH = 64;
const SQ1TDBL = 0x1008;
const CQ1HDBL = 0x100c;

// The ring at 0, the shadow pages at 4096 (Shadow Doorbell dwords 0..511, EventIdx 512..1023).
const mem = native.DmaBuffer.alloc(8192, { hugepages: false });
const bar = new ArrayBuffer(0x2000);
// The handle: host words in a SharedArrayBuffer, which the worker scribbles on too.
const host = new Uint32Array(new SharedArrayBuffer(8 + 16 * DEPTH));
host[1] = 1;
const q = new native.NvmeQueue(mem.id, 0, 16 * DEPTH, host, mem.id, 4096, 4096, SQ1TDBL, CQ1HDBL, 2, 514, 3, 515);

const control = new Int32Array(new SharedArrayBuffer(8)); // [stop, started]
const worker = new Worker(
  `const { workerData } = require('node:worker_threads');
   const native = require(${JSON.stringify(new URL('../../build/Release/vfio_node.node', import.meta.url).pathname)});
   const { id, host, control } = workerData;
   const d = native.DmaBuffer.open(id);
   const w = new Uint32Array(d.buffer);
   const h = new Uint32Array(host);
   const c = new Int32Array(control);
   Atomics.store(c, 1, 1);
   let x = 0x9e3779b9;
   while (Atomics.load(c, 0) === 0) {
     x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
     w[x & 255] = x;                         // the ring: random tags, CIDs, status
     w[1024 + ((x >>> 8) & 1023)] = x;       // the shadow doorbell and EventIdx pages
     h[0] = x & 4 ? 0xfffffff0 : x & 63;     // the handle's head word
     h[1] = (x >>> 3) & 1;
   }
   d.release();`,
  { eval: true, workerData: { id: mem.id, host: host.buffer, control: control.buffer } },
);
while (Atomics.load(control, 1) === 0) Atomics.wait(control, 1, 0, 10);

const codes = {};
const count = (e) => (codes[e.code] = (codes[e.code] ?? 0) + 1);
let reaped = 0;
for (let i = 0; i < ROUNDS; i++) {
  try {
    reaped += q.poll(bar, DEPTH, (i & 1) === 0);
  } catch (e) {
    count(e);
  }
  try {
    q.ring(bar, i % DEPTH, (i & 7) === 0);
    q.announceHead(bar);
  } catch (e) {
    count(e);
  }
}
Atomics.store(control, 0, 1);
await new Promise((resolve) => worker.once('exit', resolve));

// With the worker gone: a head outside the queue is refused by name, every time.
let named = null;
host[0] = DEPTH;
try {
  q.poll(bar, DEPTH);
} catch (e) {
  named = e.code;
}
q.close();
mem.release();
console.log(JSON.stringify({ rounds: ROUNDS, reaped, codes, named }));
