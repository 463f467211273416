import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { MemoryTarget } from './memory-target.js';
import { planBench, runBench, type BenchHost } from './run.js';
import { benchHost as host } from '../test/bench-host.js';

// The whole flow on fio's null engine or the memory double: what it prints and writes.


describe('vfio-node bench flow', () => {
  it('null engine, normal output: header, job block, group line', async () => {
    const t = host();
    expect(await runBench(['--name=n', '--ioengine=null', '--size=1m', '--rw=randread'], t.h)).toBe(0);
    const out = t.out();
    expect(out).toMatch(/^n: \(g=0\): rw=randread, bs=\(R\) 4096B-4096B, \(W\) 4096B-4096B, \(T\) 4096B-4096B, ioengine=null, iodepth=1\nvfio-node-0\.1\.0\nStarting 1 thread\n/);
    expect(out).toMatch(/n: \(groupid=0, jobs=1\): err= 0: pid=\d+/);
    expect(out).toMatch(/ {2}read: IOPS=.*\(1024KiB\/\d+msec\)/);
    expect(out).toContain('clat percentiles');
    expect(out).toMatch(/issued rwts: total=256,0,0,0/);
    expect(out).toMatch(/Run status group 0 \(all jobs\):\n {3}READ: bw=/);
    // Not a terminal: no status line.
    expect(out).not.toContain('Jobs:');
  });

  it('a job file and --output: json+ goes to the file, nothing to stdout', async () => {
    const t = host();
    t.files.set('/jobs/a.fio', '[global]\nfilename=0000:00:03.0/1\nsize=512k\ninclude more.fio\n[a]\nrw=write\n');
    t.files.set('/jobs/more.fio', 'bs=8k\n');
    expect(await runBench(['--output-format=json+', '--output=/out.json', '/jobs/a.fio'], t.h)).toBe(0);
    expect(t.out()).toBe('');
    const j = JSON.parse(t.files.get('/out.json')!);
    expect(j['global options']).toEqual({ filename: '0000:00:03.0/1', size: '512k', bs: '8k' });
    expect(j.jobs[0].write.total_ios).toBe(64);
    expect(j.jobs[0]['vfio-node'].target).toBe('0000:00:03.0/1');
  });

  it('--compare runs both peers with matching commands and adds the table and JSON object', async () => {
    const t = host();
    const code = await runBench(['--name=c', '--filename=0000:00:03.0/1', '--size=1m', '--iodepth=4', '--compare=kernel,qemu', '--kernel-device=/dev/nvme0n1', '--output-format=json,normal'], t.h);
    expect(code).toBe(0);
    // The kernel peer runs first (qemu-img has hung right after our driver, never after the kernel's).
    expect(t.commands[0]!.slice(0, 5)).toEqual(['fio', '--name=c', '--filename=/dev/nvme0n1', '--ioengine=io_uring', '--direct=1']);
    expect(t.commands[1]).toEqual(['qemu-img', 'bench', '-c', '256', '-d', '4', '-s', '4096', '--image-opts', 'driver=nvme,device=0000:00:03.0,namespace=1']);
    const out = t.out();
    const json = JSON.parse(out.slice(out.indexOf('{'), out.indexOf('\n}\n') + 2));
    expect(json['vfio-node compare'].peers.map((p: any) => p.peer)).toEqual(['vfio-node', 'kernel', 'qemu']);
    expect(json['vfio-node compare'].ratios.qemu.read_iops).toBeGreaterThan(0);
    expect(out).toMatch(/Comparison \(same job, same boot\):\n\s+vfio-node\s+kernel\s+qemu\s+vs kernel\s+vs qemu/);
  });

  it('usage errors: no jobs, no filename, kernel peer without --kernel-device', async () => {
    const t = host();
    expect(await runBench([], t.h)).toBe(2);
    expect(t.err()).toContain('no jobs');
    await expect(runBench(['--name=x'], t.h)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('filename') });
    await expect(runBench(['--name=x', '--filename=0000:00:03.0/1', '--compare=kernel'], t.h)).rejects.toMatchObject({ message: expect.stringContaining('--kernel-device') });
  });

  it('a job that fails exits 1 and prints err= with the reason', async () => {
    const t = host({ openNvme: async () => new MemoryTarget({ capacityBytes: 1 << 20, fail: (_d, off) => (off === 8192 ? 0x2 : 0) }) });
    expect(await runBench(['--name=f', '--filename=0000:00:03.0/1', '--size=64k'], t.h)).toBe(1);
    expect(t.out()).toMatch(/f: \(groupid=0, jobs=1\): err= 5 \(read at offset 8192 length 4096 failed with status 0x2\)/);
  });

  it('--eta=always draws the status line and erases it', async () => {
    const t = host();
    await runBench(['--name=s', '--ioengine=null', '--size=1m', '--time_based', '--runtime=1200ms', '--eta=always'], t.h);
    expect(t.out()).toMatch(/\rJobs: 1 \(f=1\): \[R\(1\)\]\[\d+\.\d%\]\[r=.*\]\[r=.* IOPS\]\[eta 00m:0\ds\]/);
  });

  it("--eta=always with a JSON report on stdout draws nothing (fio's rule): the JSON parses", async () => {
    const t = host();
    await runBench(['--name=s', '--ioengine=null', '--size=1m', '--time_based', '--runtime=1200ms', '--eta=always', '--output-format=json'], t.h);
    expect(t.out()).not.toContain('Jobs:');
    expect(JSON.parse(t.out()).jobs[0].read.iops).toBeGreaterThan(0);
  });

  it('host.runJobs gets onProgress only when the status line is shown, and the signal', async () => {
    const seen: Array<{ progress: boolean; signal: boolean }> = [];
    const signal = new AbortController().signal;
    const t = host({
      signal,
      runJobs: async (jobs, _specs, o) => {
        seen.push({ progress: typeof o.onProgress === 'function', signal: o.signal === signal });
        // Draw one line the way the CLI's timer does, from a worker's published counters.
        o.onProgress?.([{ phase: 'run', rw: jobs[0]!.options.rw, bytes: [4096 * 500, 0, 0], ios: [500, 0, 0], fraction: 0.25, etaSec: 3, atSec: 1 }], 1);
        return { results: [], startedAt: new Date() };
      },
    });
    const args = ['--name=w', '--filename=0000:00:03.0/1', '--rw=randread', '--size=1m'];
    await runBench([...args, '--output-format=json'], t.h);
    await runBench([...args, '--eta=always', '--output=/r.json'], t.h);
    expect(seen).toEqual([{ progress: false, signal: true }, { progress: true, signal: true }]);
    expect(t.out()).toContain('\rJobs: 1 (f=1): [r(1)][25.0%][r=2000KiB/s][r=500 IOPS][eta 00m:03s]');
  });

  it('Ctrl-C (the signal) stops a long job early, prints its report and exits 128 like fio', async () => {
    const ac = new AbortController();
    const t = host({ signal: ac.signal });
    setTimeout(() => ac.abort(), 400);
    const t0 = Date.now();
    const code = await runBench(['--name=long', '--ioengine=null', '--size=1m', '--time_based', '--runtime=60', '--output-format=json'], t.h);
    expect(code).toBe(128);
    expect(Date.now() - t0).toBeLessThan(5000);
    const j = JSON.parse(t.out()).jobs[0];
    expect(j.read.iops).toBeGreaterThan(0);
    expect(j.read.runtime).toBeLessThan(5000);
  });

  it('--compare with --eta=always shows each peer on the status line, and erases it before the table', async () => {
    const t = host();
    await runBench(['--name=c', '--filename=0000:00:03.0/1', '--size=1m', '--compare=kernel,qemu', '--kernel-device=/dev/nvme0n1', '--eta=always'], t.h);
    const out = t.out();
    expect(out).toMatch(/\rpeer kernel: fio --ioengine=io_uring on \/dev\/nvme0n1: 0 s/);
    expect(out).toMatch(/\rpeer qemu: qemu-img bench, 256 requests on 0000:00:03\.0: 0 s/);
    // The line is erased (blanks, then \r) before the report.
    expect(out.indexOf('Comparison (same job')).toBeGreaterThan(out.lastIndexOf('peer qemu'));
    expect(out).toMatch(/\r +\r/);
  });

  it('without a terminal or --eta, the peers run silently (no progress noise)', async () => {
    const t = host();
    await runBench(['--name=c', '--filename=0000:00:03.0/1', '--size=1m', '--compare=kernel', '--kernel-device=/dev/nvme0n1'], t.h);
    expect(t.out()).not.toContain('peer kernel');
  });
});

