// Error codes are a documented union (issue 13): every ERR_* code the sources raise is in
// its layer's exported list (CORE_ERROR_CODES, NVME_ERROR_CODES, ...), so a code added
// without listing it fails here; every listed code is still raised somewhere; the NVMe
// status codes are exactly what statusCode() gives for the named statuses; and every error
// class a package exports carries a `code`. Reads the sources (no device).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as native from '../../native/index.js';
import * as core from '@vfio-node/core';
import * as nvme from '@vfio-node/nvme';
import * as virtioNet from '@vfio-node/virtio-net';
import * as runtime from '@vfio-node/runtime';
import * as lab from '@vfio-node/lab';
import * as bench from '@vfio-node/bench';
import * as bdev from '@vfio-node/bdev';
import * as nvmf from '@vfio-node/nvmf';
import * as benchNet from '../../bench/src/net/index.js';
import * as cli from '../../packages/cli/src/main.js';

const root = path.resolve(import.meta.dirname, '../..');

const CORE: readonly string[] = core.CORE_ERROR_CODES;
const NVME: readonly string[] = [...nvme.NVME_ERROR_CODES, ...nvme.NVME_STATUS_CODES];
const VIRTIO: readonly string[] = virtioNet.VIRTIO_NET_ERROR_CODES;
const RUNTIME: readonly string[] = runtime.RUNTIME_ERROR_CODES;
const LAB: readonly string[] = lab.LAB_ERROR_CODES;
const BENCH: readonly string[] = bench.BENCH_ERROR_CODES;
const BDEV: readonly string[] = bdev.BDEV_ERROR_CODES;
const NVMF: readonly string[] = nvmf.NVMF_ERROR_CODES;
const CLI: readonly string[] = cli.CLI_ERROR_CODES;

/** A status the specifications do not name: ERR_NVME_STATUS_SCT<sct>_SC<sc in hex>. */
const UNNAMED_STATUS = /^ERR_NVME_STATUS_SCT[0-7]_SC[0-9A-F]{2}$/;

/**
 * Each layer's folder, the list of its own codes, and the codes it may raise: its own and
 * those of the layers it sits on (a layer passes their errors on). Core's list names the
 * native core's codes too (`also`).
 */
const LAYERS: Array<{ dir: string; own: readonly string[]; allowed: readonly string[]; also?: string }> = [
  { dir: 'native', own: [], allowed: CORE },
  { dir: 'packages/core', own: CORE, allowed: CORE, also: 'native' },
  { dir: 'drivers/nvme', own: nvme.NVME_ERROR_CODES, allowed: [...NVME, ...CORE] },
  { dir: 'drivers/virtio-net', own: VIRTIO, allowed: [...VIRTIO, ...CORE] },
  { dir: 'packages/runtime', own: RUNTIME, allowed: [...RUNTIME, ...NVME, ...CORE] },
  { dir: 'packages/lab', own: LAB, allowed: [...LAB, ...CORE] },
  { dir: 'packages/bdev', own: BDEV, allowed: [...BDEV, ...RUNTIME, ...NVME, ...CORE] },
  { dir: 'packages/nvmf', own: NVMF, allowed: [...NVMF, ...BDEV, ...RUNTIME, ...NVME, ...CORE] },
  { dir: 'bench', own: BENCH, allowed: [...BENCH, ...RUNTIME, ...NVME, ...VIRTIO, ...CORE] },
  { dir: 'packages/cli', own: CLI, allowed: [...CLI, ...BENCH, ...LAB, ...RUNTIME, ...NVME, ...VIRTIO, ...CORE] },
];
const ALL = new Set([...CORE, ...NVME, ...VIRTIO, ...RUNTIME, ...LAB, ...BENCH, ...BDEV, ...NVMF, ...CLI]);

const SOURCE = /\.(ts|js|mjs|cc|h)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'prebuilds', 'fixtures']);

function files(dir: string, tests: boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && (tests || e.name !== 'test')) out.push(...files(p, tests));
    } else if (e.isFile() && SOURCE.test(e.name) && tests === /\.test\.(ts|js|mjs)$/.test(e.name)) {
      out.push(p);
    }
  }
  return out;
}

