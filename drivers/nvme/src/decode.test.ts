// The decoders against entries built two ways: by the driver's own builders (so what
// the driver sends reads back as meant), and by hand from the specification's field
// layouts (so a builder and a decoder cannot agree on the same mistake).

import { describe, expect, it } from 'vitest';
import { AdminOpcode, NvmOpcode, RW_FUA, WRITE_ZEROES_DEAC, DSM_AD, sqeAbort, sqeCreateIoCq, sqeCreateIoSq, sqeDatasetManagement, sqeGetLogPage, sqeIdentify, sqeReadWrite, sqeSetPrp, sqeWriteZeroes } from './commands.js';
import { decodeCqe, decodePrpList, decodeSglDescriptor, decodeSqe } from './decode.js';
import { SglType, setSglDataBlock, writeSglDescriptor } from './prp.js';
import { encodeStatus } from './status.js';

const entry = () => new Uint32Array(16);

describe('decodeSqe', () => {
  it('decodes a Read the driver built: CID, NSID, SLBA, NLB (0\'s based), FUA and the PRPs, with the section', () => {
    const u = entry();
    sqeReadWrite(u, 0, NvmOpcode.Read, 3, 1, 0x1000, 8, RW_FUA);
    sqeSetPrp(u, 0, 0x12_3000, 0x12_4000);
    const d = decodeSqe(u, 0, false);
    expect(d).toMatchObject({ opcode: 2, name: 'Read', section: 'NVM 1.0 §3.2.4', cid: 3, nsid: 1, psdt: 0, fuse: 0 });
    expect(d.text).toBe('Read cid=3 nsid=1 slba=0x1000 nlb=7 (8 blocks) FUA prp1=0x123000 prp2=0x124000');
  });

  it('decodes an entry written by hand from the Common Command Format: an SLBA above 2^32 and the LR bit', () => {
    const u = entry();
    u[0] = 0x01 | (0x7 << 16); // Write, CID 7
    u[1] = 2;
    u[10] = 0x0000_0010; // SLBA low
    u[11] = 0x0000_0001; // SLBA high: 0x1_0000_0010
    u[12] = 0x8000_00ff; // LR, NLB 255
    const d = decodeSqe(u, 0, false);
    expect(d.text).toBe('Write cid=7 nsid=2 slba=0x100000010 nlb=255 (256 blocks) LR prp1=0x0 prp2=0x0');
  });

  it('decodes Write Zeroes (DEAC, no data pointer) and Dataset Management (NR 0\'s based, attributes)', () => {
    const u = entry();
    sqeWriteZeroes(u, 0, 9, 1, 64, 16, WRITE_ZEROES_DEAC);
    expect(decodeSqe(u, 0, false).text).toBe('Write Zeroes cid=9 nsid=1 slba=0x40 nlb=15 (16 blocks) DEAC');
    sqeDatasetManagement(u, 0, 10, 1, 3, DSM_AD);
    sqeSetPrp(u, 0, 0x5000, 0);
    expect(decodeSqe(u, 0, false).text).toBe('Dataset Management cid=10 nsid=1 nr=2 (3 ranges) AD prp1=0x5000 prp2=0x0');
  });

  it('decodes the admin commands of bring-up: Identify, Create I/O CQ and SQ, Get Log Page, Abort', () => {
    const u = entry();
    sqeIdentify(u, 0, 0, 1);
    sqeSetPrp(u, 0, 0x20_0000, 0);
    expect(decodeSqe(u, 0, true)).toMatchObject({ name: 'Identify', section: 'Base 2.0 §5.17', text: 'Identify cid=0 cns=0x1 cntid=0 csi=0 prp1=0x200000 prp2=0x0' });
    sqeCreateIoCq(u, 0, 1, 1, 256, 0x30_0000, 1);
    expect(decodeSqe(u, 0, true).text).toBe('Create I/O Completion Queue cid=1 qid=1 qsize=255 (256 entries) PC IEN iv=1 prp1=0x300000 prp2=0x0');
    sqeCreateIoSq(u, 0, 2, 1, 256, 0x31_0000, 1);
    expect(decodeSqe(u, 0, true).text).toBe('Create I/O Submission Queue cid=2 qid=1 qsize=255 (256 entries) PC qprio=0 cqid=1 prp1=0x310000 prp2=0x0');
    sqeGetLogPage(u, 0, 4, 0x02, 512);
    expect(decodeSqe(u, 0, true).text).toContain('Get Log Page cid=4 nsid=all (0xffffffff) lid=0x2 lsp=0 numd=127 (512 bytes) lpo=0');
    sqeAbort(u, 0, 5, 1, 42);
    expect(decodeSqe(u, 0, true)).toMatchObject({ name: 'Abort', section: 'Base 2.0 §5.1', text: 'Abort cid=5 sqid=1 cid=42' });
  });

  it('reads the opcode in the right set: 0x02 is Get Log Page on the admin queue and Read on an I/O queue', () => {
    const u = entry();
    u[0] = 0x02;
    expect(decodeSqe(u, 0, true).name).toBe('Get Log Page');
    expect(decodeSqe(u, 0, false).name).toBe('Read');
    expect(AdminOpcode.GetLogPage).toBe(NvmOpcode.Read);
  });

  it('names vendor specific and reserved opcodes and shows their raw CDW10-15', () => {
    const u = entry();
    u[0] = 0xc2;
    u[10] = 0xabc;
    const d = decodeSqe(u, 0, true);
    expect(d.name).toBe('Vendor specific 0xc2');
    expect(d.text).toContain('cdw10=0xabc');
    u[0] = 0x7e;
    expect(decodeSqe(u, 0, false).name).toBe('Reserved opcode 0x7e');
  });

  it('decodes an SGL data pointer (PSDT 01b) as its descriptor', () => {
    const u = entry();
    sqeReadWrite(u, 0, NvmOpcode.Read, 1, 1, 0, 1);
    setSglDataBlock(u, 0, 0x40_0200, 512);
    const d = decodeSqe(u, 0, false);
    expect(d.psdt).toBe(1);
    expect(d.text).toBe('Read cid=1 nsid=1 slba=0x0 nlb=0 (1 blocks) sgl1=Data Block addr=0x400200 len=512');
  });

  it('decodes a fused command\'s FUSE field', () => {
    const u = entry();
    sqeReadWrite(u, 0, NvmOpcode.Compare, 1, 1, 0, 1);
    u[0] = (u[0]! | (1 << 8)) >>> 0;
    expect(decodeSqe(u, 0, false).text).toContain('Compare cid=1 nsid=1 fuse=first');
  });

  it('decodes an entry anywhere in a queue (dword index of the entry)', () => {
    const sq = new Uint32Array(16 * 4);
    sqeReadWrite(sq, 32, NvmOpcode.Read, 77, 1, 5, 1);
    expect(decodeSqe(sq, 32, false).cid).toBe(77);
  });
});

