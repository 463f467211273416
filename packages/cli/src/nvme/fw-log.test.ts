import { describe, expect, it } from 'vitest';
import { fwLogJson, fwLogNormal } from './fw-log.js';

function fwLog(): Uint8Array {
  const b = new Uint8Array(512);
  b[0] = 0x01; // AFI: slot 1 active
  b.set(new TextEncoder().encode('7.2.0   '), 8); // FRS1
  b.set([0x31, 0x2e, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00], 24); // FRS3 "1.0" then NULs
  return b;
}

describe('fw-log in nvme-cli shapes', () => {
  it('prints afi and the non-empty slots with the raw value and the printable text', () => {
    expect(fwLogNormal(fwLog(), '0000:00:03.0').split('\n')).toEqual([
      'Firmware Log for device:0000:00:03.0',
      'afi  : 0x1',
      'frs1 : 0x202020302e322e37 (7.2.0...)',
      'frs3 : 0x00000000302e31 (1.0.....)',
    ]);
  });

  it('prints JSON keyed by the device', () => {
    expect(fwLogJson(fwLog(), 'dev')).toEqual({
      dev: { 'Active Firmware Slot (afi)': 1, 'Firmware Rev Slot 1': `${0x202020302e322e37n} (7.2.0...)`, 'Firmware Rev Slot 3': `${0x302e31n} (1.0.....)` },
    });
  });
});
