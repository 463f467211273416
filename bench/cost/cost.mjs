// The runtime's own cost per I/O, in instructions: the workload that runs under
// valgrind's callgrind (bench/cost/run-lab.sh). It reads 4 KiB blocks through
//   (a) "direct": the driver's QueuePair hot path (submitIo, ring, poll), driven on the
//       worker thread that owns the queue pair, as the benchmark does (bench/src/nvme-target.ts);
//   (b) "runtime": the embedding API, ns.read() promises (rt.namespace(nsid)) from the main thread, carried
//       through the shared-memory rings to that worker and back;
//   (d) "batch": the same reads through ns.readBatch(), one promise per batch of --batch reads;
//   (c) "runtime2w": the same with two workers (a second runtime, opened after the first is
//       closed), each with its own queue pair and its own request and completion rings; the
//       runtime deals the requests out to the two in turn, so each serves about half.
// Each case runs a warm-up (so V8 has optimised the hot code), then a window of N reads
// and a window of 2N reads. Every window ends with a marker: a call of process.ppid, i.e.
// getppid(2), which callgrind is told to dump at (--dump-before=getppid), so each window
// lands in a profile file of its own, per thread. (Ir(2N window) - Ir(N window)) / N is
// then the cost of one I/O on that thread, with the fixed cost of a window (the marker,
// the cross-thread call that places the worker's marker) cancelled out.
//
// The same module is imported by the worker (rt.call(0, import.meta.url, ...)), so the
// main program only runs on the main thread.
//
//   node bench/cost/cost.mjs ADDRESS [--n 2000] [--warmup 2000] [--qd 1,32] [--qd2w 2,32] [--runtime yes] [--batch 8] [--labels FILE]
// (--qd2w: the total depths of the two-worker case, split between the workers; "none" skips it;
// --runtime no: the direct path only, no one-worker runtime case; --batch B: (d) ns.readBatch() in
// batches of B at each depth of --qd of at least B, "none" skips it; N a multiple of B)

import { isMainThread } from 'node:worker_threads';
import { writeFileSync, writeSync } from 'node:fs';

const BS = 4096;
const NVM_READ = 0x02; // NVM Command Set, Read (NvmOpcode.Read)

// VFIO_COST_TRACE=1: print each marker's label on stdout, synchronously, so that it
// interleaves with V8's --trace-opt/--trace-deopt lines (to check that the warm-up is long
// enough for the hot functions to be optimised before the measured windows).
const TRACE = !!process.env.VFIO_COST_TRACE;

// Each warm-up runs in this many pieces. A run of reads starts and ends things that run once
// per run (the runtime's pump starts and stops, the first post outside a drain, the direct
// loop's entry and exit, the worker's call path that places the markers). V8 allocates a
// function's feedback only after a few calls, so with one run per warm-up these paths ran
// without feedback, TurboFan compiled them as "never taken", and the first window's start
// took them: a deoptimisation ("Insufficient type feedback for generic named access" in
// post() and the pump, "... for call" in the worker's serve()) and a stretch of baseline code
// inside the measured windows. In pieces, each such path runs PIECES times during the warm-up.
const PIECES = 16;

/** The marker: getppid(2), where callgrind dumps this thread's counters (--dump-before=getppid). */
function marker(label) {
  if (TRACE) writeSync(1, `cost-marker ${isMainThread ? 'main' : 'worker'}: ${label}\n`);
  return process.ppid;
}

// ---- on the worker (rt.call) -------------------------------------------------------------

/** Places a marker on the worker thread. */
export function mark(_ctx, label) {
  marker(label);
  return 0;
}

/** Nothing: a call between warm-up pieces, so that the worker's call path (what mark() goes through) has run before the windows. */
export function noop() {
  return 0;
}

/**
 * Path (a): the driver's QueuePair API on the worker that owns it, at queue depth qd:
 * post while there is room, one ring() per batch, poll() until all complete. Returns the
 * labels of the markers it placed, in order, and how many poll() calls found nothing.
 */
