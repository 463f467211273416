// When things go wrong: the watchdog (a command outlives its timeout → Abort → controller
// reset; CSTS.CFS → reset; registers reading all ones → the device is gone), the kernel's
// removal request, and the controller reset itself, with the one way pending commands are
// failed. NVM Express Base Specification 2.0: §3.7.2 "Controller Reset", §5.1 "Abort
// command", §3.1.3.6 CSTS.

import type { VfioError } from '@vfio-node/core';
import { configureShadowDoorbells, enableController, waitReady } from './bringup.js';
import type { CommandQueue } from './command-queue.js';
import type { NvmeController } from './controller.js';
import { controllerFatal, deviceGone, deviceRemoved, resetError, resetFailed, timeoutError } from './errors.js';
import type { QueuePair } from './queue.js';
import { NO_TIMEOUT_TAG, RequestState } from './request.js';
import { CC, CSTS, Register, getField, setField } from './registers.js';

/** The watchdog period: timeouts count in ticks of this length. */
export const TICK_MS = 250;

/**
 * What the Abort command (Base 2.0 §5.1) sent for a timed-out command returned: DW0 bit 0
 * clear, 'aborted' (its own completion follows, with status Command Abort Requested);
 * set, 'not aborted'; 'no answer' yet; 'failed' (the Abort itself failed: a reset
 * caught it, or an error status); 'not sent' for an admin command (Abort names I/O SQs
 * here: an admin command that hangs means the admin queue is stuck).
 */
export type AbortOutcome = 'aborted' | 'not aborted' | 'no answer' | 'failed' | 'not sent';

/**
 * A command that outlived timeoutMs: which one (its submission tick tells it from a later
 * command with the same CID) and what the Abort sent for it returned.
 */
interface TimedOut {
  epoch: number;
  opcode: number;
  abort: AbortOutcome;
}

/** An I/O queue pair with its promise layer (null for a pair of the hot-path API). */
export interface IoPair {
  qp: QueuePair;
  queue: CommandQueue | null;
}

/**
 * How failPending ends what a queue pair holds:
 * - 'in flight': what the controller was given; what it never saw (waiting for a CID,
 *   posted and not rung) stays and goes out once the queue exists again (a reset);
 * - 'all': everything, waiting requests too (a reset that failed);
 * - 'for good': everything, and the promise layer refuses later requests (device gone,
 *   removed, closed, the pair deleted).
 */
export type FailScope = 'in flight' | 'all' | 'for good';

/**
 * Fails what a queue pair holds, the one way: each command with err(cid) (a promise
 * rejects; a raw pair's onFail is called). Only once the controller can no longer transfer
 * data (disabled, Bus Master Enable clear, or the pair deleted): a caller told of a
 * failure may reuse its buffer at once.
 */
export function failPending(pair: IoPair, err: (cid?: number) => Error, scope: FailScope): void {
  const { qp, queue } = pair;
  if (queue) {
    if (scope === 'in flight') queue.drain(); // what completed before the controller stopped is delivered
    if (scope !== 'for good') queue.failInflight(err);
    if (scope === 'all') queue.failAll(() => err());
    if (scope === 'for good') queue.kill(() => err());
    return;
  }
  if (scope === 'in flight') qp.poll();
  else if (scope === 'for good' && qp.outstanding === 0) return;
  qp.reset((cid, tag) => qp.onFail?.(cid, tag, err(cid)), scope === 'in flight');
}

/** The watchdog's bookkeeping: its timer, its clock (ticks), the commands that outlived their timeout. */
export class Recovery {
  /** The watchdog's clock: ticks of TICK_MS since open. */
  epoch = 0;
  private watchdog: NodeJS.Timeout | null = null;
  /** Commands that outlived timeoutMs, per queue pair, by CID. */
  private readonly timedOut = new Map<QueuePair, Map<number, TimedOut>>();

  constructor(private readonly c: NvmeController) {}

  /** Starts the watchdog (end of bring-up). */
  start(): void {
    this.watchdog = setInterval(() => this.tick(), TICK_MS);
    this.watchdog.unref();
  }

  /** Stops the watchdog (close). */
  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /** Forgets a queue pair's timed-out commands (the pair was deleted). */
  forget(qp: QueuePair): void {
    this.timedOut.delete(qp);
  }

