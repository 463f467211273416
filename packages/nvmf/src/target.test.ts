// The target over real TCP sockets on the host, with a small NVMe/TCP host written from
// the specification in this file and a RAM disk (a real bdev). The Linux kernel as the
// host is the lab test's (test/lab/nvmf-tcp.test.ts).

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MallocBdev } from '@vfio-node/bdev';
import { DISCOVERY_NQN } from './names.js';
import {
  encodeCapsuleCmd, encodeDataPdu, encodeICReq, FES, PduReader, PduType,
  type Digests, type ICResp, type Pdu, type R2T,
} from './pdu.js';
import { decodeCqeStatus } from './status.js';
import { NvmfTarget } from './target.js';

const NQN = 'nqn.2026-12.io.vfio-node:unit';
const LOCKED = 'nqn.2026-12.io.vfio-node:locked';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001';

/** A minimal NVMe/TCP host: sends PDUs, collects the target's. */
class TestHost {
  private readonly reader = new PduReader({ maxPlen: 1 << 22 });
  private readonly pdus: Pdu[] = [];
  private wake: (() => void) | null = null;
  ended = false;
  digests: Digests = { header: false, data: false };
  private nextCid = 1;
  /** Commands sent with send(), whose responses command() sets aside. */
  private readonly held = new Set<number>();
  private readonly answers = new Map<number, ReturnType<typeof decodeCqeStatus>>();

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      try {
        this.pdus.push(...this.reader.push(c));
      } catch {
        // (the fuzzer's mangled ICReq may turn digests on that this host does not expect)
        this.ended = true;
      }
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  static async open(port: number): Promise<TestHost> {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    return new TestHost(sock);
  }

