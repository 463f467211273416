// Functions to run on a worker's queue pair with runtime.call(), for tools and checks:
// which queue a worker owns, and a batch of reads driven entirely inside the worker.

import { native } from '@vfio-node/core';
import { NvmOpcode } from '@vfio-node/nvme';
import type { QueueContext } from './context.js';

/** What a worker owns: its index, queue id, depth, the namespaces it sees and its interrupt eventfd (-1: none). */
export function queueInfo(ctx: QueueContext): { index: number; qid: number; depth: number; namespaces: QueueContext['namespaces']; irqFd: number } {
  return { index: ctx.index, qid: ctx.qid, depth: ctx.qp.depth, namespaces: ctx.namespaces, irqFd: ctx.irqFd };
}

/**
 * Reads `count` blocks one by one (LBA first..first+count-1 of nsid) at up to `depth` in
 * flight, on the worker's queue pair alone, and returns how many completed with success.
 */
export async function readBlocks(ctx: QueueContext, args: { nsid: number; first: number; count: number; depth: number; sleepOnInterrupt?: boolean }): Promise<{ ok: number; failed: number; woken: number; timedOut: number }> {
  const qp = ctx.qp;
  const ns = ctx.namespaces.find((n) => n.nsid === args.nsid);
  if (!ns) throw new Error(`no namespace ${args.nsid}`);
  const buf = ctx.arena.alloc(ns.blockSize * args.depth, { align: ctx.pageSize });
  let next = 0;
  let ok = 0;
  let failed = 0;
  // With sleepOnInterrupt the worker sleeps on its MSI-X eventfd between polls (the
  // runtime's interrupts option): woken counts the interrupts that ended a sleep,
  // timedOut the sleeps that ran their 100 ms out.
  let woken = 0;
  let timedOut = 0;
  const fds = [ctx.irqFd];
  if (args.sleepOnInterrupt && ctx.irqFd < 0) throw new Error(`worker ${ctx.index} has no interrupt eventfd (open the runtime with interrupts: true)`);
  qp.onComplete = (_cid, status) => (status === 0 ? ok++ : failed++);
  while (ok + failed < args.count) {
    while (next < args.count && qp.outstanding < args.depth && qp.canSubmit) {
      const slot = next % args.depth;
      qp.submitIo(NvmOpcode.Read, args.nsid, args.first + next, 1, Number(buf.iova) + slot * ns.blockSize, ns.blockSize, slot);
      next++;
    }
    qp.ring();
    qp.poll();
    if (qp.outstanding && !qp.hasCompletion()) {
      if (args.sleepOnInterrupt) {
        const woke = native.eventfdWait(fds, 100);
        if (woke === 0) {
          woken++;
          qp.interrupted(ctx.qid); // the worker's CQ raises MSI-X vector qid (traced when tracing)
        }
        else if (woke === -1) timedOut++;
        else await new Promise((r) => setImmediate(r)); // -2: interrupted, let the loop run
      } else await new Promise((r) => setImmediate(r));
    }
  }
  return { ok, failed, woken, timedOut };
}
