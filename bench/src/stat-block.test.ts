import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { summarize } from './group.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { newJobStat } from './job-runner.js';
import { MemoryTarget } from './memory-target.js';
import { buildJsonReport, stringifyFioJson } from './report-json.js';
import { StatBlock } from './stat-block.js';
import type { ThreadStat } from './stat.js';

const jobs = (text: string) => resolveJobs(parseJobFile(text)).jobs;

/** A finished randrw job's stat over the memory double: every direction, both histograms, errors none. */
async function finishedRun(text = '[m]\nrw=randrw\nbs=4k\nsize=256k\niodepth=4\n') {
  const run = await runJobs({ jobs: jobs(text), open: async () => new MemoryTarget({ capacityBytes: 1 << 20, name: 'mem0' }) });
  return run;
}

/** A stat as plain data (typed arrays as arrays), for toEqual. */
function plain(ts: ThreadStat): unknown {
  return JSON.parse(JSON.stringify(ts, (_k, v) => (v instanceof Float64Array ? Array.from(v) : v === Infinity ? 'Infinity' : v)));
}

describe('stat block (a job’s statistics in shared memory, on request)', () => {
  it('a copy read through a second view of the buffer is the job’s stat, number for number, histograms included', async () => {
    const run = await finishedRun();
    const r = run.results[0]!;
    expect(r.stat.dir[0].totalIos).toBeGreaterThan(0);
    expect(r.stat.dir[1].totalIos).toBeGreaterThan(0);
    const job = new StatBlock();
    const main = new StatBlock(job.buffer);
    const n = main.request();
    expect(main.answered(n)).toBe(false);
    job.answer(r.stat, r.target);
    expect(main.answered(n)).toBe(true);
    const back = main.read(r.job);
    expect(back.target).toBe('mem0');
    expect(back.job).toBe(r.job);
    expect(plain(back.stat)).toEqual(plain(r.stat));
    // The reports made from the copy are the reports of the job (percentiles from the bins and all),
    // but for the clock's fields and the series (a status report has none).
    const report = (res: typeof r) => {
      const { stats, groups } = summarize([res]);
      const doc = JSON.parse(stringifyFioJson(buildJsonReport({ results: [res], startedAt: new Date(0) }, stats, groups, { plus: true, globalOptions: {} }), true));
      for (const k of ['timestamp', 'timestamp_ms', 'time']) delete doc[k];
      for (const j of doc.jobs) delete j.elapsed;
      return doc;
    };
    expect(report(back)).toEqual(report({ job: r.job, stat: r.stat, target: r.target }));
    expect(report(back).jobs[0].read.clat_ns.percentile['99.000000']).toBeGreaterThan(0);
  });

  it('an empty stat (a job still in its ramp) keeps min = Infinity, as a fresh stat has it', async () => {
    const [job] = jobs('[e]\nrw=read\nsize=64k\n');
    const block = new StatBlock();
    const fresh = newJobStat(job!);
    block.request();
    block.answer(fresh, 'x');
    const back = block.read(job!).stat;
    expect(back.dir[0].clat.min).toBe(Infinity);
    expect(back.dir[0].clat.samples).toBe(0);
    expect(plain(back)).toEqual(plain(fresh));
  });

  it('the job answers only a pending request; each answer carries the latest request’s number', async () => {
    const r = (await finishedRun()).results[0]!;
    const main = new StatBlock();
    const job = new StatBlock(main.buffer);
    expect(job.requested).toBe(false);
    const n1 = main.request();
    expect(job.requested).toBe(true);
    job.answer(r.stat, r.target);
    expect(job.requested).toBe(false);
    // Two requests before the job looks: one answer serves both.
    main.request();
    const n3 = main.request();
    expect(n3).toBe(n1 + 2);
    expect(main.answered(n3)).toBe(false);
    job.answer(r.stat, r.target);
    expect(main.answered(n3)).toBe(true);
    expect(job.requested).toBe(false);
  });

  it('carries the error text and a long target name (cut at a character boundary)', async () => {
    const r = (await finishedRun()).results[0]!;
    const stat = { ...r.stat, error: 5, verror: 'read at offset 8192 length 4096 failed with status 0x2: Invalid Field — ünïcode' };
    const block = new StatBlock();
    block.request();
    block.answer(stat, 'é'.repeat(200));
    const back = block.read(r.job);
    expect(back.stat.error).toBe(5);
    expect(back.stat.verror).toBe(stat.verror);
    // 256 bytes hold 128 two-byte characters.
    expect(back.target).toBe('é'.repeat(128));
  });

  it('refuses a buffer that is not shared or too small', () => {
    expect(() => new StatBlock(new ArrayBuffer(StatBlock.BYTES) as unknown as SharedArrayBuffer)).toThrow(TypeError);
    expect(() => new StatBlock(new SharedArrayBuffer(64))).toThrow(/stat block/);
  });
});