  async next(): Promise<Pdu> {
    for (;;) {
      const p = this.pdus.shift();
      if (p) return p;
      if (this.ended) throw new Error('connection closed');
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  async ic(digests: Digests = { header: false, data: false }): Promise<ICResp> {
    this.sock.write(encodeICReq({ digests }));
    const r = (await this.next()) as ICResp;
    this.digests = digests;
    this.reader.setDigests(digests);
    return r;
  }

  /**
   * Sends a command; data to the controller goes in the capsule when `inCapsule`, else on R2T.
   * Returns the CQE status, DW0 and the data the controller sent.
   */
  async command(sqe: Buffer, o: { data?: Buffer; inCapsule?: boolean; c2hLength?: number; h2cTamper?: (datao: number, d: Buffer) => Buffer } = {}) {
    const cid = this.nextCid++;
    sqe.writeUInt16LE(cid, 2);
    const len = o.data?.length ?? o.c2hLength ?? 0;
    if (len) {
      sqe.writeBigUInt64LE(0n, 24);
      sqe.writeUInt32LE(len, 32);
      sqe[39] = o.data && o.inCapsule ? 0x01 : 0x5a;
    }
    this.sock.write(encodeCapsuleCmd(sqe, o.data && o.inCapsule ? o.data : null, this.digests));
    const c2h = Buffer.alloc(o.c2hLength ?? 0);
    const r2ts: R2T[] = [];
    for (;;) {
      const p = await this.next();
      if (p.type === PduType.R2T) {
        r2ts.push(p);
        const chunk = o.data!.subarray(p.r2to, p.r2to + p.r2tl);
        const send = o.h2cTamper ? o.h2cTamper(p.r2to, chunk) : chunk;
        for (const b of encodeDataPdu(PduType.H2CData, { cccid: p.cccid, ttag: p.ttag, datao: p.r2to, last: true }, send, this.digests)) this.sock.write(b);
      } else if (p.type === PduType.C2HData) {
        p.data.copy(c2h, p.datao);
      } else if (p.type === PduType.CapsuleResp) {
        const st = decodeCqeStatus(p.cqe);
        if (this.held.has(st.cid) && st.cid !== cid) {
          this.answers.set(st.cid, st);
          continue;
        }
        return { ...st, c2h, r2ts };
      } else {
        return { sct: -1, sc: -1, dnr: false, cid: -1, dw0: -1, c2h, r2ts, other: p };
      }
    }
  }

  /** Sends a command without waiting (an AER the controller holds); its response comes through response(cid). */
  send(sqe: Buffer): number {
    const cid = this.nextCid++;
    sqe.writeUInt16LE(cid, 2);
    this.held.add(cid);
    this.sock.write(encodeCapsuleCmd(sqe, null, this.digests));
    return cid;
  }

  /** Has the response to a command sent with send() arrived (read by a later command())? */
  answered(cid: number): ReturnType<typeof decodeCqeStatus> | undefined {
    return this.answers.get(cid);
  }

  /** Waits for the response to a command sent with send(). */
  async response(cid: number): Promise<ReturnType<typeof decodeCqeStatus>> {
    for (;;) {
      const a = this.answers.get(cid);
      if (a) return a;
      const p = await this.next();
      if (p.type === PduType.CapsuleResp) this.answers.set(decodeCqeStatus(p.cqe).cid, decodeCqeStatus(p.cqe));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

function fabrics(fctype: number): Buffer {
  const b = Buffer.alloc(64);
  b[0] = 0x7f;
  b[4] = fctype;
  return b;
}

function connectData(subnqn: string, hostnqn: string, cntlid = 0xffff): Buffer {
  const d = Buffer.alloc(1024);
  d.writeUInt16LE(cntlid, 16);
  d.write(subnqn, 256);
  d.write(hostnqn, 512);
  return d;
}

function connectSqe(qid: number, sqsize: number, kato = 0): Buffer {
  const b = fabrics(0x01);
  b.writeUInt16LE(qid, 42);
  b.writeUInt16LE(sqsize, 44);
  b.writeUInt32LE(kato, 48);
  return b;
}

async function propertyGet(h: TestHost, ofst: number, size8: boolean) {
  const b = fabrics(0x04);
  b[40] = size8 ? 1 : 0;
  b.writeUInt32LE(ofst, 44);
  return h.command(b);
}

async function propertySet(h: TestHost, ofst: number, value: number) {
  const b = fabrics(0x00);
  b.writeUInt32LE(ofst, 44);
  b.writeBigUInt64LE(BigInt(value), 48);
  return h.command(b);
}

function admin(opcode: number, cdw10 = 0, nsid = 0, cdw11 = 0): Buffer {
  const b = Buffer.alloc(64);
  b[0] = opcode;
  b.writeUInt32LE(nsid, 4);
  b.writeUInt32LE(cdw10, 40);
  b.writeUInt32LE(cdw11, 44);
  return b;
}

function rw(opcode: number, slba: number, nlb: number): Buffer {
  const b = Buffer.alloc(64);
  b[0] = opcode;
  b.writeUInt32LE(1, 4);
  b.writeBigUInt64LE(BigInt(slba), 40);
  b.writeUInt32LE(nlb - 1, 48);
  return b;
}

let target: NvmfTarget;
let port = 0;
const disk = new MallocBdev('malloc:4M', 4 << 20);

/** An enabled controller: admin queue connected, CC.EN set, CSTS.RDY seen; an I/O queue connected too when asked. */
async function enabledController(withIo = true, digests?: Digests) {
  const adm = await TestHost.open(port);
  await adm.ic(digests);
  const c = await adm.command(connectSqe(0, 31), { data: connectData(NQN, HOST), inCapsule: true });
  expect(c.sc, 'admin Connect').toBe(0);
  const cntlid = c.dw0 & 0xffff;
  // CC: EN, IOSQES 6, IOCQES 4.
  expect((await propertySet(adm, 0x14, 1 | (6 << 16) | (4 << 20))).sc).toBe(0);
  expect((await propertyGet(adm, 0x1c, false)).dw0 & 1).toBe(1);
  if (!withIo) return { adm, cntlid, io: null };
  const io = await TestHost.open(port);
  await io.ic(digests);
  const ic = await io.command(connectSqe(1, 127), { data: connectData(NQN, HOST, cntlid), inCapsule: true });
  expect(ic.sc, 'I/O Connect').toBe(0);
  return { adm, cntlid, io };
}

beforeAll(async () => {
  target = await NvmfTarget.listen({
    listen: '127.0.0.1:0',
    subsystems: [
      { nqn: NQN, namespaces: [disk] },
      { nqn: LOCKED, namespaces: [new MallocBdev('m2', 1 << 20)], allowHosts: ['nqn.2014-08.org.nvmexpress:uuid:ffffffff-0000-0000-0000-000000000000'] },
    ],
  });
  port = target.address.port;
});

afterAll(async () => {
  await target.close();
});

describe('the NVMe/TCP target with a host written from the specification', () => {
  it('answers ICReq with ICResp: PFV 0, CPDA 0, no digests unless asked, MAXH2CDATA 128 KiB', async () => {
    const h = await TestHost.open(port);
    const r = await h.ic();
    expect(r).toEqual({ type: PduType.ICResp, pfv: 0, cpda: 0, digests: { header: false, data: false }, maxh2cdata: 131072 });
    h.close();
  });

  it('brings a controller up as a Linux host does: Connect, CAP and VS, CC.EN then CSTS.RDY, Identify', async () => {
    const { adm, cntlid, io } = await enabledController(false);
    expect(cntlid).toBeGreaterThan(0);
    const cap = await propertyGet(adm, 0x00, true);
    expect(cap.dw0 & 0xffff).toBe(127); // MQES
    expect((cap.dw0 >>> 16) & 1).toBe(1); // CQR
    expect(cap.sc).toBe(0);
    expect((await propertyGet(adm, 0x08, false)).dw0).toBe(0x00020000);
    const id = await adm.command(admin(0x06, 0x01), { c2hLength: 4096 });
    expect(id.sc).toBe(0);
    expect(id.c2h.readUInt16LE(78)).toBe(cntlid); // CNTLID
    expect(id.c2h[111]).toBe(1); // CNTRLTYPE: I/O controller
    expect(id.c2h.readUInt32LE(516)).toBe(1); // NN
    expect(id.c2h.readUInt32LE(1792)).toBe((64 + 8192) / 16); // IOCCSZ
    expect(id.c2h.subarray(768, 768 + NQN.length).toString()).toBe(NQN);
    const ns = await adm.command(admin(0x06, 0x00, 1), { c2hLength: 4096 });
    expect(ns.c2h.readBigUInt64LE(0)).toBe(8192n); // NSZE: 4 MiB of 512-byte blocks
    expect((ns.c2h.readUInt32LE(128) >> 16) & 0xff).toBe(9); // LBADS
    const list = await adm.command(admin(0x06, 0x02, 0), { c2hLength: 4096 });
    expect([list.c2h.readUInt32LE(0), list.c2h.readUInt32LE(4)]).toEqual([1, 0]);
    const noNs = await adm.command(admin(0x06, 0x00, 2), { c2hLength: 4096 });
    expect([noNs.sct, noNs.sc]).toEqual([0, 0x0b]); // Invalid Namespace or Format
    const q = await adm.command(admin(0x09, 0x07, 0, (15 << 16) | 15)); // Number of Queues: 16 asked
    expect(q.dw0).toBe((7 << 16) | 7); // 8 allocated
    expect(io).toBeNull();
    adm.close();
  });

  it('moves data both ways: in-capsule writes, writes on R2T and H2CData, reads as C2HData; they read back identical', async () => {
    const { adm, io } = await enabledController();
    const small = Buffer.alloc(4096, 0).map((_, i) => (i * 13) & 0xff) as Buffer;
    const w1 = await io!.command(rw(0x01, 8, 8), { data: Buffer.from(small), inCapsule: true });
    expect([w1.sc, w1.r2ts.length]).toEqual([0, 0]);
    const big = Buffer.alloc(96 * 1024).map((_, i) => (i * 7 + 1) & 0xff) as Buffer;
    const w2 = await io!.command(rw(0x01, 100, 192), { data: Buffer.from(big) });
    expect(w2.sc).toBe(0);
    expect(w2.r2ts.map((r) => [r.r2to, r.r2tl])).toEqual([[0, 96 * 1024]]);
    const r1 = await io!.command(rw(0x02, 8, 8), { c2hLength: 4096 });
    const r2 = await io!.command(rw(0x02, 100, 192), { c2hLength: 96 * 1024 });
    expect(r1.c2h.equals(small)).toBe(true);
    expect(r2.c2h.equals(big)).toBe(true);
    const past = await io!.command(rw(0x02, 8191, 2), { c2hLength: 1024 });
    expect([past.sct, past.sc]).toEqual([0, 0x80]); // LBA Out of Range
    adm.close();
    io!.close();
  });

  it('Write Zeroes, Dataset Management (deallocate) and Flush reach the RAM disk: zeroes read back in their ranges only', async () => {
    const { adm, io } = await enabledController();
    const ones = Buffer.alloc(16 * 512, 0xff);
    expect((await io!.command(rw(0x01, 4000, 16), { data: ones })).sc).toBe(0);
    const wz = rw(0x08, 4002, 2); // Write Zeroes: LBAs 4002-4003
    expect((await io!.command(wz)).sc).toBe(0);
    // Dataset Management: NR 0 (one range), AD (CDW11 bit 2); range: 3 blocks at 4010.
    const dsm = Buffer.alloc(64);
    dsm[0] = 0x09;
    dsm.writeUInt32LE(1, 4);
    dsm.writeUInt32LE(0, 40);
    dsm.writeUInt32LE(4, 44);
    const ranges = Buffer.alloc(16);
    ranges.writeUInt32LE(3, 4);
    ranges.writeBigUInt64LE(4010n, 8);
    expect((await io!.command(dsm, { data: ranges, inCapsule: true })).sc).toBe(0);
    expect((await io!.command(rw(0x00, 0, 1))).sc).toBe(0); // Flush
    const back = (await io!.command(rw(0x02, 4000, 16), { c2hLength: 16 * 512 })).c2h;
    const zeroBlocks = [...Array(16).keys()].filter((b) => back.subarray(b * 512, b * 512 + 512).every((x) => x === 0));
    expect(zeroBlocks).toEqual([2, 3, 10, 11, 12]);
    const wzPast = rw(0x08, 8190, 4);
    expect((await io!.command(wzPast)).sc).toBe(0x80); // LBA Out of Range
    adm.close();
    io!.close();
  });

  it('a host that stops sending for longer than KATO loses its association: the admin and I/O connections close', async () => {
    const adm = await TestHost.open(port);
    await adm.ic();
    const c = await adm.command(connectSqe(0, 31, 200), { data: connectData(NQN, HOST), inCapsule: true });
    expect(c.sc).toBe(0);
    expect((await propertySet(adm, 0x14, 1 | (6 << 16) | (4 << 20))).sc).toBe(0);
    expect((await adm.command(admin(0x0a, 0x0f))).dw0).toBe(200); // Get Features Keep Alive Timer
    const io = await TestHost.open(port);
    await io.ic();
    expect((await io.command(connectSqe(1, 31), { data: connectData(NQN, HOST, c.dw0 & 0xffff), inCapsule: true })).sc).toBe(0);
    await expect(adm.next()).rejects.toThrow(/closed/);
    await expect(io.next()).rejects.toThrow(/closed/);
  });

  it('works with header and data digests (CRC32C) on both queues', async () => {
    const both = { header: true, data: true };
    const { adm, io } = await enabledController(true, both);
    const data = Buffer.alloc(8192, 0x3c);
    expect((await io!.command(rw(0x01, 300, 16), { data })).sc).toBe(0);
    expect((await io!.command(rw(0x02, 300, 16), { c2hLength: 8192 })).c2h.equals(data)).toBe(true);
    adm.close();
    io!.close();
  });

  it('refuses Connect to an unknown NQN (Connect Invalid Parameters, IATTR 1, IPO 256) and from a host not allowed (Connect Invalid Host)', async () => {
    const h = await TestHost.open(port);
    await h.ic();
    const unknown = await h.command(connectSqe(0, 31), { data: connectData('nqn.2026-12.io.vfio-node:nope', HOST), inCapsule: true });
    expect([unknown.sct, unknown.sc, unknown.dw0]).toEqual([1, 0x82, 1 | (256 << 16)]);
    const locked = await h.command(connectSqe(0, 31), { data: connectData(LOCKED, HOST), inCapsule: true });
    expect([locked.sct, locked.sc]).toEqual([1, 0x84]);
    // An I/O queue to a controller that does not exist: Invalid Parameters on CNTLID (data offset 16).
    const io = await h.command(connectSqe(1, 31), { data: connectData(NQN, HOST, 0x4321), inCapsule: true });
    expect([io.sct, io.sc, io.dw0]).toEqual([1, 0x82, 1 | (16 << 16)]);
    h.close();
  });

  it('a command on a queue that was never connected is a Command Sequence Error', async () => {
    const h = await TestHost.open(port);
    await h.ic();
    const r = await h.command(admin(0x06, 0x01), { c2hLength: 4096 });
    expect([r.sct, r.sc]).toEqual([0, 0x0c]);
    h.close();
  });

  it('a malformed PDU ends that connection with a C2HTermReq naming the field; the other connections keep working', async () => {
    const { adm, io } = await enabledController();
    const bad = await TestHost.open(port);
    await bad.ic();
    const pdu = encodeCapsuleCmd(rw(0x01, 0, 1), Buffer.alloc(512), { header: false, data: false });
    pdu[2] = 40; // HLEN
    bad.sock.write(pdu);
    const term = await bad.next();
    expect(term).toMatchObject({ type: PduType.C2HTermReq, fes: FES.InvalidPduHeaderField, fei: 2 });
    await expect(bad.next()).rejects.toThrow(/closed/);
    expect((await io!.command(rw(0x02, 0, 1), { c2hLength: 512 })).sc).toBe(0);
    adm.close();
    io!.close();
  });

  it('H2CData longer than the R2T asked for is Data Transfer Out of Range; nothing of that command is written', async () => {
    const { adm, io } = await enabledController();
    const before = (await io!.command(rw(0x02, 2000, 8), { c2hLength: 4096 })).c2h;
    const r = await io!.command(rw(0x01, 2000, 8), { data: Buffer.alloc(4096, 0xee), h2cTamper: (_o, d) => Buffer.concat([d, Buffer.alloc(512, 0xee)]) });
    expect(r.other).toMatchObject({ type: PduType.C2HTermReq, fes: FES.DataTransferOutOfRange });
    const check = await enabledController();
    const after = (await check.io!.command(rw(0x02, 2000, 8), { c2hLength: 4096 })).c2h;
    expect(after.equals(before)).toBe(true);
    for (const h of [adm, io!, check.adm, check.io!]) h.close();
  });

  it('the discovery controller returns a discovery log page that lists the subsystems this host may use', async () => {
    const h = await TestHost.open(port);
    await h.ic();
    expect((await h.command(connectSqe(0, 31), { data: connectData(DISCOVERY_NQN, HOST), inCapsule: true })).sc).toBe(0);
    expect((await propertySet(h, 0x14, 1)).sc).toBe(0);
    const id = await h.command(admin(0x06, 0x01), { c2hLength: 4096 });
    expect(id.c2h[111]).toBe(2); // CNTRLTYPE: discovery controller
    // Header first (as nvme-cli reads it), then the whole page: NUMDL is 0's based dwords.
    const head = await h.command(admin(0x02, 0x70 | ((1024 / 4 - 1) << 16)), { c2hLength: 1024 });
    expect(head.c2h.readBigUInt64LE(8)).toBe(1n); // NUMREC: the locked subsystem is not listed
    const page = await h.command(admin(0x02, 0x70 | ((2048 / 4 - 1) << 16)), { c2hLength: 2048 });
    const e = page.c2h.subarray(1024);
    expect([e[0], e[1], e[2]]).toEqual([3, 1, 2]); // TRTYPE TCP, ADRFAM IPv4, SUBTYPE NVM subsystem
    expect(e.subarray(256, 256 + NQN.length).toString()).toBe(NQN);
    expect(e.subarray(512, 512 + 9).toString()).toBe('127.0.0.1');
    expect(e.subarray(32, 32 + String(port).length).toString()).toBe(String(port));
    h.close();
  });

  it('namespaces added and removed while a host is connected: an AER completes with a Namespace Attribute notice, the Changed Namespace List names them, and further notices wait until it is read', async () => {
    const { adm } = await enabledController(false);
    const sub = target.subsystem(NQN);
    // Set Features, Asynchronous Event Configuration: Namespace Attribute Notices (bit 8).
    expect((await adm.command(admin(0x09, 0x0b, 0, 1 << 8))).sc).toBe(0);
    const aer1 = adm.send(admin(0x0c));
    const nsid = sub.addNamespace(new MallocBdev('aen', 1 << 20));
    expect(nsid).toBe(2);
    const n1 = await adm.response(aer1);
    expect([n1.sct, n1.sc]).toEqual([0, 0]);
    expect(n1.dw0 & 7).toBe(2); // Notice
    expect((n1.dw0 >>> 8) & 0xff).toBe(0x00); // Namespace Attribute Changed
    expect((n1.dw0 >>> 16) & 0xff).toBe(0x04); // Changed Namespace List
    const list = await adm.command(admin(0x06, 0x02, 0), { c2hLength: 4096 });
    expect([list.c2h.readUInt32LE(0), list.c2h.readUInt32LE(4), list.c2h.readUInt32LE(8)]).toEqual([1, 2, 0]);
    const id = await adm.command(admin(0x06, 0x01), { c2hLength: 4096 });
    expect(id.c2h.readUInt32LE(516)).toBe(2); // NN
    expect(id.c2h.readUInt32LE(92) & (1 << 8)).toBe(1 << 8); // OAES: Namespace Attribute Notices

    // Masked: a second change before the host reads log page 04h completes nothing.
    const aer2 = adm.send(admin(0x0c));
    expect(sub.removeNamespace(2).name).toBe('aen');
    expect((await adm.command(admin(0x0a, 0x0b))).dw0).toBe(1 << 8); // a round trip after the change
    expect(adm.answered(aer2)).toBeUndefined();
    // Get Log Page 04h, 1024 dwords: NSID 2 (added, then removed), then zeroes; reading it clears it.
    const log = await adm.command(admin(0x02, 0x04 | (1023 << 16), 0xffffffff), { c2hLength: 4096 });
    expect([log.sc, log.c2h.readUInt32LE(0), log.c2h.readUInt32LE(4)]).toEqual([0, 2, 0]);
    const again = await adm.command(admin(0x02, 0x04 | (1023 << 16), 0xffffffff), { c2hLength: 4096 });
    expect(again.c2h.readUInt32LE(0)).toBe(0);
    expect(adm.answered(aer2)).toBeUndefined();
    // Unmasked: the next change completes the held AER.
    expect(sub.addNamespace(new MallocBdev('aen2', 1 << 20), 7)).toBe(7);
    const n2 = await adm.response(aer2);
    expect(n2.dw0).toBe(0x040002);
    const log2 = await adm.command(admin(0x02, 0x04 | (1023 << 16), 0xffffffff), { c2hLength: 4096 });
    expect([log2.c2h.readUInt32LE(0), log2.c2h.readUInt32LE(4)]).toEqual([7, 0]);
    const gone = await adm.command(admin(0x06, 0x00, 2), { c2hLength: 4096 });
    expect([gone.sct, gone.sc]).toEqual([0, 0x0b]); // the removed namespace: Invalid Namespace or Format
    sub.removeNamespace(7);
    adm.close();
  });

  it('refuses namespace changes by name: a taken NSID, an NSID that is not there, an unknown subsystem', () => {
    const sub = target.subsystem(NQN);
    expect(() => sub.addNamespace(new MallocBdev('x', 1 << 20), 1)).toThrow(expect.objectContaining({ code: 'ERR_NVMF_NSID', message: expect.stringContaining('is taken') }));
    expect(() => sub.addNamespace(new MallocBdev('x', 1 << 20), 0)).toThrow(expect.objectContaining({ code: 'ERR_NVMF_NSID' }));
    expect(() => sub.removeNamespace(99)).toThrow(expect.objectContaining({ code: 'ERR_NVMF_NSID' }));
    expect(() => target.subsystem('nqn.2026-12.io.vfio-node:nope')).toThrow(expect.objectContaining({ code: 'ERR_NVMF_NO_SUCH_SUBSYSTEM', hint: expect.stringContaining(NQN) }));
  });

  it('a seeded fuzzer (mutated PDUs on 150 connections) never stops the target: a connected host keeps reading and writing', async () => {
    const { adm, io } = await enabledController();
    const keep = Buffer.alloc(4096, 0x77);
    expect((await io!.command(rw(0x01, 6000, 8), { data: keep })).sc).toBe(0);
    // mulberry32: the same mutations on every run.
    let seed = 0x17;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const valid = [
      encodeICReq(),
      encodeCapsuleCmd(connectSqe(0, 31), connectData(NQN, HOST), { header: false, data: false }),
      encodeCapsuleCmd(rw(0x01, 10, 1), Buffer.alloc(512, 1), { header: false, data: false }),
      Buffer.concat(encodeDataPdu(PduType.H2CData, { cccid: 1, ttag: 1, datao: 0, last: true }, Buffer.alloc(512, 2), { header: false, data: false })),
    ];
    for (let i = 0; i < 150; i++) {
      const h = await TestHost.open(port);
      const parts = valid.map((b) => Buffer.from(b));
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
        const b = parts[Math.floor(rand() * parts.length)]!;
        const at = Math.floor(rand() * Math.min(b.length, 80));
        b[at] = Math.floor(rand() * 256);
      }
      h.sock.write(Buffer.concat(parts));
      await new Promise((r) => setTimeout(r, 2));
      h.close();
    }
    const back = await io!.command(rw(0x02, 6000, 8), { c2hLength: 4096 });
    expect(back.c2h.equals(keep)).toBe(true);
    expect((await io!.command(rw(0x01, 6000, 8), { data: keep })).sc).toBe(0);
    adm.close();
    io!.close();
  });
});
