// The benchmark's second engine, --ioengine=vfio-runtime, on the lab's NVMe: the jobs go
// through @vfio-node/runtime's promise API from the main thread (NvmeRuntime.open with an
// embedder's default options, rt.namespace(1).read/write into rt.allocBuffer memory), and
// land in the same fio statistics as the direct engine's. Behaviour only, never speed.

import { describe, expect, it } from 'vitest';
import { labNvme, runBenchCli } from './lab-env.js';

const bench = (args: string[]) => runBenchCli(args, 300_000); // seconds-long jobs; the lab is slow under TCG

interface FioLat {
  min: number;
  max: number;
  mean: number;
  N: number;
  percentile?: Record<string, number>;
}

interface FioDir {
  total_ios: number;
  io_bytes: number;
  clat_ns: FioLat;
  lat_ns: FioLat;
}

interface FioJob {
  jobname: string;
  error: number;
  read: FioDir;
  write: FioDir;
  'job options': Record<string, string>;
  'vfio-node': { target: string; engine: string; verify_blocks: number; verror?: string };
}

/** Completion latencies of a direction that moved data: counted once per I/O, percentiles present and in order. */
function expectLatencies(job: string, d: FioDir): void {
  expect(d.total_ios, `${job}: I/Os completed`).toBeGreaterThan(0);
  expect(d.clat_ns.N, `${job}: one clat sample per I/O`).toBe(d.total_ios);
  expect(d.clat_ns.min, `${job}: clat.min`).toBeGreaterThan(0);
  expect(d.clat_ns.min, `${job}: clat min <= mean`).toBeLessThanOrEqual(d.clat_ns.mean);
  expect(d.clat_ns.mean, `${job}: clat mean <= max`).toBeLessThanOrEqual(d.clat_ns.max);
  const pct = Object.entries(d.clat_ns.percentile ?? {}).map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
  expect(pct.map(([k]) => k), `${job}: fio's default percentile list`).toEqual([1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]);
  for (const [, v] of pct) expect(v, `${job}: a percentile is a latency`).toBeGreaterThan(0);
  for (let i = 1; i < pct.length; i++) expect(pct[i]![1], `${job}: p${pct[i]![0]} >= p${pct[i - 1]![0]}`).toBeGreaterThanOrEqual(pct[i - 1]![1]);
  expect(pct.at(-1)![1], `${job}: p99.99 within the bin of clat.max`).toBeLessThanOrEqual(Math.ceil(d.clat_ns.max * (1 + 1 / 128)));
}

// A bench process starts the runtime's worker and its queue pair in the guest: slow under emulation.
const SLOW = 360_000;

describe('the benchmark drives the lab NVMe through the runtime promise API (--ioengine=vfio-runtime)', () => {
  it('randread at QD8 and a random write job verified with crc32c: I/Os complete, no mismatch, the JSON names the engine, the latency percentiles are in order', async () => {
    const file = `--filename=${labNvme()[0]}/1`;
    const r = await bench([
      file, '--ioengine=vfio-runtime', '--bs=4k', '--output-format=json',
      '--name=randread', '--rw=randread', '--iodepth=8', '--runtime=2', '--time_based', '--size=16M',
      '--name=write-verify', '--stonewall', '--rw=randwrite', '--iodepth=4', '--size=2M', '--offset=32M', '--verify=crc32c',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const jobs = (JSON.parse(r.stdout) as { jobs: FioJob[] }).jobs;
    expect(jobs.map((j) => j.jobname)).toEqual(['randread', 'write-verify']);
    for (const j of jobs) {
      expect(j.error, `${j.jobname}: ${j['vfio-node'].verror ?? ''}`).toBe(0);
      expect(j['vfio-node'].engine).toBe('vfio-runtime');
      expect(j['vfio-node'].target).toBe(`${labNvme()[0]}/1`);
    }
    const [rr, wv] = jobs as [FioJob, FioJob];
    expectLatencies('randread', rr.read);
    expect(rr.write.total_ios).toBe(0);
    // 2 MiB of 4 KiB writes, each written once (the random map), then each read back and checked.
    expect(wv.write.total_ios).toBe(512);
    expectLatencies('write-verify', wv.write);
    expect(wv['vfio-node'].verify_blocks).toBe(512);
    expect(wv['vfio-node'].verror).toBeUndefined();
  }, SLOW);

  it('two jobs (numjobs=2) each keep their requests in flight on a runtime of two workers', async () => {
    const r = await bench([`--filename=${labNvme()[0]}/1`, '--ioengine=vfio-runtime', '--name=two', '--rw=randread', '--bs=4k', '--iodepth=4', '--numjobs=2', '--size=1M', '--output-format=json']);
    expect(r.code, r.stderr).toBe(0);
    const jobs = (JSON.parse(r.stdout) as { jobs: FioJob[] }).jobs;
    expect(jobs.map((j) => [j.error, j.read.total_ios, j['vfio-node'].engine])).toEqual([[0, 256, 'vfio-runtime'], [0, 256, 'vfio-runtime']]);
  }, SLOW);

  it('--compare=vfio-runtime runs the same job through both engines in one process and reports the ratios', async () => {
    const r = await bench([`--filename=${labNvme()[0]}/1`, '--name=c', '--rw=randread', '--bs=4k', '--iodepth=4', '--size=2M', '--compare=vfio-runtime', '--output-format=json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { jobs: FioJob[]; 'vfio-node compare': { peers: Array<{ peer: string; read?: { ios: number } }>; ratios: Record<string, Record<string, number>> } };
    expect(json.jobs[0]!['vfio-node'].engine).toBe('vfio-nvme');
    const cmp = json['vfio-node compare'];
    expect(cmp.peers.map((p) => [p.peer, p.read?.ios])).toEqual([['vfio-node', 512], ['vfio-runtime', 512]]);
    expect(cmp.ratios['vfio-runtime']!.read_iops).toBeGreaterThan(0);
  }, SLOW);
});

describe('the benchmark through the block layer (--ioengine=vfio-bdev: @vfio-node/bdev\'s NVMe bdev over the runtime)', () => {
  it('a random write job verified with crc32c and a trim job complete through the bdev, the JSON names the engine, and the data read back is what was written', async () => {
    const file = `--filename=${labNvme()[0]}/1`;
    const r = await bench([
      file, '--ioengine=vfio-bdev', '--bs=4k', '--output-format=json',
      '--name=write-verify', '--rw=randwrite', '--iodepth=8', '--size=2M', '--offset=40M', '--verify=crc32c',
      '--name=trim', '--stonewall', '--rw=randtrim', '--iodepth=4', '--size=1M', '--offset=48M',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const jobs = (JSON.parse(r.stdout) as { jobs: Array<FioJob & { trim: FioDir }> }).jobs;
    expect(jobs.map((j) => [j.jobname, j.error, j['vfio-node'].engine])).toEqual([['write-verify', 0, 'vfio-bdev'], ['trim', 0, 'vfio-bdev']]);
    const [wv, tr] = jobs as [FioJob & { trim: FioDir }, FioJob & { trim: FioDir }];
    expect(wv.write.total_ios).toBe(512);
    expectLatencies('write-verify', wv.write);
    expect(wv['vfio-node'].verify_blocks).toBe(512);
    expect(wv['vfio-node'].verror).toBeUndefined();
    expect(tr.trim.total_ios).toBe(256);
  }, SLOW);
});
