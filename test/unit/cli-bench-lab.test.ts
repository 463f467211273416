// `vfio-node bench` with no device named runs on the lab; everything it is given is
// checked on the host first. A fake qemu-system-x86_64 (and qemu-img) first on PATH
// records any start: a mistake must be reported without one. Also --version.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main, VERSION } from '../../packages/cli/src/main.js';

let out: string[];
let err: string[];
let bin: string;
let marker: string;
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  bin = mkdtempSync(path.join(os.tmpdir(), 'vfio-node-fakebin-'));
  marker = path.join(bin, 'started');
  for (const name of ['qemu-system-x86_64', 'qemu-img']) {
    writeFileSync(path.join(bin, name), `#!/bin/sh\necho "$0 $*" >> '${marker}'\nexit 1\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  vi.stubEnv('PATH', `${bin}:${process.env.PATH}`);
  vi.stubEnv('VFIO_LAB', '');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(bin, { recursive: true, force: true });
});

describe('vfio-node bench on the lab: mistakes cost no boot', () => {
  it('an unknown option fails naming it, and starts no QEMU', async () => {
    expect(await main(['bench', '--bogus'])).toBe(1);
    expect(err.join('')).toMatch(/unknown or unsupported fio option 'bogus'/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a bad value, a missing job file, a bad --accel: named, no QEMU', async () => {
    expect(await main(['bench', '--name=x', '--rw=sideways'])).toBe(1);
    expect(await main(['bench', 'no-such-job.fio'])).toBe(1);
    expect(await main(['bench', '--name=x', '--accel', 'warp'])).toBe(1);
    const text = err.join('');
    expect(text).toMatch(/rw/);
    expect(text).toMatch(/cannot read job file 'no-such-job\.fio'/);
    expect(text).toMatch(/invalid --accel: .*warp.* \(expected auto, kvm or tcg\)/);
    expect(existsSync(marker)).toBe(false);
  });

  it('--output into a directory that does not exist is refused before the boot', async () => {
    expect(await main(['bench', '--name=x', '--output=/nonexistent-dir/r.json'])).toBe(1);
    expect(err.join('')).toMatch(/invalid --output: .*\/nonexistent-dir\/r\.json.*\/nonexistent-dir: ENOENT/);
    expect(existsSync(marker)).toBe(false);
  });

  it('no jobs: usage, status 2, no QEMU', async () => {
    expect(await main(['bench'])).toBe(2);
    expect(err.join('')).toContain('no jobs');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('--version', () => {
  it('vfio-node --version, -V and bench --version print the version', async () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(await main(['--version'])).toBe(0);
    expect(await main(['-V'])).toBe(0);
    expect(await main(['bench', '--version'])).toBe(0);
    expect(out).toEqual([`vfio-node ${VERSION}`, `vfio-node ${VERSION}`, `vfio-node-${VERSION}`]);
    expect(existsSync(marker)).toBe(false);
  });
});
