import { describe, expect, it } from 'vitest';
import { VfioError } from '../errors.js';
import { PciAddress, canonicalPciAddress, isPciAddress, parsePciAddress, toPciAddress } from './address.js';

describe('parsePciAddress', () => {
  const valid: Array<[string, number, number, number, number, string]> = [
    ['0000:00:03.0', 0, 0, 3, 0, '0000:00:03.0'],
    ['0000:00:1f.7', 0, 0, 0x1f, 7, '0000:00:1f.7'],
    ['0000:FF:1F.7', 0, 0xff, 0x1f, 7, '0000:ff:1f.7'],
    ['abcd:12:0a.3', 0xabcd, 0x12, 0x0a, 3, 'abcd:12:0a.3'],
    ['ffff:ff:1f.7', 0xffff, 0xff, 0x1f, 7, 'ffff:ff:1f.7'],
    ['00:03.0', 0, 0, 3, 0, '0000:00:03.0'],
    ['3B:00.1', 0, 0x3b, 0, 1, '0000:3b:00.1'],
    ['  0000:01:00.0\n', 0, 1, 0, 0, '0000:01:00.0'],
    ['10000:e1:00.0', 0x10000, 0xe1, 0, 0, '10000:e1:00.0'],
  ];
  it.each(valid)('parses %j', (text, d, b, dev, f, canon) => {
    const a = parsePciAddress(text);
    expect([a.domain, a.bus, a.device, a.function]).toEqual([d, b, dev, f]);
    expect(a.toString()).toBe(canon);
    expect(JSON.stringify({ a })).toBe(`{"a":"${canon}"}`);
  });

  const invalid = [
    '', ' ', '0000:00:03', '0000:00:03.', '0000:00:20.0', '0000:00:3f.0', '0000:00:03.8', '0000:00:03.f',
    '0000:100:03.0', '000:00:03.0', '0000:0:03.0', '0000:00:3.0', '0:00:03.0', 'g000:00:03.0', '0000-00-03.0',
    '0000:00:03:0', '0000:00:03.0.1', '00:03', 'nvme0', '0x0000:00:03.0', '0000:00:03.0 extra', '123456789:00:00.0',
  ];
  it.each(invalid)('rejects %j with ERR_INVALID_PCI_ADDRESS', (text) => {
    let err: unknown;
    try {
      parsePciAddress(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VfioError);
    const v = err as VfioError;
    expect(v.code).toBe('ERR_INVALID_PCI_ADDRESS');
    expect(v.message).toContain('DDDD:BB:DD.F');
    expect(v.message).toContain('0000:00:03.0');
    expect(v.hint).toContain('vfio-node list');
    expect(isPciAddress(text)).toBe(false);
  });

  it('says which field is out of bounds', () => {
    expect(() => parsePciAddress('0000:00:20.0')).toThrow(/device 0x20 is above 1f/);
    expect(() => parsePciAddress('0000:00:00.8')).toThrow(/function 8 is above 7/);
  });

  it('rejects non-strings', () => {
    expect(() => parsePciAddress(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_PCI_ADDRESS' }));
  });
});

describe('PciAddress', () => {
  it('compares and converts', () => {
    const a = new PciAddress(0, 0, 3, 0);
    expect(a.equals('00:03.0')).toBe(true);
    expect(a.equals('0000:00:03.1')).toBe(false);
    expect(toPciAddress(a)).toBe(a);
    expect(canonicalPciAddress('00:1F.2')).toBe('0000:00:1f.2');
    expect(PciAddress.parse('01:00.0').toString()).toBe('0000:01:00.0');
    expect(`${a}`).toBe('0000:00:03.0');
  });
});
