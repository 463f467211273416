import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import {
  decodePdu, encodeCapsuleCmd, encodeCapsuleResp, encodeDataPdu, encodeICReq, encodeICResp, encodeR2T, encodeTermReq,
  FES, PduFlags, PduReader, PduType, type Digests, type Pdu,
} from './pdu.js';
import { decodeCqeStatus, encodeCqe, Sts } from './status.js';

const NONE: Digests = { header: false, data: false };
const BOTH: Digests = { header: true, data: true };

function sqe(cid: number, fill = 0): Buffer {
  const b = Buffer.alloc(64, fill);
  b[0] = 0x01;
  b.writeUInt16LE(cid, 2);
  return b;
}

/** The FES and FEI of the ERR_NVMF_PDU a function throws. */
function fault(f: () => unknown): { code: string; fes: number; fei: number; message: string } {
  try {
    f();
  } catch (e) {
    const err = e as { code: string; message: string; details: { fes: number; fei: number } };
    return { code: err.code, fes: err.details?.fes, fei: err.details?.fei, message: err.message };
  }
  throw new Error('did not throw');
}

describe('NVMe/TCP PDU encoding (exact bytes)', () => {
  it('CRC32C is the Castagnoli CRC (check value of "123456789" is E3069283h)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('6789'), crc32c(Buffer.from('12345')))).toBe(0xe3069283);
  });

  it('ICReq and ICResp are 128 bytes: type, HLEN 128, PLEN 128, PFV 0, HPDA/CPDA, DGST, MAXR2T/MAXH2CDATA', () => {
    const req = encodeICReq({ hpda: 2, digests: { header: true, data: false }, maxr2t: 3 });
    expect(req.length).toBe(128);
    expect([...req.subarray(0, 16)]).toEqual([0x00, 0, 128, 0, 128, 0, 0, 0, 0, 0, 2, 0x01, 3, 0, 0, 0]);
    const resp = encodeICResp({ cpda: 0, digests: BOTH, maxh2cdata: 131072 });
    expect([...resp.subarray(0, 16)]).toEqual([0x01, 0, 128, 0, 128, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 0x00, 0x02, 0x00]);
    expect(decodePdu(req, NONE)).toMatchObject({ type: PduType.ICReq, pfv: 0, hpda: 2, digests: { header: true, data: false }, maxr2t: 3 });
  });

  it('CapsuleCmd with in-capsule data and both digests: HDGSTF|DDGSTF, PDO after the header digest, PLEN, and both CRCs', () => {
    const data = Buffer.from('in-capsule data!');
    const pdu = encodeCapsuleCmd(sqe(7), data, BOTH);
    expect(pdu[0]).toBe(PduType.CapsuleCmd);
    expect(pdu[1]).toBe(PduFlags.HDGSTF | PduFlags.DDGSTF);
    expect(pdu[2]).toBe(72); // HLEN: 8 + 64
    expect(pdu[3]).toBe(76); // PDO: 72 + HDGST
    expect(pdu.readUInt32LE(4)).toBe(72 + 4 + 16 + 4);
    expect(pdu.readUInt32LE(72)).toBe(crc32c(pdu.subarray(0, 72)));
    expect(pdu.readUInt32LE(92)).toBe(crc32c(data));
    const d = decodePdu(pdu, BOTH) as Extract<Pdu, { type: 0x04 }>;
    expect(d.sqe.readUInt16LE(2)).toBe(7);
    expect(d.data).toEqual(data);
    expect(d.dataDigestOk).toBe(true);
  });

  it('CapsuleResp is 24 bytes with the CQE; the CQE status has SC in bits 8:1, SCT 11:9, DNR 15', () => {
    const cqe = encodeCqe({ status: Sts.ConnectInvalidParameters, dw0: 0x01000001 }, 0x1234, 0, 5);
    expect([...cqe]).toEqual([0x01, 0, 0, 0x01, 0, 0, 0, 0, 5, 0, 0, 0, 0x34, 0x12, 0x82 << 1 & 0xff, ((0x82 >> 7) | (1 << 1) | 0x80)]);
    expect(decodeCqeStatus(cqe)).toMatchObject({ sct: 1, sc: 0x82, dnr: true, cid: 0x1234, dw0: 0x01000001 });
    const resp = encodeCapsuleResp(cqe, NONE);
    expect([...resp.subarray(0, 8)]).toEqual([0x05, 0, 24, 0, 24, 0, 0, 0]);
  });

  it('C2HData carries CCCID, DATAO, DATAL, LAST_PDU; R2T carries CCCID, TTAG, R2TO, R2TL', () => {
    const parts = encodeDataPdu(PduType.C2HData, { cccid: 9, datao: 4096, last: true }, Buffer.alloc(512, 0xaa), NONE);
    const pdu = Buffer.concat(parts);
    expect([...pdu.subarray(0, 8)]).toEqual([0x07, PduFlags.LAST_PDU, 24, 24, 24 + 512 & 0xff, (24 + 512) >> 8, 0, 0]);
    expect(decodePdu(pdu, NONE)).toMatchObject({ type: PduType.C2HData, cccid: 9, datao: 4096, datal: 512, last: true });
    const r2t = encodeR2T({ cccid: 9, ttag: 3, r2to: 8192, r2tl: 65536 }, NONE);
    expect([...r2t]).toEqual([0x09, 0, 24, 0, 24, 0, 0, 0, 9, 0, 3, 0, 0, 0x20, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('C2HTermReq: FES, FEI and at most 128 bytes of the header in error (PLEN 24 to 152)', () => {
    const t = encodeTermReq(PduType.C2HTermReq, FES.InvalidPduHeaderField, 2, Buffer.alloc(200, 0x5a));
    expect(t.length).toBe(152);
    expect([...t.subarray(0, 16)]).toEqual([0x03, 0, 24, 0, 152, 0, 0, 0, 0x01, 0, 2, 0, 0, 0, 0, 0]);
    expect(decodePdu(t, NONE)).toMatchObject({ type: PduType.C2HTermReq, fes: 1, fei: 2 });
  });
});

describe('the PDU stream reader', () => {
  it('cuts a stream into PDUs whatever the chunking: byte by byte, and several PDUs in one chunk', () => {
    const stream = Buffer.concat([encodeCapsuleCmd(sqe(1), null, BOTH), encodeCapsuleCmd(sqe(2), Buffer.alloc(100, 1), BOTH), ...encodeDataPdu(PduType.H2CData, { cccid: 2, ttag: 1, datao: 0, last: true }, Buffer.alloc(4096, 2), BOTH)]);
    const bytewise = new PduReader({ maxPlen: 1 << 20 });
    bytewise.setDigests(BOTH);
    const got: Pdu[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...bytewise.push(stream.subarray(i, i + 1)));
    expect(got.map((p) => p.type)).toEqual([PduType.CapsuleCmd, PduType.CapsuleCmd, PduType.H2CData]);
    expect(bytewise.pending).toBe(0);
    const whole = new PduReader({ maxPlen: 1 << 20 });
    whole.setDigests(BOTH);
    expect(whole.push(stream)).toEqual(got);
  });

  const reader = (d: Digests = NONE, maxPlen = 1 << 20) => {
    const r = new PduReader({ maxPlen });
    r.setDigests(d);
    return r;
  };

  it('an unknown PDU-Type is an Invalid PDU Header Field at byte 0', () => {
    const b = encodeCapsuleCmd(sqe(1), null, NONE);
    b[0] = 0x08;
    expect(fault(() => reader().push(b))).toMatchObject({ code: 'ERR_NVMF_PDU', fes: FES.InvalidPduHeaderField, fei: 0 });
  });

  it('a wrong HLEN is an Invalid PDU Header Field at byte 2, found from the common header alone', () => {
    const b = encodeCapsuleCmd(sqe(1), null, NONE);
    b[2] = 64;
    expect(fault(() => reader().push(b.subarray(0, 8)))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 2, message: /HLEN 64/ });
  });

  it('a PDO past the end of the PDU is an Invalid PDU Header Field at byte 3', () => {
    const b = encodeCapsuleCmd(sqe(1), Buffer.alloc(32), NONE);
    b[3] = 200;
    expect(fault(() => reader().push(b))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 3, message: /PDO 200/ });
    const inHeader = encodeCapsuleCmd(sqe(1), Buffer.alloc(32), NONE);
    inHeader[3] = 40; // inside the header
    expect(fault(() => reader().push(inHeader))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 3 });
  });

  it('a PLEN shorter than the header is an Invalid PDU Header Field at byte 4; a PLEN over the limit is Data Transfer Limit Exceeded', () => {
    const b = encodeCapsuleCmd(sqe(1), null, NONE);
    b.writeUInt32LE(40, 4);
    expect(fault(() => reader().push(b))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 4 });
    const big = encodeCapsuleCmd(sqe(1), Buffer.alloc(9000), NONE);
    expect(fault(() => reader(NONE, 8192).push(big.subarray(0, 8)))).toMatchObject({ fes: FES.DataTransferLimitExceeded, fei: 4 });
  });

  it('a header digest that does not match is a Header Digest Error; HDGSTF clear on a digest connection is an Invalid PDU Header Field at byte 1', () => {
    const b = encodeCapsuleCmd(sqe(1), null, BOTH);
    b[10] ^= 1; // a bit of the SQE, after the digest was computed
    expect(fault(() => reader(BOTH).push(b))).toMatchObject({ fes: FES.HeaderDigestError });
    const plain = encodeCapsuleCmd(sqe(1), null, NONE);
    expect(fault(() => reader(BOTH).push(plain))).toMatchObject({ fes: FES.InvalidPduHeaderField });
  });

  it('a data digest that does not match is not fatal: the PDU says so (the command ends with Transient Transport Error)', () => {
    const b = encodeCapsuleCmd(sqe(1), Buffer.alloc(64, 3), BOTH);
    b[b.length - 5] ^= 0xff; // a data byte
    const [p] = reader(BOTH).push(b) as [Extract<Pdu, { type: 0x04 }>];
    expect(p.dataDigestOk).toBe(false);
  });

  it('H2CData whose DATAL is not the data it carries is an Invalid PDU Header Field at byte 16', () => {
    const b = Buffer.concat(encodeDataPdu(PduType.H2CData, { cccid: 1, ttag: 1, datao: 0, last: true }, Buffer.alloc(512), NONE));
    b.writeUInt32LE(1024, 16);
    expect(fault(() => reader().push(b))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 16 });
  });

  it('an ICReq whose PLEN is not 128 is an Invalid PDU Header Field', () => {
    const b = Buffer.concat([encodeICReq(), Buffer.alloc(8)]);
    b.writeUInt32LE(136, 4);
    expect(fault(() => reader().push(b))).toMatchObject({ fes: FES.InvalidPduHeaderField, fei: 4 });
  });
});
