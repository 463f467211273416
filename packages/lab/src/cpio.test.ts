import { describe, expect, it } from 'vitest';
import { cpioNewc } from './cpio.js';

const header = (f: number[]) => '070701' + f.map((x) => x.toString(16).padStart(8, '0')).join('');

describe('cpioNewc', () => {
  it('writes newc headers, names and data padded to 4 bytes, then the trailer', () => {
    const a = cpioNewc([
      { type: 'dir', name: 'bin' },
      { type: 'file', name: '/init', data: Buffer.from('hello'), mode: 0o755 },
      { type: 'chardev', name: 'dev/console', major: 5, minor: 1 },
    ]);
    const expected = Buffer.concat([
      // 110-byte header + "bin\0" = 114, padded to 116
      Buffer.from(header([1, 0o40755, 0, 0, 2, 0, 0, 0, 0, 0, 0, 4, 0]) + 'bin\0' + '\0\0', 'latin1'),
      // header + "init\0" = 115 -> 116; data 5 -> 8
      Buffer.from(header([2, 0o100755, 0, 0, 1, 0, 5, 0, 0, 0, 0, 5, 0]) + 'init\0' + '\0' + 'hello\0\0\0', 'latin1'),
      // header + "dev/console\0" = 122 -> 124
      Buffer.from(header([3, 0o20600, 0, 0, 1, 0, 0, 0, 0, 5, 1, 12, 0]) + 'dev/console\0' + '\0\0', 'latin1'),
      // header + "TRAILER!!!\0" = 121 -> 124
      Buffer.from(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]) + 'TRAILER!!!\0' + '\0\0\0', 'latin1'),
    ]);
    expect(a.toString('latin1')).toBe(expected.toString('latin1'));
    expect(a.length % 4).toBe(0);
  });

  it('stores a symlink target as its data', () => {
    const a = cpioNewc([{ type: 'symlink', name: 'sh', target: 'busybox' }]).toString('latin1');
    expect(a.slice(0, 110)).toBe(header([1, 0o120777, 0, 0, 1, 0, 7, 0, 0, 0, 0, 3, 0]));
    // 110 + "sh\0" = 113, padded to 116, then the target
    expect(a.slice(110, 123)).toBe('sh\0\0\0\0busybox');
  });
});
