import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJobs, type RunResult } from './engine.js';
import { summarize } from './group.js';
import { newPlat, platValToIdx } from './histogram.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { buildJsonReport, stringifyFioJson } from './report-json.js';
import { displayLat, formatGroupStats, formatLatencies, formatPercentiles, formatThreadStatus } from './report-normal.js';
import { newThreadStat, type IoStat, type ThreadStat } from './stat.js';

const text = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const fixture = (name: string) => JSON.parse(text(name));

/** Every key path of a JSON value; array elements as [], object keys of data-keyed maps as *. */
function keyPaths(v: unknown, path = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) {
    for (const e of v) keyPaths(e, `${path}[]`, out);
  } else if (v && typeof v === 'object') {
    for (const [k, e] of Object.entries(v)) {
      // Keys that are data, not schema: histogram bin values and the options a job was given.
      const key = /\.bins$|job options$|global options$/.test(path) ? '*' : k;
      out.add(`${path}.${key}`);
      keyPaths(e, `${path}.${key}`, out);
    }
  }
  return out;
}

async function runMemory(jobText: string): Promise<{ run: RunResult; globalOptions: Record<string, string> }> {
  const { jobs, globalOptions } = resolveJobs(parseJobFile(jobText));
  const run = await runJobs({ jobs, open: async () => new MemoryTarget({ capacityBytes: 8 << 20, latencyPolls: 1 }) });
  return { run, globalOptions };
}

