// --status-interval for jobs that run on other threads (runtime workers): every interval
// the main thread asks each running job for a copy of its statistics (stat-block.ts),
// waits for the answers (a job answers on its next progress tick) or for the job's end,
// and reports the results so far: those of the groups already done, each running job's
// copy, the final result of a job of the running group that has ended. This is fio's own
// arrangement: a helper thread asks, the job threads keep running, nobody pays per I/O.

import { setTimeout as sleepMs } from 'node:timers/promises';
import type { JobResult } from './engine.js';
import type { ResolvedJob } from './jobfile.js';
import type { StatBlock } from './stat-block.js';

/** How often the main thread looks for the jobs' answers, ms. */
export const STATUS_ANSWER_POLL_MS = 5;

/** A job of the running group, as the status reports see it. */
export interface LiveJob {
  /** The job. */
  job: ResolvedJob;
  /** Where it copies its statistics when asked. */
  block: StatBlock;
  /** Set when the job has ended: its final result, or null when it was stopped before it started. */
  ended?: { result: JobResult | null };
}

/**
 * The results so far, in job order: `done` as they are, then each job of `live`: its final
 * result when it has ended, else a fresh copy of its statistics (asked for here, waited for
 * until it comes or the job ends).
 * @param wait sleeps between looks at the answers (default: STATUS_ANSWER_POLL_MS on a timer)
 */
export async function collectStatus(done: readonly JobResult[], live: readonly LiveJob[], wait: () => Promise<unknown> = () => sleepMs(STATUS_ANSWER_POLL_MS)): Promise<JobResult[]> {
  const asked = live.map((l) => (l.ended ? 0 : l.block.request()));
  while (live.some((l, i) => !l.ended && !l.block.answered(asked[i]!))) await wait();
  const out = [...done];
  for (const l of live) {
    const r = l.ended ? l.ended.result : l.block.read(l.job);
    if (r) out.push(r);
  }
  return out;
}

/** What reportEvery() needs: the interval, where the results come from and where they go. */
export interface StatusReportsOptions {
  /** The interval, ms. */
  intervalMs: number;
  /** The results so far (collectStatus over the run's current state). */
  collect: () => Promise<JobResult[]>;
  /** Gets each report's results. */
  onStatus: (results: JobResult[]) => void;
  /** Milliseconds since an arbitrary start (default performance.now). */
  now?: () => number;
  /** Sleeps `ms` ms, or less when `signal` aborts (default: node:timers/promises' setTimeout). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
}

/** A running report timer (reportEvery). */
export interface StatusReports {
  /** Stops the timer; resolves once its loop has ended (a report being collected then is dropped). */
  stop(): Promise<void>;
}

/**
 * Reports every `intervalMs` from now on (at start + k × interval; a report that took
 * longer than an interval skips the times it missed) until stop(). stop() resolves once
 * the loop has ended; a report being collected then is dropped (the final report follows).
 */
export function reportEvery(opts: StatusReportsOptions): StatusReports {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms, signal) => sleepMs(ms, undefined, { signal }).catch(() => undefined));
  const abort = new AbortController();
  const start = now();
  const loop = (async () => {
    let k = 1;
    while (!abort.signal.aborted) {
      const t = now();
      // The next report time still ahead.
      k = Math.max(k, Math.floor((t - start) / opts.intervalMs) + 1);
      await sleep(start + k * opts.intervalMs - t, abort.signal);
      if (abort.signal.aborted) break;
      if (now() < start + k * opts.intervalMs) continue;
      k++;
      const results = await opts.collect();
      if (!abort.signal.aborted) opts.onStatus(results);
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      await loop;
    },
  };
}
