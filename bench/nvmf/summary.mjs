#!/usr/bin/env node
// Reads the fio json+ files that bench/nvmf/compare-lab.sh wrote (ROUND-JOB-TARGET.json) and
// prints, per round and job, both targets' IOPS, bandwidth and completion latency (mean, p50,
// p99, p99.9), then the ratio ours/kernel (IOPS and bandwidth: higher is better for us;
// latency: lower is better for us). Markdown, ready for bench/RESULTS.md. When the run left
// cpu.txt, also the guest's busy CPU ticks (1/100 s) per I/O during each run, and our target
// process's own: under TCG on a loaded host the guest's accounting is rough (see RESULTS.md).
//
//   node bench/nvmf/summary.mjs DIR

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/nvmf/summary.mjs DIR (the --out DIR of the lab run)');
  process.exit(2);
}

/** The read side of a fio json+ file (one job, --group_reporting). */
function readSide(file) {
  const text = readFileSync(file, 'utf8');
  const json = JSON.parse(text.slice(text.indexOf('{')));
  const r = json.jobs[0].read;
  const pct = r.clat_ns.percentile ?? {};
  return {
    iops: r.iops,
    bw: r.bw_bytes,
    mean: r.clat_ns.mean,
    p50: pct['50.000000'],
    p99: pct['99.000000'],
    p999: pct['99.900000'],
    errors: json.jobs[0].error,
    ios: r.total_ios,
  };
}

const us = (ns) => (ns === undefined ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB/s`;
const x = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');

const runs = new Map(); // "ROUND JOB" -> { ours, kernel }
for (const f of readdirSync(dir).filter((n) => /^\d+-.+-(ours|kernel)\.json$/.test(n)).sort()) {
  const [, round, job, target] = /^(\d+)-(.+)-(ours|kernel)\.json$/.exec(f);
  const key = `${round} ${job}`;
  if (!runs.has(key)) runs.set(key, { round, job });
  runs.get(key)[target] = readSide(join(dir, f));
}
if (!runs.size) {
  console.error(`no ROUND-JOB-TARGET.json files in ${dir}`);
  process.exit(1);
}

console.log('| round | job | target | IOPS | bandwidth | clat mean | p50 | p99 | p99.9 |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const { round, job, ours, kernel } of runs.values()) {
  for (const [name, s] of [['vfio-node', ours], ['kernel nvmet', kernel]]) {
    if (!s) continue;
    console.log(`| ${round} | ${job} | ${name} | ${Math.round(s.iops).toLocaleString('en')} | ${mib(s.bw)} | ${us(s.mean)} | ${us(s.p50)} | ${us(s.p99)} | ${us(s.p999)} |`);
  }
}
console.log('\nRatios ours/kernel (IOPS and bandwidth: above 1 is better for us; latency: below 1 is better for us):\n');
console.log('| round | job | IOPS | bandwidth | clat mean | p50 | p99 | p99.9 |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { round, job, ours, kernel } of runs.values()) {
  if (!ours || !kernel) continue;
  console.log(`| ${round} | ${job} | ${x(ours.iops, kernel.iops)} | ${x(ours.bw, kernel.bw)} | ${x(ours.mean, kernel.mean)} | ${x(ours.p50, kernel.p50)} | ${x(ours.p99, kernel.p99)} | ${x(ours.p999, kernel.p999)} |`);
}
const cpuFile = join(dir, 'cpu.txt');
if (existsSync(cpuFile)) {
  console.log('\nCPU ticks (1/100 s) per I/O, guest busy (all CPUs) and our target process:\n');
  console.log('| round | job | target | I/Os | guest busy ticks/I/O | target ticks/I/O |');
  console.log('|---|---|---|---|---|---|');
  for (const line of readFileSync(cpuFile, 'utf8').split('\n')) {
    const m = /^(\d+)-(.+)-(ours|kernel) guest_busy_jiffies=(\d+) target_jiffies=(\d+)/.exec(line);
    const s = m && runs.get(`${m[1]} ${m[2]}`)?.[m[3]];
    if (!s || !s.ios) continue;
    console.log(`| ${m[1]} | ${m[2]} | ${m[3] === 'ours' ? 'vfio-node' : 'kernel nvmet'} | ${s.ios} | ${(Number(m[4]) / s.ios).toFixed(2)} | ${(Number(m[5]) / s.ios).toFixed(2)} |`);
  }
}
const errs = [...runs.values()].flatMap((r) => [r.ours, r.kernel]).filter((s) => s && s.errors);
if (errs.length) console.log(`\n${errs.length} run(s) reported fio errors`);