describe('JSON output has every key fio 3.33 prints', () => {
  it.each([
    ['fio-3.33-randread-psync.jsonplus.json', '[t]\nrw=randread\nsize=1m\n', true],
    ['fio-3.33-randread-libaio-qd8.jsonplus.json', '[both]\nrw=randread\niodepth=8\nsize=1m\n', true],
    ['fio-3.33-randrw-libaio.json', '[t]\nrw=randrw\niodepth=4\nsize=1m\n', false],
    ['fio-3.33-jobfile.jsonplus.json', text('two-jobs.fio').replace('filename=/tmp/x\n', '').replace('ioengine=libaio\n', ''), true],
  ])('%s', async (name, jobText, plus) => {
    const { run, globalOptions } = await runMemory(jobText);
    const { stats, groups } = summarize(run.results);
    const ours = JSON.parse(stringifyFioJson(buildJsonReport(run, stats, groups, { plus, globalOptions })));
    const theirs = fixture(name);
    // fio lists the kernel's disk utilisation; a device under VFIO has no kernel disk.
    delete theirs.disk_util;
    const missing = [...keyPaths(theirs)].filter((k) => !keyPaths(ours).has(k));
    expect(missing).toEqual([]);
    expect(ours.jobs.length).toBe(theirs.jobs.length);
    expect(ours.disk_util).toEqual([]);
  });

  it('values have fio units: bw in KiB/s, bw_bytes in B/s, runtime in ms, latencies in ns, iops = ios per second', async () => {
    const { run } = await runMemory('[j]\nrw=read\nbs=4k\nsize=1m\n');
    const { stats, groups } = summarize(run.results);
    const j = (buildJsonReport(run, stats, groups, { plus: true, globalOptions: {} }) as any).jobs[0];
    const r = j.read;
    expect(r.io_bytes).toBe(1 << 20);
    expect(r.io_kbytes).toBe(1024);
    expect(r.total_ios).toBe(256);
    expect(r.bw_bytes).toBe(Math.floor((1000 * r.io_bytes) / r.runtime));
    expect(r.bw).toBe(Math.floor(r.bw_bytes / 1024));
    expect(r.iops).toBeCloseTo((1000 * 256) / r.runtime, 6);
    expect(r.clat_ns.N).toBe(256);
    expect(Object.keys(r.clat_ns.percentile)).toEqual(['1.000000', '5.000000', '10.000000', '20.000000', '30.000000', '40.000000', '50.000000', '60.000000', '70.000000', '80.000000', '90.000000', '95.000000', '99.000000', '99.500000', '99.900000', '99.950000', '99.990000']);
    expect(Object.values(r.clat_ns.bins as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(256);
    expect(r.lat_ns.percentile).toBeUndefined();
    expect(j.write.total_ios).toBe(0);
    const lat = [j.latency_ns, j.latency_us, j.latency_ms].flatMap((o) => Object.values(o) as number[]);
    expect(lat.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  });

  it('group_reporting sums numjobs clones into one job with their total I/O', async () => {
    const { run } = await runMemory('[g]\nrw=read\nsize=256k\nnumjobs=3\ngroup_reporting\n');
    const { stats, groups } = summarize(run.results);
    const json = buildJsonReport(run, stats, groups, { plus: false, globalOptions: {} }) as any;
    expect(json.jobs.length).toBe(1);
    expect(json.jobs[0].read.total_ios).toBe(3 * 64);
    expect(json.jobs[0].read.clat_ns.N).toBe(3 * 64);
    expect(json.jobs[0]['vfio-node'].members).toBe(3);
    expect(groups[0]!.ioBytes[0]).toBe(3 * 256 * 1024);
  });

  it("stringifies like fio's json.c: ' : ', floats with six decimals", () => {
    const s = stringifyFioJson({ a: 1, iops: 2, mean: 1.5, latency_us: { '2': 0 }, nested: { N: 3 } });
    expect(s).toBe('{\n  "a" : 1,\n  "iops" : 2.000000,\n  "mean" : 1.500000,\n  "latency_us" : {\n    "2" : 0.000000\n  },\n  "nested" : {\n    "N" : 3\n  }\n}');
  });
});

/** A ThreadStat rebuilt from fio's json+ for one read job, to format it the way fio did. */
function statFromFio(job: any): ThreadStat {
  const ts = newThreadStat(job.jobname, job.groupid);
  const r = job.read;
  const io = (s: any): IoStat => ({ min: s.min, max: s.max, mean: s.mean, S: s.stddev * s.stddev * (s.N - 1), samples: s.N });
  const d = ts.dir[0];
  Object.assign(d, { ioBytes: r.io_bytes, totalIos: r.total_ios, runtimeMs: r.runtime, slat: io(r.slat_ns), clat: io(r.clat_ns), lat: io(r.lat_ns) });
  d.clatPlat = newPlat();
  for (const [v, c] of Object.entries(r.clat_ns.bins as Record<string, number>)) d.clatPlat[platValToIdx(Number(v))]! += c;
  const counts = (o: Record<string, number>, into: Float64Array, total: number) => Object.values(o).forEach((p, i) => (into[i] = Math.round((p * total) / 100)));
  counts(job.latency_ns, ts.latN, r.total_ios);
  counts(job.latency_us, ts.latU, r.total_ios);
  counts(job.latency_ms, ts.latM, r.total_ios);
  counts(job.iodepth_level, ts.ioUMap, r.total_ios);
  counts(job.iodepth_submit, ts.ioUSubmit, 1000);
  counts(job.iodepth_complete, ts.ioUComplete, 1000);
  ts.totalSubmit = ts.totalComplete = 1000;
  ts.totalRunTimeMs = job.job_runtime;
  ts.usrTimeUs = (job.usr_cpu / 100) * job.job_runtime * 1000;
  ts.sysTimeUs = (job.sys_cpu / 100) * job.job_runtime * 1000;
  Object.assign(ts, { ctx: job.ctx, majf: job.majf, minf: job.minf, iodepth: job.latency_depth, percentileList: Object.keys(r.clat_ns.percentile).map(Number) });
  return ts;
}

describe("normal output reads like fio's", () => {
  const normal = text('fio-3.33-randread-libaio-qd8.normal.txt').split('\n');
  const job = fixture('fio-3.33-randread-libaio-qd8.jsonplus.json').jobs[0];
  const ts = statFromFio(job);
  const rs = { groupid: 0, minRun: [245, 0, 0], maxRun: [245, 0, 0], minBw: [17119608, 0, 0], maxBw: [17119608, 0, 0], ioBytes: [4194304, 0, 0], agg: [17119608, 0, 0], kbBase: 1024 } as any;
  const lines = (s: string) => s.split('\n').filter(Boolean);
  const fioLines = (from: RegExp, count: number) => {
    const i = normal.findIndex((l) => from.test(l));
    return normal.slice(i, i + count);
  };

  it('slat/clat/lat lines pick usec and print min/max/avg/stdev as fio does', () => {
    expect(lines(displayLat('slat', ts.dir[0].slat) + displayLat('clat', ts.dir[0].clat) + displayLat(' lat', ts.dir[0].lat))).toEqual(fioLines(/^ {4}slat/, 3));
  });

  it('the clat percentile block is identical', () => {
    expect(lines(formatPercentiles(ts.dir[0].clatPlat, ts.dir[0].clat.samples, ts.percentileList, 'clat'))).toEqual(fioLines(/clat percentiles/, 6));
  });

  it('latency distribution lines are identical', () => {
    expect(lines(formatLatencies(ts))).toEqual(fioLines(/^ {2}lat \(/, 2));
  });

  it('the whole job block matches line for line, except pid/time and the bw/iops sample lines fio had none of', () => {
    const ours = lines(formatThreadStatus(ts, rs, new Date(), 16750));
    const theirs = fioLines(/^both: \(groupid/, 19);
    expect(ours.slice(1)).toEqual(theirs.slice(1));
    expect(ours[0]!.replace(/pid=\d+: .*/, '')).toBe(theirs[0]!.replace(/pid=\d+: .*/, ''));
  });

  it('the run status group line is identical', () => {
    expect(lines(formatGroupStats(rs))).toEqual(fioLines(/^Run status group/, 2));
  });
});
