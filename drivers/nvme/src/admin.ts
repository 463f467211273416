// Admin commands, each a promise over the admin queue pair (qid 0).
// NVM Express Base Specification 2.0, chapter 5 "Admin Command Set": Identify, Get and
// Set Features, Create/Delete I/O Completion and Submission Queue, Get Log Page, Abort,
// Asynchronous Event Request, Doorbell Buffer Config, Format NVM.
//
// Data goes through a DMA buffer of one page per command (allocated and released on
// the admin path, which is not a hot path); results are copied out.

import type { DmaAllocator, DmaMemory } from '@vfio-node/core';
import { CommandQueue, newPending } from './command-queue.js';
import {
  AdminOpcode, Cns, FeatureId, LogId, sqeAbort, sqeAsyncEventRequest, sqeCreateIoCq, sqeCreateIoSq, sqeDeleteIoQueue, sqeDoorbellBufferConfig,
  sqeFormatNvm, sqeGetFeatures, sqeGetLogPage, sqeIdentify, sqeSetFeatures,
} from './commands.js';
import {
  ERROR_LOG_ENTRY_SIZE, FIRMWARE_SLOT_LOG_SIZE, IDENTIFY_SIZE, SMART_LOG_SIZE, parseActiveNamespaceList, parseErrorLog, parseFirmwareSlotLog,
  parseIdentifyController, parseIdentifyNamespace, parseNamespaceDescriptors, parseSmartLog,
  type ErrorLogEntry, type FirmwareSlotLog, type IdentifyController, type IdentifyNamespace, type NamespaceDescriptor, type SmartLog,
} from './identify.js';
import { runPassthru, type PassthruCommand, type PassthruResult } from './passthru.js';
import { setPrps } from './prp.js';

type Fill = (u32: Uint32Array, sqe: number, cid: number) => void;

/** Get Features SEL values. */
export const Sel = { Current: 0, Default: 1, Saved: 2, SupportedCapabilities: 3 } as const;

/** An asynchronous event (completion DW0 of Asynchronous Event Request). */
export interface AsyncEvent {
  /** Asynchronous Event Type (bits 2:0): 0 error, 1 SMART/health, 2 notice, 6 I/O command set specific, 7 vendor. */
  type: number;
  /** Asynchronous Event Information (bits 15:8). */
  info: number;
  /** Log Page Identifier to read to clear the event (bits 23:16). */
  logPage: number;
}

/**
 * Admin commands (NVM Express Base 2.0, chapter 5), each a promise over the admin queue pair: Identify, Get/Set
 * Features, queue creation and deletion, Get Log Page, Abort, Format NVM.
 */
export class AdminCommands {
  constructor(
    readonly queue: CommandQueue,
    private readonly dma: DmaAllocator,
    private readonly pageSize: number,
    /** The controller's transfer limit (from MDTS, known once Identify Controller has run). */
    private readonly maxTransfer: () => number = () => 2 * pageSize,
  ) {}

  /** Runs one admin command; resolves with DW0 of its completion. */
  run(name: string, fill: Fill, background = false): Promise<number> {
    const p = newPending();
    p.fill = fill;
    p.name = name;
    p.background = background;
    return this.queue.run(p);
  }

  /** Runs one admin command that transfers `size` bytes through a fresh DMA buffer; resolves with a copy of the data. */
  private async withData(name: string, size: number, fill: (u32: Uint32Array, sqe: number, cid: number, mem: DmaMemory) => void, input?: Uint8Array): Promise<Uint8Array> {
    const mem = this.dma.alloc(size, { align: this.pageSize, internal: true });
    try {
      if (input) mem.bytes.set(input);
      const iova = Number(mem.iova);
      await this.run(name, (u32, sqe, cid) => {
        fill(u32, sqe, cid, mem);
        setPrps(u32, sqe, iova, size, this.pageSize, this.queue.qp.prpList(cid));
      });
      return mem.bytes.slice();
    } finally {
      mem.release();
    }
  }

  // ---- Identify --------------------------------------------------------------------

