#!/usr/bin/env node
// The functions that took the most samples in V8 CPU profiles (node --cpu-prof), self time
// and by file: for reading where our target's time went in a compare-lab.sh run with
// NVMF_CPU_PROF=1.
//
//   node bench/nvmf/prof-top.mjs DIR/cpuprof/*.cpuprofile [N]

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const n = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 25;
if (!args.length) {
  console.error('usage: node bench/nvmf/prof-top.mjs FILE.cpuprofile... [N]');
  process.exit(2);
}

for (const file of args) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const hits = new Map(); // node id -> samples
  for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = p.samples.length;
  const fn = new Map();
  const files = new Map();
  for (const [id, count] of hits) {
    const cf = byId.get(id).callFrame;
    const where = cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + count);
    const f = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*\/(packages|node_modules|bench)\//, '$1/') : cf.functionName;
    files.set(f, (files.get(f) ?? 0) + count);
  }
  const secs = (p.endTime - p.startTime) / 1e6;
  console.log(`\n${file}: ${total} samples over ${secs.toFixed(1)} s`);
  const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
  console.log('  by function (self):');
  for (const [k, c] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`  ${pct(c)}  ${k}`);
  console.log('  by file (self):');
  for (const [k, c] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${pct(c)}  ${k}`);
}
