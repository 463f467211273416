import { describe, expect, it } from 'vitest';
import {
  IDENTIFY_SIZE, ONCS, OACS, parseActiveNamespaceList, parseErrorLog, parseFirmwareSlotLog, parseIdentifyController, parseIdentifyNamespace,
  parseNamespaceDescriptors, parseSmartLog,
} from './identify.js';

function ascii(b: Uint8Array, at: number, len: number, s: string) {
  b.fill(0x20, at, at + len);
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
}

describe('Identify data structures (4096 bytes)', () => {
  it('parses Identify Controller at the specification offsets', () => {
    const b = new Uint8Array(IDENTIFY_SIZE);
    const v = new DataView(b.buffer);
    v.setUint16(0, 0x1b36, true);
    v.setUint16(2, 0x1af4, true);
    ascii(b, 4, 20, 'LABSERIAL');
    ascii(b, 24, 40, 'QEMU NVMe Ctrl');
    ascii(b, 64, 8, '7.2.0');
    b[77] = 7;
    v.setUint16(78, 0, true);
    v.setUint32(80, 0x00010400, true);
    v.setUint16(256, 0x10a, true);
    b[263] = 0;
    b[512] = 0x66;
    b[513] = 0x44;
    v.setUint32(516, 256, true);
    v.setUint16(520, 0x15d, true);
    b[525] = 1;
    v.setUint32(536, 1, true);
    ascii(b, 768, 256, 'nqn.2019-08.org.qemu:LABSERIAL');
    v.setUint16(2048, 2500, true);
    const id = parseIdentifyController(b);
    expect(id).toMatchObject({ vid: 0x1b36, ssvid: 0x1af4, sn: 'LABSERIAL', mn: 'QEMU NVMe Ctrl', fr: '7.2.0', mdts: 7, ver: 0x10400, oacs: 0x10a, sqes: 0x66, cqes: 0x44, nn: 256, oncs: 0x15d, vwc: 1, sgls: 1 });
    expect(id.subnqn).toBe('nqn.2019-08.org.qemu:LABSERIAL');
    expect(id.psd).toEqual([{ mp: 2500, mxps: false, nops: false, enlat: 0, exlat: 0 }]);
    expect(id.oncs & ONCS.WriteZeroes).toBeTruthy();
    expect(id.oncs & ONCS.Compare).toBeTruthy();
    expect(id.oncs & ONCS.WriteUncorrectable).toBe(0);
    expect(id.oacs & OACS.DoorbellBufferConfig).toBeTruthy();
    expect(() => parseIdentifyController(new Uint8Array(100))).toThrow(RangeError);
  });

  it('parses Identify Namespace and the LBA format in use', () => {
    const b = new Uint8Array(IDENTIFY_SIZE);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, 524288n, true);
    v.setBigUint64(8, 524288n, true);
    v.setBigUint64(16, 100n, true);
    b[25] = 7; // 8 formats
    b[26] = 4 | 0x10; // format 4, metadata at the end of the LBA
    for (let i = 0; i < 8; i++) v.setUint32(128 + 4 * i, ((i < 4 ? 9 : 12) << 16) | [0, 8, 16, 64][i % 4]!, true);
    const ns = parseIdentifyNamespace(b);
    expect(ns.nsze).toBe(524288n);
    expect(ns.nuse).toBe(100n);
    expect(ns.nlbaf).toBe(7);
    expect(ns.lbaf).toHaveLength(8);
    expect(ns.lbaf[1]).toEqual({ ms: 8, lbads: 9, rp: 0 });
    expect(ns.lbafIndex).toBe(4);
    expect(ns.blockSize).toBe(4096);
    expect(ns.metadataSize).toBe(0);
  });

  it('parses the active namespace list and the descriptor list', () => {
    const b = new Uint8Array(IDENTIFY_SIZE);
    const v = new DataView(b.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(4, 3, true);
    expect(parseActiveNamespaceList(b)).toEqual([1, 3]);
    const d = new Uint8Array(IDENTIFY_SIZE);
    d.set([3, 16, 0, 0], 0);
    d.fill(0xaa, 4, 20);
    d.set([4, 1, 0, 0, 0], 20);
    const descs = parseNamespaceDescriptors(d);
    expect(descs).toHaveLength(2);
    expect(descs[0]!.nidt).toBe(3);
    expect([...descs[0]!.nid]).toEqual(new Array(16).fill(0xaa));
    expect(descs[1]).toEqual({ nidt: 4, nid: new Uint8Array([0]) });
  });

  it('parses SMART / Health, Error Information and Firmware Slot log pages', () => {
    const s = new Uint8Array(512);
    const v = new DataView(s.buffer);
    v.setUint16(1, 323, true);
    s[3] = 100;
    v.setBigUint64(48, 12345n, true);
    v.setBigUint64(56, 1n, true); // high half of the 128-bit Data Units Written
    v.setBigUint64(80, 77n, true);
    const smart = parseSmartLog(s);
    expect(smart.compositeTemperature).toBe(323);
    expect(smart.availableSpare).toBe(100);
    expect(smart.dataUnitsWritten).toBe((1n << 64n) + 12345n);
    expect(smart.hostWriteCommands).toBe(77n);
    const e = new Uint8Array(128);
    const ev = new DataView(e.buffer);
    ev.setBigUint64(64, 2n, true);
    ev.setUint16(72, 1, true);
    ev.setUint16(74, 9, true);
    ev.setUint16(76, 0x0101, true);
    ev.setBigUint64(80, 4096n, true);
    expect(parseErrorLog(e)).toEqual([{ errorCount: 2n, sqid: 1, cid: 9, status: 0x0101, parameterErrorLocation: 0, lba: 4096n, nsid: 0 }]);
    const f = new Uint8Array(512);
    f[0] = 1;
    ascii(f, 8, 8, '1.0');
    expect(parseFirmwareSlotLog(f)).toEqual({ afi: 1, frs: ['1.0', '', '', '', '', '', ''] });
  });
});
