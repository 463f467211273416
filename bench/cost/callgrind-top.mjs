// The difference between the last two marker dumps of one thread (the N and 2N windows), per
// I/O: by category, the top functions by self Ir, and the calls per I/O. For the dumps of
// runtime-host.mjs (or any --dump-before=getppid run with --separate-threads=yes):
//   node bench/cost/callgrind-top.mjs DIR N [THREAD_SUFFIX_REGEX, default -01$ (the main thread)]
// (TOP=30 in the environment: how many functions.)
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readCallgrind, category } from './callgrind-file.mjs';
const [dir, n, filt] = [process.argv[2], Number(process.argv[3]), process.argv[4] ?? '-01$'];
const files = readdirSync(dir).filter((f) => new RegExp('^callgrind\\.out.*' + filt).test(f)).map((f) => path.join(dir, f));
const parts = files.map((f) => readCallgrind(f)).filter((r) => /getppid/.test(r.header.Trigger ?? '')).sort((a, b) => Number(a.header.part) - Number(b.header.part));
const [, A, B] = parts.slice(-3);
const d = new Map();
for (const [k, v] of B.self) d.set(k, { ir: v.ir, name: v.name, ob: v.ob });
for (const [k, v] of A.self) { const e = d.get(k) ?? { ir: 0, name: v.name, ob: v.ob }; e.ir -= v.ir; d.set(k, e); }
const cats = new Map();
for (const v of d.values()) cats.set(category(v.name, v.ob), (cats.get(category(v.name, v.ob)) ?? 0) + v.ir / n);
console.log('total', ((B.summary - A.summary) / n).toFixed(1));
for (const [c, v] of [...cats].sort((a, b) => b[1] - a[1])) console.log('  ', v.toFixed(1).padStart(8), c);
for (const v of [...d.values()].sort((a, b) => b.ir - a.ir).slice(0, Number(process.env.TOP ?? 30))) console.log((v.ir / n).toFixed(1).padStart(8), v.name.slice(0, 100), v.ob);
const dc = new Map();
for (const [k, v] of B.calls) dc.set(k, v);
for (const [k, v] of A.calls) dc.set(k, (dc.get(k) ?? 0) - v);
console.log('calls per IO:');
for (const [k, v] of [...dc].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / n).toFixed(2).padStart(8), k.slice(0, 100));
