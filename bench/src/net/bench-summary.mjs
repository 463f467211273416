// Summarises a bench-lab.sh run: the median of each generator's per-second transmit
// rates, from pktgen's --json lines and testpmd's "Tx-pps:" lines, and the ratio of each
// pktgen variant to testpmd. The first WARMUP seconds of each run are left out (default
// 1): under TCG a new process runs slowly until QEMU has translated its code, and V8's
// tiers have compiled the loop (pktgen ramps up over 3 to 5 s in the lab).
//   node bench/src/net/bench-summary.mjs DIR [WARMUP]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const warmup = Number(process.argv[3] ?? 1);
const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rates = new Map(); // generator -> per-second pps samples, all rounds together
const add = (name, xs) => rates.set(name, [...(rates.get(name) ?? []), ...xs]);
for (const f of readdirSync(dir).sort()) {
  const m = /^(pktgen.*|testpmd)-(\d+)\.(jsonl|txt)$/.exec(f);
  if (!m) continue;
  const text = readFileSync(join(dir, f), 'utf8');
  if (m[3] === 'jsonl') {
    const xs = text.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return undefined; } })
      .filter((o) => o?.type === 'rate').map((o) => o.mpps * 1e6).filter(Number.isFinite);
    add(m[1], xs.slice(warmup));
  } else {
    // testpmd prints "Tx-pps:  N  Tx-bps: ..." once a second once forwarding started.
    const xs = [...text.matchAll(/Tx-pps:\s+(\d+)/g)].map((x) => Number(x[1]));
    // Leave out the samples before forwarding started (0) and the first one.
    const first = xs.findIndex((x) => x > 0);
    add('testpmd', first < 0 ? [] : xs.slice(first + warmup));
  }
}
const peer = median(rates.get('testpmd') ?? []);
console.log(`medians without the first ${warmup} s of each run:`);
const rows = [...rates].map(([name, xs]) => ({ generator: name, seconds: xs.length, medianPps: Math.round(median(xs)), ratioToTestpmd: name === 'testpmd' ? 1 : +(median(xs) / peer).toFixed(2) }));
for (const r of rows) console.log(`${r.generator.padEnd(22)} ${String(r.medianPps).padStart(9)} pps (median of ${r.seconds} s)  ${name(r)}`);
console.log(JSON.stringify({ type: 'summary', rows }));
function name(r) {
  return r.generator === 'testpmd' ? '' : `${Number.isFinite(r.ratioToTestpmd) ? r.ratioToTestpmd : '?'}x testpmd`;
}
