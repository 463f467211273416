import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernelVersions, findGuestKernel, isStaticElf } from './host.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-host-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fakeKernels(boot: string[], modules: string[]): { boot: string; mods: string } {
  const dir = fs.mkdtempSync(path.join(tmp, 'k-'));
  const b = path.join(dir, 'boot');
  const m = path.join(dir, 'modules');
  fs.mkdirSync(b);
  for (const v of boot) fs.writeFileSync(path.join(b, `vmlinuz-${v}`), 'kernel');
  for (const v of modules) {
    fs.mkdirSync(path.join(m, v), { recursive: true });
    fs.writeFileSync(path.join(m, v, 'modules.dep'), '');
  }
  return { boot: b, mods: m };
}

describe('findGuestKernel', () => {
  it('takes the newest version with both an image and modules', () => {
    const k = fakeKernels(['6.1.0-9-amd64', '6.1.0-56-amd64', '6.1.0-60-amd64'], ['6.1.0-9-amd64', '6.1.0-56-amd64']);
    expect(findGuestKernel(undefined, k.boot, k.mods)).toEqual({
      version: '6.1.0-56-amd64',
      image: path.join(k.boot, 'vmlinuz-6.1.0-56-amd64'),
      modulesDir: path.join(k.mods, '6.1.0-56-amd64'),
    });
    expect(findGuestKernel('6.1.0-9-amd64', k.boot, k.mods).version).toBe('6.1.0-9-amd64');
  });

  it('says which package to install when there is none', () => {
    const k = fakeKernels([], []);
    expect(() => findGuestKernel(undefined, k.boot, k.mods)).toThrow(
      expect.objectContaining({
        code: 'ERR_LAB_MISSING_PACKAGE',
        message: expect.stringContaining('(Debian package linux-image-amd64)'),
        hint: 'Install it: apt-get install linux-image-amd64',
      }),
    );
  });
});

describe('compareKernelVersions', () => {
  it('compares the numeric parts as numbers', () => {
    expect(['6.1.0-56-amd64', '6.1.0-9-amd64', '5.10.0-30-amd64'].sort(compareKernelVersions)).toEqual(['5.10.0-30-amd64', '6.1.0-9-amd64', '6.1.0-56-amd64']);
  });
});

describe('isStaticElf', () => {
  function elf(interp: boolean): string {
    // 64-byte ELF header, then two 56-byte program headers at 0x40.
    const b = Buffer.alloc(64 + 2 * 56);
    b.writeUInt32BE(0x7f454c46, 0);
    b[4] = 2; // ELFCLASS64
    b.writeBigUInt64LE(64n, 0x20); // e_phoff
    b.writeUInt16LE(56, 0x36); // e_phentsize
    b.writeUInt16LE(2, 0x38); // e_phnum
    b.writeUInt32LE(1, 64); // PT_LOAD
    b.writeUInt32LE(interp ? 3 : 1, 64 + 56); // PT_INTERP or PT_LOAD
    const f = path.join(tmp, `elf-${interp}`);
    fs.writeFileSync(f, b);
    return f;
  }
  it('is true without PT_INTERP and false with it, or for a non-ELF file', () => {
    expect(isStaticElf(elf(false))).toBe(true);
    expect(isStaticElf(elf(true))).toBe(false);
    const txt = path.join(tmp, 'txt');
    fs.writeFileSync(txt, '#!/bin/sh\n'.padEnd(100, ' '));
    expect(isStaticElf(txt)).toBe(false);
  });
});
