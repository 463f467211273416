import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { runJobs, type JobResult } from './engine.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { NullTarget } from './null-target.js';
import { StatBlock } from './stat-block.js';
import { runJobWithProgress } from './worker-job.js';
import { collectStatus, reportEvery, type LiveJob } from './worker-status.js';

const jobs = (text: string) => resolveJobs(parseJobFile(text)).jobs;

/** Three finished jobs (a, b, c) over the memory double, with different amounts of I/O. */
async function finished(): Promise<JobResult[]> {
  const run = await runJobs({ jobs: jobs('[a]\nrw=read\nsize=64k\n[b]\nrw=write\nsize=128k\n[c]\nrw=read\nsize=32k\n'), open: async () => new MemoryTarget({ capacityBytes: 1 << 20 }) });
  return run.results;
}

describe('collectStatus (the results so far of jobs on other threads)', () => {
  it('takes the groups done as they are, an ended job’s final result, and a fresh copy from each running job', async () => {
    const [a, b, c] = await finished();
    const running: LiveJob = { job: c!.job, block: new StatBlock() };
    const ended: LiveJob = { job: b!.job, block: new StatBlock(), ended: { result: b! } };
    const stopped: LiveJob = { job: b!.job, block: new StatBlock(), ended: { result: null } };
    const jobSide = new StatBlock(running.block.buffer);
    let waits = 0;
    const out = await collectStatus([a!], [ended, running, stopped], async () => {
      // The running job answers on its second tick.
      if (++waits === 2) jobSide.answer(c!.stat, 'q#2');
    });
    expect(waits).toBe(2);
    expect(out.map((r) => r.job.options.name)).toEqual(['a', 'b', 'c']);
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(b);
    expect(out[2]!.target).toBe('q#2');
    expect(out[2]!.stat.dir[0].ioBytes).toBe(32768);
    // Only the running job was asked.
    expect(ended.block.answered(1)).toBe(false);
    expect(jobSide.requested).toBe(false);
  });

  it('a job that ends instead of answering is taken as it ended', async () => {
    const [, b] = await finished();
    const live: LiveJob = { job: b!.job, block: new StatBlock() };
    const out = await collectStatus([], [live], async () => {
      live.ended = { result: b! };
    });
    expect(out).toEqual([b]);
    expect(new StatBlock(live.block.buffer).requested).toBe(true);
  });

  it('a job answering on its engine’s progress tick: each copy has at least the I/O of the one before, the final result at least the last copy’s', async () => {
    // Long enough for the job (which yields to this thread's event loop every 250 ms) to let the asking in a few times.
    const [job] = jobs('[n]\nrw=randread\nbs=4k\nsize=1m\ntime_based\nruntime=1200ms\niodepth=4\n');
    const live: LiveJob = { job: job!, block: new StatBlock() };
    const running = runJobWithProgress(job!, new NullTarget(1 << 20), undefined, new StatBlock(live.block.buffer)).then((r) => (live.ended = { result: r }));
    const copies: number[] = [];
    while (!live.ended) {
      const [r] = await collectStatus([], [live]);
      if (!live.ended) copies.push(r!.stat.dir[0].totalIos);
    }
    await running;
    const final = live.ended.result!.stat.dir[0].totalIos;
    expect(copies.length).toBeGreaterThan(0);
    expect(copies).toEqual([...copies].sort((x, y) => x - y));
    expect(final).toBeGreaterThanOrEqual(copies.at(-1)!);
    expect(final).toBeGreaterThan(0);
  });
});