describe('planBench: everything is checked before a device is touched', () => {
  const noFiles = (p: string): string => {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  };
  it('an unknown option is named', () => {
    expect(() => planBench(['--filename=0000:00:03.0/1', '--name=x', '--bogus'], noFiles, true)).toThrow(/unknown or unsupported fio option 'bogus'/);
    expect(() => planBench(['--bogus=1'], noFiles, true)).toThrow(/'bogus'/);
  });
  it('a bad value, a bad output format and a missing job file are named', () => {
    expect(() => planBench(['--name=x', '--filename=0000:00:03.0/1', '--rw=sideways'], noFiles)).toThrow(/rw/);
    expect(() => planBench(['--name=x', '--output-format=xml'], noFiles)).toThrow(/--output-format/);
    expect(() => planBench(['nosuch.fio'], noFiles)).toThrow(/cannot read job file 'nosuch.fio'/);
  });
  it('a --filename given first reaches every job of the command line and of job files', () => {
    const files: Record<string, string> = { 'j.fio': '[a]\nrw=read\n[b]\nrw=write\n' };
    const plan = planBench(['--filename=0000:00:03.0/1', '--name=x', '--rw=randread', '--name=y', 'j.fio'], (p) => files[p]!, true);
    expect(plan.jobs.map((j) => j.options.name)).toEqual(['x', 'y', 'a', 'b']);
    expect([...plan.specs.values()].map((s) => `${s.address}/${s.nsid}`)).toEqual(Array(4).fill('0000:00:03.0/1'));
  });
  it('--compare=kernel needs --kernel-device unless the host can find the kernel device', () => {
    const args = ['--name=x', '--filename=0000:00:03.0/1', '--compare=kernel'];
    expect(() => planBench(args, noFiles, false)).toThrow(/--kernel-device/);
    expect(planBench(args, noFiles, true).cl.compare).toEqual(['kernel']);
  });
});

