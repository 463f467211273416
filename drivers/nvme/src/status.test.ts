import { describe, expect, it } from 'vitest';
import { VfioError } from '@vfio-node/core';
import { CQE, CQE_SIZE, NvmeStatusError, decodeStatus, encodeStatus, statusCode, statusField, statusName } from './status.js';

describe('completion queue entries and status (NVMe 2.0, Status Field Definition)', () => {
  it('are 16 bytes with SQHD, SQID, CID and status in DW2/DW3', () => {
    expect(CQE_SIZE).toBe(16);
    expect([CQE.DW0, CQE.DW1, CQE.SQHD, CQE.SQID, CQE.CID, CQE.STATUS]).toEqual([0, 4, 8, 10, 12, 14]);
  });

  it('decodes a CQE as the controller writes it', () => {
    // LBA Out of Range (SCT 0, SC 80h) with DNR, phase 1, cid 0x0102, sqhd 5, sqid 1.
    const cqe = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 0, 0x02, 0x01, 0x01, 0x81]);
    const v = new DataView(cqe.buffer);
    const half = v.getUint16(CQE.STATUS, true);
    expect(half & 1).toBe(1); // phase tag
    expect(v.getUint16(CQE.CID, true)).toBe(0x0102);
    expect(decodeStatus(half)).toEqual({ sct: 0, sc: 0x80, crd: 0, more: false, dnr: true });
    expect(statusField(half)).toBe(0x4080);
  });

  it('decodes SCT, SC, CRD, More and DNR bit by bit', () => {
    expect(decodeStatus(encodeStatus(2, 0x81))).toEqual({ sct: 2, sc: 0x81, crd: 0, more: false, dnr: false });
    expect(decodeStatus(encodeStatus(1, 0x02, false, true, 3))).toEqual({ sct: 1, sc: 0x02, crd: 3, more: true, dnr: false });
    expect(encodeStatus(2, 0x81)).toBe(0x0502);
    expect(decodeStatus(0x0001).sc).toBe(0); // phase only: success
  });

  it('names statuses as the specification does', () => {
    expect(statusName(0, 0x00)).toBe('Successful Completion');
    expect(statusName(0, 0x80)).toBe('LBA Out of Range');
    expect(statusName(2, 0x81)).toBe('Unrecovered Read Error');
    expect(statusName(2, 0x85)).toBe('Compare Failure');
    expect(statusName(1, 0x01)).toBe('Invalid Queue Identifier');
    expect(statusName(7, 0x10)).toBe('Vendor Specific 0x10');
    expect(statusCode(0, 0x80)).toBe('ERR_NVME_LBA_OUT_OF_RANGE');
    expect(statusCode(2, 0x81)).toBe('ERR_NVME_UNRECOVERED_READ_ERROR');
    expect(statusCode(2, 0x82)).toBe('ERR_NVME_END_TO_END_GUARD_CHECK_ERROR');
    expect(statusCode(0, 0x02)).toBe('ERR_NVME_INVALID_FIELD_IN_COMMAND');
    expect(statusCode(7, 0xab)).toBe('ERR_NVME_STATUS_SCT7_SCAB');
  });

  it('NvmeStatusError is a VfioError with code, message, hint and details', () => {
    const e = new NvmeStatusError(encodeStatus(0, 0x80, true), 'Read nsid 1 lba 100 blocks 8', '0000:00:03.0', { lba: 100 });
    expect(e).toBeInstanceOf(VfioError);
    expect(e.code).toBe('ERR_NVME_LBA_OUT_OF_RANGE');
    expect(e.message).toBe('Read nsid 1 lba 100 blocks 8 failed: LBA Out of Range (Generic Command Status, sct 0x00 sc 0x80, do not retry)');
    expect(e.hint).toMatch(/NSZE/);
    expect(e.details).toMatchObject({ sct: 0, sc: 0x80, dnr: true, more: false, lba: 100 });
    expect(e.device).toBe('0000:00:03.0');
  });
});
