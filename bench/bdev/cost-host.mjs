// The block layer's own cost per read, on the host, without a device: reads through an
// NvmeBdev (@vfio-node/bdev) over a stand-in for the runtime's namespace whose read() returns a
// settled promise, against the same loop calling that stand-in directly. The difference is
// what the bdev adds to each request (its checks, its promise, its microtasks); the
// runtime's own path (bench/cost: about 9,700 Ir/IO at QD32 at 30e2acd) comes on top in both.
//
//   valgrind --tool=callgrind --dump-before=getppid --smc-check=all-non-file \
//     --callgrind-out-file=OUT/callgrind.out node --single-threaded-gc bench/bdev/cost-host.mjs [--n 100000] [--warmup 50000] --out OUT
//   node bench/bdev/cost-host.mjs --analyze OUT
//
// Each case (namespace, then bdev): a warm-up of W reads, a window of N, a window of 2N, each
// ended by a marker (getppid, where callgrind dumps); Ir/read = (Ir(2N) - Ir(N)) / N. The
// reads go in batches of 32 awaited together (QD32 as the engine keeps it).

import { writeFileSync } from 'node:fs';
import { markerWindows, windowsText } from '../cost/marker-dumps.mjs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const CASES = ['namespace', 'bdev'];

if (args.includes('--analyze')) {
  const per = markerWindows(opt('analyze', '.'), CASES.length).map((w, k) => {
    console.log(`${CASES[k]}: ${w.perOp.toFixed(1)} Ir/read  ${windowsText(w, 'read')}`);
    return w.perOp;
  });
  console.log(`the bdev adds ${(per[1] - per[0]).toFixed(1)} Ir/read`);
  process.exit(0);
}

const n = Number(opt('n', '100000'));
const warmup = Number(opt('warmup', '50000'));
const out = opt('out', '');
const { NvmeBdev } = await import('@vfio-node/bdev');

const BLOCK = 512;
const settled = Promise.resolve();
// The runtime's namespace, standing in: every read succeeds at once.
const ns = { blockSize: BLOCK, blocks: 1n << 24n, read: () => settled, write: () => settled, flush: () => settled, writeZeroes: () => settled, deallocate: () => settled };
const buffers = new Map();
const rt = {
  controller: { maxTransfer: 1 << 17, identify: { vwc: 0 } },
  allocBuffer(size) {
    const bytes = new Uint8Array(size);
    buffers.set(bytes.buffer, true);
    return { bytes, release() {} };
  },
};
const bdev = new NvmeBdev('host/1', rt, ns, 255, async () => {});
const slots = Array.from({ length: 32 }, () => bdev.allocBuffer(4096).bytes);
const through = { namespace: ns, bdev };

async function run(target, count) {
  const batch = new Array(32);
  let lba = 0;
  for (let done = 0; done < count; done += 32) {
    for (let k = 0; k < 32; k++) batch[k] = target.read(BigInt((lba++ & 0xffff) * 8), 8, slots[k]);
    await Promise.all(batch);
  }
}
const marker = () => process.ppid; // getppid(2): callgrind dumps this thread's counters here

for (const c of CASES) {
  await run(through[c], warmup);
  marker();
  await run(through[c], n);
  marker();
  await run(through[c], 2 * n);
  marker();
}
if (out) writeFileSync(path.join(out, 'n.txt'), String(n));
