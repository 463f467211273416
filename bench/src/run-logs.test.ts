import { describe, expect, it } from 'vitest';
import { runBench } from './run.js';
import { benchHost } from '../test/bench-host.js';

// fio's log files and the per-interval series through the whole flow, on fio's null engine
// and the memory double, with a kernel peer whose fio writes its logs into the scratch dir.

const KERNEL_JSON = JSON.stringify({
  'fio version': 'fio-3.33',
  jobs: [{
    read: { total_ios: 6, io_bytes: 24576, runtime: 3, lat_ns: { mean: 50000, N: 6 }, clat_ns: { percentile: { '50.000000': 40000, '99.000000': 90000 }, bins: { '40192': 4, '90112': 2 } } },
    write: { total_ios: 0, io_bytes: 0, runtime: 0, lat_ns: { mean: 0, N: 0 }, clat_ns: {} },
  }],
});

function host() {
  const dirs: string[] = [];
  let removed = 0;
  const t = benchHost(
    {
      makeDir: (p) => void dirs.push(p),
      tempDir: () => ({ path: '/scratch', remove: () => void removed++ }),
    },
    (argv) => {
      if (argv[0] === 'qemu-img') return { stdout: 'Sending 256 read requests, 4096 bytes each, 4 in parallel (starting at offset 0, step size 4096)\nRun completed in 0.010 seconds.\n', stderr: '', status: 0 };
      // fio writes its logs where --write_*_log points (here the scratch dir), one file per job.
      if (argv.includes('--write_iops_log=/scratch/kernel')) {
        t.files.set('/scratch/kernel_iops.1.log', '1000, 5, 0, 0, 0\n2000, 7, 0, 0, 0\n');
        t.files.set('/scratch/kernel_bw.1.log', '1000, 20, 0, 0, 0\n2000, 28, 0, 0, 0\n');
      }
      return { stdout: KERNEL_JSON, stderr: '', status: 0 };
    },
  );
  return { h: t.h, files: t.files, commands: t.commands, dirs, removed: () => removed, err: t.err };
}

describe('fio logs and series through vfio-node bench', () => {
  it("writes the log files fio would, with fio's names, and a series per job in the JSON", async () => {
    const t = host();
    const args = ['--ioengine=null', '--size=1m', '--rw=randread', '--name=a', '--write_iops_log=l', '--write_bw_log=l', '--log_avg_msec=100', '--name=b', '--output-format=json', '--output=r.json'];
    expect(await runBench(args, t.h)).toBe(0);
    expect([...t.files.keys()].sort()).toEqual(['l_bw.1.log', 'l_iops.1.log', 'r.json']);
    for (const line of t.files.get('l_iops.1.log')!.trim().split('\n')) expect(line).toMatch(/^\d+, \d+, 0, 0, 0$/);
    const json = JSON.parse(t.files.get('r.json')!);
    // Every job has its series, with or without log options; a's windows are its log_avg_msec.
    const [a, b] = json.jobs.map((j: Record<string, any>) => j['vfio-node'].series);
    expect(a.interval_ms).toBe(100);
    expect(b.interval_ms).toBe(1000);
    for (const s of [a, b]) {
      expect(s.write).toBeUndefined();
      expect(s.read.iops.length).toBeGreaterThan(0);
      expect(s.read.bw_bytes.length).toBe(s.read.iops.length);
    }
  });

  it('--log-dir puts every log under it, relative names under rel/', async () => {
    const t = host();
    expect(await runBench(['--ioengine=null', '--size=256k', '--name=a', '--write_lat_log=sub/x', '--log-dir=/out/logs'], t.h)).toBe(0);
    expect([...t.files.keys()].sort()).toEqual(['/out/logs/rel/sub/x_clat.1.log', '/out/logs/rel/sub/x_lat.1.log', '/out/logs/rel/sub/x_slat.1.log']);
    expect(t.dirs).toContain('/out/logs/rel/sub');
  });

  it('the kernel peer runs fio with json+ and its logs in a scratch dir: its bins, its series and a renamed copy of the log asked for come back; qemu has no series', async () => {
    const t = host();
    const args = ['--name=k', '--filename=0000:00:03.0/1', '--rw=randread', '--size=1m', '--iodepth=4', '--write_iops_log=l', '--compare=kernel,qemu', '--kernel-device=/dev/nvme0n1', '--output-format=json+', '--output=r.json'];
    expect(await runBench(args, t.h), t.err()).toBe(0);
    const fio = t.commands.find((c) => c[0] === 'fio')!;
    expect(fio).toContain('--output-format=json+');
    // Our log is per I/O (no log_avg_msec): so is the kernel's.
    expect(fio).toEqual(expect.arrayContaining(['--write_iops_log=/scratch/kernel', '--write_bw_log=/scratch/kernel', '--log_avg_msec=0', '--per_job_logs=1']));
    expect(t.removed()).toBe(1);
    expect(t.files.get('kernel-l_iops.1.log')).toBe('1000, 5, 0, 0, 0\n2000, 7, 0, 0, 0\n');
    expect(t.files.has('l_iops.1.log')).toBe(true);
    const peers = JSON.parse(t.files.get('r.json')!)['vfio-node compare'].peers;
    const kernel = peers.find((p: { peer: string }) => p.peer === 'kernel');
    expect(kernel.read.clat_bins).toEqual({ '40192': 4, '90112': 2 });
    // Per-I/O lines counted into 1 s windows: one line each in [1000, 2000) and [2000, 3000).
    expect(kernel.series.read.iops).toEqual([[2000, 1], [3000, 1]]);
    const qemu = peers.find((p: { peer: string }) => p.peer === 'qemu');
    expect(qemu.series).toBeUndefined();
    expect(qemu.note).toMatch(/no time series/);
  });

  it('with log_avg_msec the kernel\'s averaged lines are its points (bw from KiB/s to B/s), moved by the ramp', async () => {
    const t = host();
    const args = ['--name=k', '--filename=0000:00:03.0/1', '--rw=randread', '--size=1m', '--ramp_time=500ms', '--log_avg_msec=1000', '--compare=kernel', '--kernel-device=/dev/nvme0n1', '--output-format=json', '--output=r.json'];
    expect(await runBench(args, t.h), t.err()).toBe(0);
    expect(t.commands.find((c) => c[0] === 'fio')).toContain('--log_avg_msec=1000');
    const kernel = JSON.parse(t.files.get('r.json')!)['vfio-node compare'].peers.find((p: { peer: string }) => p.peer === 'kernel');
    expect(kernel.series).toEqual({ interval_ms: 1000, ramp_ms: 500, read: { iops: [[1500, 5], [2500, 7]], bw_bytes: [[1500, 20480], [2500, 28672]] } });
    // No log asked for: no copy of the kernel's.
    expect([...t.files.keys()].filter((k) => k.includes('kernel-'))).toEqual([]);
  });
});
