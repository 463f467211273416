// Wall-clock speed of the runtime's promise path in the lab: 4 KiB random reads through
// rt.namespace(1).read() at QD1 and QD32, IOPS and mean latency (Little's law).
//   node packages/runtime/bench-local/speed.mjs [ADDRESS] [--seconds 4] [--workers N]
import { NvmeRuntime } from '@vfio-node/runtime';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const address = args[0] && !args[0].startsWith('--') ? args[0] : process.env.VFIO_LAB_NVME.split(/\s+/)[0];
const seconds = Number(opt('seconds', '4'));
const workers = opt('workers', undefined);
const qds = opt('qd', '1,32').split(',').map(Number);
const spin = opt('spin', undefined);
const options = {};
if (workers) options.workers = Number(workers);
if (spin !== undefined) options.spinMicroseconds = Number(spin);
const poll = opt('poll', undefined);
if (poll !== undefined) options.pollMicroseconds = Number(poll);
const rt = await NvmeRuntime.open(address, options);
const ns = rt.namespace(1);
const BS = 4096;
const nlb = BS / ns.blockSize;
const span = Math.floor(Number(ns.blocks) / nlb);
const mem = rt.allocBuffer(32 * BS);
const bufs = Array.from({ length: 32 }, (_, i) => mem.bytes.subarray(i * BS, (i + 1) * BS));
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % span; };

function run(qd, ms) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const end = t0 + ms;
    let done = 0, inflight = 0, stop = false;
    const issue = (i) => { inflight++; ns.read(rnd() * nlb, nlb, bufs[i]).then(() => onDone(i), reject); };
    const onDone = (i) => {
      inflight--; done++;
      if ((done & 63) === 0 && performance.now() > end) stop = true;
      if (!stop) issue(i);
      else if (inflight === 0) { const el = performance.now() - t0; resolve({ done, el }); }
    };
    for (let i = 0; i < qd; i++) issue(i);
  });
}
for (const qd of qds) {
  await run(qd, 1000); // warm-up
  const { done, el } = await run(qd, seconds * 1000);
  const iops = done / (el / 1000);
  console.log(`runtime workers=${rt.workers} spin=${spin ?? 'default'} poll=${poll ?? 'default'} qd=${qd}: ${done} reads in ${el.toFixed(0)} ms: ${iops.toFixed(0)} IOPS, mean latency ${(qd * el * 1000 / done).toFixed(1)} us`);
}
mem.release();
await rt.close();