/** Every complete ERR_* string literal in a file ('ERR_NVME_' + name, a prefix, is not one), with its line. */
function codesIn(file: string): Array<{ code: string; where: string }> {
  // The lists themselves (`X_ERROR_CODES = [ ... ] as const`) are not uses.
  const text = readFileSync(file, 'utf8').replace(/_CODES = \[[\s\S]*?\] as const;/g, (m) => m.replace(/[^\n]/g, ' '));
  const out: Array<{ code: string; where: string }> = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/['"`](ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) out.push({ code: m[1]!, where: `${path.relative(root, file)}:${i + 1}` });
  });
  return out;
}

describe('error codes are listed in exported unions', () => {
  it('each list has no duplicates, and the lab, core and the drivers do not share a code they mean differently', () => {
    for (const list of [CORE, nvme.NVME_ERROR_CODES, nvme.NVME_STATUS_CODES, VIRTIO, RUNTIME, LAB, BENCH, BDEV, NVMF, CLI]) {
      expect(new Set(list).size).toBe(list.length);
      for (const code of list) expect(code).toMatch(/^ERR_[A-Z0-9_]+[A-Z0-9]$/);
    }
    // A layer's own list names what it adds: no code of core's appears again above it
    // (the lab's ERR_INVALID_ARG is the one exception: LabError is not a VfioError).
    for (const list of [nvme.NVME_ERROR_CODES, nvme.NVME_STATUS_CODES, VIRTIO, RUNTIME, BENCH, BDEV, NVMF, CLI]) {
      expect((list as readonly string[]).filter((c) => CORE.includes(c))).toEqual([]);
    }
  });

  for (const layer of LAYERS) {
    it(`every ERR_* code raised in ${layer.dir} is in its list or a list of a layer below`, () => {
      const found = files(path.join(root, layer.dir), false).flatMap(codesIn);
      expect(found.length).toBeGreaterThan(0);
      const unlisted = found.filter(({ code }) => !layer.allowed.includes(code) && !UNNAMED_STATUS.test(code));
      expect(unlisted.map((u) => `${u.where}: ${u.code}`), 'add these codes to the layer\'s list in its errors.ts').toEqual([]);
    });

    if (layer.own.length) {
      it(`every code listed by ${layer.dir} is raised there`, () => {
        const dirs = [layer.dir, ...(layer.also ? [layer.also] : [])];
        const used = new Set(dirs.flatMap((d) => files(path.join(root, d), false)).flatMap(codesIn).map((c) => c.code));
        expect(layer.own.filter((c) => !used.has(c)), 'listed but never raised: remove it from the list').toEqual([]);
      });
    }
  }

  it('the tests expect only codes that some list names', () => {
    const dirs = ['packages', 'drivers', 'bench', 'native', 'test'];
    const found = dirs.flatMap((d) => files(path.join(root, d), true)).flatMap(codesIn);
    expect(found.length).toBeGreaterThan(50);
    const unknown = found.filter(({ code }) => !ALL.has(code) && !UNNAMED_STATUS.test(code));
    expect(unknown.map((u) => `${u.where}: ${u.code}`)).toEqual([]);
  });

  it('NVME_STATUS_CODES are exactly the codes statusCode() gives the statuses the specifications name', () => {
    const given = new Set<string>();
    for (let sct = 0; sct < 8; sct++) {
      for (let sc = 0; sc < 256; sc++) {
        if (sct === 0 && sc === 0) continue; // Successful Completion is no error
        const code = nvme.statusCode(sct, sc);
        if (UNNAMED_STATUS.test(code)) continue;
        expect(nvme.NVME_STATUS_CODES as readonly string[], `sct ${sct} sc ${sc}`).toContain(code);
        given.add(code);
      }
    }
    expect([...nvme.NVME_STATUS_CODES].filter((c) => !given.has(c))).toEqual([]);
    expect(nvme.statusCode(7, 0xab)).toBe('ERR_NVME_STATUS_SCT7_SCAB');
  });
});

