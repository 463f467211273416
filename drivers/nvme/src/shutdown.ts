// Normal shutdown, NVM Express Base Specification 2.0 §3.6 ("Shutdown Processing"):
// delete the I/O submission queues, then their completion queues; set CC.SHN = 01b and
// wait for CSTS.SHST = 10b; then (our addition) clear CC.EN so that the controller stops
// all activity before its DMA memory is unmapped.
//
// The steps are written once, in shutdownSteps(), which yields each wait to a runner:
// shutdownAsync() waits with timers (close()), shutdownSync() spins (closeSync(), for
// exit handlers, which cannot wait for the event loop).

import { sleep } from './bringup.js';
import type { NvmeController } from './controller.js';
import { closeCommandTimeout } from './errors.js';
import { CC, CC_SHN_NORMAL, CSTS, CSTS_SHST_COMPLETE, Register, getField, setField } from './registers.js';

/** Time allowed for one admin command during close (which must not wait forever). */
export const CLOSE_COMMAND_MS = 2000;

/** What the shutdown waits for between two steps; the runner says whether it came (true) or timed out (false). */
type ShutdownWait =
  /** Delete I/O Submission Queue or Delete I/O Completion Queue qid, within CLOSE_COMMAND_MS. */
  | { kind: 'delete'; queue: 'sq' | 'cq'; qid: number }
  /** A register polled until done() is true, for at most limitMs. */
  | { kind: 'register'; done: () => boolean; limitMs: number };

/** §3.6, step by step; each wait is yielded (see ShutdownWait). */
function* shutdownSteps(c: NvmeController, deleteQueues: boolean): Generator<ShutdownWait, void, boolean> {
  const csts = c.bar.read32(Register.CSTS);
  if (csts === 0xffffffff) return; // the device is gone
  if (getField(csts, CSTS.RDY) === 1 && getField(csts, CSTS.CFS) === 0) {
    // Step 1: delete the I/O queues, submission queues before their completion queues. Not
    // after a removal request took bus mastering away: the controller could not fetch the
    // admin commands.
    for (const p of deleteQueues && c.busMaster ? [...c.pairs].reverse() : []) {
      const qid = p.qp.qid;
      if (!(yield { kind: 'delete', queue: 'sq', qid }) || !(yield { kind: 'delete', queue: 'cq', qid })) break;
    }
    // Step 2: CC.SHN = 01b (normal shutdown); wait for CSTS.SHST = 10b (shutdown complete),
    // within RTD3E when the controller reports it, else CAP.TO.
    c.bar.write32(Register.CC, setField(c.bar.read32(Register.CC), CC.SHN, CC_SHN_NORMAL));
    const limitMs = shutdownLimitMs(c);
    const done = () => getField(c.bar.read32(Register.CSTS), CSTS.SHST) === CSTS_SHST_COMPLETE;
    if (!(yield { kind: 'register', done, limitMs })) c.log.warn(`shutdown did not complete within ${limitMs} ms`);
  }
  // Disable as well, so the controller stops all activity before its DMA memory is unmapped.
  c.bar.write32(Register.CC, setField(c.bar.read32(Register.CC), CC.EN, 0));
  yield { kind: 'register', done: () => getField(c.bar.read32(Register.CSTS), CSTS.RDY) === 0, limitMs: c.cap.timeoutMs };
}

/** The spinning shutdown of closeSync(); deleteQueues false when a close() already began it. */
export function shutdownSync(c: NvmeController, deleteQueues: boolean): void {
  const steps = shutdownSteps(c, deleteQueues);
  for (let step = steps.next(); !step.done; ) {
    const w = step.value;
    let ok: boolean;
    if (w.kind === 'delete') {
      try {
        if (w.queue === 'sq') c.admin.deleteIoSqSync(w.qid, CLOSE_COMMAND_MS);
        else c.admin.deleteIoCqSync(w.qid, CLOSE_COMMAND_MS);
        ok = true;
      } catch (err) {
        c.log.warn({ err, qid: w.qid }, 'deleting an I/O queue pair failed');
        ok = false;
      }
    } else {
      const deadline = Date.now() + w.limitMs;
      while (!(ok = w.done()) && Date.now() <= deadline) {
        // spin: closeSync() does not yield
      }
    }
    step = steps.next(ok);
  }
}

/**
 * The shutdown of close(): the same steps, waiting with timers. After each wait it stops
 * if closeSync() took over (process exit), which finishes the job.
 */
export async function shutdownAsync(c: NvmeController): Promise<void> {
  const steps = shutdownSteps(c, true);
  for (let step = steps.next(); !step.done; ) {
    const w = step.value;
    let ok: boolean;
    if (w.kind === 'delete') {
      try {
        await closeCommand(c, w.queue === 'sq' ? c.admin.deleteIoSq(w.qid) : c.admin.deleteIoCq(w.qid), `Delete I/O ${w.queue === 'sq' ? 'Submission' : 'Completion'} Queue ${w.qid}`);
        ok = true;
      } catch (err) {
        if (!c.finished) c.log.warn({ err, qid: w.qid }, 'deleting an I/O queue pair failed');
        ok = false;
      }
    } else {
      // Read the register after a timer, never in a loop that does not yield.
      const deadline = Date.now() + w.limitMs;
      while (!(ok = w.done()) && Date.now() <= deadline && !c.finished) await sleep(1);
    }
    if (c.finished) return;
    step = steps.next(ok);
  }
}

/** RTD3E when the controller reports it, else CAP.TO (ms). */
function shutdownLimitMs(c: NvmeController): number {
  return Math.max(c.identify?.rtd3e ? c.identify.rtd3e / 1000 : 0, c.cap.timeoutMs);
}

/** An admin command of close(), which must not wait forever: rejects after CLOSE_COMMAND_MS. */
function closeCommand(c: NvmeController, command: Promise<number>, name: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(closeCommandTimeout(c.address, name, CLOSE_COMMAND_MS)), CLOSE_COMMAND_MS);
  });
  return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
}
