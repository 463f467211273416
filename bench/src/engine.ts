// Runs resolved jobs the way fio schedules them: reporting groups one after another
// (new_group/stonewall start a new one), the jobs of a group at the same time. Here all
// jobs share one thread: the loop steps every job in turn (each on its own IoTarget, i.e.
// its own queue pair), spins while the device works, and yields to the event loop every
// few milliseconds so the status line and Ctrl-C are served.

import { setImmediate as yieldToLoop, setTimeout as sleepMs } from 'node:timers/promises';
import type { IoTarget, TargetOpener } from './io-target.js';
import type { ResolvedJob } from './jobfile.js';
import { JobRunner, type JobProgress } from './job-runner.js';
import type { FioLogFile } from './fio-logs.js';
import type { JobSeries } from './job-series.js';
import type { ThreadStat } from './stat.js';

/** The clock the engine uses: nanoseconds as a double (sub-microsecond resolution). */
export const hrClockNs = (): number => performance.now() * 1e6;

/** What runJobs() runs: the resolved jobs, how each opens its target, and the clock and progress callbacks. */
export interface RunOptions {
  /** The jobs to run, resolved (every option filled in). */
  jobs: readonly ResolvedJob[];
  /** Opens each job's target. */
  open: TargetOpener;
  /** The clock in nanoseconds (default hrClockNs); tests give a fake one. */
  clock?: () => number;
  /** Called about every `progressIntervalMs` with each running job's progress. */
  onProgress?: (progress: JobProgress[], elapsedSec: number) => void;
  /** How often onProgress is called, ms (default 1000). */
  progressIntervalMs?: number;
  /**
   * --status-interval: called about every `statusIntervalMs` (across groups) with the results
   * so far of every job started: those of finished groups as they ended, the running
   * group's as if it ended now (JobRunner.statSoFar), without series or logs.
   */
  onStatus?: (results: JobResult[]) => void;
  /** How often onStatus is called, ms (default 1000). */
  statusIntervalMs?: number;
  /**
   * When given, onStatus is called on request instead of on its own interval: this is asked
   * every `progressIntervalMs` (the onProgress tick, never per I/O), and onStatus follows at
   * once when it says yes.
   * A job on a worker thread answers the main thread's --status-interval this way (stat-block.ts).
   */
  statusWanted?: () => boolean;
  /** Aborting stops issuing; in-flight I/O completes and the results are still reported. */
  signal?: AbortSignal;
  /** How long the loop may spin before yielding to the event loop (default 5 ms). */
  yieldEveryMs?: number;
  /**
   * Sleeps `ms` milliseconds, when every job is idle until a time (a rate limit or a
   * thinktime) with nothing in flight (default: a timer). Tests with a fake clock give one
   * that moves their clock.
   */
  sleep?: (ms: number) => Promise<unknown>;
}

/** One job's result: the resolved job, its statistics and when it ran. */
export interface JobResult {
  /** The job as it ran. */
  job: ResolvedJob;
  /** Its statistics (fio's thread_stat). */
  stat: ThreadStat;
  /** The target's name ("0000:00:03.0/1"). */
  target: string;
  /** Per-interval IOPS and bandwidth (job-series.ts); absent for a job that never finished. */
  series?: JobSeries;
  /** fio's log files the job's options asked for (write_iops_log, ...), to be written by the caller. */
  logs?: FioLogFile[];
}

/** What runJobs() returns: every job's result and the wall-clock start of the run. */
export interface RunResult {
  /** Each job's result, in the order of the jobs. */
  results: JobResult[];
  /** Wall-clock start, for fio's timestamps. */
  startedAt: Date;
}

/**
 * Runs every job; returns one stat per job instance in job order. Targets are opened
 * before a group starts and closed when it ends, also on error.
 * @throws whatever opening a target or a job's option check throws (VfioError).
 */
export async function runJobs(opts: RunOptions): Promise<RunResult> {
  const clock = opts.clock ?? hrClockNs;
  const startedAt = new Date();
  const results: JobResult[] = [];
  const groups = new Map<number, ResolvedJob[]>();
  for (const j of opts.jobs) groups.set(j.groupid, [...(groups.get(j.groupid) ?? []), j]);
  const status: StatusClock = { done: results, lastNs: clock() };
  for (const jobs of groups.values()) {
    if (opts.signal?.aborted) break;
    const targets: IoTarget[] = [];
    try {
      const runners: JobRunner[] = [];
      for (const job of jobs) {
        const t = await opts.open(job.options.filename, job.index);
        targets.push(t);
        runners.push(new JobRunner(job, t));
      }
      await runGroup(runners, opts, clock, status);
      for (const r of runners) results.push({ job: r.job, stat: r.stat, target: r.target.name, ...(r.series ? { series: r.series } : {}), logs: r.logFiles() });
    } finally {
      for (const t of targets) await t.close();
    }
  }
  return { results, startedAt };
}

/**
 * When every job not done has nothing in flight and nothing to do before a time (rate,
 * thinktime): the earliest such time (ns); else 0.
 */
