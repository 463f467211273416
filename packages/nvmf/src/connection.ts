// One NVMe/TCP connection: one queue (the admin queue or an I/O queue) of one controller
// (NVMe/TCP 1.0 §3.3). In order: connection setup (ICReq/ICResp, §3.3.2), then the
// Fabrics Connect that binds the queue to a controller (Base 2.0 §6.3), then commands:
// each CapsuleCmd's data arrives in the capsule or after an R2T as H2CData PDUs; a
// command's data for the host leaves in C2HData PDUs before its CapsuleResp (§3.4).
// A PDU that breaks the rules ends this connection only, with a C2HTermReq (§3.6.2.5).

import type { Socket } from 'node:net';
import type { BdevBuffer } from '@vfio-node/bdev';
import type { VfioError } from '@vfio-node/core';
import type { Controller, CommandResult } from './controller.js';
import type { PduFaultDetails } from './errors.js';
import { pduFault } from './errors.js';
import { executeIo } from './io.js';
import { ReadBuffers } from './read-buffers.js';
import {
  encodeCapsuleResp, encodeDataPdu, encodeICResp, encodeR2T, encodeTermReq, FES, PduReader, PduType,
  type CapsuleCmd, type DataPdu, type Digests, type ICReq, type Pdu,
} from './pdu.js';
import { AdminOpcode, dataDirection, FabricsType, Sqe, SglIdentifier } from './sqe.js';
import { encodeCqe, fail, ok, Sts, type Completion } from './status.js';

/** Limits of a connection. */
export interface ConnectionLimits {
  /** MAXH2CDATA: the most data one H2CData PDU may carry (at least 4096, §3.6.2.3). */
  maxh2cdata: number;
  /** In-capsule data accepted on the admin queue (Linux sends Connect's 1024 bytes, up to 8 KiB). */
  adminInCapsule: number;
  /** In-capsule data accepted on an I/O queue (IOCCSZ × 16 − 64). */
  ioInCapsule: number;
  /** The most data one command may move (MDTS). */
  maxDataPerCommand: number;
}

/** What a connection asks of the target: Connect's lookups and a log. */
export interface ConnectionHost {
  /**
   * Handles a Connect: finds the subsystem, checks the host, creates a controller (qid 0)
   * or finds one (an I/O queue). Returns the controller or the Connect status to send.
   */
  connect(req: ConnectRequest, queue: Connection): { ctrl: Controller } | { completion: Completion };
  /** A line for the target's log. */
  log(event: 'connect' | 'disconnect' | 'error', message: string): void;
}

/** The fields of a Fabrics Connect command and its data (Base 2.0 §6.3). */
export interface ConnectRequest {
  recfmt: number;
  qid: number;
  /** SQSIZE, 0's based. */
  sqsize: number;
  cattr: number;
  kato: number;
  hostid: Buffer;
  cntlid: number;
  subnqn: string;
  hostnqn: string;
}

/** Reads a NUL-terminated string out of a fixed-size field. */
function cstring(b: Buffer, at: number, len: number): string {
  const f = b.subarray(at, at + len);
  const end = f.indexOf(0);
  return f.subarray(0, end < 0 ? f.length : end).toString('utf8');
}

/** Parses Connect: RECFMT, QID, SQSIZE, CATTR, KATO from the SQE; HOSTID, CNTLID, SUBNQN, HOSTNQN from the 1024 bytes of data. */
export function parseConnect(sqe: Sqe, data: Buffer): ConnectRequest {
  return {
    recfmt: sqe.b.readUInt16LE(40),
    qid: sqe.b.readUInt16LE(42),
    sqsize: sqe.b.readUInt16LE(44),
    cattr: sqe.b[46]!,
    kato: sqe.b.readUInt32LE(48),
    hostid: Buffer.from(data.subarray(0, 16)),
    cntlid: data.readUInt16LE(16),
    subnqn: cstring(data, 256, 256),
    hostnqn: cstring(data, 512, 256),
  };
}

/** A command waiting for its data from the host (R2T sent, H2CData expected). */
interface PendingTransfer {
  sqe: Sqe;
  buffer: Buffer;
  /** Bytes received so far (the next H2CData's DATAO). */
  received: number;
  /** End of the current R2T's range. */
  r2tEnd: number;
}

