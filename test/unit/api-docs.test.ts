// The API reference (`pnpm docs`, typedoc.json) builds with warnings as errors: every
// export of every package's public entry point has a TSDoc comment (classes, interfaces,
// functions, methods, accessors, type aliases, variables), and every {@link} resolves.
// Runs typedoc as `pnpm docs` does, without writing the HTML. The second test shows the
// configuration catches what it should: an undocumented export fails the build.
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const typedoc = path.join(root, 'node_modules/.bin/typedoc');

/**
 * Runs typedoc without blocking this worker: a spawnSync of a minute or more (typedoc on a
 * loaded machine) kept the worker from answering vitest's RPC ("Timeout calling onTaskUpdate").
 */
function runTypedoc(options: string, cwd = root): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(typedoc, ['--options', options, '--emit', 'none'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', (err) => (output += String(err)));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('the API reference', () => {
  const tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'vfio-node-docs-')));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('builds from the TSDoc comments with no warning (every export documented, every link resolved)', async () => {
    const r = await runTypedoc(path.join(root, 'typedoc.json'));
    expect(r.output.split('\n').filter((l) => /warning|error/i.test(l))).toEqual([]);
    expect(r.status).toBe(0);
  }, 300_000);

  it('fails when a package exports something without a doc comment', async () => {
    // A package named like one of ours (packagesRequiringDocumentation), with one
    // documented and one undocumented export.
    writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: '@vfio-node/core', version: '0.0.0', type: 'module' }));
    writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true }, files: ['index.ts'] }));
    writeFileSync(path.join(tmp, 'index.ts'), '/** Documented. @module probe */\n\n/** Has a comment. */\nexport function documented(): void {}\nexport function undocumentedProbe(): void {}\n');
    // The repository's typedoc.json with only the sources swapped.
    writeFileSync(path.join(tmp, 'typedoc.json'), JSON.stringify({ extends: [path.join(root, 'typedoc.json')], tsconfig: './tsconfig.json', entryPoints: ['./index.ts'], readme: 'none' }));
    const r = await runTypedoc(path.join(tmp, 'typedoc.json'), tmp);
    expect(r.output).toMatch(/undocumentedProbe.*does not have any documentation/);
    expect(r.output).not.toMatch(/\bdocumented\b.*does not have any documentation/);
    expect(r.status).not.toBe(0);
  }, 300_000);
});
