// Bringing a controller up, as NVM Express Base Specification 2.0 §3.5.1 ("Memory-based
// Controller Initialization (PCIe)") numbers the steps; drivers/nvme/README.md's "The
// bring-up" uses the same numbers. Steps 1-6 (enableController) are also the restart half
// of a controller reset (recovery.ts). An optional observer hears each step with what the
// driver wrote and what the controller answered (`vfio-node nvme bringup --explain`);
// without one, no text is built.

import { AdminCommands } from './admin.js';
import { CommandQueue } from './command-queue.js';
import { SQES_LOG2 } from './commands.js';
import type { NvmeController } from './controller.js';
import { decodeAqa, decodeCc, decodeCsts } from './decode.js';
import { controllerFatal, deviceGone, entrySizeUnsupported, noIoQueues, noVector, readyTimeout, sglUnsupported } from './errors.js';
import { Namespace } from './namespace.js';
import { QueuePair, type CompletionMode } from './queue.js';
import { AQA, CC, CC_AMS_RR, CC_CSS_NVM, CSTS, Register, formatVersion, getField, setField } from './registers.js';
import { ShadowDoorbellBuffer } from './shadow-doorbells.js';
import { CQES_LOG2, NvmeStatusError } from './status.js';

/** The largest transfer per command we allow when MDTS says "no limit" (bounds the PRP list memory per CID). */
export const MAX_TRANSFER_CAP = 2 * 1024 * 1024;

/**
 * One step of the bring-up, as an observer hears it (NvmeControllerOptions.bringupObserver):
 * the step's number in Base 2.0 §3.5.1 (0: reading CAP and VS, before step 1; a step
 * the specification does not number, such as Doorbell Buffer Config, carries the number
 * of the step it follows and `extra`), what the driver wrote and what the controller
 * answered, each decoded.
 */
export interface BringupStep {
  /** The step's number in §3.5.1; 0 before step 1. */
  step: number;
  /** A step of the driver's own between two of the specification's (not numbered by it). */
  extra?: string;
  /** What the driver wrote or sent: `CC = 0x460001 (EN=1 ...)`, a command. */
  wrote: string[];
  /** What the controller answered: a register read back, decoded; a command's data. */
  answered: string[];
}

/** Told of each bring-up step once it is done; the bring-up waits for the promise it returns (a CLI pausing between steps). */
export type BringupObserver = (step: BringupStep) => void | Promise<void>;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * Brings the controller up (§3.5.1 steps 1-11; step 12, the Asynchronous Event Requests,
 * waits for the first 'asyncEvent' listener). CAP and VS were read by the constructor.
 */
