import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseJobFile, resolveJobs } from '../jobfile.js';
import { compareJson, formatCompareTable, ourPeerResult, ratios, RUNTIME_ENGINE_LABEL } from './compare.js';
import { platIdxToVal, platValToIdx } from '../histogram.js';
import { newThreadStat } from '../stat.js';
import { kernelFioCommand, kernelPacingArgs, kernelPeerNotes, parseKernelFioJson } from './kernel-fio.js';
import type { PeerResult } from './peer.js';
import { parseQemuImgBench, qemuImgBenchCommand, qemuImgBenchResult } from './qemu-img.js';

const text = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('kernel peer (fio io_uring O_DIRECT)', () => {
  it('builds the command with every workload option explicit', () => {
    const o = resolveJobs(parseJobFile('[k]\nrw=randread\nbs=4k\niodepth=32\nruntime=10\ntime_based\nnorandommap\nsize=1g\n')).jobs[0]!.options;
    expect(kernelFioCommand(o, '/dev/nvme0n1')).toEqual([
      'fio', '--name=k', '--filename=/dev/nvme0n1', '--ioengine=io_uring', '--direct=1', '--rw=randread', '--bs=4096,4096,4096', '--iodepth=32',
      '--numjobs=1', '--kb_base=1024', '--rwmixread=50', '--randrepeat=1', '--size=1073741824', '--offset=0', '--runtime=10000000us',
      '--time_based', '--norandommap', '--group_reporting', '--output-format=json+',
    ]);
  });

  it('passes rate*, thinktime*, bssplit, rw=MODE:N, rw_sequencer, percentile_list and do_verify to fio 3.33', () => {
    const job = [
      '[k]', 'rw=randrw:8', 'rw_sequencer=identical', 'bssplit=4k/25:64k/,8k', 'rate=1m,', 'rate_iops=,500', 'rate_min=100k,',
      'rate_process=poisson', 'rate_cycle=500', 'rate_ignore_thinktime', 'thinktime=2ms', 'thinktime_spin=100', 'thinktime_blocks=4',
      'thinktime_blocks_type=issue', 'percentile_list=99.9:50', 'lat_percentiles=1', 'clat_percentiles=0', 'verify=crc32c', 'do_verify=0',
    ].join('\n');
    const cmd = kernelFioCommand(resolveJobs(parseJobFile(job)).jobs[0]!.options, '/dev/nvme0n1');
    expect(cmd).toContain('--rw=randrw:8');
    expect(cmd.slice(cmd.indexOf('--verify=crc32c'), cmd.indexOf('--group_reporting'))).toEqual([
      '--verify=crc32c', '--do_verify=0',
      '--rate=1048576,4096000', '--rate_min=102400,0', '--rate_process=poisson', '--rate_cycle=500',
      '--rate_ignore_thinktime=1', '--thinktime=2000', '--thinktime_spin=100', '--thinktime_blocks=4', '--thinktime_blocks_type=issue',
      '--bssplit=65536/75:4096/25,8192/100', '--rw_sequencer=identical', '--percentile_list=50:99.9', '--clat_percentiles=0', '--lat_percentiles=1',
    ]);
  });

  it('passes thinktime_iotime in µs, and thinktime_blocks=1 when it was given beside it (fio counts blocks only then)', () => {
    const args = (job: string) => kernelPacingArgs(resolveJobs(parseJobFile(job)).jobs[0]!.options).args;
    expect(args('[k]\nthinktime=200ms\nthinktime_iotime=3\n')).toEqual(['--thinktime=200000', '--thinktime_iotime=3000000us']);
    expect(args('[k]\nthinktime=200ms\nthinktime_iotime=300ms\nthinktime_blocks=1\n')).toEqual(['--thinktime=200000', '--thinktime_blocks=1', '--thinktime_iotime=300000us']);
    expect(args('[k]\nthinktime=200ms\nthinktime_blocks=1\n')).toEqual(['--thinktime=200000']);
  });

  it('passes random_distribution in fio 3.33 spelling, and nothing for the default', () => {
    const o = resolveJobs(parseJobFile('[k]\nrw=randread\nrandom_distribution=zipf:1.2:0.3\n')).jobs[0]!.options;
    expect(kernelFioCommand(o, '/dev/nvme0n1')).toContain('--random_distribution=zipf:1.2:0.3');
    const plain = resolveJobs(parseJobFile('[k]\nrw=randread\n')).jobs[0]!.options;
    expect(kernelFioCommand(plain, '/dev/nvme0n1').some((a) => a.startsWith('--random_distribution'))).toBe(false);
  });

  it('gives fio rate_iops as a byte rate when rate is there too (fio: "mutually exclusive"), and says so for rate_iops_min', () => {
    const o = resolveJobs(parseJobFile('[k]\nrw=randrw\nbs=4k,8k\nrate=1m,\nrate_iops=100\nrate_min=10k,\nrate_iops_min=5\n')).jobs[0]!.options;
    const cmd = kernelFioCommand(o, '/dev/nvme0n1');
    expect(cmd).toContain('--rate=1048576,819200');
    expect(cmd).toContain('--rate_min=10240,40960');
    expect(cmd.filter((a) => a.startsWith('--rate_iops'))).toEqual([]);
    expect(kernelPacingArgs(o).notes).toEqual(['fio takes rate_min or rate_iops_min, not both: rate_iops_min went to it as a byte rate (IOPS x the smallest block)']);
    const iopsOnly = resolveJobs(parseJobFile('[k]\nrate_iops=,500\nrate_iops_min=10\n')).jobs[0]!.options;
    expect(kernelPacingArgs(iopsOnly)).toEqual({ args: ['--rate_iops=0,500', '--rate_iops_min=10,10'], notes: [] });
  });

  it('adds nothing for options left at their defaults, and keeps a sequential skip in bytes', () => {
    const o = resolveJobs(parseJobFile('[k]\nrw=read:4k\nbssplit=,16k/100\n')).jobs[0]!.options;
    const cmd = kernelFioCommand(o, '/dev/nvme0n1');
    expect(cmd).toContain('--rw=read:4096');
    expect(cmd.filter((a) => /^--(rate|thinktime|percentile|rw_seq|clat_p|lat_p|do_verify)/.test(a))).toEqual([]);
    expect(cmd).toContain('--bssplit=,16384/100');
  });

  it('notes the device jobs whose options the kernel peer did not run', () => {
    const { jobs } = resolveJobs(parseJobFile('[global]\nfilename=0000:00:03.0/1\n[a]\nrw=read\nnumjobs=2\n[b]\nrw=randwrite\n[c]\nrw=read\n[n]\nioengine=null\nrw=write\n'));
    expect(kernelPeerNotes(jobs, jobs[0]!)).toEqual(["ran job 'a' only (its options, numjobs=2); not 'b', 'c', whose options differ"]);
    const same = resolveJobs(parseJobFile('[global]\nrw=read\n[a]\nnumjobs=2\n')).jobs;
    expect(kernelPeerNotes(same, same[0]!)).toEqual([]);
  });

  it("parses real fio 3.33 JSON (randrw libaio capture), with warnings before it", () => {
    const raw = text('fio-3.33-randrw-libaio.json');
    const j = JSON.parse(raw).jobs[0];
    const r = parseKernelFioJson('fio: some warning\n' + raw, ['fio']);
    expect(r.peer).toBe('kernel');
    expect(r.label).toBe('kernel nvme + fio fio-3.33');
    expect(r.read!.ios).toBe(j.read.total_ios);
    expect(r.read!.iops).toBeCloseTo((j.read.total_ios * 1000) / j.read.runtime, 6);
    expect(r.read!.bwBytes).toBe(j.read.bw_bytes);
    expect(r.read!.latMeanNs).toBeCloseTo(j.read.lat_ns.mean, 3);
    expect(r.read!.clatP99Ns).toBe(j.read.clat_ns.percentile['99.000000']);
    expect(r.write!.ios).toBe(j.write.total_ios);
  });

  it('no JSON is an error with a code', () => {
    expect(() => parseKernelFioJson('fio: failed to open /dev/nvme0n1')).toThrow(expect.objectContaining({ code: 'ERR_BENCH_PEER_OUTPUT' }));
  });
});

