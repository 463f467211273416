import { describe, expect, it } from 'vitest';
import { NvmeStatusError, encodeStatus } from '@vfio-node/nvme';
import { statusLine, statusOfError, statusString, statusValue } from './status.js';

describe('NVMe status lines as nvme-cli prints them', () => {
  it('names LBA Out of Range with libnvme text and the 15-bit value', () => {
    expect(statusLine(statusValue({ sct: 0, sc: 0x80 }))).toBe('NVMe status: LBA Out of Range: The command references an LBA that exceeds the size of the namespace(0x80)');
    // With Do Not Retry set, as QEMU completes it, the value carries bit 14 as in nvme-cli.
    expect(statusLine(statusValue({ sct: 0, sc: 0x80, dnr: true }))).toBe('NVMe status: LBA Out of Range: The command references an LBA that exceeds the size of the namespace(0x4080)');
  });

  it('looks the code up in the table of its status code type', () => {
    expect(statusString(0x0002)).toMatch(/^Invalid Field in Command:/);
    expect(statusString(0x010a)).toBe('Invalid Format: The LBA Format specified is not supported');
    expect(statusString(0x0181)).toMatch(/^Invalid Protection Information:/);
    expect(statusString(0x0281)).toBe('Unrecovered Read Error: The read data could not be recovered from the media');
    expect(statusString(0x0285)).toMatch(/^Compare Failure:/);
    expect(statusString(0x0371)).toMatch(/^Command Aborted By Host:/);
    expect(statusString(0x0700)).toBe('Vendor Specific Status');
    expect(statusString(0x007f)).toBe('unrecognized');
    expect(statusString(0x0500)).toBe('Unknown status');
  });

  it("takes the value from the driver's NvmeStatusError, and nothing from other errors", () => {
    const err = new NvmeStatusError(encodeStatus(0, 0x0b, true), 'Identify (CNS 00h)');
    expect(statusOfError(err)).toBe(0x400b);
    expect(statusLine(statusOfError(err)!)).toBe('NVMe status: Invalid Namespace or Format: The namespace or the format of that namespace is invalid(0x400b)');
    expect(statusOfError(new Error('x'))).toBeNull();
    expect(statusOfError(Object.assign(new Error('lba'), { code: 'ERR_NVME_LBA_OUT_OF_RANGE' }))).toBeNull();
  });
});