  /** Identify with a CNS value; resolves with the 4096-byte data structure. */
  identify(cns: number, nsid = 0, cntid = 0, csi = 0): Promise<Uint8Array> {
    return this.withData(`Identify (CNS ${cns.toString(16).padStart(2, '0')}h)`, IDENTIFY_SIZE, (u32, sqe, cid) => sqeIdentify(u32, sqe, cid, cns, nsid, cntid, csi));
  }

  /** Identify Controller (CNS 01h), parsed. */
  async identifyController(): Promise<IdentifyController> {
    return parseIdentifyController(await this.identify(Cns.Controller));
  }

  /** Identify Namespace (CNS 00h) of nsid, parsed. */
  async identifyNamespace(nsid: number): Promise<IdentifyNamespace> {
    return parseIdentifyNamespace(await this.identify(Cns.Namespace, nsid));
  }

  /** Active namespace IDs greater than `after` (up to 1024 per call). */
  async activeNamespaces(after = 0): Promise<number[]> {
    return parseActiveNamespaceList(await this.identify(Cns.ActiveNamespaceIdList, after));
  }

  /** The Namespace Identification Descriptor list (CNS 03h) of nsid: EUI-64, NGUID, UUID, command set. */
  async namespaceDescriptors(nsid: number): Promise<NamespaceDescriptor[]> {
    return parseNamespaceDescriptors(await this.identify(Cns.NamespaceIdentificationDescriptorList, nsid));
  }

  // ---- Features --------------------------------------------------------------------

  /** Get Features; resolves with completion DW0 (the feature's value). */
  getFeatures(fid: number, options: { sel?: number; nsid?: number; cdw11?: number } = {}): Promise<number> {
    return this.run(`Get Features (FID ${fid.toString(16).padStart(2, '0')}h)`, (u32, sqe, cid) => sqeGetFeatures(u32, sqe, cid, fid, options.sel ?? Sel.Current, options.nsid ?? 0, options.cdw11 ?? 0));
  }

  /** Set Features with the value in CDW11; resolves with completion DW0. */
  setFeatures(fid: number, cdw11: number, options: { save?: boolean; nsid?: number } = {}): Promise<number> {
    return this.run(`Set Features (FID ${fid.toString(16).padStart(2, '0')}h)`, (u32, sqe, cid) => sqeSetFeatures(u32, sqe, cid, fid, cdw11, options.save ?? false, options.nsid ?? 0));
  }

  /**
   * Set Features – Number of Queues (07h): asks for nsq submission and ncq completion
   * queues (I/O queues, not counting the admin pair). Resolves with the numbers allocated
   * (NSQA/NCQA in DW0, 0's based), which may be fewer or more than asked.
   */
  async setNumberOfQueues(nsq: number, ncq: number): Promise<{ nsqa: number; ncqa: number }> {
    const dw0 = await this.setFeatures(FeatureId.NumberOfQueues, (((ncq - 1) & 0xffff) << 16) | ((nsq - 1) & 0xffff));
    return { nsqa: (dw0 & 0xffff) + 1, ncqa: (dw0 >>> 16) + 1 };
  }

  /** Interrupt Coalescing (08h): THR (aggregation threshold, 0's based) and TIME (100 µs units). */
  async getInterruptCoalescing(): Promise<{ thr: number; time: number }> {
    const dw0 = await this.getFeatures(FeatureId.InterruptCoalescing);
    return { thr: dw0 & 0xff, time: (dw0 >>> 8) & 0xff };
  }
  /** Sets Interrupt Coalescing (08h): THR (aggregation threshold, 0's based) and TIME (100 µs units). */
  setInterruptCoalescing(thr: number, time: number): Promise<number> {
    return this.setFeatures(FeatureId.InterruptCoalescing, (thr & 0xff) | ((time & 0xff) << 8));
  }

  /** Volatile Write Cache (06h): WCE bit 0. */
  async getVolatileWriteCache(): Promise<boolean> {
    return ((await this.getFeatures(FeatureId.VolatileWriteCache)) & 1) === 1;
  }
  /** Turns the Volatile Write Cache (06h) on or off. */
  setVolatileWriteCache(enable: boolean): Promise<number> {
    return this.setFeatures(FeatureId.VolatileWriteCache, enable ? 1 : 0);
  }

