import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { summarize } from './group.js';
import { calcPercentiles } from './histogram.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { BENCH_VERSION } from './report-json.js';
import { formatTerseReport, TERSE_V3_FIELD_NAMES, TERSE_V3_FIELDS } from './report-terse.js';

// Terse version 3 against fio 3.33's lines. The fixtures are fio's own output:
//   fio-3.33-randrw-null.terse.txt: fio --name=mixed --ioengine=null --size=1m --rw=randrw --time_based
//     --runtime=1 --iodepth=4 --description="a described job" --output-format=terse
//   fio-3.33-two-jobs-null.terse.txt: fio --name=a --ioengine=null --size=1m --output-format=terse
//     --name=b --ioengine=null --size=1m --rw=write
// Values that depend on timing cannot match ours, so each field is checked by its format (the
// field table) and by what it means (relations between fields that hold in fio's lines and ours).

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** The printf format of each field of the table, by its name. */
function fieldPattern(name: string): RegExp {
  if (name === 'terse_version_3') return /^3$/;
  if (name === 'fio_version') return /^(fio-3\.33|vfio-node-.+)$/;
  if (name === 'jobname') return /^[^;]+$/;
  if (/_clat_pct\d\d$/.test(name)) return /^(\d+\.\d{6}%=\d+|0%=0)$/;
  if (/_bw_agg_pct$|^cpu_(user|sys)$/.test(name)) return /^\d+\.\d{6}%$/;
  if (/_(mean|dev)_(us|kb)$/.test(name)) return /^\d+\.\d{6}$/;
  if (/^iodepth_/.test(name)) return /^\d+\.\d%$/;
  if (/^lat_.*(us|ms)$/.test(name)) return /^\d+\.\d{2}%$/;
  // Counts, KiB, KiB/s, IOPS, ms, and µs minima and maxima: %llu.
  return /^\d+$/;
}

/** A line split by the field table; the fields past the table (the description) under "extra". */
function parseTerse(line: string): Record<string, string> & { extra: string[] } {
  const parts = line.replace(/\n$/, '').split(';');
  const rec: Record<string, string> = {};
  TERSE_V3_FIELD_NAMES.forEach((n, i) => (rec[n] = parts[i]!));
  return Object.assign(rec, { extra: parts.slice(TERSE_V3_FIELD_NAMES.length) });
}

/** What every version 3 line satisfies whoever printed it, from what the fields mean. */
function checkMeaning(r: Record<string, string>): void {
  for (const d of ['read', 'write']) {
    const kb = Number(r[`${d}_kb`]);
    const runt = Number(r[`${d}_runtime_ms`]);
    // bw = io_bytes * 1000 / runtime / 1024, from the same bytes as the KiB (rounded down twice).
    if (runt) expect(Math.abs(Number(r[`${d}_bandwidth_kb`]) - (kb * 1000) / runt)).toBeLessThanOrEqual(1000 / runt + 1);
    else expect([r[`${d}_bandwidth_kb`], r[`${d}_iops`]]).toEqual(['0', '0']);
    for (const l of ['slat', 'clat', 'lat']) {
      const min = Number(r[`${d}_${l}_min_us`]);
      const max = Number(r[`${d}_${l}_max_us`]);
      const mean = Number(r[`${d}_${l}_mean_us`]);
      expect(min).toBeLessThanOrEqual(max);
      if (max) expect(mean).toBeGreaterThanOrEqual(min), expect(mean).toBeLessThanOrEqual(max + 1);
    }
    // Percentiles ascend with the list, values in µs within the clat (or lat) range, then "0%=0".
    const pcts = Array.from({ length: 20 }, (_, i) => r[`${d}_clat_pct${String(i + 1).padStart(2, '0')}`]!);
    const given = pcts.filter((p) => p !== '0%=0').map((p) => p.split('%=').map(Number) as [number, number]);
    expect(pcts.slice(given.length).every((p) => p === '0%=0')).toBe(true);
    for (let i = 1; i < given.length; i++) {
      expect(given[i]![0]).toBeGreaterThan(given[i - 1]![0]);
      expect(given[i]![1]).toBeGreaterThanOrEqual(given[i - 1]![1]);
    }
  }
  const sum = (names: string[]) => names.reduce((a, n) => a + parseFloat(r[n]!), 0);
  const total = Number(r.read_kb) + Number(r.write_kb);
  if (total) {
    // The depth shares and the latency shares (µs with the ns buckets, then ms) each cover every I/O.
    expect(sum(TERSE_V3_FIELD_NAMES.filter((n) => n.startsWith('iodepth_')))).toBeGreaterThan(99.5);
    expect(sum(TERSE_V3_FIELD_NAMES.filter((n) => /^lat_.*(us|ms)$/.test(n)))).toBeGreaterThan(99.5);
  }
}

