import { describe, expect, it } from 'vitest';
import { parseNvmeArgs } from './args.js';
import { GET_LOG_OPTIONS, PASSTHRU_OPTIONS, getLogCommand, getLogHeader, getLogRequest, hexDump, passthruRequest, resultLine } from './passthru.js';

const parse = (...argv: string[]) => passthruRequest('admin-passthru', parseNvmeArgs('admin-passthru', ['0000:00:03.0', ...argv], PASSTHRU_OPTIONS));
const logOf = (...argv: string[]) => getLogRequest(parseNvmeArgs('get-log', ['0000:00:03.0', ...argv], GET_LOG_OPTIONS));
const fails = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not fail');
};

describe('admin-passthru / io-passthru options', () => {
  it("reads nvme-cli's long and short options into a command, numbers decimal or 0x hex", () => {
    expect(parse('--opcode=6', '--cdw10=1', '--data-len=4096', '--read', '-b')).toEqual({
      command: { opcode: 6, nsid: 0, cdw10: 1, data: 4096, direction: 'read' },
      inputFile: undefined,
      raw: true,
    });
    const short = parse('-O', '0xc1', '-n', '1', '-2', '2', '-3', '3', '-4', '10', '-5', '11', '-6', '12', '-7', '13', '-8', '14', '-9', '0xffffffff', '-l', '512', '-w', '-i', 'f.bin', '-t', '5000', '--force');
    expect(short).toEqual({
      command: { opcode: 0xc1, nsid: 1, cdw2: 2, cdw3: 3, cdw10: 10, cdw11: 11, cdw12: 12, cdw13: 13, cdw14: 14, cdw15: 0xffffffff, data: 512, direction: 'write', timeoutMs: 5000, force: true },
      inputFile: 'f.bin',
      raw: false,
    });
    // No direction: the driver takes it from the opcode's bits 1:0. --data-len 0 is no data.
    expect(parse('--opcode=2', '--data-len=0').command).toEqual({ opcode: 2, nsid: 0 });
  });

  it('refuses a missing or out-of-range opcode, a dword beyond 32 bits, both directions, and an input file for a read', () => {
    expect(fails(() => parse())).toBe('nvme admin-passthru: --opcode (-O) is required');
    expect(fails(() => parse('--opcode=256'))).toBe('invalid --opcode: "256" (expected at most 255 (0xff))');
    expect(fails(() => parse('--opcode=6', '--cdw12=0x100000000'))).toBe('invalid --cdw12: "0x100000000" (expected at most 4294967295 (0xffffffff))');
    expect(fails(() => parse('--opcode=6', '--cdw11=-1'))).toMatch(/^invalid --cdw11: "-1"/);
    expect(fails(() => parse('--opcode=6', '-r', '-w'))).toBe('invalid --read and --write: "both" (expected one direction)');
    expect(fails(() => parse('--opcode=6', '-r', '-i', 'x'))).toBe('invalid --input-file: "x" (expected a file only with --write)');
    expect(fails(() => parse('--opcode=6', '--timeout=0'))).toBe('invalid --timeout: 0 (expected a number of milliseconds from 1)');
    expect(fails(() => parse('--opcode=6', '--flags=1'))).toMatch(/^nvme admin-passthru: Unknown option '--flags'/);
  });

  it('prints the result as nvme-cli does', () => {
    expect(resultLine(0)).toBe('NVMe command result:00000000');
    expect(resultLine(0xdeadbeef)).toBe('NVMe command result:deadbeef');
    expect(resultLine(-1)).toBe('NVMe command result:ffffffff');
  });
});

describe('hexDump', () => {
  it('prints the column header, then offset, 16 bytes and their ASCII per line', () => {
    const data = new Uint8Array(32);
    data.set(Buffer.from('QEMU NVMe Ctrl  '), 4);
    data[31] = 0x7f;
    expect(hexDump(data).split('\n')).toEqual([
      '       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f',
      '0000: 00 00 00 00 51 45 4d 55 20 4e 56 4d 65 20 43 74 "....QEMU.NVMe.Ct"',
      '0010: 72 6c 20 20 00 00 00 00 00 00 00 00 00 00 00 7f "rl.............."',
    ]);
  });

  it('keeps the ASCII column in place on a short last line', () => {
    const lines = hexDump(Uint8Array.from([0x21, 0x7e, 0x20, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x41, 0x42, 0x43])).split('\n');
    expect(lines[1]).toBe('0000: 21 7e 20 80 00 01 02 03 04 05 06 07 08 09 0a 0b "!~.............."');
    expect(lines[2]).toBe('0010: 41 42 43                                        "ABC"');
    expect(lines[2]!.indexOf('"')).toBe(lines[1]!.indexOf('"'));
    expect(hexDump(new Uint8Array(0))).toBe('       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f');
  });
});

describe('get-log options', () => {
  it('builds Get Log Page: LID, LSP, RAE and NUMDL in CDW10, NUMDU in CDW11, the offset in CDW12/13', () => {
    const r = logOf('--log-id=2', '--log-len=512');
    expect(r).toEqual({ lid: 2, bytes: 512, nsid: 0xffffffff, lsp: 0, lpo: 0, rae: false, raw: false });
    expect(getLogCommand(r, 0, 512)).toEqual({ opcode: 2, nsid: 0xffffffff, cdw10: (127 << 16) | 2, cdw11: 0, cdw12: 0, cdw13: 0, data: 512, direction: 'read' });
    const big = logOf('-i', '0xc0', '-l', '0x40000', '-n', '1', '-s', '3', '-L', '0x100000008', '-r', '-b');
    expect(big).toEqual({ lid: 0xc0, bytes: 0x40000, nsid: 1, lsp: 3, lpo: 0x100000008, rae: true, raw: true });
    // 0x40000 bytes are 0x10000 dwords: NUMD 0xffff (0's based), NUMDL 0xffff and NUMDU 0.
    expect(getLogCommand(big, big.lpo, 0x40000)).toMatchObject({ nsid: 1, cdw10: ((0xffff << 16) | (1 << 15) | (3 << 8) | 0xc0) >>> 0, cdw11: 0x0000, cdw12: 8, cdw13: 1 });
    expect(getLogHeader('0000:00:03.0', 2, 0xffffffff)).toBe('Device:0000:00:03.0 log-id:2 namespace-id:0xffffffff');
    expect(getLogHeader('0000:00:03.0', 1, 0)).toBe('Device:0000:00:03.0 log-id:1 namespace-id:0');
  });

  it('refuses a length that is not a whole number of dwords, and an unaligned offset', () => {
    expect(fails(() => logOf('--log-id=2'))).toBe('nvme get-log: --log-len (-l) is required');
    expect(fails(() => logOf('--log-len=510'))).toBe('invalid --log-len: 510 (expected a non-zero multiple of 4 (Get Log Page counts dwords))');
    expect(fails(() => logOf('--log-len=0'))).toMatch(/^invalid --log-len: 0/);
    expect(fails(() => logOf('--log-len=512', '--lpo=2'))).toBe('invalid --lpo: 2 (expected a multiple of 4 (the offset is in bytes, dword aligned))');
    expect(fails(() => logOf('--log-len=512', '--lsp=128'))).toMatch(/^invalid --lsp: "128"/);
  });
});