export async function bringUp(c: NvmeController, observe: BringupObserver | null): Promise<void> {
  const o = c.options;
  if (observe) {
    const cap = c.cap;
    await observe({
      step: 0,
      wrote: [],
      answered: [
        `CAP = ${hex(c.capRaw)} (MQES=${cap.maxQueueEntries - 1}: up to ${cap.maxQueueEntries} entries per queue, DSTRD=${cap.dstrd}: doorbells ${4 << cap.dstrd} bytes apart, TO=${cap.timeoutMs / 500}: ${cap.timeoutMs} ms to become ready, CSS NVM=${cap.nvmCommandSet ? 1 : 0}, MPSMIN ${cap.mpsMinBytes} B, MPSMAX ${cap.mpsMaxBytes} B)`,
        `VS = ${hex(c.vs)} (NVMe ${formatVersion(c.vs)})`,
      ],
    });
  }
  // The controller reads queues and data from our memory: allow it to master the bus.
  c.startDma();

  // Admin queue memory (allocated before the reset so that a failure leaves nothing half done).
  c.adminQp = new QueuePair({
    qid: 0, depth: o.adminQueueDepth, dstrd: c.cap.dstrd, pageSize: c.pageSize, maxTransfer: 2 * c.pageSize,
    dma: c.device.dma, bar: c.bar, completion: 'poll', tracer: c.tracer, traceWho: c.address,
  });
  c.adminQueue = new CommandQueue(c.adminQp, c.address);
  c.admin = new AdminCommands(c.adminQueue, c.device.dma, c.pageSize, () => c.maxTransfer);

  // Interrupt mode: MSI-X on before CC.EN = 1 (step 5). QEMU 7.2's controller ties vector 0
  // to the admin CQ only if MSI-X is on when CC.EN creates that CQ: enabled at step 9, the
  // admin CQ's interrupts would never come (the admin queue still polls until step 9).
  if (o.completion === 'interrupt') enableVectors(c);

  await enableController(c, observe);

  // Step 7: Identify Controller (CNS 01h): what the controller can do.
  c.identify = await c.admin.identifyController();
  const id = c.identify;
  if ((id.sqes & 0xf) > SQES_LOG2 || (id.sqes >> 4) < SQES_LOG2 || (id.cqes & 0xf) > CQES_LOG2 || (id.cqes >> 4) < CQES_LOG2) {
    throw entrySizeUnsupported(c.address, id.sqes, id.cqes);
  }
  // MDTS is a power of two in units of CAP.MPSMIN; 0 means no limit (we cap it ourselves).
  if (id.mdts > 0) c.maxTransfer = Math.min(MAX_TRANSFER_CAP, 2 ** id.mdts * c.cap.mpsMinBytes);
  if (o.sgl && (id.sgls & 3) === 0) throw sglUnsupported(c.address, id.sgls);
  c.log.info({ sn: id.sn, mn: id.mn, fr: id.fr, mdts: id.mdts, nn: id.nn, oncs: id.oncs }, 'Identify Controller');
  if (observe) {
    await observe({
      step: 7,
      wrote: ['Identify, CNS 01h (Identify Controller), 4096 bytes into a DMA page'],
      answered: [
        `MN (model) '${id.mn}', SN (serial) '${id.sn}', FR (firmware) '${id.fr}'`,
        `MDTS=${id.mdts} (largest transfer ${c.maxTransfer} bytes), NN=${id.nn} namespaces at most, SQES=${id.sqes.toString(16)}h CQES=${id.cqes.toString(16)}h, ONCS=${hex(id.oncs)}, SGLS=${hex(id.sgls)}, OACS=${hex(id.oacs)}`,
      ],
    });
  }

  // Step 8: the command set's configuration: the active namespaces (CNS 02h), and Identify
  // Namespace (CNS 00h) for each (CC.CSS = 000b, the NVM command set: its own CNS values).
  c.namespaceIds = await c.admin.activeNamespaces();
  for (const nsid of c.namespaceIds) {
    const info = await c.admin.identifyNamespace(nsid);
    c.namespaces.set(nsid, new Namespace(c, nsid, info));
  }
  if (observe) {
    await observe({
      step: 8,
      wrote: ['Identify, CNS 02h (Active Namespace ID list)', ...c.namespaceIds.map((n) => `Identify, CNS 00h (Identify Namespace), NSID ${n}`)],
      answered: [
        `active namespaces: ${c.namespaceIds.join(', ') || 'none'}`,
        ...[...c.namespaces.values()].map((ns) => `namespace ${ns.nsid}: NSZE ${ns.blocks} blocks of ${ns.blockSize} bytes`),
      ],
    });
  }

  // Step 9: Set Features – Number of Queues (the controller may grant fewer than asked),
  // then the interrupt registers: MSI-X, vector 0 for the admin CQ, vector q for I/O CQ q.
  c.queuesAllocated = await c.admin.setNumberOfQueues(o.maxIoQueues, o.maxIoQueues);
  const n = Math.min(o.ioQueues, c.queuesAllocated.nsqa, c.queuesAllocated.ncqa);
  if (n < 1) throw noIoQueues(c.address, `${c.address} granted no I/O queues`);
  const msix = c.device.irq.info('msix').count;
  if (c.vectors.length === 0) enableVectors(c);
  // Interrupt mode: from here the admin queue learns of its completions from vector 0 too
  // (with a slow safety poll that goes back to polling if they never come).
  if (o.completion === 'interrupt' && c.vectors[0]) {
    c.adminQueue.onInterruptsLost = () => c.log.warn('no MSI-X interrupts for the admin CQ (vector 0): polling it');
    c.adminQueue.listenTo(c.vectors[0]);
  }
  if (observe) {
    await observe({
      step: 9,
      wrote: [`Set Features, FID 07h (Number of Queues): NSQR=${o.maxIoQueues - 1} NCQR=${o.maxIoQueues - 1} (0's based: ${o.maxIoQueues} of each)`, `MSI-X: ${c.vectors.length} of the function's ${msix} vectors enabled`],
      answered: [`granted: ${c.queuesAllocated.nsqa} submission and ${c.queuesAllocated.ncqa} completion queues`],
    });
  }

  // Not a §3.5.1 step: shadow doorbells, before any I/O queue exists (each queue starts at 0 in them).
  await configureShadowDoorbells(c);
  if (observe) {
    await observe({
      step: 9,
      extra: 'Doorbell Buffer Config (Base 2.0 §5.8; OACS bit 8), before any I/O queue exists',
      wrote: c.shadowBuffer ? [`Doorbell Buffer Config: shadow doorbells at IOVA ${hex(c.shadowBuffer.shadowIova)}, EventIdx at ${hex(c.shadowBuffer.eventIdxIova)}`] : [],
      answered: [c.shadowBuffer ? 'accepted: the I/O queues\' doorbells are read from memory' : `not used (${c.options.shadowDoorbells ? 'the controller lacks it or refused it' : 'the shadowDoorbells option is off'}): doorbell registers only`],
    });
  }

  // Steps 10-11: Create I/O Completion Queue, then the I/O Submission Queue bound to it,
  // for each pair (createPair issues both: step 10's command, then step 11's).
  for (let q = 1; q <= n; q++) {
    const qp = await createPair(c, q, o.queueDepth, o.completion);
    c.pairs.push({ qp, queue: c.promiseLayer(qp) });
  }
  if (observe) {
    const pairs = c.pairs.map((p) => p.qp);
    await observe({
      step: 10,
      wrote: pairs.map((qp) => `Create I/O Completion Queue: QID ${qp.qid}, QSIZE ${qp.depth - 1} (${qp.depth} entries), PRP1 ${hex(qp.cqIova)}, ${qp.completion === 'interrupt' ? `IEN=1 IV=${qp.qid}` : 'IEN=0 (polled)'}`),
      answered: pairs.map((qp) => `I/O CQ ${qp.qid} created`),
    });
    await observe({
      step: 11,
      wrote: pairs.map((qp) => `Create I/O Submission Queue: QID ${qp.qid}, QSIZE ${qp.depth - 1}, PRP1 ${hex(qp.sqIova)}, CQID ${qp.qid}`),
      answered: pairs.map((qp) => `I/O SQ ${qp.qid} created: I/O queue pair ${qp.qid} ready`),
    });
    await observe({
      step: 12,
      wrote: [],
      answered: ['not sent now: the driver sends the Asynchronous Event Request once something listens (controller.onAsyncEvent)'],
    });
  }
}

