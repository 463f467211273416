import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { summarize } from './group.js';
import { calcPercentiles } from './histogram.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { BENCH_VERSION } from './report-json.js';
import { formatTerseReport, terseFieldNames, TERSE_V3_FIELD_NAMES, TERSE_V3_FIELDS, type TerseVersion } from './report-terse.js';
import { addStatSample, newIoStat } from './stat.js';

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

// Versions 2, 4 and 5 against fio 3.33's lines for the same jobs:
//   fio-3.33-randrw-null.terse-v{2,4,5}.txt: the randrw job above with --terse-version=2, 4, 5
//   fio-3.33-read-trimwrite-null.terse-v5.txt: fio --name=a --ioengine=null --size=1m
//     --output-format=terse --terse-version=5 --name=b --ioengine=null --size=1m --rw=trimwrite
describe('terse output versions 2, 4 and 5, as fio 3.33 prints them', () => {
  /** A line (or version 2's two lines) split by the version's field table. */
  function parseVersion(version: TerseVersion, text: string): Record<string, string> & { extra: string[] } {
    const names = terseFieldNames(version);
    const parts = text.replace(/\n$/, '').split(version === 2 ? /;|\n/ : ';');
    const rec: Record<string, string> = {};
    names.forEach((n, i) => (rec[n] = parts[i]!));
    return Object.assign(rec, { extra: parts.slice(names.length) });
  }
  /** Field formats of the names versions 3 does not have, the rest as version 3's. */
  function pattern(version: TerseVersion, name: string): RegExp {
    if (name === `terse_version_${version}`) return new RegExp(`^${version}$`);
    if (/_(bw_samples|iops_min|iops_max|iops_samples)$/.test(name)) return /^\d+$/;
    if (/_iops_(mean|dev)$/.test(name)) return /^\d+\.\d{6}$/;
    return fieldPattern(name.replace(/^trim_/, 'read_'));
  }
  const fioVersions = [
    [2, 161, 'fio-3.33-randrw-null.terse-v2.txt'],
    [4, 162, 'fio-3.33-randrw-null.terse-v4.txt'],
    [5, 180, 'fio-3.33-randrw-null.terse-v5.txt'],
  ] as const;

  it.each(fioVersions)('version %i: %i fields; fio\'s line parses by the same table, field by field', (version, count, name) => {
    const names = terseFieldNames(version);
    expect(names.length).toBe(count);
    expect(new Set(names).size).toBe(count);
    // Each direction: version 3's 41 fields, and 6 more in version 5; trim from version 4 on (and in 2).
    const per = version === 5 ? 47 : 41;
    for (const d of ['read', 'write', 'trim']) expect(names.filter((n) => n.startsWith(`${d}_`)).length).toBe(per);
    expect(names.slice(-34)).toEqual(TERSE_V3_FIELD_NAMES.slice(-34));
    const text = fixture(name);
    // fio 3.33 puts version 2's description on its own line.
    expect(text.split('\n').filter(Boolean).length).toBe(version === 2 ? 2 : 1);
    const r = parseVersion(version, text);
    for (const n of names) expect([n, r[n]]).toEqual([n, expect.stringMatching(pattern(version, n))]);
    expect(r.extra).toEqual(version === 2 ? ['', 'a described job'] : ['a described job']);
    expect(r.jobname).toBe('mixed');
    // The version 3 fields of read and write mean what they mean in version 3.
    const asV3: Record<string, string> = {};
    for (const n of TERSE_V3_FIELD_NAMES) asV3[n] = n === 'terse_version_3' ? '3' : n === 'fio_version' ? 'fio-3.33' : r[n]!;
    checkMeaning(asV3);
    if (version === 5) {
      for (const d of ['read', 'write']) {
        // One second: one bw and one IOPS sample (bw_avg=500ms, the first after the 500 ms
        // ramp of the average), IOPS the bw in 4 KiB blocks.
        expect([r[`${d}_bw_samples`], r[`${d}_iops_samples`]]).toEqual(['1', '1']);
        expect(Math.floor(Number(r[`${d}_bw_mean_kb`]) / 4)).toBe(Number(r[`${d}_iops_min`]));
      }
      expect(names.slice(names.indexOf('read_bw_dev_kb') + 1, names.indexOf('write_kb'))).toEqual(['read_bw_samples', 'read_iops_min', 'read_iops_max', 'read_iops_mean', 'read_iops_dev', 'read_iops_samples']);
    }
    // A randrw job trims nothing: fio's trim block is its zero block.
    expect(r.trim_kb).toBe('0');
  });

  it.each(fioVersions)('version %i: our line for the same randrw job has the same fields and formats', async (version, count) => {
    const { stats, groups } = await runMemory('[mixed]\nrw=randrw\nsize=1m\niodepth=4\ndescription=a described job\n');
    const out = formatTerseReport(stats, groups, version);
    expect(out.split('\n').filter(Boolean).length).toBe(version === 2 ? 2 : 1);
    const r = parseVersion(version, out);
    expect(Object.keys(r).length - 1).toBe(count);
    for (const n of terseFieldNames(version)) expect([n, r[n]]).toEqual([n, expect.stringMatching(pattern(version, n))]);
    expect(r.extra).toEqual(version === 2 ? ['', 'a described job'] : ['a described job']);
    expect(r.jobname).toBe('mixed');
    if (version !== 2) expect(r.fio_version).toBe(BENCH_VERSION);
    // The fields version 3 has are version 3's, value for value (same result, other layout).
    const v3 = parseTerse(formatTerseReport(stats, groups, 3));
    for (const n of TERSE_V3_FIELD_NAMES.slice(5)) expect([n, r[n]]).toEqual([n, v3[n]]);
  });

  it("version 5: directions a job does not do are fio's zero blocks, field for field", async () => {
    // Timing-free: in fio's lines, job a (read) writes and trims nothing, job b (trimwrite) reads nothing.
    const [fa, fb] = fixture('fio-3.33-read-trimwrite-null.terse-v5.txt').split('\n').filter(Boolean).map((l) => parseVersion(5, l));
    const names = terseFieldNames(5);
    const ours = async (job: string) => parseVersion(5, formatTerseReport(...grab(await runMemory(job)), 5));
    const a = await ours('[a]\nsize=1m\n');
    const b = await ours('[b]\nsize=1m\nrw=trimwrite\n');
    for (const [fio, us, dirs] of [[fa!, a, ['write', 'trim']], [fb!, b, ['read']]] as const) {
      const zero = names.filter((n) => dirs.some((d) => n.startsWith(`${d}_`)));
      expect(zero.map((n) => us[n])).toEqual(zero.map((n) => fio[n]));
    }
    // And the I/O the job did: 1 MiB as 256 blocks, in each direction fio counts.
    expect([a.read_kb, b.write_kb, b.trim_kb]).toEqual([fa!.read_kb, fb!.write_kb, fb!.trim_kb]);
  });

  it('version 5: the bw and IOPS sample fields are those of the stat (count, then min; max; mean; stdev; count)', async () => {
    const { stats, groups } = await runMemory('[s]\nsize=256k\n');
    // The reported stat (a copy of the job's) is what the line prints.
    const d = stats[0]!.stat.dir[0];
    Object.assign(d.bw, newIoStat()), Object.assign(d.iops, newIoStat());
    for (const v of [1000, 3000]) addStatSample(d.bw, v), addStatSample(d.iops, v / 4);
    const r = parseVersion(5, formatTerseReport(stats, groups, 5));
    expect([r.read_bw_min_kb, r.read_bw_max_kb, r.read_bw_mean_kb, r.read_bw_samples]).toEqual(['1000', '3000', '2000.000000', '2']);
    expect([r.read_iops_min, r.read_iops_max, r.read_iops_mean, r.read_iops_dev, r.read_iops_samples]).toEqual(['250', '750', '500.000000', Math.sqrt(2 * 250 * 250).toFixed(6), '2']);
  });
});
