// A benchmark job run on a worker thread that owns an NVMe queue pair (through
// @vfio-node/runtime's call()): the engine drives the queue pair directly, so no I/O
// crosses between threads; only the job's options go in and its statistics come out.

import type { QueueContext } from '@vfio-node/runtime';
import { runJobs, type JobResult } from './engine.js';
import type { ResolvedJob } from './jobfile.js';
import { NvmeTarget } from './nvme-target.js';

export interface WorkerJobArgs {
  job: ResolvedJob;
  nsid: number;
}

export async function runJobOnQueue(ctx: QueueContext, args: WorkerJobArgs): Promise<JobResult> {
  const ns = ctx.namespaces.find((n) => n.nsid === args.nsid);
  if (!ns) throw new Error(`${ctx.address} has no active namespace ${args.nsid} (active: ${ctx.namespaces.map((n) => n.nsid).join(', ')})`);
  const target = new NvmeTarget({
    qp: ctx.qp,
    nsid: args.nsid,
    blockSize: ns.blockSize,
    blocks: ns.blocks,
    maxTransfer: ctx.maxTransfer,
    pageSize: ctx.pageSize,
    // The queue id in the name shows which queue pair each job drove (JSON: jobs[].vfio-node.target).
    name: `${ctx.address}/${args.nsid}#qid${ctx.qid}`,
    alloc: (size) => ctx.arena.alloc(size, { align: ctx.pageSize }),
  });
  // The worker has nothing else to do: yield to its event loop rarely (a turn costs about
  // a millisecond under emulation).
  const run = await runJobs({ jobs: [args.job], open: async () => target, yieldEveryMs: 250 });
  return run.results[0]!;
}

/** The URL a runtime worker imports to run runJobOnQueue (the compiled module). */
export const WORKER_JOB_MODULE = import.meta.url.endsWith('.ts') ? new URL('../dist/worker-job.js', import.meta.url).href : import.meta.url;
