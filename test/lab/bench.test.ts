import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NvmeController, ONCS } from '@vfio-node/nvme';
import { labNvme, runBenchCli } from './lab-env.js';

const bench = (args: string[]) => runBenchCli(args, 240_000); // seconds-long jobs; the lab is slow under TCG

interface FioLat {
  min: number;
  max: number;
  mean: number;
  N: number;
  percentile?: Record<string, number>;
}

interface FioDir {
  io_bytes: number;
  io_kbytes: number;
  bw_bytes: number;
  bw: number;
  iops: number;
  runtime: number;
  total_ios: number;
  short_ios: number;
  drop_ios: number;
  slat_ns: FioLat;
  clat_ns: FioLat;
  lat_ns: FioLat;
}

interface FioJob {
  jobname: string;
  error: number;
  job_runtime: number;
  read: FioDir;
  write: FioDir;
  trim: FioDir;
  'vfio-node': { target: string; verify_blocks: number; series?: Record<string, { iops: [number, number][]; bw_bytes: [number, number][] } | number> };
}

const jobsOf = (stdout: string) => (JSON.parse(stdout) as { jobs: FioJob[] }).jobs;

/**
 * What a reader of fio's JSON relies on, for one direction of a job that moved bs-byte
 * blocks: every completed I/O counted once in io_bytes, total_ios and each latency's N;
 * the rates derived from them and the runtime as fio derives them; the latency summary
 * and the clat percentiles in order (a percentile is the middle of a histogram bin, within
 * 1/128 of the latencies in it).
 */
function expectConsistent(job: string, d: FioDir, bs: number): void {
  const where = (what: string) => `${job}: ${what}`;
  expect(d.total_ios, where('total_ios')).toBeGreaterThan(0);
  expect(d.io_bytes, where('io_bytes = total_ios * bs')).toBe(d.total_ios * bs);
  expect(d.io_kbytes, where('io_kbytes')).toBe(Math.floor(d.io_bytes / 1024));
  expect(d.short_ios + d.drop_ios, where('short and dropped I/Os')).toBe(0);
  for (const [name, l] of [['slat_ns', d.slat_ns], ['clat_ns', d.clat_ns], ['lat_ns', d.lat_ns]] as const) {
    expect(l.N, where(`${name}.N = total_ios`)).toBe(d.total_ios);
    expect(l.min, where(`${name}.min <= mean`)).toBeLessThanOrEqual(l.mean);
    expect(l.mean, where(`${name}.mean <= max`)).toBeLessThanOrEqual(l.max);
  }
  // lat = slat + clat for each I/O.
  expect(d.lat_ns.min, where('lat.min >= clat.min')).toBeGreaterThanOrEqual(d.clat_ns.min);
  expect(d.lat_ns.max, where('lat.max >= clat.max')).toBeGreaterThanOrEqual(d.clat_ns.max);
  expect(d.clat_ns.min, where('clat.min')).toBeGreaterThan(0);
  const pct = Object.entries(d.clat_ns.percentile ?? {}).map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
  expect(pct.map(([k]) => k), where('fio\'s default percentile list')).toEqual([1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]);
  for (let i = 1; i < pct.length; i++) expect(pct[i]![1], where(`p${pct[i]![0]} >= p${pct[i - 1]![0]}`)).toBeGreaterThanOrEqual(pct[i - 1]![1]);
  expect(pct[0]![1], where('p1 within the bin of clat.min')).toBeGreaterThanOrEqual(Math.floor(d.clat_ns.min * (1 - 1 / 128)));
  expect(pct.at(-1)![1], where('p99.99 within the bin of clat.max')).toBeLessThanOrEqual(Math.ceil(d.clat_ns.max * (1 + 1 / 128)));
  expect(d.runtime, where('runtime')).toBeGreaterThan(0);
  expect(d.iops, where('iops = total_ios / runtime')).toBeCloseTo((1000 * d.total_ios) / d.runtime, 3);
  expect(d.bw_bytes, where('bw_bytes = io_bytes / runtime')).toBe(Math.floor((1000 * d.io_bytes) / d.runtime));
  expect(d.bw, where('bw in KiB/s')).toBe(Math.floor(d.bw_bytes / 1024));
}

