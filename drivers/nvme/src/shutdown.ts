// Normal shutdown, NVM Express Base Specification 2.0 §3.6 ("Shutdown Processing"):
// delete the I/O submission queues, then their completion queues; set CC.SHN = 01b and
// wait for CSTS.SHST = 10b; then (our addition) clear CC.EN so that the controller stops
// all activity before its DMA memory is unmapped. Two forms: one that waits with timers
// (close()), one that spins (closeSync(), for exit handlers).

import { sleep } from './bringup.js';
import type { NvmeController } from './controller.js';
import { closeCommandTimeout } from './errors.js';
import { CC, CC_SHN_NORMAL, CSTS, CSTS_SHST_COMPLETE, Register, getField, setField } from './registers.js';

/** Time allowed for one admin command during close (which must not wait forever). */
export const CLOSE_COMMAND_MS = 2000;

/** The spinning shutdown of closeSync(); deleteQueues false when a close() already began it. */
export function shutdownSync(c: NvmeController, deleteQueues: boolean): void {
  const csts = c.bar.read32(Register.CSTS);
  if (csts === 0xffffffff) return;
  if (getField(csts, CSTS.RDY) === 1 && getField(csts, CSTS.CFS) === 0) {
    // Delete the I/O queues, submission queues before their completion queues (§3.6, step 1).
    // Not after a removal request took bus mastering away: the controller could not
    // fetch the admin commands.
    for (const p of deleteQueues && c.busMaster ? [...c.pairs].reverse() : []) {
      try {
        c.admin.deleteIoQueuePairSync(p.qp.qid, CLOSE_COMMAND_MS);
      } catch (err) {
        c.log.warn({ err, qid: p.qp.qid }, 'deleting an I/O queue pair failed');
        break;
      }
    }
    // CC.SHN = 01b (normal shutdown); wait for CSTS.SHST = 10b (shutdown complete), within
    // RTD3E when the controller reports it, else CAP.TO.
    const cc = c.bar.read32(Register.CC);
    c.bar.write32(Register.CC, setField(cc, CC.SHN, CC_SHN_NORMAL));
    const limit = shutdownLimitMs(c);
    const deadline = Date.now() + limit;
    while (getField(c.bar.read32(Register.CSTS), CSTS.SHST) !== CSTS_SHST_COMPLETE) {
      if (Date.now() > deadline) {
        c.log.warn(`shutdown did not complete within ${limit} ms`);
        break;
      }
    }
  }
  // Disable as well, so the controller stops all activity before its DMA memory is unmapped.
  c.bar.write32(Register.CC, setField(c.bar.read32(Register.CC), CC.EN, 0));
  const deadline = Date.now() + c.cap.timeoutMs;
  while (getField(c.bar.read32(Register.CSTS), CSTS.RDY) !== 0 && Date.now() < deadline) {
    // spin: closeSync() does not yield
  }
}

/**
 * The shutdown of close(): the same steps as shutdownSync(), waiting with timers. After
 * each wait it stops if closeSync() took over (process exit), which finishes the job.
 */
export async function shutdownAsync(c: NvmeController): Promise<void> {
  const csts = c.bar.read32(Register.CSTS);
  if (csts === 0xffffffff) return;
  if (getField(csts, CSTS.RDY) === 1 && getField(csts, CSTS.CFS) === 0) {
    // §3.6 step 1, as in shutdownSync().
    for (const p of c.busMaster ? [...c.pairs].reverse() : []) {
      try {
        await closeCommand(c, c.admin.deleteIoSq(p.qp.qid), `Delete I/O Submission Queue ${p.qp.qid}`);
        if (c.finished) return;
        await closeCommand(c, c.admin.deleteIoCq(p.qp.qid), `Delete I/O Completion Queue ${p.qp.qid}`);
        if (c.finished) return;
      } catch (err) {
        if (c.finished) return;
        c.log.warn({ err, qid: p.qp.qid }, 'deleting an I/O queue pair failed');
        break;
      }
    }
    const cc = c.bar.read32(Register.CC);
    c.bar.write32(Register.CC, setField(cc, CC.SHN, CC_SHN_NORMAL));
    const limit = shutdownLimitMs(c);
    const deadline = Date.now() + limit;
    // Read CSTS after a timer, never in a loop that does not yield.
    for (;;) {
      await sleep(1);
      if (c.finished) return;
      if (getField(c.bar.read32(Register.CSTS), CSTS.SHST) === CSTS_SHST_COMPLETE) break;
      if (Date.now() > deadline) {
        c.log.warn(`shutdown did not complete within ${limit} ms`);
        break;
      }
    }
  }
  c.bar.write32(Register.CC, setField(c.bar.read32(Register.CC), CC.EN, 0));
  const deadline = Date.now() + c.cap.timeoutMs;
  while (getField(c.bar.read32(Register.CSTS), CSTS.RDY) !== 0 && Date.now() < deadline) {
    await sleep(1);
    if (c.finished) return;
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
