// A seeded fuzz of every native export (issue 12.6): random calls with wrong types, NaN,
// ±Infinity, 2^53±k, huge bigints, detached and shared buffers, DMA views, released and
// unmapped objects, element getters that run JavaScript, and methods and accessors called
// on foreign receivers. Thrown errors are fine; a signal is the bug. Each call is written
// to the log file (synchronously) before it is made, so that the parent can name the call
// that killed the process.
//
//   node --expose-gc fuzz.mjs <seed> <seconds> <log file>
//
// Ends with one JSON line: seed, calls made, and the error codes seen.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const seed = Number(process.argv[2] ?? 1) >>> 0;
const seconds = Number(process.argv[3] ?? 20);
const log = openSync(process.argv[4] ?? '/dev/null', 'w');
const scratch = mkdtempSync(join(tmpdir(), 'vfio-node-fuzz-'));
process.chdir(scratch); // open() with O_CREAT and a relative path creates its file here

// mulberry32: a small PRNG whose whole state is the seed.
let state = seed;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const below = (n) => Math.floor(random() * n);
const pick = (a) => a[below(a.length)];

const factory = (fields) => Object.assign(new Error(fields.message), fields);
native.setErrorFactory(factory);

// ---- what the fuzz owns: file descriptors and native objects (bounded, released in turn) ----

// Only descriptors this process opened for the fuzz are ever passed as fds: closing or
// writing to one of Node's own (libuv's epoll fd, its signal pipe) would crash Node, not the
// addon. Regular files are left out too: a file truncated under a mapping raises SIGBUS by
// the kernel's rule for any mmap (the addon maps device fds).
const fds = [];
const ownFd = (fd) => {
  fds.push(fd);
  if (fds.length > 32) safely(() => native.close(fds.shift()));
};
for (let i = 0; i < 4; i++) ownFd(native.eventfdCreate());
ownFd(native.open('/dev/zero', native.constants.O_RDWR));
ownFd(native.open('/dev/null', native.constants.O_RDWR));
const notOpen = [1_000_000, 2 ** 31 - 1];

const objects = [];
function own(o) {
  if (o === null || typeof o !== 'object') return;
  objects.push(o);
  if (objects.length > 48) retire(objects.shift());
}
function retire(o) {
  for (const m of ['release', 'unmap', 'stop', 'close']) {
    if (typeof o[m] === 'function') safely(() => o[m]());
  }
}
function safely(f) {
  try {
    return f();
  } catch {
    return undefined;
  }
}
own(native.DmaBuffer.alloc(8192, { hugepages: false }));
own(new native.Mapping(fds[4], 0, 8192));
own(new native.EventfdWatcher(fds[0], () => {}));

// ---- the values ----

const numbers = [0, -0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 64, 255, 4095, 4096, 4097, 8192, 0x1008, 0x100c, 65535, 65536,
  2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), -(2 ** 53) - 2,
  1.5, -0.5, 1e-300, Number.MIN_VALUE, 1e308, NaN, Infinity, -Infinity];
const bigints = [0n, 1n, -1n, 4096n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n,
  -(2n ** 63n), -(2n ** 64n), 2n ** 200n, -(2n ** 200n)];
const strings = ['', 'x', '/dev/zero', '/dev/null', '/nonexistent/x', 'a\0b', '0000:00:04.0', '4096', 'NaN', join(scratch, 'missing')];

function detached(size) {
  const ab = new ArrayBuffer(size);
  structuredClone(ab, { transfer: [ab] });
  return ab;
}
function growing() {
  const a = [0];
  Object.defineProperty(a, 0, { get: () => (a.push(...new Array(64).fill(fds[0] ?? 0)), fds[0] ?? 0) });
  return a;
}
function throwingGetter() {
  return { get hugepages() { throw new Error('getter'); }, get length() { throw new Error('getter'); } };
}

// A fresh value each time, of every kind.
const kinds = [
  () => pick(numbers),
  () => pick(numbers),
  () => below(70000),
  () => pick(bigints),
  () => pick(strings),
  () => pick([undefined, null, true, false, Symbol('s')]),
  () => pick([{}, [], { hugepages: false }, { hugepages: true }, { hugepages: 'yes' }, Object.create(null)]),
  () => throwingGetter(),
  () => growing(),
  () => new Proxy({}, { get() { throw new Error('proxy'); } }),
  () => pick([() => {}, () => { throw new Error('callback'); }, function () { return this; }]),
  () => pick(fds.length ? [[...fds], [fds[0], -1], fds.map(String), [NaN]] : [[]]),
  () => new ArrayBuffer(pick([0, 1, 16, 64, 4096, 0x2000])),
  () => detached(pick([0, 64, 4096])),
  () => new SharedArrayBuffer(pick([0, 16, 64, 4096])),
  () => new (pick([Uint8Array, Uint16Array, Uint32Array, Int32Array, Float64Array, BigUint64Array]))(pick([0, 1, 2, 4, 16, 64, 1024])),
  () => new Uint32Array(new SharedArrayBuffer(pick([8, 64, 1032, 4096]))),
  () => {
    const view = new Uint8Array(64);
    structuredClone(view.buffer, { transfer: [view.buffer] }); // the view stays, over nothing
    return view;
  },
  () => new DataView(new ArrayBuffer(64), pick([0, 8, 63])),
  () => new Uint32Array(new ArrayBuffer(4096), pick([0, 4, 1024])),
  () => viewOf(pick(objects)),
  () => viewOf(pick(objects)),
  () => pick(objects),
  () => pick(objects),
  () => pick(fds),
];
const any = () => safely(pick(kinds));

