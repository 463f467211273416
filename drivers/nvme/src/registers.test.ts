import { describe, expect, it } from 'vitest';
import { AQA, CAP, CC, CSTS, Register, cqHeadDoorbell, decodeCap, formatVersion, getField, registerNames, setField, sqTailDoorbell } from './registers.js';

// CAP as the lab's QEMU 7.2 controller reports it (see LAB.md).
const LAB_CAP = 0x0040_1820_0f01_07ffn;

describe('controller registers (NVMe 2.0 §3.1.3)', () => {
  it('has the offsets of the specification', () => {
    expect(Register.CAP).toBe(0x00);
    expect(Register.VS).toBe(0x08);
    expect(Register.CC).toBe(0x14);
    expect(Register.CSTS).toBe(0x1c);
    expect(Register.AQA).toBe(0x24);
    expect(Register.ASQ).toBe(0x28);
    expect(Register.ACQ).toBe(0x30);
    expect(Register.CMBLOC).toBe(0x38);
    expect(Register.PMRCAP).toBe(0xe00);
  });

  it('decodes the lab controller CAP', () => {
    expect(getField(LAB_CAP, CAP.MQES)).toBe(2047);
    expect(getField(LAB_CAP, CAP.CQR)).toBe(1);
    expect(getField(LAB_CAP, CAP.TO)).toBe(15);
    expect(getField(LAB_CAP, CAP.DSTRD)).toBe(0);
    expect(getField(LAB_CAP, CAP.CSS)).toBe(0xc1); // NVM, I/O command sets, admin only
    const c = decodeCap(LAB_CAP);
    expect(c.maxQueueEntries).toBe(2048);
    expect(c.timeoutMs).toBe(7500);
    expect(c.nvmCommandSet).toBe(true);
    expect(c.mpsMinBytes).toBe(4096);
    expect(c.mpsMaxBytes).toBe(4096 << 4);
    expect(c.cmbs).toBe(false);
  });

  it('builds CC for the NVM command set, 4 KiB pages, 64/16-byte entries', () => {
    let cc = 0;
    cc = setField(cc, CC.CSS, 0);
    cc = setField(cc, CC.MPS, 0);
    cc = setField(cc, CC.AMS, 0);
    cc = setField(cc, CC.IOSQES, 6);
    cc = setField(cc, CC.IOCQES, 4);
    cc = setField(cc, CC.EN, 1);
    expect(cc).toBe(0x0046_0001);
    expect(setField(cc, CC.SHN, 1)).toBe(0x0046_4001);
    expect(setField(0xffff_ffff, CC.EN, 0)).toBe(0xffff_fffe);
    expect(setField(0, CC.MPS, 0x1f)).toBe(0xf << 7); // masked to 4 bits
  });

  it('reads CSTS fields and AQA', () => {
    expect(getField(0b1001, CSTS.RDY)).toBe(1);
    expect(getField(0b1011, CSTS.CFS)).toBe(1);
    expect(getField(0b1000, CSTS.SHST)).toBe(2);
    expect(setField(setField(0, AQA.ASQS, 31), AQA.ACQS, 31)).toBe(0x001f_001f);
  });

  it('places doorbells by CAP.DSTRD', () => {
    expect(sqTailDoorbell(0, 0)).toBe(0x1000);
    expect(cqHeadDoorbell(0, 0)).toBe(0x1004);
    expect(sqTailDoorbell(1, 0)).toBe(0x1008);
    expect(cqHeadDoorbell(1, 0)).toBe(0x100c);
    expect(sqTailDoorbell(1, 2)).toBe(0x1000 + 2 * 16);
    expect(cqHeadDoorbell(3, 1)).toBe(0x1000 + 7 * 8);
  });

  it('names registers and doorbells for the trace log', () => {
    const names = registerNames(0, 2);
    expect(names[0x14]).toBe('CC');
    expect(names[0x1c]).toBe('CSTS');
    expect(names[0x2c]).toBe('ASQ+4');
    expect(names[0x1000]).toBe('SQ0TDBL');
    expect(names[0x1014]).toBe('CQ2HDBL');
    expect(formatVersion(0x0001_0400)).toBe('1.4.0');
  });
});
