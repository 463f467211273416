// A controller of the dynamic controller model (NVMe Base 2.0 §3.3.1): created by the
// Connect of an admin queue, it holds the properties (CC, CSTS), the features, the Keep
// Alive timer, the held Asynchronous Event Requests, and the I/O queues that Connect to
// it later. It executes admin commands; io.ts executes I/O commands against its
// subsystem's namespaces.

import type { BdevBuffer } from '@vfio-node/bdev';
import type { Subsystem } from './subsystem.js';
import { activeNamespaceList, CNS, CNTRLTYPE, identifyController, identifyNamespace, namespaceDescriptors } from './identify.js';
import { CHANGED_NS_LIST_MAX, changedNamespaceListLog, discoveryLog, errorInformationLog, firmwareSlotLog, LID, smartHealthLog, type DiscoveryEntry } from './log-pages.js';
import { CC, CSTS, capValue, getField, Property, setField, VS_2_0 } from './properties.js';
import { AdminOpcode, FabricsType, type Sqe } from './sqe.js';
import { fail, ok, Sts, type Completion } from './status.js';

/** What a command produced: its completion, and for a controller-to-host command its data. */
export interface CommandResult {
  completion: Completion;
  data?: Uint8Array;
  /** The bdev's memory `data` lies in: released by the connection once the socket has sent it. */
  buffer?: BdevBuffer;
}

/** A queue bound to a controller (one TCP connection): what the controller may ask of it. */
export interface BoundQueue {
  /** Ends the connection (the association ends, §3.3.2.4). */
  close(reason: string): void;
}

/** Feature Identifiers the target keeps (Base 2.0 Figure "Feature Identifiers"). */
export const FID = {
  VolatileWriteCache: 0x06,
  NumberOfQueues: 0x07,
  AsynchronousEventConfiguration: 0x0b,
  KeepAliveTimer: 0x0f,
} as const;

/** Limits a controller advertises. */
export interface ControllerLimits {
  /** Entries per queue (CAP.MQES + 1). */
  queueEntries: number;
  /** I/O queues a host may have at most. */
  maxIoQueues: number;
  /** MDTS (2^MDTS × 4 KiB per command). */
  mdts: number;
  /** In-capsule data bytes on an I/O queue (IOCCSZ = (64 + this) / 16). */
  ioInCapsule: number;
}

/** The Keep Alive timer's grace: a host sends Keep Alive at half KATO; this much lateness past KATO is tolerated. */
const KATO_GRACE_MS = 2000;
/** AERL + 1: Asynchronous Event Requests held at most. */
const MAX_AER = 4;

/** Asynchronous Event Configuration bit 8: Namespace Attribute Notices enabled (§5.27.1.7). */
const AEC_NS_ATTR = 1 << 8;

/**
 * The AER completion's Dword 0 for a Namespace Attribute Changed notice (§5.2, Figure
 * "Asynchronous Event Request – Completion Queue Entry Dword 0"): Asynchronous Event Type
 * bits 2:0 = 2h (Notice), Asynchronous Event Information bits 15:8 = 00h (Namespace
 * Attribute Changed), Log Page Identifier bits 23:16 = 04h (Changed Namespace List).
 */
const AEN_NS_ATTR_CHANGED = 0x2 | (0x00 << 8) | (LID.ChangedNamespaceList << 16);

