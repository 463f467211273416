import { describe, expect, it } from 'vitest';
import { idCtrlJson, idCtrlNormal } from './id-ctrl.js';
import { toJson } from './json.js';

/** An Identify Controller structure shaped like QEMU 7.2's emulated controller. */
function qemuIdCtrl(): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  const ascii = (at: number, len: number, s: string) => b.set(new TextEncoder().encode(s.padEnd(len, ' ')), at);
  v.setUint16(0, 0x1b36, true); // vid
  v.setUint16(2, 0x1af4, true); // ssvid
  ascii(4, 20, 'deadbeef');
  ascii(24, 40, 'QEMU NVMe Ctrl');
  ascii(64, 8, '7.2.0');
  b[72] = 6; // rab
  b.set([0x00, 0x54, 0x52], 73); // ieee 525400h, least significant byte first
  b[77] = 7; // mdts
  v.setUint32(80, 0x00010400, true); // ver
  v.setUint32(96, 0x8000, true); // ctratt
  b[111] = 1; // cntrltype
  v.setUint16(256, 0x10a, true); // oacs
  b[258] = 3; // acl
  b[259] = 3; // aerl
  b[260] = 3; // frmw
  b[261] = 7; // lpa
  b[262] = 3; // elpe
  v.setUint16(266, 343, true); // wctemp
  v.setUint16(268, 373, true); // cctemp
  v.setBigUint64(280, 0xffff_ffff_ffff_ffffn, true); // tnvmcap low half
  v.setBigUint64(288, 1n, true); // and high half: 2^65 - 1
  b[512] = 0x66; // sqes
  b[513] = 0x44; // cqes
  v.setUint32(516, 256, true); // nn
  v.setUint16(520, 0x15d, true); // oncs
  b[525] = 7; // vwc
  v.setUint32(536, 0x100001, true); // sgls
  b.set(new TextEncoder().encode('nqn.2019-08.org.qemu:deadbeef'), 768);
  v.setUint16(2048, 2500, true); // psd0 mp: 25.00 W
  v.setUint32(2052, 16, true); // enlat
  v.setUint32(2056, 4, true); // exlat
  return b;
}

describe('id-ctrl in nvme-cli shapes', () => {
  it('prints the normal output field by field, with %#x, decimal and the ieee OUI as nvme-cli does', () => {
    const lines = idCtrlNormal(qemuIdCtrl()).split('\n');
    expect(lines[0]).toBe('NVME Identify Controller:');
    expect(lines.slice(1, 14)).toEqual([
      'vid       : 0x1b36',
      'ssvid     : 0x1af4',
      'sn        : deadbeef            ', // %-.*s keeps the controller's padding
      'mn        : QEMU NVMe Ctrl                          ',
      'fr        : 7.2.0   ',
      'rab       : 6',
      'ieee      : 525400',
      'cmic      : 0', // %#x of zero has no 0x
      'mdts      : 7',
      'cntlid    : 0',
      'ver       : 0x10400',
      'rtd3r     : 0',
      'rtd3e     : 0',
    ]);
    expect(lines).toContain('fguid     : 00000000-0000-0000-0000-000000000000');
    expect(lines).toContain('oacs      : 0x10a');
    expect(lines).toContain('wctemp    : 343');
    expect(lines).toContain('tnvmcap   : 36893488147419103231');
    expect(lines).toContain('sqes      : 0x66');
    expect(lines).toContain('nn        : 256');
    expect(lines).toContain('oncs      : 0x15d');
    expect(lines).toContain('subnqn    : nqn.2019-08.org.qemu:deadbeef');
    expect(lines.indexOf('oacs      : 0x10a')).toBeLessThan(lines.indexOf('sqes      : 0x66'));
    expect(lines).toContain('ps      0 : mp:25.00W operational enlat:16 exlat:4 rrt:0 rrl:0');
    expect(lines).toContain('            rwt:0 rwl:0 idle_power:- active_power:-');
    expect(lines.at(-1)).toBe('            emergency power fail vault time: -');
  });

  it('-H decodes oncs, oacs, vwc and the entry sizes under their lines', () => {
    const out = idCtrlNormal(qemuIdCtrl(), true);
    expect(out).toContain('oncs      : 0x15d\n  [12:12] : 0\tNamespace Zeroes Not Supported\n');
    expect(out).toContain('  [8:8] : 0x1\tCopy Supported\n');
    expect(out).toContain('  [3:3] : 0x1\tWrite Zeroes Supported\n');
    expect(out).toContain('  [1:1] : 0\tWrite Uncorrectable Not Supported\n');
    expect(out).toContain('  [0:0] : 0x1\tCompare Supported\n\nfuses');
    expect(out).toContain('  [8:8] : 0x1\tDoorbell Buffer Config Supported\n');
    expect(out).toContain('vwc       : 0x7\n  [2:1] : 0x3\tThe Flush command supports NSID set to FFFFFFFFh\n  [0:0] : 0x1\tVolatile Write Cache Present\n');
    expect(out).toContain('sqes      : 0x66\n  [7:4] : 0x6\tMax SQ Entry Size (64)\n  [3:0] : 0x6\tMin SQ Entry Size (64)\n');
    expect(out).toContain('cqes      : 0x44\n  [7:4] : 0x4\tMax CQ Entry Size (16)\n');
    expect(out).not.toContain('[15:13]'); // reserved bits print only when set
  });

  it('prints JSON with nvme-cli keys in order, numbers as numbers and 128-bit counters exactly', () => {
    const json = idCtrlJson(qemuIdCtrl());
    const text = toJson(json);
    expect(text).toContain('"tnvmcap":36893488147419103231');
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed).slice(0, 8)).toEqual(['vid', 'ssvid', 'sn', 'mn', 'fr', 'rab', 'ieee', 'cmic']);
    expect(parsed).toMatchObject({ vid: 0x1b36, ssvid: 0x1af4, sn: 'deadbeef            ', mn: 'QEMU NVMe Ctrl'.padEnd(40), fr: '7.2.0   ', ieee: 0x525400, mdts: 7, ver: 0x10400, oacs: 0x10a, oncs: 0x15d, nn: 256, sqes: 0x66, sgls: 0x100001, subnqn: 'nqn.2019-08.org.qemu:deadbeef' });
    expect(parsed.psds).toHaveLength(1);
    expect(parsed.psds[0]).toMatchObject({ max_power: 2500, max_power_scale: 0, 'non-operational_state': 0, entry_lat: 16, exit_lat: 4 });
    expect(Object.keys(parsed).at(-1)).toBe('psds');
  });

  it('leaves an empty subnqn out of the JSON, as nvme-cli does', () => {
    const b = qemuIdCtrl();
    b.fill(0, 768, 1024);
    expect(Object.keys(idCtrlJson(b) as object)).not.toContain('subnqn');
    expect(idCtrlNormal(b)).toContain('\nsubnqn    : \n');
  });
});