// A view over a native object's memory (a DMA buffer or a mapping; maybe released: length 0).
function viewOf(o) {
  const ab = safely(() => o?.buffer);
  if (!(ab instanceof ArrayBuffer)) return ab;
  const T = pick([Uint8Array, Uint16Array, Uint32Array]);
  const n = Math.floor(ab.byteLength / T.BYTES_PER_ELEMENT);
  const at = below(Math.max(1, n));
  return safely(() => new T(ab, at * T.BYTES_PER_ELEMENT, below(n - at + 1))) ?? ab;
}

// An fd argument: one of ours, one that is not open, or anything that is not an fd (a
// number that could name one of Node's descriptors, stdout included, becomes one not open).
const fd = () => {
  if (random() < 0.7 && fds.length) return pick(fds);
  const v = random() < 0.5 ? pick(notOpen) : any();
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < notOpen[0] ? pick(notOpen) : v;
};
// A size that cannot make the fuzz itself exhaust memory (alloc touches every page).
const size = () => {
  const v = any();
  return typeof v === 'number' && v > 4 << 20 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v) ? 4096 : v;
};
// A timeout that cannot block the fuzz for long.
const timeout = () => {
  const v = any();
  return typeof v === 'number' && Number.isInteger(v) && v >= -1 && v <= 2 ** 31 - 1 && (v < 0 || v > 5) ? 0 : v;
};
// DMA allocations without hugepages mostly (a host may have a few; the fuzz must not take them all).
const allocOptions = () => (random() < 0.8 ? { hugepages: false } : any());