/** One controller of a subsystem, for one host. */
export class Controller {
  /** CC as last set by Property Set. */
  cc = 0;
  /** CSTS. */
  csts = 0;
  /** KATO in ms (0: no keep alive), from Connect, changed by Set Features Keep Alive Timer. */
  kato: number;
  /** I/O queues allocated by Set Features Number of Queues (the host may connect qid 1..this). */
  ioQueues: number;
  /** Asynchronous Event Configuration (FID 0Bh). */
  aec = 0;
  /** The admin queue (qid 0) and the I/O queues bound to this controller. */
  readonly queues = new Map<number, BoundQueue>();
  private readonly aers: Array<(r: CommandResult) => void> = [];
  /** NSIDs changed since the host last read the Changed Namespace List (more than 1024: overflowed). */
  private readonly changedNsids = new Set<number>();
  /** A namespace notice is owed to the host (no AER was held when it happened). */
  private noticePending = false;
  /** A namespace notice was sent and the host has not read log page 04h yet: no other until it does (§5.2). */
  private noticeMasked = false;
  private readonly stopNamespaceChanges: () => void;
  /** When the timer last saw activity (ms). */
  private lastActivity = Date.now();
  /** A command arrived since the timer last looked. */
  private active = false;
  private katoTimer: NodeJS.Timeout | null = null;
  private ended = false;

  /**
   * @param subsystem the subsystem it belongs to
   * @param cntlid its controller ID
   * @param hostnqn, hostid the host that connected it
   * @param kato the KATO of the admin queue's Connect, ms
   * @param limits what it advertises
   * @param discoveryEntries the discovery log's entries (a discovery controller), read when the host asks
   * @param onEnd called once when the association ends
   */
  constructor(
    readonly subsystem: Subsystem,
    readonly cntlid: number,
    readonly hostnqn: string,
    readonly hostid: Buffer,
    kato: number,
    readonly limits: ControllerLimits,
    private readonly discoveryEntries: (hostnqn: string) => DiscoveryEntry[],
    private readonly onEnd: (ctrl: Controller, reason: string) => void,
  ) {
    this.kato = kato;
    this.ioQueues = subsystem.discovery ? 0 : limits.maxIoQueues;
    this.stopNamespaceChanges = subsystem.onNamespaceChange((nsid) => this.namespaceChanged(nsid));
    this.armKeepAlive();
  }

  /** True once the controller is enabled and ready (CC.EN = 1, CSTS.RDY = 1). */
  get ready(): boolean {
    return getField(this.csts, CSTS.RDY) === 1;
  }

  /**
   * Any command counts as activity for the Keep Alive timer (a lenient reading of §3.9). A
   * flag, not a clock read: this runs for every command; the timer reads the clock.
   */
  touch(): void {
    this.active = true;
  }

  /** Ends the association: closes every queue's connection, fails nothing silently. Idempotent. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.katoTimer) clearInterval(this.katoTimer);
    this.katoTimer = null;
    this.aers.length = 0;
    this.stopNamespaceChanges();
    for (const q of [...this.queues.values()]) q.close(reason);
    this.queues.clear();
    this.onEnd(this, reason);
  }

  /** Property Get (FCTYPE 04h, §6.4): ATTRIB bits 2:0 size (0: 4 bytes, 1: 8 bytes), OFST at CDW11. */
  propertyGet(sqe: Sqe): CommandResult {
    const size8 = (sqe.b[40]! & 7) === 1;
    const ofst = sqe.cdw(11);
    let v: bigint;
    switch (ofst) {
      case Property.CAP:
        v = capValue(this.limits.queueEntries - 1, 15);
        break;
      case Property.VS:
        v = BigInt(VS_2_0);
        break;
      case Property.CC:
        v = BigInt(this.cc);
        break;
      case Property.CSTS:
        v = BigInt(this.csts);
        break;
      case Property.NSSR:
        v = 0n;
        break;
      default:
        return { completion: fail(Sts.InvalidFieldInCommand) };
    }
    if (ofst === Property.CAP && !size8) return { completion: fail(Sts.InvalidFieldInCommand) };
    return { completion: ok(Number(v & 0xffffffffn), size8 ? Number(v >> 32n) : 0) };
  }