/**
 * Steps 1-6: disables the controller if needed, programs the admin queue and CC, enables
 * it and waits until it is ready. Also the restart half of a controller reset.
 */
export async function enableController(c: NvmeController, observe: BringupObserver | null = null): Promise<void> {
  // Step 1: a previous owner (a crashed process) may have left the controller enabled:
  // CC.EN = 0 resets it (§3.7.2 Controller Reset); then wait for CSTS.RDY = 0.
  const cc0 = c.bar.read32(Register.CC);
  const wasEnabled = getField(cc0, CC.EN) === 1;
  if (wasEnabled) {
    c.log.warn('controller was left enabled (a previous user did not shut it down): resetting it');
    c.bar.write32(Register.CC, setField(cc0, CC.EN, 0));
  }
  const csts0 = await waitReady(c, 0);
  if (observe) {
    await observe({
      step: 1,
      wrote: wasEnabled ? [`CC = ${hex(setField(cc0, CC.EN, 0))} (${decodeCc(setField(cc0, CC.EN, 0))}): CC.EN 1 → 0 resets the controller`] : [`nothing: CC read ${hex(cc0)} (${decodeCc(cc0)}), already disabled`],
      answered: [`CSTS = ${hex(csts0)} (${decodeCsts(csts0)})`],
    });
  }

  // Step 2: the admin queue: sizes (0's based) in AQA, base addresses in ASQ and ACQ.
  const depth = c.adminQp.depth;
  const aqa = setField(setField(0, AQA.ASQS, depth - 1), AQA.ACQS, depth - 1);
  c.bar.write32(Register.AQA, aqa);
  c.bar.write64(Register.ASQ, BigInt(c.adminQp.sqIova));
  c.bar.write64(Register.ACQ, BigInt(c.adminQp.cqIova));
  if (observe) {
    await observe({
      step: 2,
      wrote: [`AQA = ${hex(aqa)} (${decodeAqa(aqa)})`, `ASQ = ${hex(c.adminQp.sqIova)} (the admin SQ: ${depth} × 64 bytes)`, `ACQ = ${hex(c.adminQp.cqIova)} (the admin CQ: ${depth} × 16 bytes)`],
      answered: [
        `AQA reads ${hex(c.bar.read32(Register.AQA))}, ASQ ${hex(c.bar.read64(Register.ASQ))}, ACQ ${hex(c.bar.read64(Register.ACQ))}`,
      ],
    });
  }

  // Step 3: the I/O command set, from CAP.CSS: the NVM command set (CAP.CSS bit 0), 000b.
  // Step 4: the other settings: round robin arbitration, the memory page size, and the I/O
  // entry sizes (64-byte SQEs, 16-byte CQEs) that creating I/O queues needs later.
  let cc = 0;
  cc = setField(cc, CC.CSS, CC_CSS_NVM);
  cc = setField(cc, CC.MPS, Math.log2(c.pageSize) - 12);
  cc = setField(cc, CC.AMS, CC_AMS_RR);
  cc = setField(cc, CC.IOSQES, SQES_LOG2);
  cc = setField(cc, CC.IOCQES, CQES_LOG2);
  c.bar.write32(Register.CC, cc);
  if (observe) {
    await observe({ step: 3, wrote: [`CC.CSS = 000b (the NVM command set; CAP.CSS bit 0 = ${c.cap.nvmCommandSet ? 1 : 0})`], answered: [] });
    await observe({ step: 4, wrote: [`CC = ${hex(cc)} (${decodeCc(cc)})`], answered: [`CC reads ${hex(c.bar.read32(Register.CC))}`] });
  }
  // Step 5: CC.EN = 1.
  const ccEn = setField(cc, CC.EN, 1);
  c.bar.write32(Register.CC, ccEn);
  if (observe) await observe({ step: 5, wrote: [`CC = ${hex(ccEn)} (${decodeCc(ccEn)})`], answered: [] });
  // Step 6: wait for CSTS.RDY = 1, within CAP.TO.
  const csts1 = await waitReady(c, 1);
  if (observe) await observe({ step: 6, wrote: [], answered: [`CSTS = ${hex(csts1)} (${decodeCsts(csts1)})`] });
}