describe('every error class a package exports carries a code', () => {
  const modules: Record<string, Record<string, unknown>> = {
    '@vfio-node/native': native,
    '@vfio-node/core': core,
    '@vfio-node/nvme': nvme,
    '@vfio-node/virtio-net': virtioNet,
    '@vfio-node/runtime': runtime,
    '@vfio-node/bdev': bdev,
    '@vfio-node/nvmf': nvmf,
    '@vfio-node/lab': lab,
    '@vfio-node/bench': bench,
    '@vfio-node/bench/net': benchNet,
    'vfio-node': cli,
  };
  /** How to make one of each class; a new exported error class must be added here. */
  const MAKE: Record<string, () => Error & { code?: unknown }> = {
    VfioError: () => new core.VfioError({ code: 'ERR_CLOSED', message: 'closed' }),
    NvmeStatusError: () => new nvme.NvmeStatusError(0x80 << 1, 'Read', '0000:00:03.0'),
    LabError: () => new lab.LabError({ code: 'ERR_LAB_TIMEOUT', message: 'timed out' }),
  };
  const classes: Array<{ module: string; name: string; cls: new (...a: never[]) => Error }> = [];
  for (const [module, exports] of Object.entries(modules)) {
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value === 'function' && value.prototype instanceof Error) classes.push({ module, name, cls: value as new (...a: never[]) => Error });
    }
  }

  it('finds the error classes', () => {
    expect(classes.map((c) => c.name)).toEqual(expect.arrayContaining(['VfioError', 'NvmeStatusError', 'LabError']));
  });

  it('each is VfioError, LabError or a subclass, and an instance has a listed code', () => {
    for (const { module, name, cls } of classes) {
      expect(cls === core.VfioError || cls.prototype instanceof core.VfioError || cls === lab.LabError || cls.prototype instanceof lab.LabError, `${module} ${name}`).toBe(true);
      const make = MAKE[name];
      expect(make, `${module} exports ${name}: add it to MAKE in this test`).toBeDefined();
      const err = make!();
      expect(err).toBeInstanceOf(cls);
      expect(typeof err.code === 'string' && ALL.has(err.code), `${name}.code = ${String(err.code)}`).toBe(true);
    }
    expect((MAKE.NvmeStatusError!() as { code: string }).code).toBe('ERR_NVME_LBA_OUT_OF_RANGE');
  });

  it('the native core throws VfioError with a listed code (bad argument) or an errno name (failed system call)', () => {
    const thrown = (f: () => unknown): core.VfioError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(core.VfioError);
        return e as core.VfioError;
      }
      throw new Error('did not throw');
    };
    expect(CORE).toContain(thrown(() => native.close(-1)).code);
    expect(thrown(() => native.close(1 << 29)).code).toBe('EBADF'); // a SystemErrorCode
  });
});

describe('every error built in an errors.ts says how to fix it', () => {
  /** The object literals passed to `new VfioError(...)` in a source text. */
  function literals(text: string): string[] {
    const out: string[] = [];
    for (let i = text.indexOf('new VfioError({'); i >= 0; i = text.indexOf('new VfioError({', i + 1)) {
      let depth = 0;
      const start = i + 'new VfioError('.length;
      for (let k = start; k < text.length; k++) {
        if (text[k] === '{') depth++;
        else if (text[k] === '}' && --depth === 0) {
          out.push(text.slice(start, k + 1));
          break;
        }
      }
    }
    return out;
  }

  it('each VfioError literal of the layers\' error modules has a hint', () => {
    let count = 0;
    const missing: string[] = [];
    for (const { dir } of LAYERS) {
      const file = path.join(root, dir, 'src', 'errors.ts');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // a layer without an errors module (native)
      }
      for (const lit of literals(text)) {
        count++;
        if (!/\bhint\b/.test(lit)) missing.push(`${dir}: ${/code: '([A-Z_0-9]+)'/.exec(lit)?.[1] ?? lit.slice(0, 80)}`);
      }
    }
    expect(count).toBeGreaterThan(80);
    expect(missing).toEqual([]);
  });
});
