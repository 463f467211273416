import { describe, expect, it } from 'vitest';
import { NSID_OPTION, addressArg, nsidArg, parseBig, parseNvmeArgs, parseUint } from './args.js';

describe('nvme subcommand options', () => {
  it('parses nvme-cli option names, long and short, and the output format', () => {
    const p = parseNvmeArgs('id-ns', ['0000:00:03.0', '-n', '1', '-o', 'json'], NSID_OPTION);
    expect(addressArg('id-ns', p)).toBe('0000:00:03.0');
    expect(nsidArg('id-ns', p)).toBe(1);
    expect(p.format).toBe('json');
    expect(parseNvmeArgs('id-ns', ['x', '--namespace-id=0x2', '--output-format', 'normal'], NSID_OPTION).values['namespace-id']).toBe('0x2');
  });

  it('reads numbers in decimal or 0x hex, within bounds', () => {
    expect(parseUint('-f', '0x07', 0xff)).toBe(7);
    expect(parseUint('-f', '7', 0xff)).toBe(7);
    expect(parseBig('--start-block', '0xffffffffffffffff', 0xffff_ffff_ffff_ffffn)).toBe(0xffff_ffff_ffff_ffffn);
    expect(() => parseUint('-f', '256', 0xff)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => parseUint('-f', 'seven', 0xff)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('-f') }));
  });

  it('refuses a missing -n with a hint, and namespace 0', () => {
    const p = parseNvmeArgs('id-ns', ['0000:00:03.0'], NSID_OPTION);
    expect(() => nsidArg('id-ns', p)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: 'nvme id-ns: --namespace-id (-n) is required', hint: expect.stringContaining('-n NSID') }));
    expect(() => nsidArg('id-ns', parseNvmeArgs('id-ns', ['a', '-n', '0'], NSID_OPTION))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('refuses a missing address, a /dev path, unknown options and unknown output formats', () => {
    expect(() => addressArg('id-ctrl', parseNvmeArgs('id-ctrl', [], {}))).toThrow(expect.objectContaining({ message: "nvme id-ctrl: missing the controller's PCI address" }));
    expect(() => addressArg('id-ctrl', parseNvmeArgs('id-ctrl', ['/dev/nvme0'], {}))).toThrow(expect.objectContaining({ hint: expect.stringContaining('PCI address') }));
    expect(() => parseNvmeArgs('id-ctrl', ['a', '--bogus'], {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', hint: "Run 'vfio-node nvme id-ctrl --help' for its options." }));
    expect(() => parseNvmeArgs('id-ctrl', ['a', '-o', 'binary'], {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});
