import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { resolveJobs, parseCommandLine } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { planBench, runBench, type BenchHost } from './run.js';
import { RUNTIME_STATUS_REJECTED, RuntimeTargets, runtimeWorkersNeeded, type RuntimeEngineRuntime } from './runtime-target.js';

// The vfio-runtime engine over a double of the runtime's promise API: a namespace in memory
// whose promises settle on a later turn of the event loop, as the runtime's do (its pump
// reaps the completion rings there). It says nothing about a device's speed.

interface FakeRuntime extends RuntimeEngineRuntime {
  inFlight: number;
  maxInFlight: number;
  calls: number;
  closed: boolean;
}

function fakeRuntime(opts: { blockSize?: number; blocks?: number; fail?: (lba: number) => Error | undefined } = {}): FakeRuntime {
  const blockSize = opts.blockSize ?? 512;
  const blocks = opts.blocks ?? 8192;
  const media = new Uint8Array(blockSize * blocks);
  const rt: FakeRuntime = {
    inFlight: 0,
    maxInFlight: 0,
    calls: 0,
    closed: false,
    controller: { maxTransfer: 128 * 1024 },
    namespace: (nsid) => {
      if (nsid !== 1) throw Object.assign(new Error(`no namespace ${nsid}`), { code: 'ERR_NVME_NO_SUCH_NAMESPACE' });
      const io = (write: boolean) => (lba: number, n: number, buf: Uint8Array) => {
        rt.calls++;
        rt.maxInFlight = Math.max(rt.maxInFlight, ++rt.inFlight);
        return new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            rt.inFlight--;
            const err = opts.fail?.(lba);
            if (err) return reject(err);
            const at = lba * blockSize;
            if (write) media.set(buf.subarray(0, n * blockSize), at);
            else buf.set(media.subarray(at, at + n * blockSize));
            resolve();
          }),
        );
      };
      return { blockSize, blocks: BigInt(blocks), read: io(false), write: io(true) };
    },
    allocBuffer: (size) => {
      let bytes = new Uint8Array(size);
      return { bytes, release: () => void (bytes = new Uint8Array(0)) };
    },
    close: async () => void (rt.closed = true),
  };
  return rt;
}

const spec = { address: '0000:00:03.0', nsid: 1 };

function jobsOf(args: string[]) {
  return resolveJobs(parseCommandLine(['--filename=0000:00:03.0/1', '--ioengine=vfio-runtime', ...args]).sections).jobs;
}

async function runOn(rt: FakeRuntime, args: string[]) {
  const jobs = jobsOf(args);
  const targets = new RuntimeTargets(runtimeWorkersNeeded(jobs, new Map(jobs.map((j) => [j.index, spec]))), async () => rt);
  try {
    return await runJobs({ jobs, open: () => targets.open(spec) });
  } finally {
    await targets.close();
  }
}

describe('the vfio-runtime engine (promises from the main thread)', () => {
  it('keeps iodepth requests in flight and records every completion in the statistics', async () => {
    const rt = fakeRuntime();
    const run = await runOn(rt, ['--name=r', '--rw=randread', '--size=1m', '--iodepth=8']);
    const { stat, target } = run.results[0]!;
    expect(stat.error).toBe(0);
    expect(rt.calls).toBe(256);
    expect(rt.maxInFlight).toBe(8);
    expect(stat.dir[0].totalIos).toBe(256);
    expect(stat.dir[0].clat.samples).toBe(256);
    expect(stat.dir[0].clatPlat.reduce((a, b) => a + b, 0)).toBe(256);
    expect(target).toBe('0000:00:03.0/1');
    expect(rt.closed).toBe(true);
  });

  it('writes, then reads every block back and verifies it (crc32c)', async () => {
    const rt = fakeRuntime();
    const run = await runOn(rt, ['--name=w', '--rw=randwrite', '--size=512k', '--bs=4k', '--iodepth=4', '--verify=crc32c']);
    const { stat } = run.results[0]!;
    expect(stat.error).toBe(0);
    expect(stat.dir[1].totalIos).toBe(128);
    expect(stat.verified).toBe(128);
    // 128 writes and 128 verify reads.
    expect(rt.calls).toBe(256);
  });

  it('a rejected request fails the job with EIO, its NVMe status and the runtime\'s message', async () => {
    const bad = Object.assign(new Error('Read of 1 blocks at LBA 7 failed: Unrecovered Read Error'), { sct: 2, sc: 0x81 });
    const rt = fakeRuntime({ fail: (lba) => (lba === 7 ? bad : undefined) });
    const run = await runOn(rt, ['--name=f', '--rw=read', '--size=64k', '--bs=512', '--iodepth=2']);
    const { stat } = run.results[0]!;
    expect(stat.error).toBe(5);
    expect(stat.verror).toBe(`read at offset 3584 length 512 failed with status 0x${(((2 << 8) | 0x81) << 1).toString(16)}: ${bad.message}`);
  });

  it('a rejection without an NVMe status (a worker that died) reports RUNTIME_STATUS_REJECTED', async () => {
    const rt = fakeRuntime({ fail: () => Object.assign(new Error('worker 0 exited'), { code: 'ERR_WORKER_EXIT' }) });
    const run = await runOn(rt, ['--name=f', '--rw=read', '--size=4k', '--bs=4k']);
    expect(run.results[0]!.stat.verror).toBe(`read at offset 0 length 4096 failed with status 0x${RUNTIME_STATUS_REJECTED.toString(16)}: worker 0 exited`);
  });

  it('asks for one worker per job running at once on an address (numjobs), one runtime per address', () => {
    const jobs = jobsOf(['--name=a', '--numjobs=3', '--name=b', '--stonewall', '--numjobs=2']);
    const specs = new Map(jobs.map((j) => [j.index, spec]));
    expect(runtimeWorkersNeeded(jobs, specs)).toEqual(new Map([['0000:00:03.0', 3]]));
    const one = jobsOf(['--name=a']);
    expect(runtimeWorkersNeeded(one, new Map([[0, spec]]))).toEqual(new Map([['0000:00:03.0', 1]]));
  });
});