  /** One watchdog tick: the device's presence, CSTS.CFS, then each outstanding command's age. */
  private tick(): void {
    const c = this.c;
    if (c.state !== 'open') return;
    this.epoch++;
    const csts = c.bar.read32(Register.CSTS);
    // All ones: the device is gone, or it stopped decoding memory and BAR0's mapping
    // faulted (the native guard then reads all ones there instead of dying of SIGBUS).
    if (csts === 0xffffffff || c.bar.gone) return markGone(c, c.bar.gone ? 'BAR0 no longer decodes: its mapping faulted' : 'registers read all ones');
    if (getField(csts, CSTS.CFS) === 1) {
      c.log.error('CSTS.CFS: controller fatal status; resetting the controller');
      recover(c, () => controllerFatal(c.address)).catch((e) => resetFailedInBackground(c, e));
      return;
    }
    // Completions of background admin commands (Asynchronous Event Request) are reaped here.
    if (c.adminQueue.pending === 0) c.adminQueue.drain();
    const defaultTicks = Math.max(1, Math.ceil(c.options.timeoutMs / TICK_MS));
    const owners = [c.adminQp, ...c.pairs.map((p) => p.qp)];
    for (const qp of owners) {
      qp.epoch = this.epoch;
      const r = qp.requests;
      const late = this.timedOut.get(qp);
      // Forget timed-out commands that completed after all (their Abort worked, or they were just slow).
      if (late) for (const [cid, t] of late) if (r.state[cid] === RequestState.Free || r.epoch[cid] !== t.epoch) late.delete(cid);
      for (let cid = 0; cid < r.ids.count; cid++) {
        const s = r.state[cid];
        if (s === RequestState.Free || s === RequestState.Abandoned || r.tags[cid] === NO_TIMEOUT_TAG) continue;
        const age = this.epoch - r.epoch[cid]!;
        const own = r.timeoutMs[cid]!; // a passthrough command's own timeoutMs
        const ticks = own === 0 ? defaultTicks : Math.max(1, Math.ceil(own / TICK_MS));
        if (s === RequestState.Outstanding && age > ticks) {
          // First the gentle way: Abort (§5.1). The controller may abort it (then its own
          // completion follows and ends it as usual), decline, or never answer.
          r.state[cid] = RequestState.AbortSent;
          const t: TimedOut = { epoch: r.epoch[cid]!, opcode: r.opcode[cid]!, abort: qp.qid === 0 ? 'not sent' : 'no answer' };
          this.timedOutOn(qp).set(cid, t);
          if (qp.qid !== 0) {
            c.log.warn({ qid: qp.qid, cid, opcode: t.opcode }, 'command timed out: sending Abort');
            c.admin.abort(qp.qid, cid).then(
              (aborted) => {
                t.abort = aborted ? 'aborted' : 'not aborted';
                c.log.warn({ qid: qp.qid, cid, abort: t.abort }, 'Abort answered');
              },
              () => {
                t.abort = 'failed';
              },
            );
          }
        } else if (s === RequestState.AbortSent && (qp.qid === 0 || age > 2 * ticks)) {
          // Still outstanding: the controller may still transfer its data. Its caller must
          // not hear of the failure (and reuse the buffer) before that is impossible, so
          // the reset stops the controller's DMA first and only then fails the command
          // (ERR_NVME_TIMEOUT) and everything else in flight (ERR_NVME_RESET).
          c.log.error({ qid: qp.qid, cid }, 'command still outstanding after Abort: resetting the controller');
          recover(c, () => resetError(c.address, `a command on queue ${qp.qid} timed out`)).catch((e) => resetFailedInBackground(c, e));
          return;
        }
      }
    }
  }

  private timedOutOn(qp: QueuePair): Map<number, TimedOut> {
    let m = this.timedOut.get(qp);
    if (!m) this.timedOut.set(qp, (m = new Map()));
    return m;
  }

  /**
   * The error for command cid of qp failed by a reset: ERR_NVME_TIMEOUT (with what its
   * Abort returned) when it had outlived timeoutMs, else err().
   */
  failureOf(qp: QueuePair, err: () => Error): (cid?: number) => Error {
    return (cid) => {
      const t = cid === undefined ? undefined : this.timedOut.get(qp)?.get(cid);
      if (cid !== undefined && t && t.epoch === qp.requests.epoch[cid]) return timeoutError(this.c.address, qp.qid, cid, t, this.c.options.timeoutMs);
      return err();
    };
  }

  /** After a reset failed what was in flight: no command is timed out any more. */
  clear(): void {
    this.timedOut.clear();
  }
}

/** A reset the watchdog started failed: 'error' (ERR_NVME_RESET_FAILED), unless the device is gone (markGone told already). */
function resetFailedInBackground(c: NvmeController, e: unknown): void {
  if ((e as VfioError).code === 'ERR_DEVICE_GONE' || c.state === 'closed') return;
  c.deliver('error', resetFailed(c.address, e));
}

/** Fails what every I/O queue pair holds (failPending), each command with errFor(its pair). */
export function failPairs(c: NvmeController, errFor: (qp: QueuePair) => (cid?: number) => Error, scope: FailScope): void {
  for (const p of c.pairs) failPending(p, errFor(p.qp), scope);
}

/** Sets Bus Master Enable (PCI Command register bit 2): the controller may read and write our memory. */
export function startDma(c: NvmeController): void {
  c.device.config.enableBusMaster();
  c.busMaster = true;
}

/**
 * Clears Bus Master Enable: the function may start no more DMA. Before any pending
 * command fails on close, reset and removal, so that no late transfer of it reaches a
 * buffer its caller has since reused. (An emulated controller may finish a transfer it
 * had already mapped; disabling the controller, CC.EN = 0, waits for those.)
 */
export function stopDma(c: NvmeController): void {
  c.busMaster = false;
  try {
    c.device.config.disableBusMaster();
  } catch (err) {
    c.log.warn({ err }, 'clearing Bus Master Enable failed');
  }
}

