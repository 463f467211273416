import { describe, expect, it } from 'vitest';
import { toJson } from './json.js';
import { formatText, listJson, listNormal, usageText, type ListRow } from './list.js';

const row: ListRow = { node: '0000:00:03.0', sn: 'LABSERIAL', model: 'QEMU NVMe Ctrl', fw: '7.2.0', nsid: 1, nuse: 524288n, nsze: 524288n, blockSize: 512, metadataSize: 0 };

describe('nvme list', () => {
  it('formats usage with SI prefixes and the LBA format with binary ones, as nvme-cli does', () => {
    expect(usageText(524288n, 524288n, 512)).toBe('268.44  MB / 268.44  MB');
    expect(usageText(0n, 262144n, 4096)).toBe('  0.00   B /   1.07  GB');
    expect(formatText(512, 0)).toBe('512   B +  0 B');
    expect(formatText(4096, 8)).toBe('  4 KiB +  8 B');
  });

  it('prints the table with nvme-cli columns and widths', () => {
    const lines = listNormal([row, { ...row, nsid: 2, blockSize: 4096, nsze: 1000n, nuse: 10n }]).split('\n');
    expect(lines[0]).toBe(`${'Node'.padEnd(21)} ${'SN'.padEnd(20)} ${'Model'.padEnd(40)} ${'Namespace'.padEnd(10)} ${'Usage'.padEnd(26)} ${'Format'.padEnd(16)} ${'FW Rev'.padEnd(8)}`);
    expect(lines[1]).toBe(['-'.repeat(21), '-'.repeat(20), '-'.repeat(40), '-'.repeat(10), '-'.repeat(26), '-'.repeat(16), '-'.repeat(8)].join(' '));
    expect(lines[2]).toBe(`${'0000:00:03.0'.padEnd(21)} ${'LABSERIAL'.padEnd(20)} ${'QEMU NVMe Ctrl'.padEnd(40)} ${'0x1'.padEnd(10)} ${'268.44  MB / 268.44  MB'.padEnd(26)} ${'512   B +  0 B'.padEnd(16)} ${'7.2.0'.padEnd(8)}`);
    expect(lines[3]).toContain(' 0x2        ');
    expect(lines[3]).toContain('  4 KiB +  0 B');
    expect(lines).toHaveLength(4);
  });

  it('prints JSON as nvme-cli\'s Devices array', () => {
    const parsed = JSON.parse(toJson(listJson([row])));
    expect(parsed).toEqual({
      Devices: [{ NameSpace: 1, DevicePath: '0000:00:03.0', Firmware: '7.2.0', ModelNumber: 'QEMU NVMe Ctrl', SerialNumber: 'LABSERIAL', UsedBytes: 268435456, MaximumLBA: 524288, PhysicalSize: 268435456, SectorSize: 512 }],
    });
  });
});