describe('terse output and --status-interval', () => {
  /** A fake clock: 1 ms per read, so the reports fall at the same job times on any machine. */
  const fakeClock = () => {
    let now = 0;
    return () => (now += 1e6);
  };
  const fields = (line: string) => line.split(';');

  it('--output-format=terse: one version 3 line per job, nothing else (no header, as fio)', async () => {
    const t = host();
    expect(await runBench(['--name=a', '--ioengine=null', '--size=1m', '--name=b', '--ioengine=null', '--size=1m', '--rw=write', '--output-format=terse'], t.h)).toBe(0);
    const lines = t.out().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => fields(l).slice(0, 6))).toEqual([
      ['3', 'vfio-node-0.1.0', 'a', '0', '0', '1024'],
      ['3', 'vfio-node-0.1.0', 'b', '0', '0', '0'],
    ]);
    expect(lines.map((l) => fields(l).length)).toEqual([121, 121]);
  });

  it('--terse-version=2, 4 and 5 reach the report: each line has that version\'s fields', async () => {
    for (const [v, head, n] of [['2', ['2', 'a', '0', '0', '1024'], 161], ['4', ['4', 'vfio-node-0.1.0', 'a', '0', '0'], 162], ['5', ['5', 'vfio-node-0.1.0', 'a', '0', '0'], 180]] as const) {
      const t = host();
      expect(await runBench(['--name=a', '--ioengine=null', '--size=1m', '--output-format=terse', `--terse-version=${v}`], t.h)).toBe(0);
      const lines = t.out().split('\n').filter(Boolean);
      expect(lines.map((l) => fields(l).slice(0, 5))).toEqual([head]);
      expect(lines.map((l) => fields(l).length)).toEqual([n]);
    }
  });

  it("a comma list prints in fio's order whatever the order given: terse, json, normal", async () => {
    const t = host();
    await runBench(['--name=a', '--ioengine=null', '--size=256k', '--output-format=normal,json,terse'], t.h);
    const out = t.out();
    const terse = out.indexOf('\n3;vfio-node-0.1.0;a;');
    const json = out.indexOf('\n{\n');
    const normal = out.indexOf('a: (groupid=0');
    expect(out.indexOf('Starting 1 thread')).toBeLessThan(terse);
    expect(terse).toBeGreaterThan(0);
    expect(json).toBeGreaterThan(terse);
    expect(normal).toBeGreaterThan(json);
  });

  it('--status-interval with json: one complete JSON document per line, cumulative values, the final report last', async () => {
    const t = host({ clock: fakeClock() });
    await runBench(['--name=j', '--ioengine=null', '--size=1m', '--time_based', '--runtime=1', '--status-interval=250ms', '--output-format=json'], t.h);
    const lines = t.out().split('\n');
    expect(lines.pop()).toBe('');
    const docs = lines.map((l) => JSON.parse(l));
    // Reports at about 250, 500 and 750 ms of the job's time (the fake clock's), and the final one.
    expect(docs.length).toBeGreaterThanOrEqual(4);
    const runtimes = docs.map((d) => d.jobs[0].read.runtime);
    const bytes = docs.map((d) => d.jobs[0].read.io_bytes);
    for (let i = 1; i < docs.length; i++) {
      expect(runtimes[i]).toBeGreaterThan(runtimes[i - 1]);
      expect(bytes[i]).toBeGreaterThan(bytes[i - 1]);
    }
    expect(runtimes[0]).toBeGreaterThanOrEqual(250);
    expect(runtimes.at(-1)).toBeGreaterThanOrEqual(1000);
    expect(docs.every((d) => d['fio version'] === 'vfio-node-0.1.0' && d.jobs.length === 1)).toBe(true);
  });

  it('--status-interval with normal: the whole normal report per interval; with terse: a line per job per interval, earlier groups included', async () => {
    const n = host({ clock: fakeClock() });
    await runBench(['--name=n', '--ioengine=null', '--size=1m', '--time_based', '--runtime=1', '--status-interval=250ms'], n.h);
    const reports = n.out().match(/Run status group 0 \(all jobs\):/g)!.length;
    expect(reports).toBeGreaterThanOrEqual(4);
    expect(n.out().match(/n: \(groupid=0, jobs=1\)/g)!.length).toBe(reports);

    const t = host({ clock: fakeClock() });
    await runBench(['--ioengine=null', '--size=1m', '--time_based', '--runtime=600ms', '--status-interval=250ms', '--output-format=terse', '--name=first', '--name=second', '--stonewall'], t.h);
    const names = t.out().split('\n').filter(Boolean).map((l) => fields(l)[2]);
    // While 'second' runs (group 1), each report has 'first's final line and 'second's so far.
    expect(names.slice(0, 2)).toEqual(['first', 'first']);
    expect(names.slice(-4)).toEqual(['first', 'second', 'first', 'second']);
    expect(t.out().split('\n').filter(Boolean).every((l) => fields(l).length === 121)).toBe(true);
  });

  it('--status-interval with --output=FILE: the file holds every report so far', async () => {
    const t = host({ clock: fakeClock() });
    await runBench(['--name=f', '--ioengine=null', '--size=1m', '--time_based', '--runtime=1', '--status-interval=250ms', '--output-format=json', '--output=/r.jsonl'], t.h);
    expect(t.out()).toBe('');
    const lines = t.files.get('/r.jsonl')!.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of lines) expect(JSON.parse(l).jobs[0].jobname).toBe('f');
  });

  it('--status-interval on jobs that run on worker threads (ioengine=vfio-nvme on the CLI): the host gets the interval and the callback, and each of its reports is a JSON line', async () => {
    const seen: Array<number | undefined> = [];
    const t = host({
      runJobs: async (js, _specs, opts) => {
        seen.push(opts.statusIntervalMs);
        // What the CLI's workers give: results so far at each interval, then the final results.
        const run = await runJobs({ jobs: js, open: async () => new MemoryTarget({ capacityBytes: 1 << 20, name: 'w0' }), clock: fakeClock(), statusIntervalMs: 200, onStatus: opts.onStatus });
        return run;
      },
    });
    expect(await runBench(['--name=w', '--filename=0000:00:03.0/1', '--size=256k', '--time_based', '--runtime=1', '--status-interval=200ms', '--output-format=json'], t.h)).toBe(0);
    expect(seen).toEqual([200]);
    const docs = t.out().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(docs.length).toBeGreaterThanOrEqual(4);
    const ios = docs.map((d) => d.jobs[0].read.total_ios);
    expect(ios).toEqual([...ios].sort((a, b) => a - b));
    expect(ios.at(-1)).toBeGreaterThan(ios[0]);
    expect(planBench(['--name=w', '--filename=0000:00:03.0/1', '--status-interval=1'], () => '').cl.statusIntervalMs).toBe(1000);
  });
});
