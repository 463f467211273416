import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { IO_READ, IO_WRITE } from './io-target.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget, type MemoryTargetOptions } from './memory-target.js';

// Unit tests of the engine's logic against an in-memory double. They say nothing about
// any device's performance.

function jobs(text: string) {
  return resolveJobs(parseJobFile(text)).jobs;
}

async function run(text: string, mem: MemoryTargetOptions = { capacityBytes: 1 << 20 }) {
  const targets: MemoryTarget[] = [];
  const res = await runJobs({
    jobs: jobs(text),
    open: async () => {
      const t = new MemoryTarget(mem);
      targets.push(t);
      return t;
    },
  });
  return { res, targets };
}

describe('engine over the memory double', () => {
  it('a sequential read job reads size bytes once, in order, bs at a time', async () => {
    const { res, targets } = await run('[j]\nrw=read\nbs=4k\nsize=64k\n');
    const t = targets[0]!;
    expect(t.log.offset).toEqual(Array.from({ length: 16 }, (_, i) => i * 4096));
    expect(t.log.dir.every((d) => d === IO_READ)).toBe(true);
    const st = res.results[0]!.stat;
    expect(st.dir[0].ioBytes).toBe(65536);
    expect(st.dir[0].totalIos).toBe(16);
    expect(st.dir[0].clat.samples).toBe(16);
    expect(st.dir[1].totalIos).toBe(0);
    expect(t.closed).toBe(true);
  });

  it('offset= moves the region; size is counted from it', async () => {
    const { targets } = await run('[j]\nrw=write\nbs=8k\noffset=16k\nsize=32k\n');
    expect(targets[0]!.log.offset).toEqual([16384, 24576, 32768, 40960]);
    expect(targets[0]!.log.dir.every((d) => d === IO_WRITE)).toBe(true);
  });

  it('randread with the random map touches every block exactly once', async () => {
    const { targets } = await run('[j]\nrw=randread\nbs=4k\nsize=256k\niodepth=8\n');
    const offs = targets[0]!.log.offset;
    expect(offs.length).toBe(64);
    expect(new Set(offs).size).toBe(64);
    expect(offs).not.toEqual([...offs].sort((a, b) => a - b));
  });

  it('randrepeat makes the random sequence repeatable; randseed changes it only with randrepeat=0 (fio 3.33)', async () => {
    const a = (await run('[j]\nrw=randread\nnorandommap\nsize=256k\n')).targets[0]!.log.offset;
    const b = (await run('[j]\nrw=randread\nnorandommap\nsize=256k\n')).targets[0]!.log.offset;
    // fio 3.33 seeds its offsets before randseed= turns randrepeat off (src/rand.ts fioBlockSeed).
    const c = (await run('[j]\nrw=randread\nnorandommap\nsize=256k\nrandseed=1234\n')).targets[0]!.log.offset;
    const d = (await run('[j]\nrw=randread\nnorandommap\nsize=256k\nrandseed=1234\nrandrepeat=0\n')).targets[0]!.log.offset;
    const e = (await run('[j]\nrw=randread\nnorandommap\nsize=256k\nrandseed=1234\nrandrepeat=0\n')).targets[0]!.log.offset;
    expect(a).toEqual(b);
    expect(c).toEqual(a);
    expect(d).not.toEqual(a);
    expect(d).toEqual(e);
  });

  it('norandommap draws independently, so some blocks repeat', async () => {
    const { targets } = await run('[j]\nrw=randread\nnorandommap\nbs=4k\nsize=1m\n');
    const offs = targets[0]!.log.offset;
    expect(offs.length).toBe(256);
    expect(new Set(offs).size).toBeLessThan(256);
  });

  it('iodepth bounds the I/Os in flight and batches submissions', async () => {
    const { res, targets } = await run('[j]\nrw=randread\nbs=4k\nsize=512k\niodepth=16\n', { capacityBytes: 1 << 20, latencyPolls: 3 });
    const t = targets[0]!;
    expect(t.log.maxInFlight).toBe(16);
    expect(t.log.batches[0]).toBe(16);
    // Every I/O was issued while at depth >= 16 or while the tail drained; the 16-31 bucket dominates.
    const st = res.results[0]!.stat;
    expect(st.ioUMap[4]).toBeGreaterThan(64);
  });

  it('rwmixread=70 gives about 70% reads', async () => {
    const { res } = await run('[j]\nrw=randrw\nrwmixread=70\nnorandommap\nbs=512\nsize=1m\n');
    const st = res.results[0]!.stat;
    const r = st.dir[0].totalIos;
    const w = st.dir[1].totalIos;
    expect(r + w).toBe(2048);
    expect(r / (r + w)).toBeGreaterThan(0.65);
    expect(r / (r + w)).toBeLessThan(0.75);
  });

  it('numjobs runs clones on their own targets, all in group 0', async () => {
    const { res, targets } = await run('[j]\nrw=read\nsize=64k\nnumjobs=3\n');
    expect(targets.length).toBe(3);
    expect(res.results.map((r) => r.job.index)).toEqual([0, 1, 2]);
    expect(res.results.every((r) => r.stat.dir[0].ioBytes === 65536)).toBe(true);
  });

  it('time_based loops over the region until runtime ends', async () => {
    const t0 = Date.now();
    const { res } = await run('[j]\nrw=read\nbs=4k\nsize=16k\ntime_based\nruntime=200ms\n');
    const st = res.results[0]!.stat;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(st.dir[0].ioBytes).toBeGreaterThan(16384 * 10);
    expect(st.totalRunTimeMs).toBeGreaterThanOrEqual(199);
    expect(st.dir[0].runtimeMs).toBe(st.totalRunTimeMs);
    // 200 ms holds no full 500 ms bandwidth window.
    expect(st.dir[0].bw.samples).toBe(0);
  });

  it('ramp_time runs I/O but records none of it', async () => {
    const { res, targets } = await run('[j]\nrw=read\nbs=4k\nsize=16k\ntime_based\nramp_time=100ms\nruntime=100ms\n');
    const st = res.results[0]!.stat;
    expect(targets[0]!.log.offset.length).toBeGreaterThan(st.dir[0].totalIos);
    expect(st.dir[0].totalIos).toBeGreaterThan(0);
  });

  it('verify=crc32c writes headers and reads every block back', async () => {
    const { res, targets } = await run('[j]\nrw=randwrite\nbs=4k\nsize=128k\nverify=crc32c\niodepth=4\n');
    const st = res.results[0]!.stat;
    expect(st.error).toBe(0);
    expect(st.verified).toBe(32);
    expect(st.dir[1].totalIos).toBe(32);
    expect(st.dir[0].totalIos).toBe(32);
    const t = targets[0]!;
    expect(t.data[0]).toBe(0xca);
    expect(t.data[1]).toBe(0xac);
  });

  it('verify=md5 catches a corrupted block with EILSEQ', async () => {
    let writes = 0;
    const targets: MemoryTarget[] = [];
    const res = await runJobs({
      jobs: jobs('[j]\nrw=write\nbs=4k\nsize=64k\nverify=md5\n'),
      open: async () => {
        const t = new MemoryTarget({ capacityBytes: 1 << 20 });
        const flush = t.flush.bind(t);
        t.flush = () => {
          flush();
          // Flip one payload byte of the fifth block after it is written.
          if (++writes === 5) t.data[4 * 4096 + 100] ^= 1;
        };
        targets.push(t);
        return t;
      },
    });
    const st = res.results[0]!.stat;
    expect(st.error).toBe(84);
    expect(st.verror).toMatch(/bad md5 at offset 16384/);
  });

  it('a read of a block never written with verify fails on the magic', async () => {
    const { res } = await run('[j]\nrw=read\nbs=4k\nsize=16k\nverify=crc32c\n');
    expect(res.results[0]!.stat.error).toBe(84);
    expect(res.results[0]!.stat.verror).toMatch(/bad magic header 0, wanted acca/);
  });

  it('a failed I/O stops the job with EIO and names the offset', async () => {
    const { res } = await run('[j]\nrw=read\nbs=4k\nsize=64k\niodepth=4\n', { capacityBytes: 1 << 20, fail: (_d, off) => (off === 32768 ? 0x281 : 0) });
    const st = res.results[0]!.stat;
    expect(st.error).toBe(5);
    expect(st.verror).toContain('offset 32768');
    expect(st.verror).toContain('0x281');
    expect(st.dir[0].totalIos).toBeLessThan(16);
  });

  it('refuses a bs that is not a multiple of the logical block', async () => {
    await expect(run('[j]\nbs=1000\nsize=64k\n')).rejects.toMatchObject({ code: 'ERR_BENCH_BS' });
  });

  it('refuses an iodepth deeper than the queue', async () => {
    await expect(run('[j]\niodepth=64\nsize=64k\n', { capacityBytes: 1 << 20, maxQueueDepth: 31 })).rejects.toMatchObject({ code: 'ERR_BENCH_IODEPTH' });
  });

  it('size as a percentage of capacity', async () => {
    const { res } = await run('[j]\nsize=25%\nbs=64k\n');
    expect(res.results[0]!.stat.dir[0].ioBytes).toBe(262144);
  });

  it('latencies are ordered: slat + clat = lat for every sample mean', async () => {
    const { res } = await run('[j]\nrw=randread\nsize=256k\niodepth=4\n', { capacityBytes: 1 << 20, latencyPolls: 2 });
    const d = res.results[0]!.stat.dir[0];
    expect(d.lat.mean).toBeCloseTo(d.slat.mean + d.clat.mean, 0);
    expect(d.clat.min).toBeLessThanOrEqual(d.clat.max);
    expect(d.clatPlat.reduce((a, b) => a + b, 0)).toBe(64);
  });

  it('rw=rw keeps one sequential position per direction', async () => {
    const { targets } = await run('[j]\nrw=rw\nbs=4k\nsize=64k\n');
    const t = targets[0]!;
    const reads = t.log.offset.filter((_, i) => t.log.dir[i] === IO_READ);
    const writes = t.log.offset.filter((_, i) => t.log.dir[i] === IO_WRITE);
    expect(reads).toEqual(reads.map((_, i) => i * 4096));
    expect(writes).toEqual(writes.map((_, i) => i * 4096));
    expect(reads.length + writes.length).toBe(16);
  });

  it('a verify=crc32c read job checks what an earlier verify write job wrote (stonewall)', async () => {
    const shared = new MemoryTarget({ capacityBytes: 1 << 20 });
    const res = await runJobs({
      jobs: jobs('[global]\nverify=crc32c\nbs=4k\nsize=64k\n[w]\nrw=randwrite\ndo_verify=0\n[r]\nstonewall\nrw=randread\n'),
      open: async () => shared,
    });
    const [w, r] = res.results.map((x) => x.stat);
    expect(w!.dir[0].totalIos).toBe(0);
    expect(w!.dir[1].totalIos).toBe(16);
    expect(r!.error).toBe(0);
    expect(r!.verified).toBe(16);
    expect(res.results.map((x) => x.job.groupid)).toEqual([0, 1]);
  });

  it('time_based random jobs start a new pass over the map when it is full', async () => {
    const { targets } = await run('[j]\nrw=randread\nbs=4k\nsize=16k\ntime_based\nruntime=50ms\n');
    const offs = targets[0]!.log.offset;
    expect(offs.length).toBeGreaterThan(8);
    // Each pass of 4 blocks covers every block once.
    for (let p = 0; p + 4 <= offs.length; p += 4) expect(new Set(offs.slice(p, p + 4)).size).toBe(4);
  });
});

