// Reads the round-N.json files bench/tail/tail-lab.sh wrote and prints, per round and
// engine: IOPS, completion-latency p99 and p99.9, and the coefficient of variation of the
// per-second IOPS; then ours against the kernel's as ratios (issue 14's goals: p99 and
// p99.9 no worse than the kernel's, CV at most the kernel's, IOPS above 1.5x in 4 of 5).
//   node bench/tail/summary.mjs DIR
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '.';

/** The p-th percentile (0..100) of fio's json+ bins ({ "ns": count }). */
function fromBins(bins, p) {
  const entries = Object.entries(bins).map(([k, n]) => [Number(k), n]).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  let seen = 0;
  for (const [ns, n] of entries) {
    seen += n;
    if (seen >= (total * p) / 100) return ns;
  }
  return NaN;
}

/** Coefficient of variation of a series of [ms, iops] points (the first point dropped: a partial second's start-up). */
function cv(points) {
  const v = (points ?? []).slice(1).map(([, x]) => x);
  if (v.length < 2) return NaN;
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
  return sd / mean;
}

const ms = (ns) => (Number.isFinite(ns) ? (ns / 1e6).toFixed(2) : '-');
const files = readdirSync(dir).filter((f) => /^round-\d+\.json$/.test(f)).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)));
const rows = [];
for (const f of files) {
  const j = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  const job = j.jobs[0];
  const peers = j['vfio-node compare']?.peers ?? [];
  const kernel = peers.find((p) => p.peer === 'kernel');
  const runtime = peers.find((p) => p.peer === 'vfio-runtime');
  const pct = job.read.clat_ns.percentile;
  rows.push({
    round: f.match(/\d+/)[0],
    ours: { iops: job.read.iops, p99: pct['99.000000'], p999: pct['99.900000'], cv: cv(job['vfio-node']?.series?.read?.iops) },
    kernel: kernel && { iops: kernel.read.iops, p99: kernel.read.clat_p99_ns, p999: kernel.read.clat_bins ? fromBins(kernel.read.clat_bins, 99.9) : NaN, cv: cv(kernel.series?.read?.iops) },
    runtime: runtime && { iops: runtime.read.iops, p99: runtime.read.clat_p99_ns, p999: NaN, cv: cv(runtime.series?.read?.iops) },
  });
}
console.log('| round | engine | IOPS | clat p99 (ms) | clat p99.9 (ms) | per-second IOPS CV |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  for (const name of ['ours', 'kernel', 'runtime']) {
    const e = r[name];
    if (!e) continue;
    console.log(`| ${r.round} | ${name === 'ours' ? 'vfio-node (direct)' : name === 'kernel' ? 'kernel, fio io_uring' : 'vfio-node runtime (promises)'} | ${Math.round(e.iops)} | ${ms(e.p99)} | ${ms(e.p999)} | ${e.cv.toFixed(2)} |`);
  }
}
console.log('\n| round | IOPS ours/kernel | p99 ours/kernel | p99.9 ours/kernel | CV ours/kernel | runtime IOPS/kernel | runtime p99/kernel |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let above = 0;
for (const r of rows) {
  if (!r.kernel) continue;
  const x = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
  if (r.ours.iops / r.kernel.iops > 1.5) above++;
  console.log(`| ${r.round} | ${x(r.ours.iops, r.kernel.iops)} | ${x(r.ours.p99, r.kernel.p99)} | ${x(r.ours.p999, r.kernel.p999)} | ${x(r.ours.cv, r.kernel.cv)} | ${r.runtime ? x(r.runtime.iops, r.kernel.iops) : '-'} | ${r.runtime ? x(r.runtime.p99, r.kernel.p99) : '-'} |`);
}
console.log(`\nrounds with ours above 1.5x the kernel's IOPS: ${above} of ${rows.filter((r) => r.kernel).length}`);
