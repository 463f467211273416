// Turns the callgrind dumps of one `cost.mjs` run into instructions per I/O.
//
//   node bench/cost/analyze.mjs DIR LABELS.json [--top 10] [--json OUT.json]
//
// DIR holds callgrind.out.PART-TID (one per marker, per thread: --dump-before=getppid)
// and callgrind.out-TID (the rest of each thread, at exit). LABELS.json is what cost.mjs
// wrote: the label of each marker, in order, for the main thread, for the worker of the
// one-worker runtime and for each of the two workers of the two-worker runtime (the same
// list for both). The k-th getppid dump of a thread is the window that ended at its k-th
// marker. The one-worker runtime's worker places its markers before the two-worker
// runtime's workers (opened after the first one closed); valgrind may give one of those
// the first one's thread number (see below).

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { category, readCallgrind } from './callgrind-file.mjs';

const args = process.argv.slice(2);
const [dir, labelsFile] = args;
if (!dir || !labelsFile) {
  console.error('usage: node bench/cost/analyze.mjs DIR LABELS.json [--top 10] [--json OUT.json]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const TOP = Number(opt('top', '10'));
const jsonOut = opt('json', null);
const labels = JSON.parse(readFileSync(labelsFile, 'utf8'));
const N = labels.n;

// ---- the dumps, by thread ------------------------------------------------------------------
const dumps = new Map(); // tid -> [{part, trigger, file, summary}]
for (const f of readdirSync(dir)) {
  if (!f.startsWith('callgrind.out')) continue;
  const file = path.join(dir, f);
  const head = readFileSync(file, 'utf8').slice(0, 2000);
  const part = Number(/^part: (\d+)/m.exec(head)?.[1] ?? NaN);
  const tid = Number(/^thread: (\d+)/m.exec(head)?.[1] ?? NaN);
  const trigger = /^desc: Trigger: (.*)$/m.exec(head)?.[1] ?? '';
  const summary = Number(/^summary: (\d+)/m.exec(head)?.[1] ?? /^totals: (\d+)/m.exec(head)?.[1] ?? 0);
  if (!Number.isFinite(tid)) continue;
  if (!dumps.has(tid)) dumps.set(tid, []);
  dumps.get(tid).push({ part, trigger, file, summary });
}
for (const l of dumps.values()) l.sort((a, b) => a.part - b.part);
const marked = (tid) => (dumps.get(tid) ?? []).filter((d) => d.trigger.includes('getppid'));
const MAIN = 1;
// Valgrind numbers threads by slot and gives a slot back when its thread ends: the
// two-worker runtime, opened after the one-worker runtime's worker ended, may get that
// worker's number for one of its own. So the worker markers are taken in the order they
// were placed (the dumps' part numbers): the first workerLabels.length belong to the
// one-worker runtime's worker (direct and runtime cases), the rest to the two workers,
// told apart by their thread numbers (worker0 placed its markers first: rt.call(0) is
// awaited before rt.call(1)).
const workerMarks = [...dumps].filter(([t]) => t !== MAIN).flatMap(([tid, l]) => l.filter((d) => d.trigger.includes('getppid')).map((d) => ({ ...d, tid })))
  .sort((a, b) => a.part - b.part);
const qds2w = labels.qds2w ?? [];
const oneWorker = workerMarks.slice(0, labels.workerLabels.length);
const twoWorkers = workerMarks.slice(labels.workerLabels.length);
const oneTids = [...new Set(oneWorker.map((d) => d.tid))];
if (oneWorker.length !== labels.workerLabels.length || oneTids.length !== 1) {
  throw new Error(`the one-worker runtime's markers: expected ${labels.workerLabels.length} on one thread, found ${oneWorker.length} on threads ${oneTids.join(', ')}`);
}
const byTid = new Map();
for (const d of twoWorkers) {
  if (!byTid.has(d.tid)) byTid.set(d.tid, []);
  byTid.get(d.tid).push(d);
}
const expected2 = qds2w.length ? 2 : 0;
if (byTid.size !== expected2) throw new Error(`expected ${expected2} threads with the two-worker runtime's markers, found ${byTid.size} (${[...byTid.keys()].join(', ')})`);
const workerTids = [...new Set([...oneTids, ...byTid.keys()])];
const threads = [[marked(MAIN), labels.mainLabels, 'main'], [oneWorker, labels.workerLabels, 'worker']];
[...byTid.values()].sort((a, b) => a[0].part - b[0].part).forEach((m, i) => threads.push([m, labels.worker2Labels, `worker${i}`]));
const windows = new Map(); // `${label}|${thread}` -> dump
for (const [m, names, who] of threads) {
  if (m.length !== names.length) throw new Error(`the ${who} thread has ${m.length} marker dumps, the workload placed ${names.length} markers`);
  m.forEach((d, i) => windows.set(`${names[i]}|${who}`, d));
}

// ---- per-I/O figures ---------------------------------------------------------------------
const cache = new Map();
const profile = (d) => {
  if (!cache.has(d.file)) cache.set(d.file, readCallgrind(d.file));
  return cache.get(d.file);
};

/** Per-unit difference of two profiles: (b - a) / units, per function, category and callee. */
function difference(a, b, units) {
  const self = new Map();
  for (const [k, v] of b.self) self.set(k, { ...v, ir: v.ir });
  for (const [k, v] of a.self) {
    const e = self.get(k);
    if (e) e.ir -= v.ir;
    else self.set(k, { ...v, ir: -v.ir });
  }
  const calls = new Map(b.calls);
  for (const [k, v] of a.calls) calls.set(k, (calls.get(k) ?? 0) - v);
  const inclusive = (p, re) => {
    let s = 0;
    for (const [k, v] of p.self) if (re.test(v.name)) s += v.ir + (p.callsOut.get(k) ?? 0);
    return s;
  };
  const categories = new Map();
  for (const v of self.values()) {
    const c = category(v.name, v.ob);
    categories.set(c, (categories.get(c) ?? 0) + v.ir);
  }
  const entry = (re) => (inclusive(b, re) - inclusive(a, re)) / units;
  // Garbage collection comes in lumps (a scavenge every few MB allocated), so a window may
  // hold one more or one fewer than its share: the figure without GC is the difference of
  // the windows less their GC, and GC is spread over all 3N reads of both windows.
  const GC = /^v8::internal::Heap::CollectGarbage\(/;
  const gcA = inclusive(a, GC);
  const gcB = inclusive(b, GC);
  const gcCount = (p) => {
    let c = 0;
    for (const [k, v] of p.calls) if (GC.test(k)) c += v;
    return c;
  };
  return {
    perUnit: (b.summary - a.summary) / units,
    withoutGc: (b.summary - gcB - (a.summary - gcA)) / units,
    gcAveraged: (gcA + gcB) / (3 * units),
    collections: gcCount(a) + gcCount(b),
    top: [...self.values()].sort((x, y) => y.ir - x.ir).slice(0, TOP).map((v) => ({ ir: v.ir / units, fn: v.name, object: v.ob, category: category(v.name, v.ob) })),
    categories: [...categories].sort((x, y) => y[1] - x[1]).filter(([, v]) => Math.abs(v / units) >= 0.5).map(([c, v]) => ({ category: c, ir: v / units })),
    calls: [...calls].filter(([k]) => !/^0x[0-9a-f]+ \[\]$/.test(k)).sort((x, y) => y[1] - x[1]).slice(0, TOP).map(([k, v]) => ({ fn: k, perUnit: v / units })),
    addon: {
      // The addon's entry points, with everything they call (argument checks through N-API included).
      cqPoll: entry(/TemplatedCallback<&vfio_node::.*::CqPoll>/),
      sqRing: entry(/TemplatedCallback<&vfio_node::.*::SqRing>/),
    },
    callsOf: (re) => {
      let s = 0;
      for (const [k, v] of calls) if (re.test(k)) s += v;
      return s / units;
    },
  };
}

const results = [];
const report = [];
const say = (s = '') => report.push(s);
const fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

// Idle turns of the direct loop (nothing outstanding): the cost of one empty poll.
let emptyTurn = null;
{
  const a = windows.get('direct idle M|worker');
  const b = windows.get('direct idle 2M|worker');
  if (a && b) emptyTurn = (b.summary - a.summary) / labels.calib;
}

const cases = [];
for (const qd of labels.qds) {
  cases.push({ path: 'direct', qd, threads: ['worker'] });
  // cost.mjs --runtime no: no runtime windows (the direct path alone).
  if (labels.workerLabels.includes(`runtime qd${qd} N`)) cases.push({ path: 'runtime', qd, threads: ['main', 'worker'] });
  // readBatch (cost.mjs --batch): one promise per batch of labels.batch reads.
  if (labels.workerLabels.includes(`batch qd${qd} N`)) cases.push({ path: 'batch', qd, threads: ['main', 'worker'] });
}
// Two workers: each worker's figure is its instructions per read of the whole window (it
// serves about half of them), so the three threads add up to the cost of one read.
for (const qd of qds2w) cases.push({ path: 'runtime2w', qd, threads: ['main', 'worker0', 'worker1'] });
const details = [];
for (const c of cases) {
  const perThread = {};
  for (const who of c.threads) {
    const a = windows.get(`${c.path} qd${c.qd} N|${who}`);
    const b = windows.get(`${c.path} qd${c.qd} 2N|${who}`);
    if (!a || !b) throw new Error(`no windows for ${c.path} qd${c.qd} on the ${who} thread`);
    const diff = difference(profile(a), profile(b), N);
    const row = {
      path: c.path, qd: c.qd, thread: who, irPerIo: diff.perUnit, irN: a.summary / N, ir2N: b.summary / (2 * N),
      withoutGc: diff.withoutGc, gcAveraged: diff.gcAveraged, collections: diff.collections, estimate: diff.withoutGc + diff.gcAveraged, addon: diff.addon,
    };
    if (c.path === 'direct') {
      const w = labels.direct.find((x) => x.qd === c.qd);
      row.emptyPollsPerIo = (w.emptyPolls2N - w.emptyPollsN) / N;
      if (emptyTurn !== null) row.irPerIoWithoutEmptyPolls = diff.perUnit - row.emptyPollsPerIo * emptyTurn;
    } else if (who.startsWith('worker')) {
      // Turns of the worker's serve loop: one receiveMessageOnPort each.
      row.loopTurnsPerIo = diff.callsOf(/MessagePort::ReceiveMessage\(v8::FunctionCallbackInfo/);
    }
    perThread[who] = row;
    results.push(row);
    details.push({ title: `${c.path} qd${c.qd}, ${who} thread`, diff });
  }
  if (c.threads.length > 1) {
    const sum = (f) => c.threads.reduce((s, t) => s + perThread[t][f], 0);
    results.push({ path: c.path, qd: c.qd, thread: c.threads.length === 2 ? 'both' : 'all', irPerIo: sum('irPerIo'), estimate: sum('estimate'), withoutGc: sum('withoutGc'), gcAveraged: sum('gcAveraged') });
  }
}

// Threads without markers (V8's platform workers, libuv's pool...): their whole-run totals.
const others = [];
for (const [tid, l] of dumps) {
  if (tid === MAIN || workerTids.includes(tid)) continue;
  others.push({ tid, ir: l.reduce((s, d) => s + d.summary, 0) });
}
const totalIos = cases.length * (labels.warmup + 3 * N);

say(`Instructions per 4 KiB read (callgrind Ir, user space of the node process only), N = ${N}, warm-up ${labels.warmup} reads per case.`);
say(`Ir/IO = (Ir of the window of 2N reads - Ir of the window of N reads) / N, per thread.`);
say(`Ir/IO, GC spread = the same without garbage collection (Heap::CollectGarbage and below), plus the GC of both windows / 3N.`);
say('');
say('case            thread    Ir/IO  Ir/IO,GC spread  (no GC + GC)   Ir(N)/N  Ir(2N)/2N  notes');
for (const r of results) {
  const notes = [];
  if (r.emptyPollsPerIo !== undefined) notes.push(`${r.emptyPollsPerIo.toFixed(2)} empty polls/IO`);
  if (r.irPerIoWithoutEmptyPolls !== undefined) notes.push(`${fmt(r.irPerIoWithoutEmptyPolls)} without them`);
  if (r.loopTurnsPerIo !== undefined) notes.push(`${r.loopTurnsPerIo.toFixed(2)} serve-loop turns/IO`);
  if (r.addon && (r.addon.cqPoll || r.addon.sqRing)) notes.push(`nvmeCqPoll ${fmt(r.addon.cqPoll)} + nvmeSqRing ${fmt(r.addon.sqRing)} incl.`);
  if (r.collections) notes.push(`${r.collections} GCs in the windows`);
  const nn = r.irN === undefined ? '' : fmt(r.irN);
  const n2 = r.ir2N === undefined ? '' : fmt(r.ir2N);
  const split = `(${fmt(r.withoutGc)} + ${fmt(r.gcAveraged)})`;
  say(`${`${r.path} qd${r.qd}`.padEnd(16)}${r.thread.padEnd(8)}${fmt(r.irPerIo).padStart(7)}  ${fmt(r.estimate).padStart(15)}  ${split.padStart(15)}  ${nn.padStart(8)}  ${n2.padStart(9)}  ${notes.join('; ')}`);
}
if (emptyTurn !== null) say(`\nOne empty turn of the direct loop (ring() with nothing new + poll() finding nothing): ${fmt(emptyTurn)} Ir.`);
say(`Threads without markers (whole run, ${totalIos} reads plus start-up and shutdown): ${others.map((o) => `#${o.tid} ${fmt(o.ir)}`).join(', ') || 'none'} Ir.`);

for (const d of details) {
  say('');
  say(`== ${d.title}: ${fmt(d.diff.perUnit)} Ir per I/O`);
  say('  by category:');
  for (const c of d.diff.categories) say(`    ${fmt(c.ir).padStart(8)}  ${c.category}`);
  say(`  top ${TOP} functions (self Ir per I/O):`);
  for (const t of d.diff.top) say(`    ${fmt(t.ir).padStart(8)}  ${t.fn.slice(0, 110)}${t.object ? ` [${t.object}]` : ''}`);
  say(`  most called (calls per I/O, functions with a symbol):`);
  for (const t of d.diff.calls) say(`    ${t.perUnit.toFixed(2).padStart(8)}  ${t.fn.slice(0, 110)}`);
}

const text = report.join('\n');
console.log(text);
if (jsonOut) {
  writeFileSync(jsonOut, JSON.stringify({ n: N, warmup: labels.warmup, emptyTurn, results, others, details: details.map((d) => ({ title: d.title, perIo: d.diff.perUnit, categories: d.diff.categories, top: d.diff.top, calls: d.diff.calls })) }, null, 1));
}
