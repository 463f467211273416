import { describe, expect, it } from 'vitest';
import { parseFilename } from './filename.js';

describe('--filename', () => {
  it('ours: address/nsid, short address, default namespace 1', () => {
    expect(parseFilename('0000:00:03.0/1')).toEqual({ address: '0000:00:03.0', nsid: 1 });
    expect(parseFilename('00:03.0/2')).toEqual({ address: '0000:00:03.0', nsid: 2 });
    expect(parseFilename('0000:AF:1F.7')).toEqual({ address: '0000:af:1f.7', nsid: 1 });
  });
  it("SPDK's fio plugin spelling", () => {
    expect(parseFilename('trtype=PCIe traddr=0000.00.03.0 ns=1')).toEqual({ address: '0000:00:03.0', nsid: 1 });
    expect(parseFilename('trtype=pcie traddr=0000.5e.00.0 ns=3')).toEqual({ address: '0000:5e:00.0', nsid: 3 });
  });
  it('refuses other transports, bad addresses and namespace 0', () => {
    expect(() => parseFilename('trtype=TCP traddr=10.0.0.1 ns=1')).toThrow(/only PCIe/);
    expect(() => parseFilename('/dev/nvme0n1')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => parseFilename('0000:00:03.0/0')).toThrow(/namespace '0'/);
    expect(() => parseFilename('0000:00:20.0/1')).toThrow(/not a PCI address/);
  });
});