// The argument kinds of every export, by position ('any' for the rest). An export missing
// here fails the run: every function the addon has must be fuzzed.
const F = 'fd';
const specs = {
  setErrorFactory: [],
  open: [() => pick(strings), any],
  close: [F],
  pread: [F], pwrite: [F], preadWidth: [F], pwriteWidth: [F],
  vfioGetApiVersion: [F], vfioCheckExtension: [F], vfioSetIommu: [F], vfioIommuGetInfo: [F],
  vfioMapDma: [F], vfioUnmapDma: [F], vfioMapUserDma: [F], pageOffsetOf: [], allocUserMemory: [size],
  vfioGroupGetStatus: [F], vfioGroupSetContainer: [F, F], vfioGroupUnsetContainer: [F, F], vfioGroupGetDeviceFd: [F],
  vfioDeviceGetInfo: [F], vfioDeviceGetRegionInfo: [F], vfioDeviceGetIrqInfo: [F], vfioDeviceSetIrqsEventfd: [F],
  vfioDeviceSetIrqs: [F], vfioDeviceReset: [F],
  eventfdCreate: [], eventfdRead: [F], eventfdWrite: [F], eventfdWait: [() => (random() < 0.5 ? pick([fds, [pick(fds)], growing()]) : any()), timeout],
  virtioSplitTxBurst: [],
  Mapping: [F],
  DmaBuffer: [],
  'DmaBuffer.alloc': [size, allocOptions],
  'DmaBuffer.open': [],
  EventfdWatcher: [F, () => pick([() => {}, any()])],
  NvmeQueue: [],
};
const targets = [];
for (const [name, value] of Object.entries(native)) {
  if (typeof value !== 'function') continue;
  if (!(name in specs)) throw new Error(`fuzz.mjs: export ${name} has no argument spec`);
  const isClass = /^[A-Z]/.test(name);
  targets.push({ name, fn: value, construct: isClass });
  if (isClass) {
    for (const key of Object.getOwnPropertyNames(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key);
      if (typeof d.value === 'function' && !['length', 'name', 'prototype'].includes(key)) {
        const full = `${name}.${key}`;
        if (!(full in specs)) throw new Error(`fuzz.mjs: static ${full} has no argument spec`);
        targets.push({ name: full, fn: d.value, self: value });
      }
    }
    for (const key of Object.getOwnPropertyNames(value.prototype)) {
      if (key === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(value.prototype, key);
      if (d.get) targets.push({ name: `${name}#${key}`, fn: d.get, member: name });
      else if (typeof d.value === 'function') targets.push({ name: `${name}#${key}`, fn: d.value, member: name });
    }
  }
}
// NvmeQueue's hot functions are own properties of each handle, bound to its queue: taken
// from a live (or closed) handle at call time, called with any receiver.
for (const key of ['poll', 'ring', 'announceHead']) targets.push({ name: `NvmeQueue#${key}`, bound: key, member: 'NvmeQueue' });
const boundFn = (key) => pick(objects.filter((o) => o?.constructor?.name === 'NvmeQueue'))?.[key] ?? (() => {});
const specFor = (t) => specs[t.name] ?? [];
// Method arguments: the BAR-like buffers and small integers matter most, so they come often.
const memberArg = () => (random() < 0.3 ? pick([new ArrayBuffer(0x2000), below(16), below(8192), 0x1008]) : any());

function describe(v) {
  return safely(() => describeUnsafe(v)) ?? 'unprintable';
}
function describeUnsafe(v) {
  switch (typeof v) {
    case 'bigint': return `${v}n`;
    case 'string': return JSON.stringify(v);
    case 'symbol': return 'symbol';
    case 'function': return 'function';
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'undefined': return 'undefined';
    case 'boolean': return String(v);
  }
  if (v === null) return 'null';
  const name = v?.constructor?.name ?? 'Object';
  if (ArrayBuffer.isView(v)) return `${name}(${safely(() => v.length) ?? v.byteLength}${v.buffer instanceof SharedArrayBuffer ? ', shared' : ''})`;
  if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return `${name}(${v.byteLength})`;
  if (Array.isArray(v)) return `array(${safely(() => v.length)})`;
  return name;
}

const codes = {};
const count = (e) => {
  const code = (e && typeof e === 'object' && (e.code ?? e.name)) || typeof e;
  codes[code] = (codes[code] ?? 0) + 1;
};
// A watcher callback that throws, or a watcher whose read fails, raises an uncaught
// exception: counted, and the fuzz goes on.
process.on('uncaughtException', (e) => count({ code: `uncaught ${safely(() => e.code ?? e.name)}` }));

const deadline = Date.now() + seconds * 1000;
let calls = 0;
try {
  await fuzz();
} catch (e) {
  // A bug of the harness, not of the addon: say so, and fail.
  console.error('fuzz harness error:', e);
  process.exitCode = 3;
} finally {
  writeSync(log, 'done: releasing\n');
  for (const o of objects.splice(0)) retire(o);
  for (const f of fds.splice(0)) safely(() => native.close(f));
}

async function fuzz() {
while (Date.now() < deadline) {
  for (let burst = 0; burst < 200; burst++) {
    const t = pick(targets);
    const spec = specFor(t);
    const n = t.name === 'NvmeQueue' ? 9 + below(7) : below(Math.max(spec.length + 2, 7));
    const args = [];
    for (let i = 0; i < n; i++) {
      const s = spec[i];
      args.push(s === F ? fd() : typeof s === 'function' ? s() : t.member ? memberArg() : any());
    }
    const self = t.member ? (random() < 0.6 ? pick(objects.filter((o) => o?.constructor?.name === t.member)) ?? any() : any()) : t.self;
    writeSync(log, `${calls}\t${t.name}${t.construct ? ' (new)' : ''}\tthis=${describe(self)}\t(${args.map(describe).join(', ')})\n`);
    calls++;
    try {
      const r = t.construct ? Reflect.construct(t.fn, args) : Reflect.apply(t.bound ? boundFn(t.bound) : t.fn, self, args);
      if (t.name === 'setErrorFactory') native.setErrorFactory(factory);
      if (t.name === 'eventfdCreate') ownFd(r);
      else if (t.name === 'open' || t.name === 'vfioGroupGetDeviceFd') native.close(r); // maybe a regular file: not ours to map
      else if (t.name === 'close' && fds.includes(args[0])) fds.splice(fds.indexOf(args[0]), 1); // its number may come back
      else if (r !== null && typeof r === 'object' && /^(Mapping|DmaBuffer|EventfdWatcher|NvmeQueue)$/.test(r.constructor?.name)) own(r);
    } catch (e) {
      count(e);
    }
  }
  // Let watchers fire and finalizers run between bursts.
  await new Promise((resolve) => setImmediate(resolve));
  if (typeof globalThis.gc === 'function' && random() < 0.05) globalThis.gc();
}
}

await new Promise((resolve) => setTimeout(resolve, 20));
closeSync(log);
rmSync(scratch, { recursive: true, force: true });
console.log(JSON.stringify({ seed, calls, codes }));