/**
 * Waits for CSTS.RDY to equal rdy within CAP.TO × 500 ms, checking for a vanished device
 * at every read, and for CSTS.CFS while enabling (a reset, RDY → 0, is how a host
 * recovers from CFS, so it does not stop there). Returns the last CSTS read.
 */
export async function waitReady(c: NvmeController, rdy: 0 | 1): Promise<number> {
  const deadline = Date.now() + c.cap.timeoutMs;
  // Traced as one line: how many reads of CSTS and how long until RDY said so.
  const poll = c.tracer?.poll(c.address, 'Base 2.0 §3.5.1');
  c.bar.traceMuted = poll !== undefined;
  try {
    for (;;) {
      poll?.read();
      const csts = rdy === 1 ? readCsts(c) : c.bar.read32(Register.CSTS);
      if (csts === 0xffffffff) throw deviceGone(c.address);
      if (getField(csts, CSTS.RDY) === rdy) {
        poll?.done(`CSTS.RDY=${rdy}`);
        return csts;
      }
      if (Date.now() > deadline) throw readyTimeout(c.address, rdy, c.cap.timeoutMs, csts);
      await sleep(1);
    }
  } finally {
    c.bar.traceMuted = false;
  }
}

/** CSTS, throwing ERR_DEVICE_GONE (all ones) or ERR_NVME_CONTROLLER_FATAL (CSTS.CFS). */
export function readCsts(c: NvmeController): number {
  const csts = c.bar.read32(Register.CSTS);
  if (csts === 0xffffffff) throw deviceGone(c.address);
  if (getField(csts, CSTS.CFS) === 1) throw controllerFatal(c.address);
  return csts;
}