  /** Arbitration (01h): AB (burst, log2) bits 2:0, LPW 15:8, MPW 23:16, HPW 31:24. */
  async getArbitration(): Promise<{ ab: number; lpw: number; mpw: number; hpw: number }> {
    const d = await this.getFeatures(FeatureId.Arbitration);
    return { ab: d & 7, lpw: (d >>> 8) & 0xff, mpw: (d >>> 16) & 0xff, hpw: d >>> 24 };
  }
  /** Sets Arbitration (01h): AB (burst, log2) and the low, medium and high priority weights. */
  setArbitration(ab: number, lpw = 0, mpw = 0, hpw = 0): Promise<number> {
    return this.setFeatures(FeatureId.Arbitration, ((ab & 7) | ((lpw & 0xff) << 8) | ((mpw & 0xff) << 16) | ((hpw & 0xff) << 24)) >>> 0);
  }

  /** Timestamp (0Eh): milliseconds since the epoch, in an 8-byte data structure (bytes 5:0). */
  async getTimestamp(): Promise<number> {
    const data = await this.withData('Get Features (Timestamp)', 8, (u32, sqe, cid) => sqeGetFeatures(u32, sqe, cid, FeatureId.Timestamp));
    const v = new DataView(data.buffer, data.byteOffset, 8);
    return v.getUint32(0, true) + v.getUint16(4, true) * 0x1_0000_0000;
  }
  /** Sets Timestamp (0Eh) to ms milliseconds since the epoch (default now). */
  async setTimestamp(ms = Date.now()): Promise<void> {
    const data = new Uint8Array(8);
    const v = new DataView(data.buffer);
    v.setUint32(0, ms % 0x1_0000_0000, true);
    v.setUint16(4, Math.floor(ms / 0x1_0000_0000), true);
    await this.withData('Set Features (Timestamp)', 8, (u32, sqe, cid) => sqeSetFeatures(u32, sqe, cid, FeatureId.Timestamp, 0), data);
  }

  // ---- Queues ------------------------------------------------------------------------

  /** Create I/O Completion Queue: physically contiguous, interrupts on vector iv (or none when iv is null). */
  createIoCq(qid: number, entries: number, iova: number, iv: number | null): Promise<number> {
    return this.run(`Create I/O Completion Queue ${qid}`, (u32, sqe, cid) => sqeCreateIoCq(u32, sqe, cid, qid, entries, iova, iv));
  }

  /** Create I/O Submission Queue bound to completion queue cqid. */
  createIoSq(qid: number, entries: number, iova: number, cqid: number): Promise<number> {
    return this.run(`Create I/O Submission Queue ${qid}`, (u32, sqe, cid) => sqeCreateIoSq(u32, sqe, cid, qid, entries, iova, cqid));
  }

  /** Delete I/O Submission Queue qid (the controller aborts the commands still in it). */
  deleteIoSq(qid: number): Promise<number> {
    return this.run(`Delete I/O Submission Queue ${qid}`, (u32, sqe, cid) => sqeDeleteIoQueue(u32, sqe, cid, AdminOpcode.DeleteIoSubmissionQueue, qid));
  }

  /** Delete I/O Completion Queue qid (its submission queues must be deleted first). */
  deleteIoCq(qid: number): Promise<number> {
    return this.run(`Delete I/O Completion Queue ${qid}`, (u32, sqe, cid) => sqeDeleteIoQueue(u32, sqe, cid, AdminOpcode.DeleteIoCompletionQueue, qid));
  }

  /** Delete I/O Submission Queue qid, synchronously (closeSync() at process exit). */
  deleteIoSqSync(qid: number, timeoutMs: number): void {
    this.queue.runSync((u32, sqe, cid) => sqeDeleteIoQueue(u32, sqe, cid, AdminOpcode.DeleteIoSubmissionQueue, qid), `Delete I/O Submission Queue ${qid}`, timeoutMs);
  }

  /** Delete I/O Completion Queue qid, synchronously (its submission queues deleted first). */
  deleteIoCqSync(qid: number, timeoutMs: number): void {
    this.queue.runSync((u32, sqe, cid) => sqeDeleteIoQueue(u32, sqe, cid, AdminOpcode.DeleteIoCompletionQueue, qid), `Delete I/O Completion Queue ${qid}`, timeoutMs);
  }