function idleUntil(runners: readonly JobRunner[]): number {
  let until = Infinity;
  for (const r of runners) {
    if (r.done) continue;
    if (r.inFlight > 0 || r.idleUntilNs === 0) return 0;
    until = Math.min(until, r.idleUntilNs);
  }
  return until === Infinity ? 0 : until;
}

/** True when every job not done has I/O in flight and a target that can wait (and there is one). */
function allWaiting(runners: readonly JobRunner[]): boolean {
  let live = 0;
  for (const r of runners) {
    if (r.done) continue;
    if (r.inFlight === 0 || !r.target.wait) return false;
    live++;
  }
  return live > 0;
}

/** --status-interval across groups: the results of finished groups and when the last report was due. */
interface StatusClock {
  done: JobResult[];
  lastNs: number;
}

async function runGroup(runners: JobRunner[], opts: RunOptions, clock: () => number, status: StatusClock): Promise<void> {
  const yieldNs = (opts.yieldEveryMs ?? 5) * 1e6;
  const statusNs = (opts.statusIntervalMs ?? 1000) * 1e6;
  const sleep = opts.sleep ?? sleepMs;
  const progressNs = (opts.progressIntervalMs ?? 1000) * 1e6;
  const cpu0 = process.cpuUsage();
  const ru0 = process.resourceUsage();
  const t0 = clock();
  for (const r of runners) r.start(t0);
  let lastYield = t0;
  let lastProgress = t0;
  // Turns without progress since the clock was last read (see below).
  let idleTurns = 0;
  const onAbort = () => runners.forEach((r) => r.stop());
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      let active = 0;
      let progressed = false;
      for (const r of runners) {
        if (r.done) continue;
        if (r.step(clock)) progressed = true;
        if (!r.done) active++;
      }
      // One failed job stops its group, as fio stops on an I/O error by default.
      for (const r of runners) {
        if (r.stat.error) {
          runners.forEach((x) => x.stop());
          break;
        }
      }
      if (active === 0) break;
      if (!progressed) {
        // Every job waits for a time (rate=, thinktime=) with nothing in flight: sleep until
        // the first is due (whole milliseconds; a rate catches up on what a sleep overshoots),
        // at most until the next yield so the status line and Ctrl-C are served.
        const until = idleUntil(runners);
        if (until > 0) {
          const ms = Math.floor(Math.min(until - clock(), yieldNs) / 1e6);
          if (ms >= 1) await sleep(ms);
        }
        // Nothing moved and every live job has I/O in flight: let the targets wait (a
        // short sleep, or nothing), without allocating on this path (it runs about once
        // per I/O). A target that waited synchronously returns no promise.
        if (allWaiting(runners)) {
          if (runners.length === 1) {
            const p = runners[0]!.target.wait!(1);
            if (p) await p;
          } else {
            const ps = runners.filter((r) => !r.done).map((r) => r.target.wait!(1)).filter((p): p is Promise<void> => p !== undefined);
            if (ps.length) await Promise.race(ps);
          }
        }
        // The clock is read when something moved, or every 64th idle turn: a spinning job
        // at iodepth 1 turns many times per I/O, and the progress and yield checks can wait.
        if (++idleTurns < 64) continue;
      }
      idleTurns = 0;
      const now = clock();
      let statusDue = false;
      if ((opts.onProgress || opts.statusWanted) && now - lastProgress >= progressNs) {
        opts.onProgress?.(runners.map((r) => r.updateProgress(now)), (now - t0) / 1e9);
        lastProgress = now;
        statusDue = !!opts.statusWanted?.();
      }
      if (opts.onStatus && (opts.statusWanted ? statusDue : now - status.lastNs >= statusNs)) {
        status.lastNs = now;
        opts.onStatus([...status.done, ...runners.map((r) => ({ job: r.job, stat: withUsage(r.statSoFar(now), cpu0, ru0, runners.length), target: r.target.name }))]);
      }
      if (now - lastYield >= yieldNs) {
        await yieldToLoop();
        lastYield = clock();
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  for (const r of runners) withUsage(r.stat, cpu0, ru0, runners.length);
}

/**
 * Sets a stat's CPU time, context switches and faults: the process's since the group
 * started, shared evenly by its `n` jobs (they share one thread). Returns the stat.
 */
function withUsage(stat: ThreadStat, cpu0: NodeJS.CpuUsage, ru0: NodeJS.ResourceUsage, n: number): ThreadStat {
  const cpu = process.cpuUsage(cpu0);
  const ru1 = process.resourceUsage();
  stat.usrTimeUs = cpu.user / n;
  stat.sysTimeUs = cpu.system / n;
  stat.ctx = Math.round((ru1.voluntaryContextSwitches + ru1.involuntaryContextSwitches - ru0.voluntaryContextSwitches - ru0.involuntaryContextSwitches) / n);
  stat.majf = Math.round((ru1.majorPageFault - ru0.majorPageFault) / n);
  stat.minf = Math.round((ru1.minorPageFault - ru0.minorPageFault) / n);
  return stat;
}