/** Enables the function's MSI-X vectors: vector 0 for the admin CQ, vector q for I/O CQ q (as many as maxIoQueues + 1). */
function enableVectors(c: NvmeController): void {
  const msix = c.device.irq.info('msix').count;
  if (msix > 0) c.vectors = c.device.irq.enableMsix(Math.min(msix, c.options.maxIoQueues + 1));
}

/** Steps 10-11 for one pair: its rings, then Create I/O Completion Queue and Create I/O Submission Queue. */
export async function createPair(c: NvmeController, qid: number, depth: number, completion: CompletionMode): Promise<QueuePair> {
  if (completion === 'interrupt' && !c.vectors[qid]) {
    throw noVector(c.address, `I/O queue ${qid}`, c.vectors.length);
  }
  const qp = new QueuePair({
    qid, depth, dstrd: c.cap.dstrd, pageSize: c.pageSize, maxTransfer: c.maxTransfer, dma: c.device.dma, bar: c.bar, completion,
    shadow: c.shadowBuffer?.doorbells ?? null, tracer: c.tracer, traceWho: c.address,
  });
  if (completion === 'interrupt') qp.vector = c.vectors[qid]!;
  // The watchdog's clock, now: a command posted before the next tick would otherwise
  // carry tick 0 and look as old as the controller (timed out at the first tick).
  qp.epoch = c.recovery.epoch;
  try {
    await c.admin.createIoCq(qid, depth, qp.cqIova, completion === 'interrupt' ? qid : null);
    await c.admin.createIoSq(qid, depth, qp.sqIova, qid);
  } catch (err) {
    qp.release();
    throw err;
  }
  return qp;
}

/**
 * Doorbell Buffer Config (§5.8) when the controller has it and the option is on: zeroed
 * pages, then the command. Also after each reset (the controller forgets the buffers).
 * A controller that refuses it is driven with register doorbells.
 */
export async function configureShadowDoorbells(c: NvmeController): Promise<void> {
  if (!c.options.shadowDoorbells || !c.supportsDoorbellBufferConfig) return;
  c.shadowBuffer ??= new ShadowDoorbellBuffer(c.device.dma, c.pageSize);
  c.shadowBuffer.clear();
  try {
    await c.admin.doorbellBufferConfig(c.shadowBuffer.shadowIova, c.shadowBuffer.eventIdxIova);
    c.log.debug({ iova: c.shadowBuffer.shadowIova }, 'shadow doorbells on');
  } catch (err) {
    if (!(err instanceof NvmeStatusError)) throw err;
    // Only before any I/O queue uses them: a pair created with the buffer would wait forever.
    if (c.pairs.length > 0 || c.registry.anyCreated) throw err;
    c.log.warn({ err }, 'Doorbell Buffer Config failed: using doorbell registers');
    c.shadowBuffer.release();
    c.shadowBuffer = null;
  }
}

/** Resolves after ms (the waits of bring-up and shutdown are timers: the event loop runs meanwhile). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