  // ---- Log pages ---------------------------------------------------------------------

  /** Get Log Page: `bytes` (a multiple of 4) of log `lid` from byte `offset`. */
  getLogPage(lid: number, bytes: number, options: { nsid?: number; offset?: number; rae?: boolean } = {}): Promise<Uint8Array> {
    return this.withData(`Get Log Page (LID ${lid.toString(16).padStart(2, '0')}h)`, bytes, (u32, sqe, cid) =>
      sqeGetLogPage(u32, sqe, cid, lid, bytes, options.offset ?? 0, options.nsid ?? 0xffffffff, options.rae ?? false),
    );
  }

  /** Error Information log: up to `entries` (ELPE + 1 at most) non-empty entries, newest first. */
  async errorLog(entries = 16): Promise<ErrorLogEntry[]> {
    return parseErrorLog(await this.getLogPage(LogId.ErrorInformation, entries * ERROR_LOG_ENTRY_SIZE));
  }

  /** SMART / Health Information log, for the controller (nsid FFFFFFFFh) or one namespace. */
  async smartLog(nsid = 0xffffffff): Promise<SmartLog> {
    return parseSmartLog(await this.getLogPage(LogId.SmartHealthInformation, SMART_LOG_SIZE, { nsid }));
  }

  /** The Firmware Slot Information log (03h): the active slot and each slot's firmware revision. */
  async firmwareSlotLog(): Promise<FirmwareSlotLog> {
    return parseFirmwareSlotLog(await this.getLogPage(LogId.FirmwareSlotInformation, FIRMWARE_SLOT_LOG_SIZE));
  }

  // ---- Others ------------------------------------------------------------------------

  /** Abort the command `cid` of submission queue `sqid`. Resolves true when DW0 bit 0 says it was aborted. */
  async abort(sqid: number, cid: number): Promise<boolean> {
    const dw0 = await this.run(`Abort (SQ ${sqid} CID ${cid})`, (u32, sqe, c) => sqeAbort(u32, sqe, c, sqid, cid));
    return (dw0 & 1) === 0; // bit 0 set: the command was not aborted
  }

  /** Asynchronous Event Request: resolves when the controller reports an event (it may never). */
  async asyncEventRequest(): Promise<AsyncEvent> {
    const dw0 = await this.run('Asynchronous Event Request', (u32, sqe, cid) => sqeAsyncEventRequest(u32, sqe, cid), true);
    return { type: dw0 & 7, info: (dw0 >>> 8) & 0xff, logPage: (dw0 >>> 16) & 0xff };
  }

  /** Doorbell Buffer Config: shadow doorbell and EventIdx buffers (one page each). Needs OACS bit 8. */
  doorbellBufferConfig(shadowIova: number, eventIdxIova: number): Promise<number> {
    return this.run('Doorbell Buffer Config', (u32, sqe, cid) => sqeDoorbellBufferConfig(u32, sqe, cid, shadowIova, eventIdxIova));
  }

  /**
   * Any admin command, as the caller builds it (see PassthruCommand). Refuses the commands
   * the driver manages itself (Create/Delete I/O queues, Abort, Asynchronous Event Request,
   * Doorbell Buffer Config) with ERR_NVME_PASSTHRU_MANAGED_OPCODE.
   * @returns completion DW0 and DW1, and the data
   * @throws ERR_NVME_PASSTHRU_INVALID, ERR_NVME_PASSTHRU_DIRECTION, ERR_NVME_TRANSFER_TOO_LARGE, ERR_NVME_BUFFER_NOT_DMA, NvmeStatusError
   */
  passthru(command: PassthruCommand): Promise<PassthruResult> {
    return runPassthru({ queue: this.queue, dma: this.dma, pageSize: this.pageSize, maxTransfer: this.maxTransfer(), admin: true }, command);
  }

  /** Format NVM: erases the namespace and switches it to LBA format lbaf (SES 1: user data erase). */
  formatNvm(nsid: number, lbaf: number, ses = 0): Promise<number> {
    return this.run(`Format NVM (nsid ${nsid}, LBAF ${lbaf})`, (u32, sqe, cid) => sqeFormatNvm(u32, sqe, cid, nsid, lbaf, ses));
  }
}