/** A direction the job does not do: nothing in it. */
function expectIdle(job: string, d: FioDir): void {
  expect([d.total_ios, d.io_bytes, d.iops, d.clat_ns.N], `${job}: a direction it does not do`).toEqual([0, 0, 0, 0]);
}

// Each bench run starts a process, a runtime and its workers in the guest: 80 to 105 s per
// test under load (two busy loops and other labs on the 2-core host), and the verify test
// runs three: past the lab's 120 s default. 6 minutes a test.
const SLOW = 360_000;

describe('the fio-style benchmark runs on the lab NVMe through worker-owned queue pairs', () => {
  const file = () => `--filename=${labNvme()[0]}/1`;

  it('runs each rw mode for the 1 s asked (time_based) and for 2 MiB (by size), with a JSON report whose counts, rates and latencies agree', async () => {
    // One invocation for both kinds of job: start-up is most of a bench run's time in the lab.
    const modes = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'];
    const args = ['--bs=4k', '--iodepth=8', file(), '--output-format=json'];
    for (const m of modes) args.push(`--name=${m}`, `--rw=${m}`, '--runtime=1', '--time_based', '--size=16M', '--stonewall');
    for (const m of modes) args.push(`--name=size-${m}`, `--rw=${m}`, '--size=2M', '--offset=32M', '--stonewall');
    const r = await bench(args);
    expect(r.code, r.stderr).toBe(0);
    const jobs = jobsOf(r.stdout);
    expect(jobs.map((j) => j.jobname)).toEqual([...modes, ...modes.map((m) => `size-${m}`)]);
    for (const j of jobs) {
      expect(j.error, j.jobname).toBe(0);
      const mode = j.jobname.replace(/^size-/, '');
      const reads = mode !== 'write' && mode !== 'randwrite';
      const writes = mode !== 'read' && mode !== 'randread';
      if (reads) expectConsistent(j.jobname, j.read, 4096);
      else expectIdle(j.jobname, j.read);
      if (writes) expectConsistent(j.jobname, j.write, 4096);
      else expectIdle(j.jobname, j.write);
      expectIdle(j.jobname, j.trim);
      for (const d of [reads && j.read, writes && j.write]) if (d) expect(d.runtime, j.jobname).toBe(j.job_runtime);
      if (j.jobname.startsWith('size-')) {
        // By size, each block of the region is issued once and every issued I/O completes
        // and is counted: 512 blocks of 4 KiB, split between reads and writes for rw.
        expect(j.read.total_ios + j.write.total_ios, j.jobname).toBe(512);
        expect(j.read.io_bytes + j.write.io_bytes, j.jobname).toBe(2 << 20);
      } else {
        // time_based: I/O is issued until runtime has passed, and the runtime runs to the
        // last completion, so it is at least the 1000 ms asked (no upper bound: how long the
        // in-flight I/O takes to drain is the emulator's business).
        expect(j.job_runtime, j.jobname).toBeGreaterThanOrEqual(1000);
      }
    }
  }, SLOW);

  it('runs numjobs=2 on two queue pairs at once', async () => {
    const r = await bench(['--name=two', '--rw=randread', '--bs=4k', '--iodepth=4', '--numjobs=2', '--runtime=1', '--time_based', file(), '--output-format=json']);
    expect(r.code, r.stderr).toBe(0);
    const jobs = jobsOf(r.stdout);
    expect(jobs).toHaveLength(2);
    for (const j of jobs) {
      expect(j.error).toBe(0);
      expectConsistent(j.jobname, j.read, 4096);
      expectIdle(j.jobname, j.write);
      expect(j.job_runtime).toBeGreaterThanOrEqual(1000);
    }
    const qids = jobs.map((j) => /#qid(\d+)$/.exec(j['vfio-node'].target)?.[1]);
    expect(qids[0]).toBeDefined();
    expect(new Set(qids).size).toBe(2);
  }, SLOW);

  it('verify finds a block corrupted behind its back and names its offset', async () => {
    const region = ['--bs=4k', '--size=1M', '--offset=0', file(), '--verify=crc32c'];
    // The write job verifies what it wrote (fio's verify phase reads back every block); a
    // read job with verify checks every block it reads: 256 blocks of 4 KiB each time.
    const w = await bench(['--name=w', '--rw=write', '--iodepth=4', ...region, '--output-format=json']);
    expect(w.code, w.stderr + w.stdout).toBe(0);
    const [wj] = jobsOf(w.stdout);
    expect(wj!.error).toBe(0);
    expect(wj!.write.total_ios).toBe(256);
    expect(wj!['vfio-node'].verify_blocks).toBe(256);
    const clean = await bench(['--name=r', '--rw=read', '--iodepth=4', ...region, '--output-format=json']);
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    const [rj] = jobsOf(clean.stdout);
    expect(rj!.error).toBe(0);
    expect(rj!.read.total_ios).toBe(256);
    expect(rj!['vfio-node'].verify_blocks).toBe(256);
    // Corrupt the block at byte offset 64 KiB through the driver, as another writer would.
    const ctrl = await NvmeController.open(labNvme()[0]!);
    try {
      const ns = ctrl.namespace(1);
      const buf = ctrl.allocBuffer(4096);
      buf.bytes.fill(0x5a);
      await ns.write((64 * 1024) / ns.blockSize, 4096 / ns.blockSize, buf.bytes);
      buf.release();
    } finally {
      await ctrl.close();
    }
    const bad = await bench(['--name=r', '--rw=read', '--iodepth=4', ...region]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/verify: bad magic header 5a5a.* at offset 65536/);
  }, SLOW);

  it('randtrim deallocates each block of the region once (Dataset Management), counted in the trim section, and the range reads back as DLFEAT says', async () => {
    // 1 MiB at 64 MiB, away from the other tests' regions: written with a pattern first.
    const offset = 64 << 20;
    const size = 1 << 20;
    const chunk = 256 * 1024;
    let dlfeat = 0;
    let ctrl = await NvmeController.open(labNvme()[0]!);
    try {
      // ONCS bit 2: the controller takes Dataset Management (NVMe Base 2.0 Identify Controller).
      expect(ctrl.identify.oncs & ONCS.DatasetManagement).not.toBe(0);
      const ns = ctrl.namespace(1);
      // DLFEAT bits 2:0 (NVM Command Set 1.0, Identify Namespace byte 33): what a deallocated block reads as.
      dlfeat = ns.info.dlfeat;
      const buf = ctrl.allocBuffer(chunk);
      buf.bytes.fill(0x5a);
      for (let at = offset; at < offset + size; at += chunk) await ns.write(at / ns.blockSize, chunk / ns.blockSize, buf.bytes);
      buf.release();
    } finally {
      await ctrl.close();
    }
    const r = await bench(['--name=trim', '--rw=randtrim', '--bs=4k', '--iodepth=4', `--offset=${offset}`, `--size=${size}`, file(), '--output-format=json']);
    expect(r.code, r.stderr).toBe(0);
    const [j] = jobsOf(r.stdout);
    expect(j!.error).toBe(0);
    // fio 3.33 counts the same job (null engine) as 256 trims, 1048576 bytes, nothing read or written.
    expectConsistent('trim', j!.trim, 4096);
    expect([j!.trim.total_ios, j!.trim.io_bytes]).toEqual([256, size]);
    expectIdle('trim', j!.read);
    expectIdle('trim', j!.write);
    expect(j!.trim.runtime).toBe(j!.job_runtime);
    // The over-time series has the trims (the report's "Trims" charts), and nothing else.
    const series = j!['vfio-node'].series!;
    expect(Object.keys(series).sort()).toEqual(['interval_ms', 'ramp_ms', 'trim']);
    const trims = series.trim as { iops: [number, number][]; bw_bytes: [number, number][] };
    expect(trims.iops.length).toBeGreaterThan(0);
    expect(Math.max(...trims.iops.map(([, v]) => v))).toBeGreaterThan(0);
    // 4 KiB a trim: the bandwidth is 4096 × the IOPS (each rounded on its own), at the same times.
    expect(trims.bw_bytes.map(([t]) => t)).toEqual(trims.iops.map(([t]) => t));
    trims.bw_bytes.forEach(([, v], i) => expect(Math.abs(v / 4096 - trims.iops[i]![1])).toBeLessThanOrEqual(0.5));

    ctrl = await NvmeController.open(labNvme()[0]!);
    try {
      const ns = ctrl.namespace(1);
      const buf = ctrl.allocBuffer(chunk);
      const read: number[] = [];
      for (let at = offset; at < offset + size; at += chunk) {
        await ns.read(at / ns.blockSize, chunk / ns.blockSize, buf.bytes);
        read.push(...new Set(buf.bytes));
      }
      buf.release();
      // 001b: all bytes 00h; 010b: all bytes FFh; 000b: not reported (then the pattern may stay).
      const values = [...new Set(read)];
      const reported = dlfeat & 0x7;
      expect([1, 2, 0], `DLFEAT ${dlfeat}`).toContain(reported);
      if (reported === 1) expect(values, `DLFEAT ${dlfeat}`).toEqual([0x00]);
      else if (reported === 2) expect(values, `DLFEAT ${dlfeat}`).toEqual([0xff]);
      else expect(values.every((v) => v === 0x5a || v === 0 || v === 0xff), `DLFEAT ${dlfeat}: ${values}`).toBe(true);
    } finally {
      await ctrl.close();
    }
  }, SLOW);

  it("writes fio's IOPS log and per-interval series for ours and the kernel peer, whose fio json+ bins come back too", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-logs-'));
    try {
      const r = await bench([
        '--name=logs', '--rw=randread', '--bs=4k', '--iodepth=4', '--size=16M', '--runtime=3', '--time_based', file(),
        `--write_iops_log=${dir}/ours`, '--log_avg_msec=500', '--compare=kernel', '--output-format=json+',
      ]);
      expect(r.code, r.stderr).toBe(0);
      // Ours: fio's name (prefix_iops.<job number>.log) and averaged lines "time, IOPS, ddir 0, bs 0, prio 0".
      const ours = readFileSync(path.join(dir, 'ours_iops.1.log'), 'utf8').trim().split('\n');
      // 3 s in 500 ms windows: 6 lines, 7 with a last partial window; the emulator's pauses may merge none.
      expect(ours.length, ours.join('\n')).toBeGreaterThanOrEqual(6);
      expect(ours.length).toBeLessThanOrEqual(7);
      for (const line of ours) expect(line).toMatch(/^\d+, \d+, 0, 0, 0$/);
      const times = ours.map((l) => Number(l.split(',')[0]));
      for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
      expect(ours.every((l) => Number(l.split(',')[1]) > 0)).toBe(true);
      // The kernel's own fio wrote its log beside ours, renamed, in the same format.
      const kernel = readFileSync(path.join(dir, 'kernel-ours_iops.1.log'), 'utf8').trim().split('\n');
      expect(kernel.length, kernel.join('\n')).toBeGreaterThanOrEqual(5);
      for (const line of kernel) expect(line).toMatch(/^\d+, \d+, 0, 0, 0$/);
      expect(readdirSync(dir).sort()).toEqual(['kernel-ours_iops.1.log', 'ours_iops.1.log']);

      const json = JSON.parse(r.stdout);
      const job = json.jobs[0];
      const series = job['vfio-node'].series;
      expect(series.interval_ms).toBe(500);
      expect(series.write).toBeUndefined();
      // The series counts every completion, as total_ios does (no ramp here): IOPS x 0.5 s per full window.
      const ios = series.read.iops.reduce((a: number, [t, v]: [number, number], i: number, all: [number, number][]) => a + (v * (t - (i ? all[i - 1]![0] : 0))) / 1000, 0);
      expect(ios).toBeGreaterThan(job.read.total_ios * 0.95);
      expect(ios).toBeLessThan(job.read.total_ios * 1.05);
      // Bandwidth is the same count in bytes (4 KiB per I/O), each rounded on its own.
      series.read.bw_bytes.forEach(([t, v]: [number, number], i: number) => {
        expect(t).toBe(series.read.iops[i][0]);
        expect(Math.abs(v - series.read.iops[i][1] * 4096)).toBeLessThanOrEqual(4096);
      });

      const kernelPeer = json['vfio-node compare'].peers.find((p: { peer: string }) => p.peer === 'kernel');
      expect(kernelPeer, JSON.stringify(json['vfio-node compare'].peers.map((p: { peer: string }) => p.peer))).toBeDefined();
      expect(kernelPeer.series.interval_ms).toBe(500);
      expect(kernelPeer.series.read.iops.length).toBeGreaterThanOrEqual(5);
      const bins = Object.values(kernelPeer.read.clat_bins as Record<string, number>).reduce((a, c) => a + c, 0);
      expect(bins).toBe(kernelPeer.read.ios);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});
