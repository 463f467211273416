import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { IO_TRIM, IO_WRITE } from './io-target.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { runBench } from './run.js';
import { benchHost } from '../test/bench-host.js';

// rw=trim, randtrim and trimwrite against the memory double, with the counts fio 3.33 gave
// on its null engine for the same jobs (bs=4k, size=1M):
//   randtrim, trim: trim io_bytes 1048576, total_ios 256; read and write 0
//   trimwrite:      trim 1048576/256 and write 1048576/256; iolog "trim 0 4096, write 0 4096, trim 4096 4096, ..."
//   issued rwts (normal output): total=0,0,256,0 (trims), total=0,256,256,0 (trimwrite)

async function run(text: string, capacityBytes = 1 << 20) {
  const targets: MemoryTarget[] = [];
  const res = await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes, blockSize: 512 });
      targets.push(t);
      return t;
    },
  });
  return { stat: res.results[0]!.stat, t: targets[0]! };
}

describe('trim workloads', () => {
  it('rw=trim trims the region in order, bs at a time, counted as fio counts trims', async () => {
    const { stat, t } = await run('[j]\nrw=trim\nbs=4k\nsize=1m\n');
    expect(t.log.dir.every((d) => d === IO_TRIM)).toBe(true);
    expect(t.log.offset).toEqual(Array.from({ length: 256 }, (_, i) => i * 4096));
    expect([stat.dir[2].ioBytes, stat.dir[2].totalIos, stat.dir[2].clat.samples]).toEqual([1048576, 256, 256]);
    expect([stat.dir[0].totalIos, stat.dir[1].totalIos]).toEqual([0, 0]);
    expect(stat.dir[2].runtimeMs).toBe(stat.totalRunTimeMs);
  });

  it('randtrim trims every block once, out of order (the random map, as randread)', async () => {
    const { stat, t } = await run('[j]\nrw=randtrim\nbs=4k\nsize=1m\niodepth=8\n');
    expect(t.log.dir.every((d) => d === IO_TRIM)).toBe(true);
    expect(new Set(t.log.offset).size).toBe(256);
    expect(t.log.offset).not.toEqual([...t.log.offset].sort((a, b) => a - b));
    expect([stat.dir[2].ioBytes, stat.dir[2].totalIos]).toEqual([1048576, 256]);
  });

  it('trimwrite trims a block, writes it, moves on: size bytes of each', async () => {
    const { stat, t } = await run('[j]\nrw=trimwrite\nbs=4k\nsize=1m\n');
    expect(t.log.dir.slice(0, 4)).toEqual([IO_TRIM, IO_WRITE, IO_TRIM, IO_WRITE]);
    expect(t.log.offset.slice(0, 4)).toEqual([0, 0, 4096, 4096]);
    expect(t.log.dir.length).toBe(512);
    expect([stat.dir[2].ioBytes, stat.dir[2].totalIos, stat.dir[1].ioBytes, stat.dir[1].totalIos]).toEqual([1048576, 256, 1048576, 256]);
  });

  it('trims have their own over-time series (the report\'s charts), beside the writes of trimwrite', async () => {
    // A fake clock: 10 µs per read, so the windows hold the same I/Os on any machine.
    let now = 0;
    const res = await runJobs({
      jobs: resolveJobs(parseJobFile('[j]\nrw=trimwrite\nbs=4k\nsize=1m\nlog_avg_msec=5\n')).jobs,
      open: async () => new MemoryTarget({ capacityBytes: 1 << 20, blockSize: 512, store: false }),
      clock: () => (now += 1e4),
    });
    const s = res.results[0]!.series!;
    expect(s.read).toBeUndefined();
    expect(s.trim!.iops.length).toBeGreaterThan(1);
    // I/Os per point: its rate over its window (the last one's is shorter).
    const ios = (pts: [number, number][]) => pts.reduce((a, [t, v], i) => a + (v * (t - (i ? pts[i - 1]![0] : 0))) / 1000, 0);
    // Every window's trims and writes, within a pair of the other (a trim, then its write).
    s.trim!.iops.forEach(([t, v], i) => {
      expect(s.write!.iops[i]![0]).toBe(t);
      expect(Math.abs(v - s.write!.iops[i]![1])).toBeLessThanOrEqual(1000 / s.intervalMs + 1);
    });
    // The 256 trims are in the series, but for a tail shorter than half a window that the
    // series leaves out (job-series.ts): 249 on this clock, 83 a window.
    expect(ios(s.trim!.iops)).toBeLessThanOrEqual(256);
    expect(ios(s.trim!.iops)).toBeGreaterThan(230);
    expect(s.trim!.bw[0]![1]).toBe(s.trim!.iops[0]![1] * 4096);
  });

  it('trims take the third size of bs= (bs=4k,8k,16k), or the last one given (bs=4k,8k)', async () => {
    expect((await run('[j]\nrw=trim\nbs=4k,8k,16k\nsize=64k\n')).t.log.length.every((l) => l === 16384)).toBe(true);
    expect((await run('[j]\nrw=trim\nbs=4k,8k\nsize=64k\n')).t.log.length.every((l) => l === 8192)).toBe(true);
  });

  it('a trimmed range reads back as the target has it (zeroes on the memory double), and trimwrite with verify passes', async () => {
    const { t } = await run('[j]\nrw=write\nbs=4k\nsize=64k\n', 64 << 10);
    expect(t.data.some((b) => b !== 0)).toBe(true);
    const trimmed = await runJobs({ jobs: resolveJobs(parseJobFile('[j]\nrw=randtrim\nbs=4k\nsize=64k\n')).jobs, open: async () => t });
    expect(trimmed.results[0]!.stat.dir[2].totalIos).toBe(16);
    expect(t.data.every((b) => b === 0)).toBe(true);
    const { stat } = await run('[j]\nrw=trimwrite\nbs=4k\nsize=64k\nverify=crc32c\n');
    expect([stat.error, stat.verified, stat.dir[0].totalIos]).toEqual([0, 16, 16]);
  });

  it('a trim that fails ends the job with EIO and names the direction', async () => {
    let n = 0;
    const res = await runJobs({
      jobs: resolveJobs(parseJobFile('[j]\nrw=trim\nbs=4k\nsize=16k\n')).jobs,
      open: async () => new MemoryTarget({ capacityBytes: 1 << 20, fail: (dir) => (dir === IO_TRIM && ++n === 2 ? 0x2 : 0) }),
    });
    expect(res.results[0]!.stat.error).toBe(5);
    expect(res.results[0]!.stat.verror).toBe('trim at offset 4096 length 4096 failed with status 0x2');
  });

  it('rate limits and bssplit are refused in a job with trims, by name', async () => {
    await expect(run('[j]\nrw=randtrim\nrate_iops=100\nsize=64k\n')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('rate') });
    await expect(run('[j]\nrw=trimwrite\nbssplit=4k/50:8k/50\nsize=64k\n')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('bssplit') });
  });
});

