// Reads what bench/runtime-lab/run-lab.sh wrote and prints, per round: the embedder's program
// (speed.mjs) at QD1 and QD32, and the benchmark's three engines at both depths (IOPS, mean and
// p99 completion latency); then the promise path against the kernel as ratios (issue 14's goals:
// QD32 IOPS at least 1.3x the kernel's, QD1 mean latency at most 0.8x the kernel's).
//   node bench/runtime-lab/summary.mjs DIR
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '.';
const us = (ns) => (Number.isFinite(ns) ? (ns / 1e3).toFixed(0) : '-');
const rows = [];
const ratios = [];
for (let r = 1; existsSync(path.join(dir, `speed-${r}.txt`)); r++) {
  const speed = {};
  for (const m of readFileSync(path.join(dir, `speed-${r}.txt`), 'utf8').matchAll(/qd=(\d+): .*?: (\d+) IOPS, mean latency ([\d.]+) us/g)) {
    speed[m[1]] = { iops: Number(m[2]), meanUs: Number(m[3]) };
  }
  const bench = {};
  for (const qd of [1, 32]) {
    const f = path.join(dir, `bench-${r}-qd${qd}.json`);
    if (!existsSync(f)) continue;
    const j = JSON.parse(readFileSync(f, 'utf8'));
    const peers = j['vfio-node compare']?.peers ?? [];
    const peer = (name) => peers.find((p) => p.peer === name)?.read;
    // Every engine's entry in the comparison: IOPS, mean total latency, completion-latency p99.
    const fig = (e) => e && { iops: e.iops, mean: e.lat_mean_ns, p99: e.clat_p99_ns };
    bench[qd] = { direct: fig(peer('vfio-node')), kernel: fig(peer('kernel')), runtime: fig(peer('vfio-runtime')) };
  }
  rows.push({ r, speed, bench });
}
console.log('| round | engine | QD32 IOPS | QD32 p99 (µs) | QD1 IOPS | QD1 mean lat (µs) | QD1 p99 (µs) |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const { r, speed, bench } of rows) {
  const line = (name, e32, e1) => console.log(`| ${r} | ${name} | ${e32 ? Math.round(e32.iops) : '-'} | ${e32 ? us(e32.p99) : '-'} | ${e1 ? Math.round(e1.iops) : '-'} | ${e1 ? us(e1.mean) : '-'} | ${e1 ? us(e1.p99) : '-'} |`);
  line('kernel, fio io_uring', bench[32]?.kernel, bench[1]?.kernel);
  line('vfio-node direct engine', bench[32]?.direct, bench[1]?.direct);
  line('runtime promises: the bench\'s vfio-runtime engine', bench[32]?.runtime, bench[1]?.runtime);
  console.log(`| ${r} | runtime promises: an embedder's program (speed.mjs) | ${speed[32]?.iops ?? '-'} | - | ${speed[1]?.iops ?? '-'} | ${speed[1]?.meanUs?.toFixed(0) ?? '-'} | - |`);
  const k32 = bench[32]?.kernel?.iops;
  const k1 = bench[1]?.kernel?.mean;
  ratios.push({ r, program32: speed[32] && k32 ? speed[32].iops / k32 : NaN, engine32: bench[32]?.runtime && k32 ? bench[32].runtime.iops / k32 : NaN,
    program1: speed[1] && k1 ? (speed[1].meanUs * 1e3) / k1 : NaN, engine1: bench[1]?.runtime && k1 ? bench[1].runtime.mean / k1 : NaN });
}
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
console.log('\n| round | QD32 IOPS / kernel: program | QD32: bench engine | QD1 mean / kernel: program | QD1: bench engine |');
console.log('|---|---:|---:|---:|---:|');
for (const x of ratios) console.log(`| ${x.r} | ${f(x.program32)} | ${f(x.engine32)} | ${f(x.program1)} | ${f(x.engine1)} |`);
