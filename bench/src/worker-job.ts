// A benchmark job run on a worker thread that owns an NVMe queue pair (through
// @vfio-node/runtime's call()): the engine drives the queue pair directly, so no I/O
// crosses between threads; only the job's options go in and its statistics come out.
// While it runs, the job's counters go out through a progress block (shared memory the
// main thread reads for the status line), and a stop request comes in through it (Ctrl-C);
// with --status-interval, its whole statistics go out through a stat block when the main
// thread asks for them (stat-block.ts).

import type { QueueContext } from '@vfio-node/runtime';
import { runJobs, type JobResult } from './engine.js';
import type { IoTarget } from './io-target.js';
import type { ResolvedJob } from './jobfile.js';
import { NvmeTarget } from './nvme-target.js';
import { ProgressBlock } from './progress-block.js';
import { StatBlock } from './stat-block.js';

/** What runJobOnQueue() gets from the main thread: the job, the namespace id and the shared blocks. */
export interface WorkerJobArgs {
  job: ResolvedJob;
  nsid: number;
  /** A ProgressBlock's buffer: the job publishes its counters there and stops when asked to. */
  progress?: SharedArrayBuffer;
  /** A StatBlock's buffer (--status-interval): the job copies its statistics there when asked. */
  stats?: SharedArrayBuffer;
}

/**
 * How often the job publishes its counters and looks at the stop word: on the engine's
 * progress tick, once per loop round at most, never per I/O.
 */
export const WORKER_PROGRESS_MS = 200;

/**
 * The progress tick of a job that answers --status-interval requests: a request waits at
 * most this long for its answer (the tick's cost is a clock comparison per loop round).
 */
export const WORKER_STATUS_TICK_MS = 50;

/**
 * Runs `args.job` on the worker's queue pair; resolves with its statistics, or null when
 * it was asked to stop before it started.
 */
export async function runJobOnQueue(ctx: QueueContext, args: WorkerJobArgs): Promise<JobResult | null> {
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
    irqFd: ctx.irqFd,
  });
  return runJobWithProgress(args.job, target, args.progress ? new ProgressBlock(args.progress) : undefined, args.stats ? new StatBlock(args.stats) : undefined);
}

/**
 * Runs one job on `target` in this thread, publishing its progress to `block` every
 * WORKER_PROGRESS_MS and stopping it (in-flight I/O completes, the results are kept) when
 * the block's stop word is set. With `stats`, the job also looks for requests of its
 * statistics every WORKER_STATUS_TICK_MS and answers them there. Resolves with the job's
 * result, or null when the stop came before the job started.
 */
export async function runJobWithProgress(job: ResolvedJob, target: IoTarget, block?: ProgressBlock, stats?: StatBlock): Promise<JobResult | null> {
  const abort = new AbortController();
  if (block?.stopRequested) {
    await target.close();
    return null;
  }
  const run = await runJobs({
    jobs: [job],
    open: async () => target,
    // The worker has nothing else to do: yield to its event loop rarely (a turn costs about
    // a millisecond under emulation).
    yieldEveryMs: 250,
    progressIntervalMs: stats ? WORKER_STATUS_TICK_MS : block ? WORKER_PROGRESS_MS : undefined,
    onProgress: block && ((progress) => {
      block.publish(progress[0]!, progress[0]!.atSec ?? 0);
      if (block.stopRequested && !abort.signal.aborted) abort.abort();
    }),
    ...(stats ? { statusWanted: () => stats.requested, onStatus: (now: JobResult[]) => stats.answer(now[0]!.stat, now[0]!.target) } : {}),
    signal: abort.signal,
  });
  const result = run.results[0] ?? null;
  // The last word: the job is done (its counters stay as last published).
  if (block) {
    const last = block.read(job.options.rw);
    block.publish({ ...last, phase: 'done', fraction: 1, etaSec: 0 }, last.atSec ?? 0);
  }
  return result;
}

/** The URL a runtime worker imports to run runJobOnQueue (the compiled module). */
export const WORKER_JOB_MODULE = import.meta.url.endsWith('.ts') ? new URL('../dist/worker-job.js', import.meta.url).href : import.meta.url;