describe('trim reports (null engine) and peers', () => {
  // fio 3.33's JSON for a kernel randtrim, cut to what the peer reads.
  const FIO_TRIM = '{"fio version":"fio-3.33","jobs":[{"read":{"total_ios":0,"io_bytes":0,"runtime":0,"lat_ns":{"mean":0,"N":0},"clat_ns":{}},"write":{"total_ios":0,"io_bytes":0,"runtime":0,"lat_ns":{"mean":0,"N":0},"clat_ns":{}},"trim":{"total_ios":256,"io_bytes":1048576,"runtime":50,"lat_ns":{"mean":90000,"N":256},"clat_ns":{"percentile":{"50.000000":80000,"99.000000":150000}}}}]}';
  const host = () => benchHost({}, () => ({ stdout: FIO_TRIM, stderr: '', status: 0 }));


  it('--compare: the kernel peer runs rw=randtrim and its trims sit beside ours; qemu-img bench, which has no trims, is skipped with a message', async () => {
    const t = host();
    expect(await runBench(['--name=t', '--filename=0000:00:03.0/1', '--rw=randtrim', '--size=1m', '--compare=kernel,qemu', '--kernel-device=/dev/nvme0n1', '--output-format=json'], t.h)).toBe(0);
    expect(t.commands.length).toBe(1);
    expect(t.commands[0]).toContain('--rw=randtrim');
    expect(t.err()).toContain('qemu-img bench has no trims (rw=randtrim); skipping the qemu peer');
    const cmp = JSON.parse(t.out())['vfio-node compare'];
    expect(cmp.peers[0].trim.ios).toBe(256);
    expect(cmp.peers[1]).toMatchObject({ peer: 'kernel', trim: { ios: 256, iops: 256 * 20, lat_mean_ns: 90000, clat_p99_ns: 150000 } });
    expect(cmp.peers[1].read).toBeUndefined();
    expect(cmp.ratios.kernel.trim_iops).toBeGreaterThan(0);
  });

  it('normal output: the trim block, issued rwts and the TRIM run status, as fio 3.33 prints them', async () => {
    const t = host();
    expect(await runBench(['--name=t', '--ioengine=null', '--rw=trimwrite', '--bs=4k', '--size=1m'], t.h)).toBe(0);
    const out = t.out();
    expect(out).toMatch(/^t: \(g=0\): rw=trimwrite, bs=\(R\) 4096B-4096B, \(W\) 4096B-4096B, \(T\) 4096B-4096B, ioengine=null, iodepth=1\n/);
    expect(out).toMatch(/\n {2}write: IOPS=.*\(1024KiB\/\d+msec\)\n/);
    expect(out).toMatch(/\n {2}trim: IOPS=.*\(1024KiB\/\d+msec\)\n/);
    expect(out).toContain('issued rwts: total=0,256,256,0 short=0,0,0,0 dropped=0,0,0,0');
    expect(out).toMatch(/\n {3}TRIM: bw=.*io=1024KiB \(1049kB\), run=/);
  });

  it('JSON: the trim object carries the counts, read and write stay empty', async () => {
    const t = host();
    expect(await runBench(['--name=t', '--ioengine=null', '--rw=randtrim', '--bs=4k', '--size=1m', '--output-format=json'], t.h)).toBe(0);
    const j = JSON.parse(t.out()).jobs[0];
    expect([j.trim.io_bytes, j.trim.total_ios, j.trim.clat_ns.N]).toEqual([1048576, 256, 256]);
    expect(j.trim.runtime).toBeGreaterThan(0);
    expect([j.read.total_ios, j.write.total_ios]).toEqual([0, 0]);
  });
});