export function direct(ctx, { nsid, qds, warmup, n, calib }) {
  const qp = ctx.qp;
  const ns = ctx.namespaces.find((x) => x.nsid === nsid);
  if (!ns) throw new Error(`no namespace ${nsid}`);
  const nlb = BS / ns.blockSize;
  const span = Math.floor(ns.blocks / nlb); // 4 KiB blocks in the namespace
  const maxQd = Math.max(...qds);
  const buf = ctx.arena.alloc(maxQd * BS, { align: ctx.pageSize });
  const iova0 = Number(buf.iova);
  let done = 0;
  let failed = 0;
  qp.onComplete = (_cid, status) => {
    done++;
    if (status !== 0) failed++;
  };
  let pos = 0;
  const run = (qd, count) => {
    let next = 0;
    let empty = 0;
    done = 0;
    while (done < count) {
      while (next < count && qp.outstanding < qd) {
        const slot = next % qd;
        qp.submitIo(NVM_READ, nsid, (pos++ % span) * nlb, nlb, iova0 + slot * BS, BS, slot);
        next++;
      }
      qp.ring();
      if (qp.poll() === 0) empty++;
    }
    return empty;
  };
  // The same loop with nothing to submit and nothing outstanding: what one empty turn costs.
  const idle = (count) => {
    let empty = 0;
    for (let i = 0; i < count; i++) {
      qp.ring();
      if (qp.poll() === 0) empty++;
    }
    return empty;
  };
  const labels = [];
  const windows = [];
  const markAs = (label) => {
    marker(label);
    labels.push(label);
  };
  for (const qd of qds) {
    for (let k = 0; k < PIECES; k++) run(qd, Math.floor(warmup / PIECES));
    markAs(`direct qd${qd} warm-up`);
    const e1 = run(qd, n);
    markAs(`direct qd${qd} N`);
    const e2 = run(qd, 2 * n);
    markAs(`direct qd${qd} 2N`);
    windows.push({ qd, emptyPollsN: e1, emptyPolls2N: e2 });
  }
  // Its own warm-up after the reads (so that ring() and poll() have their feedback and the
  // loop is optimised code, as in run()), then M and 2M turns.
  idle(calib);
  markAs('direct idle warm-up');
  idle(calib);
  markAs('direct idle M');
  idle(2 * calib);
  markAs('direct idle 2M');
  qp.onComplete = null;
  buf.release?.();
  return { labels, windows, failed, calib };
}

// ---- on the main thread ----------------------------------------------------------------

/** The warm-up of path (b) or (c), in PIECES runs, with a call to each worker after each run. Returns the reads done. */
async function warmRuntime(rt, workers, nsid, qd, warmup, bufs, span, nlb, start) {
  const m = Math.floor(warmup / PIECES);
  for (let k = 0; k < PIECES; k++) {
    await viaRuntime(rt, nsid, qd, m, bufs, span, nlb, start + k * m);
    for (let w = 0; w < workers; w++) await rt.call(w, import.meta.url, 'noop');
  }
  return PIECES * m;
}

/** Path (b): count reads through rt.namespace(nsid).read(), qd promises in flight. */
function viaRuntime(rt, nsid, qd, count, bufs, span, nlb, start) {
  const ns = rt.namespace(nsid);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const issue = () => {
      const i = next++;
      ns.read(((start + i) % span) * nlb, nlb, bufs[i % qd]).then(onDone, reject);
    };
    const onDone = () => {
      if (++done === count) resolve();
      else if (next < count) issue();
    };
    for (let k = 0; k < Math.min(qd, count); k++) issue();
  });
}

/**
 * Path (d): the same reads through ns.readBatch(), batches of `batch` reads, qd / batch batches
 * in flight (lane k always uses buffers k*batch .. k*batch + batch - 1): one promise per batch.
 */