  /**
   * Property Set (FCTYPE 00h, §6.6): only CC is writable. CC.EN 0 to 1 makes the
   * controller ready at once (nothing to initialise: §3.5.1's steps are the host's);
   * 1 to 0 is a Controller Reset (§3.7.2): the I/O queues go away. CC.SHN reports a
   * complete shutdown (CSTS.SHST 10b) at once.
   */
  propertySet(sqe: Sqe): CommandResult {
    const ofst = sqe.cdw(11);
    const value = Number(sqe.b.readBigUInt64LE(48) & 0xffffffffn);
    if (ofst !== Property.CC) return { completion: fail(Sts.InvalidFieldInCommand) };
    const wasEnabled = getField(this.cc, CC.EN) === 1;
    const enable = getField(value, CC.EN) === 1;
    this.cc = value;
    if (enable && !wasEnabled) {
      // IOSQES 6 and IOCQES 4 (64- and 16-byte entries) are the only sizes SQES/CQES allow;
      // a discovery controller has no I/O queues and takes any (§3.1.4.5).
      const sizesOk = this.subsystem.discovery || (getField(value, CC.IOSQES) === 6 && getField(value, CC.IOCQES) === 4);
      const mpsOk = getField(value, CC.MPS) === 0;
      if (!sizesOk || !mpsOk) this.csts = setField(this.csts, CSTS.CFS, 1);
      else this.csts = setField(this.csts, CSTS.RDY, 1);
    } else if (!enable && wasEnabled) {
      this.csts = 0;
      for (const [qid, q] of [...this.queues]) {
        if (qid !== 0) {
          this.queues.delete(qid);
          q.close('controller reset (CC.EN cleared)');
        }
      }
    }
    if (getField(value, CC.SHN) !== 0) this.csts = setField(this.csts, CSTS.SHST, 2);
    return { completion: ok() };
  }

  /** Executes an admin command (after Connect). */
  async admin(sqe: Sqe, data: Buffer | null): Promise<CommandResult> {
    this.touch();
    if (sqe.opcode === AdminOpcode.Fabrics) {
      switch (sqe.fctype) {
        case FabricsType.PropertyGet:
          return this.propertyGet(sqe);
        case FabricsType.PropertySet:
          return this.propertySet(sqe);
        case FabricsType.Disconnect:
          return { completion: ok() };
        default:
          return { completion: fail(Sts.InvalidCommandOpcode) };
      }
    }
    // Until CSTS.RDY, only Fabrics commands (§3.5.1): anything else is a Command Sequence Error.
    if (!this.ready) return { completion: fail(Sts.CommandSequenceError) };
    switch (sqe.opcode) {
      case AdminOpcode.Identify:
        return this.identify(sqe);
      case AdminOpcode.GetLogPage:
        return this.getLogPage(sqe);
      case AdminOpcode.SetFeatures:
        return this.setFeatures(sqe);
      case AdminOpcode.GetFeatures:
        return this.getFeatures(sqe);
      case AdminOpcode.KeepAlive:
        return { completion: ok() };
      case AdminOpcode.Abort:
        // DW0 bit 0 set: the command was not aborted (§5.1); every command here ends on its own.
        return { completion: ok(1) };
      case AdminOpcode.AsynchronousEventRequest:
        if (this.aers.length >= MAX_AER) return { completion: fail(Sts.AsynchronousEventRequestLimitExceeded) };
        // Held until an event: a namespace added or removed (Subsystem.addNamespace/removeNamespace).
        return new Promise((resolve) => {
          this.aers.push(resolve);
          this.sendNotice();
        });
      default:
        return { completion: fail(Sts.InvalidCommandOpcode) };
    }
  }

