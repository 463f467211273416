// What a user does with the published packages: scripts/pack.sh packs every package the
// way `pnpm publish` would, plain npm installs the tarballs into an empty project in a
// temporary directory outside the repository (no workspace, nothing of the repository on
// the module path), and then, there, the packages are imported, the native addon loads
// from its prebuilt binary, and `npx vfio-node` runs; last, `npx vfio-node lab run` boots
// the lab from there and runs an example program copied into the project against the
// lab's NVMe (one boot). Third-party dependencies (pino, piscina, node-gyp-build,
// node-addon-api) come from npm's cache or the registry.
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cliVersion = (JSON.parse(fs.readFileSync(path.join(repo, 'packages/cli/package.json'), 'utf8')) as { version: string }).version;

/** The published packages and what each must export (a few names that prove it is the right module). */
const PACKAGES: Record<string, string[]> = {
  '@vfio-node/native': ['open', 'DmaBuffer', 'eventfdCreate', 'NvmeQueue'],
  '@vfio-node/core': ['Device', 'VfioError', 'parsePciAddress', 'runDoctor'],
  '@vfio-node/nvme': ['NvmeController'],
  '@vfio-node/virtio-net': ['VirtioNet'],
  '@vfio-node/runtime': ['NvmeRuntime'],
  '@vfio-node/bdev': ['openBdev', 'MallocBdev', 'parseBdevName'],
  '@vfio-node/nvmf': ['NvmfTarget', 'PduReader', 'crc32c'],
  '@vfio-node/lab': ['Lab', 'LabError'],
  '@vfio-node/bench': ['JobRunner', 'crc32c'],
  '@vfio-node/bench/net': ['internetChecksum'],
  'vfio-node': ['main', 'VERSION'],
};

let tmp = '';
let project = '';

/**
 * The environment of a user's shell: without the variables npm and vitest set for the
 * test run (npm_*, INIT_CWD: npm would take the repository as the project) and without
 * the repository's node_modules/.bin on PATH. npm still reads the user's .npmrc.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|vitest)/i.test(k) || ['INIT_CWD', 'NODE_ENV', 'NODE_OPTIONS', 'TEST'].includes(k)) continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !path.resolve(dir).startsWith(repo))
    .join(path.delimiter);
  return env;
}

/** Runs a command in the project, as the user would from a shell there. */
function inProject(cmd: string, args: string[], timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: project, env: userEnv(), encoding: 'utf8', timeout });
}