describe('onStatus (--status-interval) on a fake clock', () => {
  it('reports every interval the results so far: nothing measured during ramp_time, then cumulative stats, the last report before the end', async () => {
    let now = 0;
    const reports: Array<Array<{ name: string; runtime: number; bytes: number; total: number }>> = [];
    const res = await runJobs({
      jobs: jobs('[j]\nrw=read\nsize=64k\ntime_based\nramp_time=300ms\nruntime=1\n'),
      open: async () => new MemoryTarget({ capacityBytes: 1 << 20, store: false }),
      clock: () => (now += 1e6),
      statusIntervalMs: 200,
      onStatus: (results) => reports.push(results.map((r) => ({ name: r.job.options.name, runtime: r.stat.dir[0].runtimeMs, bytes: r.stat.dir[0].ioBytes, total: r.stat.totalRunTimeMs }))),
    });
    // 1.3 s of job time at 200 ms: six reports, the first inside the ramp.
    expect(reports.length).toBeGreaterThanOrEqual(5);
    expect(reports[0]).toEqual([{ name: 'j', runtime: 0, bytes: 0, total: 0 }]);
    const after = reports.slice(1).map((r) => r[0]!);
    for (let i = 1; i < after.length; i++) {
      expect(after[i]!.runtime).toBeGreaterThan(after[i - 1]!.runtime);
      expect(after[i]!.bytes).toBeGreaterThan(after[i - 1]!.bytes);
      expect(after[i]!.total).toBe(after[i]!.runtime);
    }
    // The final stat is the job's own, untouched by the reports (they are copies).
    const final = res.results[0]!.stat;
    expect(final.dir[0].runtimeMs).toBeGreaterThanOrEqual(after.at(-1)!.runtime);
    expect(final.dir[0].ioBytes).toBeGreaterThan(after.at(-1)!.bytes);
  });

  it('with statusWanted, reports on request only: asked at each progress tick, answered at once, never between', async () => {
    let now = 0;
    let ticks = 0;
    const asked = new Set([3, 4, 9]);
    const reports: Array<{ tick: number; bytes: number }> = [];
    await runJobs({
      jobs: jobs('[j]\nrw=read\nsize=64k\ntime_based\nruntime=1\n'),
      open: async () => new MemoryTarget({ capacityBytes: 1 << 20, store: false }),
      clock: () => (now += 1e6),
      progressIntervalMs: 50,
      // A status interval that would fire on its own if requests were not what drives it.
      statusIntervalMs: 10,
      statusWanted: () => asked.has(++ticks),
      onStatus: (results) => reports.push({ tick: ticks, bytes: results[0]!.stat.dir[0].ioBytes }),
    });
    // About 1 s of job time at 50 ms a tick.
    expect(ticks).toBeGreaterThanOrEqual(15);
    expect(reports.map((r) => r.tick)).toEqual([3, 4, 9]);
    expect(reports[0]!.bytes).toBeGreaterThan(0);
    expect(reports[1]!.bytes).toBeGreaterThan(reports[0]!.bytes);
    expect(reports[2]!.bytes).toBeGreaterThan(reports[1]!.bytes);
  });
});