function viaBatch(rt, nsid, qd, batch, count, bufs, span, nlb, start) {
  const ns = rt.namespace(nsid);
  const lanes = Math.max(1, Math.floor(qd / batch));
  const laneBufs = Array.from({ length: lanes }, (_, k) => bufs.slice(k * batch, (k + 1) * batch));
  const lbas = new Array(batch).fill(0);
  const batches = Math.ceil(count / batch);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const issue = (lane) => {
      const first = start + next++ * batch;
      for (let j = 0; j < batch; j++) lbas[j] = ((first + j) % span) * nlb;
      ns.readBatch(lbas, nlb, laneBufs[lane]).then(() => onDone(lane), reject);
    };
    const onDone = (lane) => {
      if (++done === batches) resolve();
      else if (next < batches) issue(lane);
    };
    for (let k = 0; k < Math.min(lanes, batches); k++) issue(k);
  });
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const address = args[0] && !args[0].startsWith('--') ? args[0] : process.env.VFIO_LAB_NVME?.split(/\s+/)[0];
  if (!address) throw new Error('usage: node bench/cost/cost.mjs PCI_ADDRESS [--n N] [--warmup W] [--qd 1,32] [--labels FILE]');
  const n = Number(opt('n', '2000'));
  const warmup = Number(opt('warmup', '2000'));
  const qds = opt('qd', '1,32').split(',').map(Number);
  const qds2w = opt('qd2w', '2,32') === 'none' ? [] : opt('qd2w', '2,32').split(',').map(Number);
  const calib = Number(opt('calib', '20000'));
  const withRuntime = opt('runtime', 'yes') !== 'no';
  // --batch B: the readBatch case at each depth of --qd that is at least B ("none": no batch case).
  const batch = opt('batch', '8') === 'none' ? 0 : Number(opt('batch', '8'));
  const labelsFile = opt('labels', null);
  const nsid = 1;

  const { NvmeRuntime } = await import('@vfio-node/runtime');
  const self = import.meta.url;
  const t0 = Date.now();
  // spinMicroseconds 0: the figures count the work per I/O. The runtime's default polls (1 ms)
  // while waiting for the device, and callgrind would count every idle look as the I/O's cost,
  // so a slower device would look like a costlier path (and the figures before 42da532 were
  // made this way, the default of that time).
  const rt = await NvmeRuntime.open(address, { workers: 1, queueDepth: 64, spinMicroseconds: 0 });
  const log = (s) => process.stderr.write(`cost: ${((Date.now() - t0) / 1000).toFixed(1)} s ${s}\n`);
  log(`runtime open on ${address}, 1 worker, queue depth 64`);
  const mainLabels = [];
  const workerLabels = [];
  // The two-worker case: both workers get the same markers, in the same order.
  const worker2Labels = [];
  let result;
  try {
    // (a) the QueuePair hot path, on the worker.
    const d = await rt.call(0, self, 'direct', { nsid, qds, warmup, n, calib });
    if (d.failed) throw new Error(`${d.failed} direct reads failed`);
    workerLabels.push(...d.labels);
    log(`direct path done: ${JSON.stringify(d.windows)}`);

    // (b) the embedding API from the main thread (unless --runtime no).
    const ns = rt.controller.namespace(nsid);
    const nlb = BS / ns.blockSize;
    const span = Math.floor(Number(ns.blocks) / nlb);
    const maxQd = Math.max(...qds);
    const mem = rt.allocBuffer(maxQd * BS);
    const bufs = Array.from({ length: maxQd }, (_, i) => mem.bytes.subarray(i * BS, (i + 1) * BS));
    const markBoth = async (label) => {
      await rt.call(0, self, 'mark', label);
      workerLabels.push(label);
      marker(label);
      mainLabels.push(label);
    };
    let start = 0;
    for (const qd of withRuntime ? qds : []) {
      start += await warmRuntime(rt, 1, nsid, qd, warmup, bufs, span, nlb, start);
      await markBoth(`runtime qd${qd} warm-up`);
      await viaRuntime(rt, nsid, qd, n, bufs, span, nlb, start);
      start += n;
      await markBoth(`runtime qd${qd} N`);
      await viaRuntime(rt, nsid, qd, 2 * n, bufs, span, nlb, start);
      start += 2 * n;
      await markBoth(`runtime qd${qd} 2N`);
      log(`runtime path qd${qd} done`);
    }
    // (d) readBatch: batches of `batch` reads, one promise each; N and 2N rounded to whole batches.
    for (const qd of withRuntime && batch ? qds.filter((x) => x >= batch) : []) {
      const m = Math.floor(warmup / PIECES / batch) * batch;
      for (let k = 0; k < PIECES; k++) {
        await viaBatch(rt, nsid, qd, batch, m, bufs, span, nlb, start);
        start += m;
        await rt.call(0, self, 'noop');
      }
      await markBoth(`batch qd${qd} warm-up`);
      await viaBatch(rt, nsid, qd, batch, n, bufs, span, nlb, start);
      start += n;
      await markBoth(`batch qd${qd} N`);
      await viaBatch(rt, nsid, qd, batch, 2 * n, bufs, span, nlb, start);
      start += 2 * n;
      await markBoth(`batch qd${qd} 2N`);
      log(`readBatch path qd${qd} (batches of ${batch}) done`);
    }
    mem.release();
    result = { address, n, warmup, qds, qds2w, calib, batch, direct: d.windows, mainLabels, workerLabels, worker2Labels };
  } finally {
    await rt.close();
  }
  // (c) two workers: a runtime of its own (the controller is opened by one runtime at a time).
  if (qds2w.length) {
    const rt2 = await NvmeRuntime.open(address, { workers: 2, queueDepth: 64, spinMicroseconds: 0 });
    log('runtime open again, 2 workers, queue depth 64');
    try {
      const ns = rt2.controller.namespace(nsid);
      const nlb = BS / ns.blockSize;
      const span = Math.floor(Number(ns.blocks) / nlb);
      const maxQd = Math.max(...qds2w);
      const mem = rt2.allocBuffer(maxQd * BS);
      const bufs = Array.from({ length: maxQd }, (_, i) => mem.bytes.subarray(i * BS, (i + 1) * BS));
      const markAll = async (label) => {
        await rt2.call(0, self, 'mark', label);
        await rt2.call(1, self, 'mark', label);
        worker2Labels.push(label);
        marker(label);
        mainLabels.push(label);
      };
      let start = 0;
      for (const qd of qds2w) {
        start += await warmRuntime(rt2, 2, nsid, qd, warmup, bufs, span, nlb, start);
        await markAll(`runtime2w qd${qd} warm-up`);
        await viaRuntime(rt2, nsid, qd, n, bufs, span, nlb, start);
        start += n;
        await markAll(`runtime2w qd${qd} N`);
        await viaRuntime(rt2, nsid, qd, 2 * n, bufs, span, nlb, start);
        start += 2 * n;
        await markAll(`runtime2w qd${qd} 2N`);
        log(`runtime path, 2 workers, qd${qd} done`);
      }
      mem.release();
    } finally {
      await rt2.close();
    }
  }
  log('closed');
  const text = JSON.stringify(result, null, 1);
  if (labelsFile) writeFileSync(labelsFile, text);
  else console.log(text);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
