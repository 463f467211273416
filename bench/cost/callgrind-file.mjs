// A reader of callgrind's output format (valgrind docs, "Callgrind Format Specification"),
// for files written with --compress-strings=no --compress-pos=no and one event (Ir):
// self cost per function, the inclusive cost of the calls each function makes, and call
// counts per callee. Written for bench/cost because callgrind_annotate 3.19 misreads the
// parts that --dump-before writes when JIT code (functions with no object) is in them:
// it charged a whole window to __libc_start_main, or 200% to one bytecode handler.

import { readFileSync } from 'node:fs';

/** Strips callgrind's recursion-depth suffix ("f'2" is f called from f). */
const base = (name) => name.replace(/'\d+$/, '');

function shortObject(ob) {
  if (!ob || ob === '???') return '';
  return ob.slice(ob.lastIndexOf('/') + 1);
}

/**
 * Parses one callgrind output file.
 * @returns {{ header: Record<string,string>, summary: number, self: Map<string, {ir:number, ob:string, name:string}>, callsOut: Map<string, number>, calls: Map<string, number> }}
 *   self: Ir executed in each function itself, keyed "name [object]";
 *   callsOut: Ir of the calls each function made (inclusive = self + callsOut);
 *   calls: how many times each function was called, keyed like self.
 */
export function readCallgrind(file) {
  const text = readFileSync(file, 'utf8');
  const header = {};
  const self = new Map();
  const callsOut = new Map();
  const calls = new Map();
  let ob = '';
  let fnKey = '';
  let cob = '';
  let cfn = '';
  let pendingCall = 0; // >0: the next cost line is the inclusive cost of a call
  let summary = 0;
  const addSelf = (key, name, obj, ir) => {
    const e = self.get(key);
    if (e) e.ir += ir;
    else self.set(key, { ir, ob: obj, name });
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const c = line.charCodeAt(0);
    const isCost = (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42; // digit + - *
    if (isCost) {
      const sp = line.indexOf(' ');
      const ir = sp < 0 ? 0 : Number(line.slice(sp + 1).split(' ')[0]);
      if (pendingCall) {
        callsOut.set(fnKey, (callsOut.get(fnKey) ?? 0) + ir);
        const calleeKey = `${cfn} [${shortObject(cob || ob)}]`;
        calls.set(calleeKey, (calls.get(calleeKey) ?? 0) + pendingCall);
        pendingCall = 0;
        cob = '';
      } else {
        const name = fnKey.slice(0, fnKey.lastIndexOf(' ['));
        addSelf(fnKey, name, fnKey.slice(fnKey.lastIndexOf(' [') + 2, -1), ir);
      }
      continue;
    }
    const eq = line.indexOf('=');
    const colon = line.indexOf(':');
    if (eq > 0 && (colon < 0 || eq < colon)) {
      const key = line.slice(0, eq);
      const val = line.slice(eq + 1);
      switch (key) {
        case 'ob': ob = val; break;
        case 'fn': fnKey = `${base(val)} [${shortObject(ob)}]`; break;
        case 'cob': cob = val; break;
        case 'cfn': cfn = base(val); break;
        case 'calls': pendingCall = Number(val.split(' ')[0]) || 1; break;
        default: break; // fl fi fe cfi cfl jump jcnd
      }
      continue;
    }
    if (colon > 0) {
      const k = line.slice(0, colon);
      const v = line.slice(colon + 1).trim();
      if (k === 'summary' || k === 'totals') summary = Number(v.split(' ')[0]);
      else if (k === 'desc') {
        const d = v.indexOf(':');
        if (d > 0) header[v.slice(0, d).trim()] = v.slice(d + 1).trim();
      } else header[k] = v;
    }
  }
  return { header, summary, self, callsOut, calls };
}

/** Where an instruction was spent, from the function's name and object. */
export function category(name, ob) {
  if (/^vfio_node\b|^Napi::/.test(name) || /vfio_node\.node$/.test(ob)) return 'our addon (native/, C++)';
  if (/^napi_|^v8impl::/.test(name)) return 'N-API (Node)';
  if (/^Builtins_/.test(name)) return 'V8 builtins and bytecode handlers';
  if (/^0x[0-9a-f]+$/.test(name) && !ob) return 'JIT-compiled JavaScript (no symbol)';
  if (/^v8::internal::(Heap|Scavenger|ScavengerCollector|MarkCompact|Sweeper|MinorMarkCompact|GCTracer|ConcurrentMarking|IncrementalMarking|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|LargeObjectSpace|.*Evacuat|.*RememberedSet|.*SlotSet|.*Sweep)/.test(name)) return 'V8 garbage collector';
  if (/^v8::|^cppgc::|^(Runtime_|v8_)/.test(name)) return 'V8 C++ (runtime, API)';
  if (/^node::|^uv_|^uv__/.test(name)) return 'Node and libuv C++';
  if (/^(libc|libstdc\+\+|libm|ld-linux|libpthread)/.test(ob)) return 'libc, libstdc++';
  if (ob === 'node') return 'Node binary, other';
  return 'other';
}
