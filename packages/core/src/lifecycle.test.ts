// The library cleans up at exit but leaves the signals to the program unless asked
// (handleSignals). Each case runs a child process with lifecycle.ts (transpiled here: a
// plain node child cannot load TypeScript) and a fake resource whose cleanup prints a line.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleSignals, registerCleanup } from './lifecycle.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-lifecycle-'));
  const source = fs.readFileSync(new URL('./lifecycle.ts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  fs.writeFileSync(path.join(dir, 'lifecycle.mjs'), js);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string[];
}

/**
 * Runs `body` (an ES module with registerCleanup and handleSignals in scope, and out(line)
 * writing synchronously to stdout) in a child; once it printed "ready", sends it `signal`.
 */
function runChild(body: string, signal: NodeJS.Signals): Promise<Child> {
  const file = path.join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, [
    "import fs from 'node:fs';",
    "import { registerCleanup, handleSignals } from './lifecycle.mjs';",
    "const out = (line) => fs.writeSync(1, line + '\\n');",
    'setInterval(() => {}, 1000);',
    body,
    "out('ready');",
  ].join('\n'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const first = !text.includes('ready\n');
      text += d;
      if (first && text.includes('ready\n')) child.kill(signal);
    });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, signal: sig, stdout: text.split('\n').filter(Boolean) }));
  });
}

const fakeResource = "registerCleanup(() => out('cleanup: device closed'));";

describe('process lifecycle: cleanup at exit, signals only when asked', () => {
  it('registering a cleanup installs no SIGINT or SIGTERM handler', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const off = registerCleanup(() => {});
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
    off();
  });

  it("a program's own SIGINT handler runs, and the library's cleanup runs at its exit", async () => {
    const r = await runChild(`${fakeResource}\nprocess.on('SIGINT', () => { out('own handler'); process.exit(3); });`, 'SIGINT');
    expect(r.stdout).toEqual(['ready', 'own handler', 'cleanup: device closed']);
    expect(r.code).toBe(3);
  });

  it('a program that opens nothing and has its own SIGINT handler keeps it', async () => {
    const r = await runChild("process.on('SIGINT', () => { out('own handler'); process.exit(0); });", 'SIGINT');
    expect(r.stdout).toEqual(['ready', 'own handler']);
    expect(r.code).toBe(0);
  });

  it('without handleSignals and without a handler, SIGINT ends the process as it would without the library', async () => {
    const r = await runChild(fakeResource, 'SIGINT');
    expect(r.signal).toBe('SIGINT');
    expect(r.stdout).toEqual(['ready']);
  });

  it('with handleSignals, SIGINT runs the cleanups and the process exits with 130', async () => {
    const r = await runChild(`${fakeResource}\nhandleSignals();`, 'SIGINT');
    expect(r.stdout).toEqual(['ready', 'cleanup: device closed']);
    expect(r.code).toBe(130);
  });

  it('with handleSignals, SIGTERM runs the cleanups and the process exits with 143', async () => {
    const r = await runChild(`${fakeResource}\nhandleSignals();`, 'SIGTERM');
    expect(r.stdout).toEqual(['ready', 'cleanup: device closed']);
    expect(r.code).toBe(143);
  });

  it("with handleSignals, a handler the program adds later (even a once handler) still decides; the cleanup runs at exit, once", async () => {
    const r = await runChild(`${fakeResource}\nhandleSignals();\nprocess.once('SIGINT', () => { out('own handler'); setTimeout(() => process.exit(4), 10); });`, 'SIGINT');
    expect(r.stdout).toEqual(['ready', 'own handler', 'cleanup: device closed']);
    expect(r.code).toBe(4);
  });

  it('handleSignals is idempotent and its return value removes the handlers', () => {
    const before = process.listenerCount('SIGINT');
    const off = handleSignals();
    handleSignals();
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(process.listenerCount('SIGTERM')).toBeGreaterThanOrEqual(1);
    off();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