async function runMemory(jobText: string) {
  const { jobs } = resolveJobs(parseJobFile(jobText));
  const run = await runJobs({ jobs, open: async () => new MemoryTarget({ capacityBytes: 8 << 20, latencyPolls: 1, store: false }) });
  return { run, ...summarize(run.results) };
}

describe('terse output version 3, as fio 3.33 prints it', () => {
  it("the field table is the HOWTO's: 121 fields, read and write 41 each, no trim in version 3", () => {
    expect(TERSE_V3_FIELD_NAMES.length).toBe(TERSE_V3_FIELDS);
    expect(new Set(TERSE_V3_FIELD_NAMES).size).toBe(TERSE_V3_FIELDS);
    expect(TERSE_V3_FIELD_NAMES.filter((n) => n.startsWith('read_')).length).toBe(41);
    expect(TERSE_V3_FIELD_NAMES.filter((n) => n.startsWith('write_')).length).toBe(41);
    expect(TERSE_V3_FIELD_NAMES.slice(0, 9)).toEqual(['terse_version_3', 'fio_version', 'jobname', 'groupid', 'error', 'read_kb', 'read_bandwidth_kb', 'read_iops', 'read_runtime_ms']);
    expect(TERSE_V3_FIELD_NAMES.at(-1)).toBe('lat_over_2000ms');
  });

  it.each([
    ['fio-3.33-randrw-null.terse.txt', 1],
    ['fio-3.33-two-jobs-null.terse.txt', 2],
  ])("fio's own lines (%s) parse by the same table: every field has its format and meaning", (name, count) => {
    const lines = fixture(name).split('\n').filter(Boolean);
    expect(lines.length).toBe(count);
    for (const line of lines) {
      const r = parseTerse(line);
      for (const n of TERSE_V3_FIELD_NAMES) expect([n, r[n]]).toEqual([n, expect.stringMatching(fieldPattern(n))]);
      checkMeaning(r);
    }
    expect(parseTerse(lines[0]!).extra).toEqual(name.includes('randrw') ? ['a described job'] : []);
  });

  it('our line for a randrw job: the same fields, formats and meanings, values from our result', async () => {
    const { run, stats, groups } = await runMemory('[mixed]\nrw=randrw\nsize=1m\niodepth=4\ndescription=a described job\n');
    const out = formatTerseReport(stats, groups);
    expect(out.endsWith('\n')).toBe(true);
    expect(out.split('\n').length).toBe(2);
    const r = parseTerse(out);
    // As fio prints a description: one more field at the end of the same line (version 3).
    expect(r.extra).toEqual(['a described job']);
    for (const n of TERSE_V3_FIELD_NAMES) expect([n, r[n]]).toEqual([n, expect.stringMatching(fieldPattern(n))]);
    checkMeaning(r);
    const ts = run.results[0]!.stat;
    expect([r.fio_version, r.jobname, r.groupid, r.error]).toEqual([BENCH_VERSION, 'mixed', '0', '0']);
    for (const [d, dir] of [['read', ts.dir[0]], ['write', ts.dir[1]]] as const) {
      expect(Number(r[`${d}_kb`])).toBe(Math.floor(dir.ioBytes / 1024));
      expect(Number(r[`${d}_runtime_ms`])).toBe(dir.runtimeMs);
      expect(Number(r[`${d}_iops`])).toBe(Math.floor((1000 * dir.totalIos) / dir.runtimeMs));
      expect(Number(r[`${d}_bandwidth_kb`])).toBe(Math.floor(Math.floor((1000 * dir.ioBytes) / dir.runtimeMs) / 1024));
      expect(Number(r[`${d}_clat_min_us`])).toBe(Math.floor(dir.clat.min / 1000));
      expect(Number(r[`${d}_clat_max_us`])).toBe(Math.floor(dir.clat.max / 1000));
      expect(r[`${d}_clat_mean_us`]).toBe((dir.clat.mean / 1000).toFixed(6));
      expect(Number(r[`${d}_lat_max_us`])).toBe(Math.floor(dir.lat.max / 1000));
      // fio's default list, 17 entries, then three "0%=0".
      const vals = calcPercentiles(dir.clatPlat, dir.clat.samples, ts.percentileList);
      expect(r[`${d}_clat_pct07`]).toBe(`50.000000%=${Math.floor(vals[6]! / 1000)}`);
      expect(r[`${d}_clat_pct17`]).toBe(`99.990000%=${Math.floor(vals[16]! / 1000)}`);
      expect([r[`${d}_clat_pct18`], r[`${d}_clat_pct20`]]).toEqual(['0%=0', '0%=0']);
    }
    // iodepth=4: the I/Os were issued with up to 4 in flight.
    expect(parseFloat(r.iodepth_1!) + parseFloat(r.iodepth_2!) + parseFloat(r.iodepth_4!)).toBeGreaterThan(99.5);
    expect(r.cpu_csw).toBe(String(ts.ctx));
  });

  it("a direction the job does not do is fio's zero block, field for field", async () => {
    // Timing-free: fio's job b (rw=write) has exactly this read part.
    const fio = parseTerse(fixture('fio-3.33-two-jobs-null.terse.txt').split('\n')[1]!);
    const { stats, groups } = await runMemory('[b]\nrw=write\nsize=1m\n');
    const ours = parseTerse(formatTerseReport(stats, groups));
    const readNames = TERSE_V3_FIELD_NAMES.filter((n) => n.startsWith('read_'));
    expect(readNames.map((n) => ours[n])).toEqual(readNames.map((n) => fio[n]));
    expect(ours.write_kb).toBe(fio.write_kb);
  });

  it('percentile fields follow percentile_list, clat_percentiles=0 and lat_percentiles=1 as fio does', async () => {
    const two = parseTerse(formatTerseReport(...grab(await runMemory('[p]\nsize=256k\npercentile_list=99:50\n'))));
    expect([two.read_clat_pct01, two.read_clat_pct02, two.read_clat_pct03]).toEqual([expect.stringMatching(/^50\.000000%=\d+$/), expect.stringMatching(/^99\.000000%=\d+$/), '0%=0']);
    // fio 3.33 with --clat_percentiles=0: twenty "0%=0".
    const none = parseTerse(formatTerseReport(...grab(await runMemory('[p]\nsize=256k\nclat_percentiles=0\n'))));
    expect(Array.from({ length: 20 }, (_, i) => none[`read_clat_pct${String(i + 1).padStart(2, '0')}`])).toEqual(Array(20).fill('0%=0'));
    // lat_percentiles=1: the fields hold total-latency percentiles (from lat's bins).
    const { run, stats, groups } = await runMemory('[p]\nsize=256k\nlat_percentiles=1\npercentile_list=100\n');
    const lat = parseTerse(formatTerseReport(stats, groups));
    const d = run.results[0]!.stat.dir[0];
    expect(lat.read_clat_pct01).toBe(`100.000000%=${Math.floor(calcPercentiles(d.latPlat, d.lat.samples, [100])[0]! / 1000)}`);
  });

  it('group_reporting: one line for the group, named after its first job', async () => {
    const { stats, groups } = await runMemory('[g]\nsize=256k\nnumjobs=3\ngroup_reporting\n');
    const lines = formatTerseReport(stats, groups).split('\n').filter(Boolean);
    expect(lines.length).toBe(1);
    expect(parseTerse(lines[0]!).read_kb).toBe(String(3 * 256));
  });
});

function grab(r: Awaited<ReturnType<typeof runMemory>>) {
  return [r.stats, r.groups] as const;
}