describe('qemu peer (qemu-img bench over block/nvme.c)', () => {
  it('builds the command in the default cache mode', () => {
    expect(qemuImgBenchCommand({ count: 100000, depth: 32, size: 4096, write: false, address: '0000:00:03.0', nsid: 1 })).toEqual(
      ['qemu-img', 'bench', '-c', '100000', '-d', '32', '-s', '4096', '--image-opts', 'driver=nvme,device=0000:00:03.0,namespace=1'],
    );
    expect(qemuImgBenchCommand({ count: 10, depth: 1, size: 512, write: true, address: '0000:00:04.0', nsid: 2, offset: 4096 })).toContain('-w');
  });

  it('parses real qemu-img 7.2 output (read and write captures)', () => {
    const r = parseQemuImgBench(text('qemu-img-bench-read.txt'));
    expect(r).toEqual({ count: 1000, write: false, size: 4096, depth: 4, offset: 0, step: 4096, seconds: 0.027 });
    const w = parseQemuImgBench(text('qemu-img-bench-write.txt'));
    expect(w.write).toBe(true);
    const res = qemuImgBenchResult(r);
    expect(res.read!.iops).toBeCloseTo(1000 / 0.027, 6);
    expect(res.read!.bwBytes).toBe(Math.floor((1000 / 0.027) * 4096));
    expect(res.write).toBeUndefined();
    expect(qemuImgBenchResult(w).write!.ios).toBe(1000);
  });

  it('an aborted run is an error that says what to check', () => {
    expect(() => parseQemuImgBench("qemu-img: Could not open 'driver=nvme,...': Failed to configure NVMe write cache")).toThrow(
      expect.objectContaining({ code: 'ERR_BENCH_PEER_OUTPUT', message: expect.stringContaining('Failed to configure NVMe write cache') }),
    );
  });
});

