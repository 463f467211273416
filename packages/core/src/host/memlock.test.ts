import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost } from '../../../../test/unit/fake-host.js';
import { CAP_IPC_LOCK, checkMemlock, formatBytes, hasCapability, parseMemlockLimit } from './memlock.js';

let h: FakeHost;
beforeEach(() => {
  h = new FakeHost();
});
afterEach(() => h.cleanup());

describe('RLIMIT_MEMLOCK', () => {
  it('parses /proc/self/limits', () => {
    expect(parseMemlockLimit('Limit  Soft Limit  Hard Limit  Units\nMax locked memory         8388608              8388608              bytes\n')).toEqual({ soft: 8388608, hard: 8388608 });
    expect(parseMemlockLimit('Max locked memory         unlimited            unlimited            bytes\n')).toEqual({ soft: Infinity, hard: Infinity });
    expect(parseMemlockLimit('nothing')).toBeNull();
  });

  it('reads CapEff bit 14', () => {
    expect(hasCapability('CapEff:\t000001ffffffffff\n', CAP_IPC_LOCK)).toBe(true);
    expect(hasCapability('CapEff:\t0000000000000000\n', CAP_IPC_LOCK)).toBe(false);
    expect(hasCapability('CapEff:\t0000000000004000\n', CAP_IPC_LOCK)).toBe(true);
  });

  it('fails an 8 MiB limit without CAP_IPC_LOCK, with the ulimit and limits.conf fix', () => {
    const s = checkMemlock(512 * 1024 * 1024, h.roots);
    expect(s.ok).toBe(false);
    expect(s.detail).toBe('RLIMIT_MEMLOCK 8 MiB (hard 8 MiB), 512 MiB needed');
    expect(s.fix).toContain('ulimit -l unlimited');
    expect(s.fix).toContain('memlock unlimited');
    expect(s.fix).toContain('/etc/security/limits.conf');
  });

  it('passes with unlimited or with CAP_IPC_LOCK', () => {
    h.setLimits('unlimited', 'unlimited');
    expect(checkMemlock(1 << 30, h.roots)).toMatchObject({ ok: true, soft: Infinity, fix: null });
    h.setLimits(65536, 65536);
    h.setCapEff(1n << 14n);
    expect(checkMemlock(1 << 30, h.roots)).toMatchObject({ ok: true, capIpcLock: true });
  });

  it('formats sizes', () => {
    expect(formatBytes(8388608)).toBe('8 MiB');
    expect(formatBytes(65536)).toBe('64 KiB');
    expect(formatBytes(1000)).toBe('1000 B');
    expect(formatBytes(Infinity)).toBe('unlimited');
  });
});