/** Read buffers a connection keeps between reads: QD 32 of 128 KiB, or 1024 of 4 KiB. */
const READ_BUFFERS_MAX_IDLE = 4 << 20;

/** Connection states, in order. */
const enum State {
  /** Waiting for ICReq. */
  AwaitICReq,
  /** ICResp sent; commands flow (Connect first). */
  Ready,
  /** Ended (TermReq sent or socket closed). */
  Closed,
}

/** One TCP connection of the target. */
export class Connection {
  private state = State.AwaitICReq;
  private readonly reader: PduReader;
  private digests: Digests = { header: false, data: false };
  /** The controller this queue is bound to, after Connect. */
  ctrl: Controller | null = null;
  /** The queue ID from Connect (-1 before). */
  qid = -1;
  private sqsize = 0;
  private sqhd = 0;
  private readonly transfers = new Map<number, PendingTransfer>();
  private nextTtag = 1;
  /** Buffers reads go into, kept between reads (read-buffers.ts). */
  private readonly readBuffers = new ReadBuffers(READ_BUFFERS_MAX_IDLE);
  private stopNamespaceChanges: (() => void) | null = null;
  /** The socket is corked until a queued microtask uncorks it (see batchWrites). */
  private corked = false;

  /**
   * @param socket the accepted TCP socket
   * @param host the target's side of Connect and its log
   * @param limits the connection's limits
   */
  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly limits: ConnectionLimits,
  ) {
    // The largest PDU: an H2CData of MAXH2CDATA, or a capsule with the admin queue's
    // in-capsule data, each with both digests and the padding a PDO may add.
    const maxPlen = 8 + 255 + Math.max(limits.maxh2cdata, limits.adminInCapsule, limits.ioInCapsule) + 8;
    this.reader = new PduReader({ maxPlen });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.closed());
  }

  /** A name for logs: the peer's address and the queue. */
  get label(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}${this.qid >= 0 ? ` qid ${this.qid}` : ''}${this.ctrl ? ` (controller ${this.ctrl.cntlid} of ${this.ctrl.subsystem.nqn})` : ''}`;
  }

  /** Ends the connection (the controller's association ended, or the target closes). */
  close(reason: string): void {
    if (this.state === State.Closed) return;
    this.host.log('disconnect', `${this.label}: ${reason}`);
    this.state = State.Closed;
    this.socket.destroy();
  }

  /** Lets go of what the connection holds besides its socket (called once the socket closed). */
  private release(): void {
    this.stopNamespaceChanges?.();
    this.stopNamespaceChanges = null;
    this.readBuffers.close();
  }

  private receive(chunk: Buffer): void {
    if (this.state === State.Closed) return;
    let pdus: Pdu[];
    try {
      pdus = this.reader.push(chunk);
    } catch (err) {
      this.terminate(err);
      return;
    }
    for (const pdu of pdus) {
      if ((this.state as State) === State.Closed) return;
      try {
        this.handle(pdu);
      } catch (err) {
        this.terminate(err);
        return;
      }
    }
  }

  private handle(pdu: Pdu): void {
    if (this.state === State.AwaitICReq) {
      // The first PDU of a connection is an ICReq (§3.3.2).
      if (pdu.type !== PduType.ICReq) throw pduFault(FES.PduSequenceError, 0, Buffer.from([pdu.type]), `PDU-Type 0x${pdu.type.toString(16)} before ICReq`);
      this.initialize(pdu);
      return;
    }
    switch (pdu.type) {
      case PduType.CapsuleCmd:
        this.capsule(pdu);
        return;
      case PduType.H2CData:
        this.h2cData(pdu);
        return;
      case PduType.H2CTermReq:
        this.close(`the host terminated the connection (H2CTermReq FES ${pdu.fes}, FEI ${pdu.fei})`);
        return;
      case PduType.ICReq:
        throw pduFault(FES.PduSequenceError, 0, Buffer.from([pdu.type]), 'a second ICReq');
      default:
        // ICResp, CapsuleResp, C2HData, R2T, C2HTermReq go controller to host only.
        throw pduFault(FES.InvalidPduHeaderField, 0, Buffer.from([pdu.type]), `PDU-Type 0x${pdu.type.toString(16)} is not one a host sends`);
    }
  }

  /** ICReq → ICResp (§3.6.2.2, §3.6.2.3): PFV 0 only; digests as the host asks; no padding (CPDA 0). */
  private initialize(req: ICReq): void {
    if (req.pfv !== 0) throw pduFault(FES.UnsupportedParameter, 8, req.header, `PFV ${req.pfv} (only 0, NVMe/TCP 1.0)`);
    if (req.hpda > 31) throw pduFault(FES.InvalidPduHeaderField, 10, req.header, `HPDA ${req.hpda} is more than 31`);
    this.digests = { ...req.digests };
    this.socket.write(encodeICResp({ cpda: 0, digests: this.digests, maxh2cdata: this.limits.maxh2cdata }));
    this.reader.setDigests(this.digests);
    this.state = State.Ready;
  }

  /** A command capsule: check its data pointer, gather its data, execute, answer. */
  private capsule(pdu: CapsuleCmd): void {
    // No copy: the 64 bytes lie in a chunk the socket gave (or the reader joined), which
    // nothing else writes to.
    const sqe = new Sqe(pdu.sqe);
    // SQHD: this queue's head after taking the entry (Base 2.0 §4.6.1), SQSIZE + 1 entries.
    if (this.sqsize) this.sqhd = (this.sqhd + 1) % (this.sqsize + 1);
    this.ctrl?.touch();
    if (!pdu.dataDigestOk) return this.respond(sqe, fail(Sts.TransientTransportError));

    const isConnect = sqe.opcode === AdminOpcode.Fabrics && sqe.fctype === FabricsType.Connect;
    if (!this.ctrl && !isConnect) return this.respond(sqe, fail(Sts.CommandSequenceError));
    if (this.ctrl && isConnect) return this.respond(sqe, fail(Sts.CommandSequenceError));

    const dir = dataDirection(sqe);
    const length = dir === 'none' ? 0 : sqe.sglLength;
    if (length === 0) {
      if (pdu.data) return this.respond(sqe, fail(Sts.DataSglLengthInvalid));
      return this.run(sqe, null, 0);
    }
    if (dir === 'both') return this.respond(sqe, fail(Sts.InvalidFieldInCommand));
    if (length > this.limits.maxDataPerCommand && !isConnect) return this.respond(sqe, fail(Sts.DataSglLengthInvalid));
    const sgl = sqe.sglIdentifier;
    if (sgl === SglIdentifier.DataBlockOffset) {
      // In-capsule data (NVMe/TCP 1.0 §2.3): host to controller only, at offset 0 (ICDOFF 0), all of it in this capsule.
      const limit = this.qid > 0 ? this.limits.ioInCapsule : this.limits.adminInCapsule;
      if (dir !== 'h2c') return this.respond(sqe, fail(Sts.SglDescriptorTypeInvalid));
      if (sqe.sglAddress !== 0n) return this.respond(sqe, fail(Sts.SglOffsetInvalid));
      if (length > limit || !pdu.data || pdu.data.length !== length) return this.respond(sqe, fail(Sts.DataSglLengthInvalid));
      return this.run(sqe, Buffer.from(pdu.data), length);
    }
    if (sgl !== SglIdentifier.TransportDataBlock) return this.respond(sqe, fail(Sts.SglDescriptorTypeInvalid));
    if (pdu.data) return this.respond(sqe, fail(Sts.DataSglLengthInvalid));
    if (dir === 'c2h') return this.run(sqe, null, length);
    // Host to controller without in-capsule data: ask for it (R2T), one range at a time.
    const ttag = this.allocateTtag();
    const t: PendingTransfer = { sqe, buffer: Buffer.alloc(length), received: 0, r2tEnd: 0 };
    this.transfers.set(ttag, t);
    this.requestData(ttag, t);
  }

  private requestData(ttag: number, t: PendingTransfer): void {
    const r2tl = Math.min(this.limits.maxh2cdata, t.buffer.length - t.received);
    t.r2tEnd = t.received + r2tl;
    this.socket.write(encodeR2T({ cccid: t.sqe.cid, ttag, r2to: t.received, r2tl }, this.digests));
  }

  /**
   * H2CData (§3.6.2.8): for an R2T this connection sent (TTAG), at the next offset, inside
   * the R2T's range. Anything else ends the connection; nothing of it reaches a bdev.
   */
  private h2cData(pdu: DataPdu): void {
    const t = this.transfers.get(pdu.ttag);
    const header = pdu.header;
    if (!t) throw pduFault(FES.InvalidPduHeaderField, 10, header, `H2CData for TTAG ${pdu.ttag}, which no R2T gave`);
    if (t.sqe.cid !== pdu.cccid) throw pduFault(FES.InvalidPduHeaderField, 8, header, `H2CData CCCID ${pdu.cccid} is not the R2T's ${t.sqe.cid}`);
    if (pdu.datal > this.limits.maxh2cdata) throw pduFault(FES.DataTransferLimitExceeded, 16, header, `H2CData DATAL ${pdu.datal} is more than MAXH2CDATA ${this.limits.maxh2cdata}`);
    if (pdu.datao !== t.received || pdu.datao + pdu.datal > t.r2tEnd) {
      throw pduFault(FES.DataTransferOutOfRange, 12, header, `H2CData bytes ${pdu.datao}..${pdu.datao + pdu.datal} are not the next bytes of the R2T's range ${t.received}..${t.r2tEnd}`);
    }
    if (!pdu.dataDigestOk) {
      this.transfers.delete(pdu.ttag);
      return this.respond(t.sqe, fail(Sts.TransientTransportError));
    }
    pdu.data.copy(t.buffer, pdu.datao);
    t.received += pdu.datal;
    if (t.received < t.r2tEnd) return;
    if (t.received < t.buffer.length) return this.requestData(pdu.ttag, t);
    this.transfers.delete(pdu.ttag);
    this.run(t.sqe, t.buffer, t.buffer.length);
  }

  private allocateTtag(): number {
    for (;;) {
      const t = this.nextTtag;
      this.nextTtag = t >= 0xfffe ? 1 : t + 1;
      if (!this.transfers.has(t)) return t;
    }
  }

  /** Executes a command whose data (if any) is all here, then sends its data and response. */
  private run(sqe: Sqe, data: Buffer | null, length: number): void {
    this.execute(sqe, data, length).then(
      (r) => this.respond(sqe, r.completion, r.data?.subarray(0, length), r.buffer),
      (err) => {
        this.host.log('error', `${this.label}: command 0x${sqe.opcode.toString(16)} failed: ${(err as Error).message}`);
        this.respond(sqe, fail(Sts.InternalError));
      },
    );
  }

  private execute(sqe: Sqe, data: Buffer | null, length: number): Promise<CommandResult> {
    const ctrl = this.ctrl;
    // The hot path first: an I/O command on a connected, enabled I/O queue.
    if (ctrl && this.qid > 0 && sqe.opcode !== AdminOpcode.Fabrics && ctrl.ready) return executeIo(ctrl.subsystem.namespaces, sqe, data, length, this.readBuffers, this.ioFailed);
    return this.executeOther(sqe, data);
  }

  private async executeOther(sqe: Sqe, data: Buffer | null): Promise<CommandResult> {
    if (sqe.opcode === AdminOpcode.Fabrics && sqe.fctype === FabricsType.Connect) return this.connect(sqe, data);
    const ctrl = this.ctrl!;
    if (this.qid === 0) return ctrl.admin(sqe, data);
    if (sqe.opcode === AdminOpcode.Fabrics) {
      // On an I/O queue only Connect, and Disconnect of this queue, are Fabrics commands (§6).
      if (sqe.fctype === FabricsType.Disconnect) {
        setImmediate(() => this.close('Disconnect'));
        return { completion: ok() };
      }
      return { completion: fail(Sts.InvalidCommandOpcode) };
    }
    // An I/O command before CC.EN (or after a reset).
    return { completion: fail(Sts.CommandSequenceError) };
  }

  /** The bdev failed an I/O command: the host gets a status, the log gets the reason. */
  private readonly ioFailed = (err: unknown, sqe: Sqe): void => {
    this.host.log('error', `${this.label}: I/O 0x${sqe.opcode.toString(16)} nsid ${sqe.nsid}: ${(err as Error).message}`);
  };

  /** Fabrics Connect (Base 2.0 §6.3): 1024 bytes of data; binds this queue. */
  private connect(sqe: Sqe, data: Buffer | null): CommandResult {
    if (!data || data.length < 1024) return { completion: fail(Sts.DataSglLengthInvalid) };
    const req = parseConnect(sqe, data);
    const r = this.host.connect(req, this);
    if ('completion' in r) return { completion: r.completion };
    this.ctrl = r.ctrl;
    this.qid = req.qid;
    // A namespace that leaves the subsystem may be closed by its owner: its kept buffers go first.
    const sub = r.ctrl.subsystem;
    this.stopNamespaceChanges = sub.onNamespaceChange(() => this.readBuffers.keepOnly(new Set(sub.namespaces.values())));
    this.sqsize = req.sqsize;
    this.sqhd = 1 % (req.sqsize + 1);
    this.host.log('connect', `${this.label}: host ${req.hostnqn}${this.digests.header || this.digests.data ? `, digests: ${[this.digests.header && 'header', this.digests.data && 'data'].filter(Boolean).join(' and ')}` : ''}`);
    // DW0 15:0: the controller ID.
    return { completion: ok(r.ctrl.cntlid) };
  }

  /**
   * Holds writes back (socket.cork) until the microtasks queued so far have run: the
   * responses of the commands that completed together (one chunk of capsules on a RAM or
   * null bdev, one drain of the runtime's completion ring on an NVMe bdev) leave in one
   * writev, not one system call each (bench/nvmf/cost-host.mjs: a writev per command was
   * half of the target's CPU time at QD32). A microtask, not setImmediate: the runtime's
   * pump drains completions in microtasks while I/O is outstanding, which would hold a
   * setImmediate back.
   */
  private batchWrites(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    queueMicrotask(this.flushWrites);
  }

  private readonly flushWrites = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /**
   * C2HData for the data (if any), then the CapsuleResp. `buffer`, the bdev's memory the
   * data lies in, is released once the socket has written the CapsuleResp (writes complete
   * in order), not before: the kernel may still be reading it until then.
   */
  private respond(sqe: Sqe, completion: Completion, data?: Uint8Array, buffer?: BdevBuffer): void {
    if (this.state === State.Closed) {
      buffer?.release();
      return;
    }
    const s = this.socket;
    this.batchWrites();
    if (data && data.length && completion.status.sc === 0 && completion.status.sct === 0) {
      const step = 128 * 1024;
      for (let at = 0; at < data.length; at += step) {
        const part = data.subarray(at, Math.min(data.length, at + step));
        for (const b of encodeDataPdu(PduType.C2HData, { cccid: sqe.cid, datao: at, last: at + part.length >= data.length }, part, this.digests)) s.write(b);
      }
    }
    const resp = encodeCapsuleResp(encodeCqe(completion, sqe.cid, Math.max(0, this.qid), this.sqhd), this.digests);
    if (buffer) s.write(resp, () => buffer.release());
    else s.write(resp);
  }

  /** Sends a C2HTermReq for a fatal error and closes (§3.6.2.5); only this connection ends. */
  private terminate(err: unknown): void {
    const e = err as VfioError & { details?: PduFaultDetails };
    const fes = e?.code === 'ERR_NVMF_PDU' && e.details ? e.details.fes : FES.InvalidPduHeaderField;
    const fei = e?.details?.fei ?? 0;
    this.host.log('error', `${this.label}: ${e?.message ?? String(err)}; sent C2HTermReq (FES ${fes}, FEI ${fei}) and closed the connection`);
    this.state = State.Closed;
    this.transfers.clear();
    this.socket.end(encodeTermReq(PduType.C2HTermReq, fes, fei, e?.details?.header ?? Buffer.alloc(0)));
    // A host that does not close its side within a second loses the socket anyway.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private closed(): void {
    const wasOpen = this.state !== State.Closed;
    this.state = State.Closed;
    this.transfers.clear();
    this.release();
    const ctrl = this.ctrl;
    if (wasOpen) this.host.log('disconnect', `${this.label}: the host closed the connection`);
    if (!ctrl) return;
    if (this.qid === 0) ctrl.end('the admin queue\'s connection closed');
    else if (ctrl.queues.get(this.qid) === this) ctrl.queues.delete(this.qid);
  }
}
