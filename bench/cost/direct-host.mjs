// The direct path's own cost per I/O on the host, without a device: the driver's QueuePair
// (submitIo, ring, poll, as bench's direct engine and cost.mjs direct() drive it) on the real
// native queue handle (NvmeQueue), over DMA buffers without hugepages and a BAR that is a plain
// ArrayBuffer, with this script playing the controller: after each ring() it reads the new SQ
// entries and posts one completion for each (the same work at every commit, so it cancels out
// of a comparison between commits). No empty polls and no device timing; what still varies
// between runs is where V8 compiles and collects (seen: 150-200 Ir/IO between two runs). It is
// a tool for comparing two commits of the hot path, not a figure of the driver in the lab.
//
//   valgrind --tool=callgrind --dump-before=getppid --smc-check=all-non-file \
//     --callgrind-out-file=OUT/callgrind.out node --single-threaded-gc bench/cost/direct-host.mjs [--qd 32,1] [--n 20000] [--warmup 20000]
//   node bench/cost/direct-host.mjs --analyze OUT [--qd 32,1]
//
// Each depth: a warm-up of W I/Os, a window of N, a window of 2N, each ended by a marker
// (getppid, where callgrind dumps); Ir/IO = (Ir(2N window) - Ir(N window)) / N.

import path from 'node:path';
import { markerWindows, windowsText } from './marker-dumps.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const qds = opt('qd', '32,1').split(',').map(Number);

if (args.includes('--analyze')) {
  markerWindows(opt('analyze', '.'), qds.length).forEach((w, k) => {
    console.log(`direct (host) qd${qds[k]}: ${w.perOp.toFixed(1)} Ir/IO  ${windowsText(w, 'I/O')}`);
  });
  process.exit(0);
}

const { native } = await import('@vfio-node/core');
const { QueuePair, NvmOpcode } = await import('@vfio-node/nvme');
const addon = typeof native.DmaBuffer === 'function' ? native : native.default;
const n = Number(opt('n', '20000'));
const warmup = Number(opt('warmup', '20000'));
const out = opt('out', null);

let next = 0x10_0000;
const dma = {
  alloc(size) {
    const buf = addon.DmaBuffer.alloc(Math.max(size, 4096), { hugepages: false });
    const bytes = new Uint8Array(buf.buffer, 0, size);
    const iova = BigInt(next);
    next += Math.ceil(size / 4096) * 4096 + 4096;
    return { bytes, iova, size, offset: 0, native: buf, view: new DataView(buf.buffer, 0, size), iovaAt: (o) => iova + BigInt(o), release: () => buf.release() };
  },
};
const DEPTH = 64;
const bar = new ArrayBuffer(0x2000);
const regs = new Uint32Array(bar);
const qp = new QueuePair({ qid: 1, depth: DEPTH, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma, bar: { mapping: { buffer: bar } }, completion: 'poll' });
const SQ1TDBL = 0x1008 / 4;
const sq = new Uint32Array(qp.sq.bytes.buffer, qp.sq.bytes.byteOffset, DEPTH * 16);
const cq = new Uint32Array(qp.cq.bytes.buffer, qp.cq.bytes.byteOffset, DEPTH * 4);

// The controller: consumes the SQ up to the tail last written to SQ1TDBL, completes each entry.
let sqHead = 0;
let cqTail = 0;
let phase = 1;
function device() {
  const tail = regs[SQ1TDBL];
  while (sqHead !== tail) {
    const cid = sq[sqHead * 16] >>> 16;
    if (++sqHead === DEPTH) sqHead = 0;
    const at = cqTail * 4;
    cq[at] = 0;
    cq[at + 2] = (1 << 16) | sqHead; // SQID 1, SQHD
    cq[at + 3] = (phase << 16) | cid; // Phase Tag and CID last (status 0)
    if (++cqTail === DEPTH) {
      cqTail = 0;
      phase ^= 1;
    }
  }
}

let done = 0;
qp.onComplete = () => {
  done++;
};
let lba = 0;
function run(qd, count) {
  let submitted = 0;
  done = 0;
  while (done < count) {
    while (submitted < count && qp.outstanding < qd) {
      qp.submitIo(NvmOpcode.Read, 1, (lba++ & 0xffff) * 8, 7, 0x20_0000 + (submitted % qd) * 4096, 4096, submitted % qd);
      submitted++;
    }
    qp.ring();
    device();
    qp.poll();
  }
}
const marker = () => process.ppid; // getppid(2): callgrind dumps this thread's counters here

for (const qd of qds) {
  run(qd, warmup);
  marker();
  run(qd, n);
  marker();
  run(qd, 2 * n);
  marker();
}
if (out) (await import('node:fs')).writeFileSync(path.join(out, 'n.txt'), String(n));
qp.release();