/** Runs an ES module in the project (node --input-type=module) and returns its stdout parsed as JSON. */
function nodeEval(source: string): unknown {
  const r = inProject(process.execPath, ['--input-type=module', '-e', source]);
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Runs a command to its end without blocking this worker (vitest talks to it meanwhile); rejects with its output when it fails. */
async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout: number): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(cmd, args, { cwd, env, timeout, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-node-install-'));
  const packs = path.join(tmp, 'packs');
  project = path.join(tmp, 'project');
  const packed = await run('bash', [path.join(repo, 'scripts/pack.sh'), packs], repo, process.env, 300_000);
  process.stderr.write(packed.stderr); // the tarballs and their sizes
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'a-user-project', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const tarballs = fs.readdirSync(packs).filter((f) => f.endsWith('.tgz')).map((f) => path.join(packs, f));
  // --prefer-offline: the third-party packages from npm's cache when it has them.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], project, userEnv(), 240_000);
}, 600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the packages as a user installs them', () => {
  it('the project is outside the repository and has no workspace around it', () => {
    expect(path.relative(repo, project).startsWith('..')).toBe(true);
    for (let dir = path.dirname(project); ; dir = path.dirname(dir)) {
      expect(fs.existsSync(path.join(dir, 'pnpm-workspace.yaml')), dir).toBe(false);
      expect(fs.existsSync(path.join(dir, 'node_modules')), dir).toBe(false);
      if (dir === path.dirname(dir)) break;
    }
  });

  it('every package resolves inside the project, to built JavaScript with types', () => {
    const resolved = nodeEval(`console.log(JSON.stringify(${JSON.stringify(Object.keys(PACKAGES))}.map((m) => import.meta.resolve(m))))`) as string[];
    for (const url of resolved) {
      const file = fileURLToPath(url);
      expect(file.startsWith(path.join(project, 'node_modules') + path.sep), file).toBe(true);
      expect(file).toMatch(/\.js$/);
      expect(fs.existsSync(file.replace(/\.js$/, '.d.ts')), `${file}: no .d.ts beside it`).toBe(true);
    }
  });

  it('pnpm pack replaced every workspace: range with the version, and each package says what it runs on, its license (with LICENSE) and its repository', () => {
    for (const name of Object.keys(PACKAGES).filter((n) => !n.endsWith('/net'))) {
      const pkg = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', name, 'package.json'), 'utf8'));
      for (const [dep, range] of Object.entries<string>(pkg.dependencies ?? {})) {
        expect(range, `${name} -> ${dep}`).not.toMatch(/^workspace:/);
        if (dep.startsWith('@vfio-node/')) expect(range, `${name} -> ${dep}`).toBe(pkg.version);
      }
      expect(pkg.private, name).toBeUndefined();
      expect(pkg.license, name).toBe('MIT');
      expect(pkg.engines?.node, name).toMatch(/^>=20\./);
      expect(pkg.os, name).toEqual(['linux']);
      expect(pkg.files, name).toBeInstanceOf(Array);
      expect(fs.existsSync(path.join(project, 'node_modules', name, 'README.md')), `${name}: README.md`).toBe(true);
      expect(fs.readFileSync(path.join(project, 'node_modules', name, 'LICENSE'), 'utf8'), `${name}: LICENSE`).toMatch(/^MIT License\n\nCopyright \(c\) 2026 vfio-node contributors\n/);
      expect(pkg.repository?.url, name).toBe('git+https://github.com/vfio-node/vfio-node.git');
    }
  });

  it('the tarballs hold no tests, object files or build directories', () => {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name === 'build' || e.name === 'fixtures') found.push(p);
          else walk(p);
        } else if (/\.test\.(ts|js)$|\.o$|\.tsbuildinfo$/.test(e.name)) found.push(p);
      }
    };
    for (const name of ['@vfio-node', 'vfio-node']) walk(path.join(project, 'node_modules', name));
    expect(found).toEqual([]);
  });

  it('the native addon loads from its prebuilt binary, nothing was compiled', () => {
    const out = nodeEval(`
      import { createRequire } from 'node:module';
      import native from '@vfio-node/native';
      const require = createRequire(import.meta.url);
      console.log(JSON.stringify({ file: require('node-gyp-build').resolve(${JSON.stringify(path.join(project, 'node_modules/@vfio-node/native'))}), open: typeof native.open, pageSize: native.pageSize }));
    `) as { file: string; open: string; pageSize: number };
    expect(out.file).toBe(path.join(project, 'node_modules/@vfio-node/native/prebuilds', `linux-${process.arch}`, '@vfio-node+native.glibc.node'));
    expect(out.open).toBe('function');
    expect(out.pageSize).toBe(4096);
    expect(fs.existsSync(path.join(project, 'node_modules/@vfio-node/native/build'))).toBe(false);
  });

  it('every package imports as an ES module with its public names', () => {
    const out = nodeEval(`
      const names = ${JSON.stringify(PACKAGES)};
      const missing = {};
      for (const [m, want] of Object.entries(names)) {
        const mod = await import(m);
        const lacking = want.filter((n) => mod[n] === undefined);
        if (lacking.length) missing[m] = lacking;
      }
      console.log(JSON.stringify(missing));
    `);
    expect(out).toEqual({});
  });

  it('npx vfio-node --version prints the version of the installed CLI', () => {
    expect(fs.existsSync(path.join(project, 'node_modules/.bin/vfio-node'))).toBe(true);
    const r = inProject('npx', ['vfio-node', '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`vfio-node ${cliVersion}`);
    expect(r.status).toBe(0);
  });

  it('npx vfio-node doctor prints every host check and exits 0 when all pass, 1 when any fails', () => {
    const r = inProject('npx', ['vfio-node', 'doctor']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+DETAIL$/);
    for (const check of ['IOMMU enabled', 'vfio-pci loaded', 'vfio_iommu_type1 loaded', '/dev/vfio/vfio', 'hugepages free', 'RLIMIT_MEMLOCK']) {
      expect(r.stdout, check).toMatch(new RegExp(`^${check.replace(/[/.]/g, '\\$&')}\\s+(OK|FAIL)\\s`, 'm'));
    }
    const last = lines.at(-1) ?? '';
    expect(last).toMatch(/^(all \d+ checks passed|\d+ of \d+ checks failed)$/);
    expect(r.status).toBe(last.startsWith('all ') ? 0 : 1);
  });

  it('npx vfio-node info names the error for an address that is not a device, and for one that is not an address', () => {
    const absent = inProject('npx', ['vfio-node', 'info', '0000:99:1f.7']);
    expect(absent.stderr).toContain('vfio-node: no PCI device 0000:99:1f.7');
    expect(absent.stderr).toContain("hint: Run 'vfio-node list'");
    expect(absent.status).toBe(1);
    const invalid = inProject('npx', ['vfio-node', 'info', '0000:99:99.9']);
    expect(invalid.stderr).toContain('vfio-node: invalid PCI address "0000:99:99.9"');
    expect(invalid.status).toBe(1);
    const code = nodeEval(`
      import { parsePciAddress } from '@vfio-node/core';
      try { parsePciAddress('0000:99:99.9'); console.log('null'); } catch (e) { console.log(JSON.stringify(e.code)); }
    `);
    expect(code).toBe('ERR_INVALID_PCI_ADDRESS');
  });

  it('without a binary that loads, importing the addon says to rebuild it with build tools (installed) or to bootstrap (in the repository)', () => {
    // The installed package without its prebuilds: what a machine no prebuild fits sees
    // when the install-time build did not run. Copied inside the project so that
    // node-gyp-build resolves from the project's node_modules.
    const installed = path.join(project, 'no-prebuild/node_modules/@vfio-node/native');
    fs.cpSync(path.join(project, 'node_modules/@vfio-node/native'), installed, { recursive: true });
    fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true });
    // A clone of the repository without a build: pnpm-workspace.yaml beside native/.
    const clone = path.join(project, 'clone');
    fs.mkdirSync(path.join(clone, 'native'), { recursive: true });
    fs.writeFileSync(path.join(clone, 'pnpm-workspace.yaml'), 'packages:\n  - native\n');
    for (const f of ['index.js', 'binding.gyp', 'package.json']) fs.copyFileSync(path.join(installed, f), path.join(clone, 'native', f));
    const load = (dir: string) =>
      nodeEval(`import(${JSON.stringify(path.join(dir, 'index.js'))}).then(() => console.log('null'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })));`) as { code: string; message: string; hint: string };

    const a = load(installed);
    expect(a.code).toBe('ERR_NATIVE_NOT_BUILT');
    expect(a.message).toContain('No native build was found');
    expect(a.hint).toContain('npm rebuild @vfio-node/native');
    expect(a.hint).toMatch(/make, python3/);
    expect(a.hint).not.toMatch(/npm test|bootstrap/);

    const b = load(path.join(clone, 'native'));
    expect(b.code).toBe('ERR_NATIVE_NOT_BUILT');
    expect(b.hint).toContain('bash scripts/bootstrap.sh');
    expect(b.hint).not.toMatch(/npm test/);
  });

  it('in the lab, booted with npx vfio-node lab run from the project, an example program copied there writes, reads back and compares on the lab\'s NVMe', async () => {
    // examples/read-write.ts as tsc built it, as a user would copy it: nothing of the repository comes along.
    const source = fs.readFileSync(path.join(repo, 'examples/dist/read-write.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
    expect(source).not.toMatch(/from '\.{1,2}\//);
    fs.writeFileSync(path.join(project, 'read-write.js'), source);
    // One boot: the example, then the guest's own `vfio-node` (the installed CLI, through the lab's wrapper).
    const inside = 'node read-write.js && vfio-node --version && cat "$(command -v vfio-node)"';
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('npx', ['vfio-node', 'lab', 'run', '--nvme', 'size=64M,serial=INSTALLED', '--timeout', '600', '--', 'sh', '-c', inside], { cwd: project, env: userEnv(), timeout: 700_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    });
    expect(r.status, `exit status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^controller [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d: QEMU NVMe Ctrl, serial INSTALLED, firmware \S+$/m);
    expect(r.stdout).toContain('namespace 1: 131072 blocks of 512 bytes');
    expect(r.stdout).toContain('wrote 32 blocks at LBA 0; read back: identical');
    expect(r.stdout).toContain(`vfio-node ${cliVersion}`);
    expect(r.stdout).toContain(`exec node ${path.join(project, 'node_modules/vfio-node/bin/vfio-node.js')} "$@"`);
  }, 800_000);
});
