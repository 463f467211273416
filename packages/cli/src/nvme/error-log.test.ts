import { describe, expect, it } from 'vitest';
import { errorLogJson, errorLogNormal } from './error-log.js';
import { toJson } from './json.js';

/** Two entries: an LBA Out of Range (DNR) from a read on SQ 1, then an unused one. */
function errorLog(): Uint8Array {
  const b = new Uint8Array(128);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 3n, true); // error count
  v.setUint16(8, 1, true); // sqid
  v.setUint16(10, 0x12, true); // cid
  v.setUint16(12, (0x4080 << 1) | 1, true); // status: DNR | SC 80h, phase 1
  v.setUint16(14, 0x28, true); // parameter error location
  v.setBigUint64(16, 0x80000n, true); // lba
  v.setUint32(24, 1, true); // nsid
  b[31] = 0x02; // opcode: Read
  return b;
}

describe('error-log in nvme-cli shapes', () => {
  it('prints every entry it read, the empty ones too, with the status decoded', () => {
    const out = errorLogNormal(errorLog(), '0000:00:03.0');
    const lines = out.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'Error Log Entries for device:0000:00:03.0 entries:2',
      '.................',
      ' Entry[ 0]',
      '.................',
      'error_count\t: 3',
      'sqid\t\t: 1',
    ]);
    expect(lines).toContain('cmdid\t\t: 0x12');
    expect(lines).toContain('status_field\t: 0x4080 (LBA Out of Range: The command references an LBA that exceeds the size of the namespace)');
    expect(lines).toContain('phase_tag\t: 0x1');
    expect(lines).toContain('parm_err_loc\t: 0x28');
    expect(lines).toContain('lba\t\t: 0x80000');
    expect(lines).toContain('opcode\t\t: 0x2');
    expect(lines).toContain('trtype\t\t: 0 (The transport type is not indicated or the error is not transport related)');
    expect(lines).toContain(' Entry[ 1]');
    expect(lines).toContain('status_field\t: 0 (Successful Completion: The command completed without error)');
    expect(lines.at(-1)).toBe('.................');
  });

  it('prints JSON as {"errors": [...]} with the status field shifted past the phase tag', () => {
    const parsed = JSON.parse(toJson(errorLogJson(errorLog())));
    expect(parsed.errors).toHaveLength(2);
    expect(parsed.errors[0]).toEqual({ error_count: 3, sqid: 1, cmdid: 0x12, status_field: 0x4080, phase_tag: 1, parm_error_location: 0x28, lba: 0x80000, nsid: 1, vs: 0, trtype: 0, cs: 0, trtype_spec_info: 0 });
    expect(parsed.errors[1].error_count).toBe(0);
  });
});
