import { mkdtempSync, openSync, closeSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BRINGUP_STEPS } from '@vfio-node/virtio-net';
import { formatStep, readLineSync, wrap } from './bringup.js';

describe('net bringup --explain', () => {
  it('prints a step: its place, number, title, section, the specification, the accesses and the result', () => {
    const text = formatStep({ id: 'acknowledge', ...BRINGUP_STEPS.acknowledge, accesses: ['read device_status -> 0 (reset)', 'write device_status <- ACKNOWLEDGE (0x1)'], outcome: 'device_status = ACKNOWLEDGE (0x1)' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Step 3 of 12: §3.1.1 step 2: ACKNOWLEDGE  (virtio 1.2 §3.1.1 step 2, §2.1)');
    expect(lines[1]).toBe('  What the specification says:');
    expect(lines).toContain('  What the driver did and what the device answered:');
    expect(lines).toContain('    write device_status <- ACKNOWLEDGE (0x1)');
    expect(lines).toContain('  Result: device_status = ACKNOWLEDGE (0x1)');
  });

  it('wraps words at the width with the indent', () => {
    expect(wrap('aaa bbb ccc ddd', 10, '  ')).toBe('  aaa bbb\n  ccc ddd');
  });

  it('reads lines one at a time and says when the input ends (--step with piped input)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bringup-'));
    try {
      const f = join(dir, 'in');
      writeFileSync(f, '\nsome words\n');
      const fd = openSync(f, 'r');
      expect([readLineSync(fd), readLineSync(fd), readLineSync(fd)]).toEqual([true, true, false]);
      closeSync(fd);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
