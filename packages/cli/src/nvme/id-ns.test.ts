import { describe, expect, it } from 'vitest';
import { idNsJson, idNsNormal, lbafInUse } from './id-ns.js';
import { toJson } from './json.js';

/** A 256 MiB namespace of 512-byte blocks with QEMU's eight LBA formats, format 0 in use. */
function qemuIdNs(flbas = 0): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 0x80000n, true); // nsze
  v.setBigUint64(8, 0x80000n, true); // ncap
  v.setBigUint64(16, 0x80000n, true); // nuse
  b[24] = 0x14; // nsfeat: bit 4 (OPTPERF) and bit 2
  b[25] = 7; // nlbaf (0's based: 8 formats)
  b[26] = flbas;
  b[27] = 3; // mc
  b[28] = 0x1f; // dpc
  b[33] = 9; // dlfeat
  v.setUint16(64, 7, true); // npwg
  v.setUint16(74, 128, true); // mssrl
  v.setUint32(76, 128, true); // mcl
  b[80] = 127; // msrc
  v.setUint16(102, 1, true); // endgid
  b.set([0x52, 0x54, 0, 0, 0, 0, 0, 1], 120); // eui64
  const formats: Array<[number, number]> = [[0, 9], [8, 9], [16, 9], [64, 9], [0, 12], [8, 12], [16, 12], [64, 12]];
  formats.forEach(([ms, ds], i) => v.setUint32(128 + 4 * i, ms | (ds << 16), true));
  return b;
}

describe('id-ns in nvme-cli shapes', () => {
  it('prints sizes in hex, the namespace fields and one lbaf line per format with the one in use marked', () => {
    const lines = idNsNormal(qemuIdNs(), 1).split('\n');
    expect(lines.slice(0, 8)).toEqual([
      'NVME Identify Namespace 1:',
      'nsze    : 0x80000',
      'ncap    : 0x80000',
      'nuse    : 0x80000',
      'nsfeat  : 0x14',
      'nlbaf   : 7',
      'flbas   : 0',
      'mc      : 0x3',
    ]);
    expect(lines).toContain('dlfeat  : 9');
    expect(lines).toContain('npwg    : 7'); // NSFEAT bit 4 set: the performance fields appear
    expect(lines).toContain('npdg    : 0');
    expect(lines).toContain('mssrl   : 128');
    expect(lines).toContain('nsattr\t: 0');
    expect(lines).toContain('endgid  : 1');
    expect(lines).toContain('nguid   : 00000000000000000000000000000000');
    expect(lines).toContain('eui64   : 5254000000000001');
    expect(lines).toContain('lbaf  0 : ms:0   lbads:9  rp:0 (in use)');
    expect(lines).toContain('lbaf  3 : ms:64  lbads:9  rp:0 ');
    expect(lines.at(-1)).toBe('lbaf  7 : ms:64  lbads:12 rp:0 ');
  });

  it('leaves the performance fields out when NSFEAT bits 5:4 are clear', () => {
    const b = qemuIdNs();
    b[24] = 0x04;
    expect(idNsNormal(b, 1)).not.toContain('npwg');
  });

  it('-H spells the LBA formats out', () => {
    const out = idNsNormal(qemuIdNs(4), 1, true);
    expect(out).toContain('nsze    : 0x80000\tTotal size in logical blocks');
    expect(out).toContain('LBA Format  4 : Metadata Size: 0   bytes - Data Size: 4096 bytes - Relative Performance: 0 Best (in use)');
    expect(out).toContain('LBA Format  0 : Metadata Size: 0   bytes - Data Size: 512 bytes - Relative Performance: 0 Best ');
  });

  it('prints JSON with the lbafs array and in_use flags', () => {
    const parsed = JSON.parse(toJson(idNsJson(qemuIdNs(4))));
    expect(parsed).toMatchObject({ nsze: 0x80000, ncap: 0x80000, nuse: 0x80000, nsfeat: 0x14, nlbaf: 7, flbas: 4, eui64: '5254000000000001' });
    expect(parsed.lbafs).toHaveLength(8);
    expect(parsed.lbafs[4]).toEqual({ lbaf: 4, ms: 0, ds: 12, rp: 0, in_use: 1 });
    expect(parsed.lbafs[0].in_use).toBe(0);
  });

  it('finds the format in use from FLBAS bits 3:0 and 6:5', () => {
    expect(lbafInUse(0x04)).toBe(4);
    expect(lbafInUse(0x14)).toBe(4); // bit 4 is "metadata at the end of the LBA", not the index
    expect(lbafInUse(0x21)).toBe(17);
  });
});