/** The registers read all ones (or BAR0 faulted): no DMA, every pending command fails with ERR_DEVICE_GONE, 'error'. */
export function markGone(c: NvmeController, why: string): void {
  if (c.state === 'gone' || c.state === 'closed') return;
  c.log.error(`device gone (${why}): failing every pending command`);
  c.state = 'gone';
  // No DMA from now on, before any caller hears that its command failed and reuses its
  // buffer: a function that only stopped decoding memory can still master the bus.
  // (Config space goes through pread/pwrite, not the BAR; a vanished device ignores it.)
  if (!c.device.closed) stopDma(c);
  const err = () => deviceGone(c.address);
  failPairs(c, () => err, 'for good');
  failPending({ qp: c.adminQp, queue: c.adminQueue }, err, 'for good');
  c.deliver('error', err());
}

/** The kernel asks for the device back (hot unplug, unbind): fail pending I/O, 'removal', then close. */
export function onRemovalRequest(c: NvmeController): void {
  if (c.closed || c.goneError) return; // the kernel repeats its request until we let go
  c.log.warn('the kernel asks for the device back (removal request): failing pending I/O and closing');
  const err = () => deviceRemoved(c.address);
  // No DMA from now on, before any caller hears that its command failed.
  stopDma(c);
  failPairs(c, () => err, 'for good');
  // From now on every call says the device was removed, not merely that it is closed.
  c.state = 'gone';
  c.goneError = err;
  c.deliver('removal', err());
  // The orderly shutdown (the device still answers) takes a while under emulation: let
  // the rejections reach their callers first, then close, which releases the device.
  // (closeSync: the kernel's unbind waits for the device, which goes back in one piece.)
  setImmediate(() => c.closeSync());
}

/**
 * Controller reset (§3.7.2): stops the controller's DMA (Bus Master Enable off, CC.EN =
 * 0, CSTS.RDY = 0), then fails every in-flight command (with err(), or ERR_NVME_TIMEOUT
 * for one that timed out), allows DMA again, re-enables the controller and recreates
 * the I/O queues in the same memory. A reset already running is joined.
 */
export function recover(c: NvmeController, err: () => Error): Promise<void> {
  if (c.resetting) return c.resetting;
  if (c.state !== 'open') return Promise.resolve();
  c.resetting = resetAndRestart(c, err).finally(() => {
    c.resetting = null;
  });
  return c.resetting;
}

async function resetAndRestart(c: NvmeController, err: () => Error): Promise<void> {
  c.state = 'resetting';
  c.resets++;
  const internal = c.pairs.map((p) => p.qp);
  // Until the queues exist again, doorbell writes wait (entries may still be posted).
  for (const qp of internal) qp.suspend();
  try {
    // No more DMA from here on: Bus Master Enable off first (it takes effect at once),
    // then CC.EN 1 → 0, which resets the controller: it forgets every queue and every
    // command (§3.7.2); CSTS.RDY = 0 says it has stopped.
    stopDma(c);
    c.bar.write32(Register.CC, setField(c.bar.read32(Register.CC), CC.EN, 0));
    await waitReady(c, 0);
    // Only now may callers hear of failures and reuse their buffers. What the
    // controller completed before stopping is delivered; what it was given and did not
    // complete fails; what it never saw (waiting for a CID, or posted and not rung)
    // stays and goes out once the queues exist again.
    const r = c.recovery;
    failPairs(c, (qp) => r.failureOf(qp, err), 'in flight');
    failPending({ qp: c.adminQp, queue: c.adminQueue }, r.failureOf(c.adminQp, err), 'all');
    r.clear();
    startDma(c);
    // §3.5.1 steps 1-6, 9 (the controller forgot the Number of Queues), the shadow
    // doorbells, and steps 10-11 for every queue pair, in the same memory.
    await enableController(c);
    await c.admin.setNumberOfQueues(c.options.maxIoQueues, c.options.maxIoQueues);
    await configureShadowDoorbells(c);
    for (const qp of internal) {
      await c.admin.createIoCq(qp.qid, qp.depth, qp.cqIova, qp.completion === 'interrupt' ? qp.qid : null);
      await c.admin.createIoSq(qp.qid, qp.depth, qp.sqIova, qp.qid);
    }
    c.state = 'open';
    for (const qp of internal) qp.resume();
    for (const p of c.pairs) p.queue?.drain(); // submit what waited for CIDs
    // Worker-owned pairs: their owners restart their rings first (see ResetListener).
    const error = err();
    await c.registry.recreate(error);
    c.log.warn({ resets: c.resets }, 'controller reset and queues recreated');
    c.deliver('reset', { reason: error, resets: c.resets });
  } catch (e) {
    c.log.error({ err: e }, 'controller reset failed');
    if ((e as VfioError).code === 'ERR_DEVICE_GONE') markGone(c, 'registers read all ones during reset');
    else {
      // The queues may not exist: fail what waits on them rather than let it hang.
      failPairs(c, () => () => e as Error, 'all');
      if (c.state === 'resetting') c.state = 'open';
      for (const qp of internal) qp.resume();
    }
    throw e;
  }
}