describe('status reports from jobs on real worker threads (the CLI\'s arrangement, fio\'s null engine)', () => {
  it('every report has a copy from each running job: I/O counts that grow, the clat histogram copied whole, the final results at least the last copies', async () => {
    // The worker side: runJobWithProgress (worker-job.ts, compiled) with a stat block, as runJobOnQueue runs it.
    const code = `
      import { workerData, parentPort } from 'node:worker_threads';
      const bench = await import(workerData.benchUrl);
      const r = await bench.runJobWithProgress(workerData.job, new bench.NullTarget(1 << 30), new bench.ProgressBlock(), new bench.StatBlock(workerData.stats));
      parentPort.postMessage(r);`;
    const benchUrl = new URL('../dist/index.js', import.meta.url).href;
    const js = jobs('[w]\nrw=randread\nbs=4k\nsize=64m\ntime_based\nruntime=1500ms\nnumjobs=2\n');
    const live: LiveJob[] = js.map((job) => ({ job, block: new StatBlock() }));
    const reports: Array<{ copies: boolean; ios: number[]; binned: number[] }> = [];
    const timer = reportEvery({
      intervalMs: 200,
      collect: async () => {
        const copies = live.every((l) => !l.ended);
        const r = await collectStatus([], live);
        // Marked before the answers came: a job may end meanwhile (then it is its final result).
        return Object.assign(r, { copies });
      },
      onStatus: (r) => reports.push({ copies: (r as JobResult[] & { copies: boolean }).copies, ios: r.map((x) => x.stat.dir[0].totalIos), binned: r.map((x) => x.stat.dir[0].clatPlat.reduce((a, b) => a + b, 0)) }),
    });
    const finals = await Promise.all(live.map((l) => new Promise<JobResult>((resolve, reject) => {
      const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: { benchUrl, job: l.job, stats: l.block.buffer } });
      w.once('message', (m: JobResult) => {
        l.ended = { result: m };
        resolve(m);
      });
      w.once('error', reject);
    })));
    await timer.stop();
    const during = reports.filter((r) => r.copies);
    expect(during.length).toBeGreaterThan(0);
    for (const r of during) {
      expect(r.ios).toHaveLength(2);
      // The copied histogram holds one count per completion, as the job's own does.
      expect(r.binned).toEqual(r.ios);
    }
    for (const job of [0, 1]) {
      const ios = reports.map((r) => r.ios[job]!);
      expect(ios).toEqual([...ios].sort((a, b) => a - b));
      expect(finals[job]!.stat.dir[0].totalIos).toBeGreaterThanOrEqual(ios.at(-1)!);
    }
    expect(Math.max(...during.map((r) => r.ios[0]! + r.ios[1]!))).toBeGreaterThan(0);
  });
});

describe('reportEvery (the report timer)', () => {
  /** A fake clock (ms) that sleeping moves forward; `late` adds to every sleep. */
  function fakeTime(late = 0) {
    let t = 1000;
    return {
      now: () => t,
      sleep: async (ms: number) => {
        t += Math.max(0, ms) + late;
      },
      advance: (ms: number) => (t += ms),
    };
  }

  it('reports at start + k × interval with what collect returns, until stopped', async () => {
    const time = fakeTime();
    const at: number[] = [];
    let reports = 0;
    const [a] = await finished();
    let stopper: { stop(): Promise<void> } | undefined;
    const done = new Promise<void>((resolve) => {
      stopper = reportEvery({
        intervalMs: 250,
        now: time.now,
        sleep: time.sleep,
        collect: async () => [a!],
        onStatus: (r) => {
          expect(r).toEqual([a]);
          at.push(time.now());
          if (++reports === 4) resolve();
        },
      });
    });
    await done;
    await stopper!.stop();
    expect(at.slice(0, 4)).toEqual([1250, 1500, 1750, 2000]);
  });

  it('a report that took longer than an interval skips the times it missed', async () => {
    const time = fakeTime();
    const at: number[] = [];
    let stopper: { stop(): Promise<void> } | undefined;
    await new Promise<void>((resolve) => {
      stopper = reportEvery({
        intervalMs: 100,
        now: time.now,
        sleep: time.sleep,
        // The first collect takes 250 ms (the jobs answered late).
        collect: async () => (at.length === 0 ? time.advance(250) : undefined, []),
        onStatus: () => {
          at.push(time.now());
          if (at.length === 3) resolve();
        },
      });
    });
    await stopper!.stop();
    expect(at.slice(0, 3)).toEqual([1350, 1400, 1500]);
  });

  it('stop() ends the loop while it sleeps, and a report collected after stop() is dropped', async () => {
    let reports = 0;
    let release: () => void = () => {};
    const collecting = new Promise<void>((resolve) => (release = resolve));
    let started: () => void = () => {};
    const inCollect = new Promise<void>((resolve) => (started = resolve));
    const timer = reportEvery({
      intervalMs: 1,
      collect: async () => {
        started();
        await collecting;
        return [];
      },
      onStatus: () => reports++,
    });
    await inCollect;
    const stopped = timer.stop();
    release();
    await stopped;
    expect(reports).toBe(0);

    // Stopped while asleep (a long interval on real timers): stop() does not wait for it.
    const idle = reportEvery({ intervalMs: 3_600_000, collect: async () => [], onStatus: () => reports++ });
    await idle.stop();
    expect(reports).toBe(0);
  });
});