  /** Identify (06h, §5.17): CNS in CDW10 bits 7:0. */
  private identify(sqe: Sqe): CommandResult {
    const cns = sqe.cdw(10) & 0xff;
    const sub = this.subsystem;
    switch (cns) {
      case CNS.Controller:
        return {
          completion: ok(),
          data: identifyController({
            cntlid: this.cntlid,
            cntrltype: sub.discovery ? CNTRLTYPE.DiscoveryController : CNTRLTYPE.IoController,
            sn: sub.serial,
            mn: sub.model,
            fr: '0.1.0',
            ver: VS_2_0,
            mdts: this.limits.mdts,
            nn: sub.nn,
            // ONCS bit 2 Dataset Management, bit 3 Write Zeroes.
            oncs: sub.discovery ? 0 : (1 << 2) | (1 << 3),
            // VWC bit 0 present; bits 2:1 10b: Flush with NSID FFFFFFFFh is not supported.
            vwc: [...sub.namespaces.values()].some((b) => b.volatileWriteCache) ? 0x05 : 0x00,
            ioccsz: (64 + this.limits.ioInCapsule) / 16,
            iorcsz: 1,
            maxcmd: this.limits.queueEntries,
            kas: 10, // 1 s granularity
            aerl: MAX_AER - 1,
            subnqn: sub.nqn,
          }),
        };
      case CNS.Namespace: {
        if (sub.discovery) return { completion: fail(Sts.InvalidFieldInCommand) };
        const bdev = sub.namespaces.get(sqe.nsid);
        if (!bdev) return { completion: fail(Sts.InvalidNamespaceOrFormat) };
        return { completion: ok(), data: identifyNamespace(bdev, sub.nqn, sqe.nsid) };
      }
      case CNS.ActiveNamespaceIdList:
        // NSID FFFFFFFEh and FFFFFFFFh are invalid here (§5.17.2.2).
        if (sqe.nsid >= 0xfffffffe) return { completion: fail(Sts.InvalidNamespaceOrFormat) };
        return { completion: ok(), data: activeNamespaceList([...sub.namespaces.keys()], sqe.nsid) };
      case CNS.NamespaceIdentificationDescriptorList:
        if (!sub.namespaces.has(sqe.nsid)) return { completion: fail(Sts.InvalidNamespaceOrFormat) };
        return { completion: ok(), data: namespaceDescriptors(sub.nqn, sqe.nsid) };
      default:
        return { completion: fail(Sts.InvalidFieldInCommand) };
    }
  }

  /**
   * Get Log Page (02h, §5.16): LID CDW10 7:0, NUMDL CDW10 31:16 and NUMDU CDW11 15:0 (dwords,
   * 0's based), LPOL/LPOU CDW12/13 (byte offset, a multiple of 4).
   */
  private getLogPage(sqe: Sqe): CommandResult {
    const lid = sqe.cdw(10) & 0xff;
    const dwords = ((sqe.cdw(11) & 0xffff) * 0x10000 + (sqe.cdw(10) >>> 16)) + 1;
    const offset = Number((BigInt(sqe.cdw(13)) << 32n) | BigInt(sqe.cdw(12)));
    if (offset % 4 !== 0) return { completion: fail(Sts.InvalidFieldInCommand) };
    let page: Buffer;
    if (this.subsystem.discovery) {
      if (lid !== LID.Discovery) return { completion: fail(Sts.InvalidLogPage) };
      page = discoveryLog(this.discoveryEntries(this.hostnqn), 1n);
    } else if (lid === LID.ErrorInformation) page = errorInformationLog();
    else if (lid === LID.SmartHealthInformation) page = smartHealthLog();
    else if (lid === LID.FirmwareSlotInformation) page = firmwareSlotLog('0.1.0');
    else if (lid === LID.ChangedNamespaceList) {
      page = changedNamespaceListLog(this.changedNsids);
      // Reading it clears it and unmasks the notice, unless Retain Asynchronous Event (CDW10
      // bit 15); the host has now seen every change, so no notice is owed for them.
      if (!(sqe.cdw(10) & (1 << 15))) {
        this.changedNsids.clear();
        this.noticeMasked = false;
        this.noticePending = false;
      }
    }    else return { completion: fail(Sts.InvalidLogPage) };
    if (offset > page.length) return { completion: fail(Sts.InvalidFieldInCommand) };
    // Bytes past the end of the page read as zeroes.
    const out = Buffer.alloc(dwords * 4);
    page.copy(out, 0, offset, Math.min(page.length, offset + out.length));
    return { completion: ok(), data: out };
  }