/** The JSON report in what was printed (the normal report's header comes before it, its body after). */
const jsonIn = (out: string) => JSON.parse(out.slice(out.indexOf('{\n'), out.indexOf('\n}\n') + 2));

function host(over: Partial<BenchHost> = {}) {
  const stdout = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  const stderr = new PassThrough();
  stderr.on('data', (c) => (err += c));
  const opened: Array<[string, number]> = [];
  const rt = fakeRuntime();
  const h: BenchHost = {
    openNvme: async () => new MemoryTarget({ capacityBytes: 4 << 20, name: '0000:00:03.0/1' }),
    openRuntime: async (address, workers) => {
      opened.push([address, workers]);
      return rt;
    },
    readFile: () => {
      throw new Error('no files');
    },
    writeFile: () => {},
    stdout,
    stderr,
    runCommand: async () => ({ stdout: '', stderr: '', status: 1 }),
    ...over,
  };
  return { h, rt, opened, out: () => out, err: () => err };
}

describe('vfio-node bench --ioengine=vfio-runtime and --compare=vfio-runtime', () => {
  it('runs the jobs through the runtime (numjobs workers) and names the engine in the JSON and the header', async () => {
    const t = host();
    const code = await runBench(['--name=r', '--filename=0000:00:03.0/1', '--ioengine=vfio-runtime', '--rw=randread', '--size=256k', '--iodepth=4', '--numjobs=2', '--output-format=json,normal'], t.h);
    expect(code).toBe(0);
    expect(t.opened).toEqual([['0000:00:03.0', 2]]);
    expect(t.rt.closed).toBe(true);
    expect(t.out()).toMatch(/^r: \(g=0\): rw=randread, .*ioengine=vfio-runtime, iodepth=4\n/);
    const json = jsonIn(t.out());
    expect(json.jobs.map((j: any) => [j['vfio-node'].engine, j.read.total_ios])).toEqual([['vfio-runtime', 64], ['vfio-runtime', 64]]);
  });

  it('--compare=vfio-runtime runs the same jobs again through the runtime and reports the ratios', async () => {
    const t = host();
    const code = await runBench(['--name=c', '--filename=0000:00:03.0/1', '--rw=randread', '--size=256k', '--iodepth=4', '--compare=vfio-runtime', '--output-format=json,normal'], t.h);
    expect(code, t.err()).toBe(0);
    const json = jsonIn(t.out());
    expect(json.jobs[0]['vfio-node'].engine).toBe('vfio-nvme');
    const cmp = json['vfio-node compare'];
    expect(cmp.peers.map((p: any) => p.peer)).toEqual(['vfio-node', 'vfio-runtime']);
    expect(cmp.peers[1].read.ios).toBe(64);
    expect(cmp.ratios['vfio-runtime'].read_iops).toBeGreaterThan(0);
    expect(t.out()).toMatch(/\n +vfio-node +vfio-runtime +vs vfio-runtime\nread IOPS /);
    expect(t.opened).toEqual([['0000:00:03.0', 1]]);
  });

  it('with --eta=always the runtime peer shows on the status line, first of the peers', async () => {
    const t = host();
    await runBench(['--name=c', '--filename=0000:00:03.0/1', '--size=64k', '--compare=kernel,vfio-runtime', '--kernel-device=/dev/nvme0n1', '--eta=always'], t.h);
    const out = t.out();
    expect(out).toMatch(/\rpeer vfio-runtime: the same job through NvmeRuntime's promises: 0 s/);
    expect(out.indexOf('peer vfio-runtime')).toBeLessThan(out.indexOf('peer kernel'));
  });

  it('a vfio-runtime peer that fails is left out, and says why', async () => {
    const t = host({ openRuntime: async () => { throw new Error('no hugepages'); } });
    const code = await runBench(['--name=c', '--filename=0000:00:03.0/1', '--size=64k', '--compare=vfio-runtime', '--output-format=json'], t.h);
    expect(code).toBe(0);
    expect(t.err()).toContain('the vfio-runtime peer failed, left out of the comparison: no hugepages');
    expect(JSON.parse(t.out())['vfio-node compare'].peers.map((p: any) => p.peer)).toEqual(['vfio-node']);
  });

  it('refuses an unknown engine by name with the known ones, both NVMe engines in one command, and comparing the runtime with itself', () => {
    const none = () => '';
    expect(() => planBench(['--name=x', '--filename=0000:00:03.0/1', '--ioengine=libaio'], none)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/ioengine.*libaio.*vfio-nvme, vfio-runtime, vfio-bdev, null/) }),
    );
    expect(() => planBench(['--filename=0000:00:03.0/1', '--name=a', '--name=b', '--ioengine=vfio-runtime'], none)).toThrow(
      expect.objectContaining({ code: 'ERR_BENCH_ENGINE_MIX', message: 'job a uses ioengine=vfio-nvme and job b ioengine=vfio-runtime: one command runs device jobs on one NVMe engine' }),
    );
    expect(() => planBench(['--name=x', '--filename=0000:00:03.0/1', '--ioengine=vfio-runtime', '--compare=vfio-runtime'], none)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('--compare') }),
    );
    // null jobs go with either engine.
    expect(planBench(['--name=a', '--ioengine=null', '--name=b', '--filename=0000:00:03.0/1', '--ioengine=vfio-runtime'], none).specs.size).toBe(1);
  });
});