describe('decodeCqe', () => {
  const cqe = (dw0: number, sqhd: number, sqid: number, cid: number, phase: number, status: number) => Uint32Array.of(dw0, 0, (sqhd | (sqid << 16)) >>> 0, (cid | ((status | phase) << 16)) >>> 0);

  it('decodes a successful completion: CID, SQ head, SQ id, phase', () => {
    const d = decodeCqe(cqe(0, 4, 1, 3, 1, 0), 0);
    expect(d).toMatchObject({ cid: 3, sqhd: 4, sqid: 1, phase: 1, sct: 0, sc: 0, status: 'Successful Completion', dnr: false });
    expect(d.text).toBe('cid=3 status=Successful Completion sqhd=4 sqid=1 phase=1 dw0=0x0');
  });

  it('decodes an error status by name with SCT, SC, DNR and More', () => {
    const d = decodeCqe(cqe(0, 9, 1, 12, 0, encodeStatus(0, 0x80, true, true)), 0);
    expect(d).toMatchObject({ sct: 0, sc: 0x80, dnr: true, more: true, phase: 0, status: 'LBA Out of Range' });
    expect(d.text).toBe('cid=12 status=LBA Out of Range (sct=0 sc=0x80 DNR M) sqhd=9 sqid=1 phase=0 dw0=0x0');
  });

  it('shows DW0 (Number of Queues answers in it) and a media error by name', () => {
    const d = decodeCqe(cqe(0x0003_0003, 1, 0, 0, 1, encodeStatus(2, 0x81)), 0);
    expect(d.dw0).toBe(0x30003);
    expect(d.status).toBe('Unrecovered Read Error');
  });
});

describe('SGL descriptors and PRP lists', () => {
  it('decodes each SGL descriptor type the driver writes', () => {
    const u = new Uint32Array(8);
    writeSglDescriptor(u, 0, SglType.LastSegment, 0x1_0000_2000, 48);
    writeSglDescriptor(u, 4, SglType.DataBlock, 0x3000, 4096);
    expect(decodeSglDescriptor(u, 0)).toMatchObject({ type: 'Last Segment', address: 0x1_0000_2000, length: 48, subtype: 0, text: 'Last Segment addr=0x100002000 len=48' });
    expect(decodeSglDescriptor(u, 4).text).toBe('Data Block addr=0x3000 len=4096');
  });

  it('lists PRP list entries as page addresses', () => {
    const u = Uint32Array.of(0x2000, 0, 0x3000, 0, 0, 1);
    expect(decodePrpList(u, 0, 3)).toBe('PRP list [0x2000, 0x3000, 0x100000000]');
  });
});