describe('side by side', () => {
  const ours: PeerResult = { peer: 'vfio-node', label: 'us', command: [], read: { iops: 20000, bwBytes: 20000 * 4096, ios: 200000, latMeanNs: 50000, clatP99Ns: 90000 } };
  const kernel: PeerResult = { peer: 'kernel', label: 'k', command: ['fio', '--x'], read: { iops: 10000, bwBytes: 10000 * 4096, ios: 100000, latMeanNs: 100000, clatP99Ns: 180000 } };
  const qemu: PeerResult = { peer: 'qemu', label: 'q', command: ['qemu-img', 'bench'], read: { iops: 16000, bwBytes: 16000 * 4096, ios: 100000 }, note: 'sequential offsets only' };

  it('ratios are ours / theirs for shared metrics only', () => {
    expect(ratios(ours, [kernel, qemu])).toEqual({
      kernel: { read_iops: 2, read_bw: 2, read_lat_mean: 0.5, read_clat_p99: 0.5 },
      qemu: { read_iops: 1.25, read_bw: 1.25 },
    });
  });

  it('the table has a column per side and per ratio, and lists the commands', () => {
    const t = formatCompareTable(ours, [kernel, qemu]);
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^\s+vfio-node\s+kernel\s+qemu\s+vs kernel\s+vs qemu$/);
    expect(lines[1]).toMatch(/^read IOPS\s+20000\s+10000\s+16000\s+2\.00x\s+1\.25x$/);
    expect(t).toContain('read lat mean (us)');
    expect(t).toMatch(/read lat mean \(us\)\s+50\.0\s+100\.0\s+-\s+0\.50x\s+-/);
    expect(t).toContain('kernel: fio --x');
    expect(t).toContain('qemu: sequential offsets only');
    expect(t).not.toContain('write IOPS');
  });

  it('the JSON object carries every side and the ratios', () => {
    const j = compareJson(ours, [qemu]) as any;
    expect(j.peers.map((p: any) => p.peer)).toEqual(['vfio-node', 'qemu']);
    expect(j.peers[1]).toEqual({ peer: 'qemu', label: 'q', command: ['qemu-img', 'bench'], read: { iops: 16000, bw_bytes: 16000 * 4096, ios: 100000 }, note: 'sequential offsets only' });
    expect(j.ratios.qemu.read_iops).toBe(1.25);
  });
});

describe('our own side in the comparison', () => {
  it("carries every job's completion-latency bins, summed, so the report draws its latency curve (the runtime's too)", () => {
    const stat = (lats: number[]) => {
      const ts = newThreadStat('j', 0);
      const d = ts.dir[0];
      for (const ns of lats) {
        d.clatPlat[platValToIdx(ns)]!++;
        d.totalIos++;
        d.ioBytes += 4096;
        d.lat.mean = (d.lat.mean * d.lat.samples + ns) / (d.lat.samples + 1);
        d.lat.samples++;
        d.clat.samples++;
      }
      d.runtimeMs = 1000;
      return { stat: ts, first: {} as never };
    };
    const r = ourPeerResult([stat([1000, 1000, 50_000]), stat([1000])], RUNTIME_ENGINE_LABEL);
    expect(r.read!.ios).toBe(4);
    expect(r.read!.clatBins).toEqual([[platIdxToVal(platValToIdx(1000)), 3], [platIdxToVal(platValToIdx(50_000)), 1]]);
    const json = compareJson(r, []) as { peers: Array<{ read: { clat_bins?: Record<string, number> } }> };
    expect(Object.values(json.peers[0]!.read.clat_bins!)).toEqual([3, 1]);
  });
});