  /** Set Features (09h, §5.27): FID CDW10 7:0, SV bit 31 (nothing here is saveable). */
  private setFeatures(sqe: Sqe): CommandResult {
    const fid = sqe.cdw(10) & 0xff;
    if (sqe.cdw(10) & 0x80000000) return { completion: fail(Sts.FeatureIdentifierNotSaveable) };
    const v = sqe.cdw(11);
    switch (fid) {
      case FID.NumberOfQueues: {
        if (this.subsystem.discovery) return { completion: fail(Sts.InvalidFieldInCommand) };
        // NSQR 15:0 and NCQR 31:16, 0's based; FFFFh is invalid (§5.27.1.5).
        const nsqr = v & 0xffff;
        const ncqr = v >>> 16;
        if (nsqr === 0xffff || ncqr === 0xffff) return { completion: fail(Sts.InvalidFieldInCommand) };
        this.ioQueues = Math.min(this.limits.maxIoQueues, Math.min(nsqr, ncqr) + 1);
        const a = this.ioQueues - 1;
        return { completion: ok(a | (a << 16)) };
      }
      case FID.KeepAliveTimer:
        this.kato = v;
        this.armKeepAlive();
        return { completion: ok() };
      case FID.AsynchronousEventConfiguration:
        this.aec = v;
        return { completion: ok() };
      default:
        return { completion: fail(Sts.InvalidFieldInCommand) };
    }
  }

  /** Get Features (0Ah, §5.15): current values only (SEL 000b; the others read the same). */
  private getFeatures(sqe: Sqe): CommandResult {
    const fid = sqe.cdw(10) & 0xff;
    switch (fid) {
      case FID.NumberOfQueues: {
        const a = Math.max(0, this.ioQueues - 1);
        return { completion: ok(a | (a << 16)) };
      }
      case FID.KeepAliveTimer:
        return { completion: ok(this.kato) };
      case FID.AsynchronousEventConfiguration:
        return { completion: ok(this.aec) };
      case FID.VolatileWriteCache:
        return { completion: ok([...this.subsystem.namespaces.values()].some((b) => b.volatileWriteCache) ? 1 : 0) };
      default:
        return { completion: fail(Sts.InvalidFieldInCommand) };
    }
  }

  /**
   * A namespace of the subsystem was added or removed: it goes into the Changed Namespace
   * List, and a notice to the host when it enabled them (Set Features AEC bit 8).
   */
  private namespaceChanged(nsid: number): void {
    if (this.changedNsids.size <= CHANGED_NS_LIST_MAX) this.changedNsids.add(nsid);
    if (this.aec & AEC_NS_ATTR) {
      this.noticePending = true;
      this.sendNotice();
    }
  }

  /** Completes a held AER with the owed notice, when one is owed, not masked, and an AER is held. */
  private sendNotice(): void {
    if (!this.noticePending || this.noticeMasked || this.ended) return;
    const resolve = this.aers.shift();
    if (!resolve) return;
    this.noticePending = false;
    this.noticeMasked = true;
    resolve({ completion: ok(AEN_NS_ATTR_CHANGED) });
  }

  /**
   * The Keep Alive timer (§3.9): when no command arrived for KATO (plus a grace), the
   * controller ends the association, as for a host that vanished.
   */
  private armKeepAlive(): void {
    if (this.katoTimer) clearInterval(this.katoTimer);
    this.katoTimer = null;
    if (!this.kato) return;
    const limit = this.kato + KATO_GRACE_MS;
    this.katoTimer = setInterval(() => {
      const now = Date.now();
      if (this.active) {
        this.active = false;
        this.lastActivity = now;
      } else if (now - this.lastActivity > limit) this.end(`Keep Alive timeout (KATO ${this.kato} ms)`);
    }, Math.max(250, Math.min(this.kato, 5000)));
    this.katoTimer.unref();
  }
}
