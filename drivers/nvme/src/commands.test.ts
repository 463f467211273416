import { describe, expect, it } from 'vitest';
import {
  AdminOpcode, Cns, FeatureId, NvmOpcode, RW_FUA, SQE, SQE_DWORDS, SQE_SIZE, sqeAbort, sqeCreateIoCq, sqeCreateIoSq, sqeDatasetManagement,
  sqeGetLogPage, sqeIdentify, sqeReadWrite, sqeSetCid, sqeSetFeatures, sqeFormatNvm, writeDsmRange, DSM_AD, sqeInit,
} from './commands.js';

const bytesOf = (u32: Uint32Array) => new Uint8Array(u32.buffer, u32.byteOffset, u32.byteLength);

describe('submission queue entries', () => {
  it('are 64 bytes with the common command format offsets', () => {
    expect(SQE_SIZE).toBe(64);
    expect(SQE_DWORDS).toBe(16);
    expect(SQE.CID).toBe(2);
    expect(SQE.NSID).toBe(4);
    expect(SQE.MPTR).toBe(16);
    expect(SQE.PRP1).toBe(24);
    expect(SQE.PRP2).toBe(32);
    expect(SQE.CDW10).toBe(40);
    expect(SQE.CDW15).toBe(60);
  });

  it('Read: opcode, cid, nsid, SLBA in CDW10/11, 0-based NLB and FUA in CDW12', () => {
    const q = new Uint32Array(2 * SQE_DWORDS).fill(0xffffffff);
    sqeReadWrite(q, 16, NvmOpcode.Read, 0xabc, 1, 0x1_0000_0002, 8, RW_FUA);
    const b = bytesOf(q).subarray(64, 128);
    expect([...b.subarray(0, 8)]).toEqual([0x02, 0x00, 0xbc, 0x0a, 1, 0, 0, 0]);
    expect([...b.subarray(40, 52)]).toEqual([2, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0x40]);
    expect([...b.subarray(8, 40)].every((x) => x === 0)).toBe(true); // cleared, no stale data
    expect(q[0]).toBe(0xffffffff); // the neighbouring entry is untouched
  });

  it('Identify controller and namespace', () => {
    const q = new Uint32Array(SQE_DWORDS);
    sqeIdentify(q, 0, 7, Cns.Controller);
    expect(q[0]).toBe(0x0007_0006);
    expect(q[10]).toBe(1);
    sqeIdentify(q, 0, 8, Cns.Namespace, 1);
    expect(q[1]).toBe(1);
    expect(q[10]).toBe(0);
  });

  it('Create I/O CQ and SQ', () => {
    const q = new Uint32Array(SQE_DWORDS);
    sqeCreateIoCq(q, 0, 1, 3, 1024, 0x2000_0000, 2);
    expect(q[0]! & 0xff).toBe(AdminOpcode.CreateIoCompletionQueue);
    expect(q[6]).toBe(0x2000_0000);
    expect(q[10]).toBe(0x03ff_0003);
    expect(q[11]).toBe(0x0002_0003); // IV 2, IEN, PC
    sqeCreateIoCq(q, 0, 1, 3, 1024, 0x2000_0000, null);
    expect(q[11]).toBe(1); // polled: PC only
    sqeCreateIoSq(q, 0, 2, 3, 256, 0x3000_0000, 3);
    expect(q[0]).toBe(0x0002_0001);
    expect(q[10]).toBe(0x00ff_0003);
    expect(q[11]).toBe(0x0003_0001);
  });

  it('Set Features Number of Queues, Get Log Page, Abort, DSM, Format', () => {
    const q = new Uint32Array(SQE_DWORDS);
    sqeSetFeatures(q, 0, 4, FeatureId.NumberOfQueues, (3 << 16) | 3);
    expect(q[0]).toBe(0x0004_0009);
    expect(q[10]).toBe(7);
    expect(q[11]).toBe(0x0003_0003);
    sqeGetLogPage(q, 0, 5, 0x02, 512);
    expect(q[1]).toBe(0xffffffff);
    expect(q[10]).toBe(0x007f_0002); // NUMDL = 127
    expect(q[11]).toBe(0);
    sqeAbort(q, 0, 6, 1, 0x55);
    expect(q[10]).toBe(0x0055_0001);
    sqeDatasetManagement(q, 0, 9, 1, 2, DSM_AD);
    expect(q[10]).toBe(1);
    expect(q[11]).toBe(4);
    sqeFormatNvm(q, 0, 1, 1, 3, 1);
    expect(q[10]).toBe(0x203);
    sqeInit(q, 0, 0x7f, 1, 2);
    sqeSetCid(q, 0, 0xbeef);
    expect(q[0]).toBe(0xbeef007f);
  });

  it('writes a 16-byte Dataset Management range', () => {
    const b = new Uint8Array(16);
    writeDsmRange(new DataView(b.buffer), 0, 0x100, 8);
    expect([...b]).toEqual([0, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
});
