// Summarises bench/bdev/compare-lab.sh's output: for each job, each engine's IOPS and mean and
// p99 completion latency per round, then the ratio bdev / runtime per round and its median.
// Usage: node bench/bdev/summary.mjs DIR
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/bdev/summary.mjs DIR (the --out directory of compare-lab.sh)');
  process.exit(2);
}
const runs = new Map(); // job -> round -> engine -> { iops, meanUs, p99Us }
for (const f of readdirSync(dir)) {
  const m = /^(\d+)-(.+)-(vfio-runtime|vfio-bdev)\.json$/.exec(f);
  if (!m) continue;
  const [, round, job, engine] = m;
  const read = JSON.parse(readFileSync(path.join(dir, f), 'utf8')).jobs[0].read;
  const byRound = runs.get(job) ?? new Map();
  runs.set(job, byRound);
  const e = byRound.get(round) ?? {};
  byRound.set(round, e);
  e[engine] = { iops: read.iops, meanUs: read.clat_ns.mean / 1000, p99Us: (read.clat_ns.percentile?.['99.000000'] ?? NaN) / 1000 };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
for (const [job, byRound] of [...runs].sort()) {
  console.log(`\n${job}\n| round | runtime IOPS | bdev IOPS | bdev/runtime IOPS | runtime mean µs | bdev mean µs | runtime p99 µs | bdev p99 µs |\n|---|---:|---:|---:|---:|---:|---:|---:|`);
  const ratios = [];
  for (const [round, e] of [...byRound].sort((a, b) => a[0] - b[0])) {
    const a = e['vfio-runtime'];
    const b = e['vfio-bdev'];
    const ratio = a && b ? b.iops / a.iops : NaN;
    if (Number.isFinite(ratio)) ratios.push(ratio);
    console.log(`| ${round} | ${f1(a?.iops)} | ${f1(b?.iops)} | ${f2(ratio)} | ${f1(a?.meanUs)} | ${f1(b?.meanUs)} | ${f1(a?.p99Us)} | ${f1(b?.p99Us)} |`);
  }
  console.log(`median bdev/runtime IOPS: ${f2(median(ratios))} over ${ratios.length} rounds`);
}
