import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseJobFile, resolveJobs } from './jobfile.js';
import { DEFAULT_PERCENTILES } from './options.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('fio defaults', () => {
  it('a bare job has bs 4k, iodepth 1, rw read, numjobs 1, rwmixread 50, randrepeat on', () => {
    const [job] = resolveJobs(parseJobFile('[only]\n')).jobs;
    const o = job!.options;
    expect(o).toMatchObject({ name: 'only', rw: 'read', bs: { read: 4096, write: 4096 }, iodepth: 1, numjobs: 1, rwmixread: 50, randrepeat: true, norandommap: false, timeBased: false, runtimeUs: 0, rampTimeUs: 0, verify: 'none', kbBase: 1024, groupReporting: false });
    expect(o.size).toBeUndefined();
    expect(o.offset).toEqual({ bytes: 0 });
    expect(o.percentileList).toEqual(DEFAULT_PERCENTILES);
  });
});

describe('job files', () => {
  it('the fixture job file: [global] is inherited, jobs override, comments and bare options', () => {
    const { jobs, globalOptions } = resolveJobs(parseJobFile(fixture('two-jobs.fio')));
    expect(jobs.map((j) => j.options.name)).toEqual(['rr', 'sw']);
    expect(jobs[0]!.options).toMatchObject({ rw: 'randread', bs: { read: 4096, write: 4096 }, iodepth: 4, size: { bytes: 4 << 20 }, filename: '/tmp/x', norandommap: false });
    expect(jobs[1]!.options).toMatchObject({ rw: 'write', norandommap: true });
    // fio's JSON: "global options" and each job's own "job options".
    expect(globalOptions).toEqual({ filename: '/tmp/x', size: '4M', bs: '4k', ioengine: 'libaio', iodepth: '4' });
    expect(jobs[0]!.jobOptions).toEqual({ name: 'rr', rw: 'randread' });
  });

  it('a [global] only affects jobs below it', () => {
    const { jobs } = resolveJobs(parseJobFile('[a]\n[global]\nbs=8k\n[b]\n[global]\niodepth=2\n[c]\nbs=16k\n'));
    expect(jobs.map((j) => [j.options.bs.read, j.options.iodepth])).toEqual([[4096, 1], [8192, 1], [16384, 2]]);
  });

  it('numjobs makes clones with the same name and their own index', () => {
    const { jobs } = resolveJobs(parseJobFile('[w]\nnumjobs=3\nrw=randwrite\n'));
    expect(jobs.map((j) => [j.options.name, j.index, j.clone])).toEqual([['w', 0, 0], ['w', 1, 1], ['w', 2, 2]]);
  });

  it('stonewall/new_group start a new reporting group', () => {
    const { jobs } = resolveJobs(parseJobFile('[a]\n[b]\nstonewall\n[c]\n'));
    expect(jobs.map((j) => j.groupid)).toEqual([0, 1, 1]);
  });

  it('${VAR} expands from the environment, to "" when unset', () => {
    const s = parseJobFile('[j]\nfilename=${DEV}/1\ndescription=x${NOPE}y\n', { env: { DEV: '0000:00:03.0' } });
    expect(s[0]!.options).toEqual([['filename', '0000:00:03.0/1'], ['description', 'xy']]);
  });

  it('include pulls lines into the current section', () => {
    const s = parseJobFile('[global]\ninclude common.fio\n[j]\n', { readInclude: (p) => (p === 'common.fio' ? 'bs=64k\n; c\niodepth=8\n' : '') });
    const { jobs } = resolveJobs(s);
    expect(jobs[0]!.options).toMatchObject({ bs: { read: 65536, write: 65536 }, iodepth: 8 });
  });

  it('kb_base applies to sizes whatever the order', () => {
    const { jobs } = resolveJobs(parseJobFile('[j]\nbs=4k\nkb_base=1000\n'));
    expect(jobs[0]!.options.bs.read).toBe(4000);
  });

  it('bs=R,W sets reads and writes separately; trims take a third part, else the last one given (fio 3.33)', () => {
    const bs = (v: string) => resolveJobs(parseJobFile(`[j]\nbs=${v}\n`)).jobs[0]!.options.bs;
    expect(bs('4k,64k')).toEqual({ read: 4096, write: 65536, trim: 65536 });
    expect(bs('8k')).toEqual({ read: 8192, write: 8192, trim: 8192 });
    expect(bs('4k,8k,16k')).toEqual({ read: 4096, write: 8192, trim: 16384 });
    // An empty part is fio's default (fio 3.33: "bs=8k," wrote 4096-byte blocks, "bs=8k,16k," trimmed 4096).
    expect(bs('8k,')).toEqual({ read: 8192, write: 4096, trim: 4096 });
    expect(bs('8k,16k,')).toEqual({ read: 8192, write: 16384, trim: 4096 });
  });

  it('readwrite is rw; rwmixwrite sets rwmixread', () => {
    const { jobs } = resolveJobs(parseJobFile('[j]\nreadwrite=readwrite\nrwmixwrite=30\n'));
    expect(jobs[0]!.options).toMatchObject({ rw: 'rw', rwmixread: 70 });
  });

  it('an option outside a section, an unknown option and a bad rw are errors with codes', () => {
    expect(() => parseJobFile('bs=4k\n[j]\n', { path: 'x.fio' })).toThrow(/x.fio:1: option 'bs=4k' is outside any \[section\]/);
    expect(() => resolveJobs(parseJobFile('[j]\nfrobnicate=1\n'))).toThrow(expect.objectContaining({ code: 'ERR_BENCH_UNKNOWN_OPTION' }));
    expect(() => resolveJobs(parseJobFile('[j]\nrw=discard\n'))).toThrow(/invalid rw: "discard"/);
  });
});

describe("fio's command line", () => {
  it('--name starts a job; options before it are global; --opt value and --opt=value', () => {
    const cl = parseCommandLine(['--filename=0000:00:03.0/1', '--iodepth', '8', '--name=a', '--rw=randread', '--name', 'b', '--rw', 'write', '--time_based', '--runtime=10']);
    expect(cl.sections).toEqual([
      { name: 'global', options: [['filename', '0000:00:03.0/1'], ['iodepth', '8']] },
      { name: 'a', options: [['rw', 'randread']] },
      { name: 'b', options: [['rw', 'write'], ['time_based', undefined], ['runtime', '10']] },
    ]);
    const { jobs } = resolveJobs(cl.sections);
    expect(jobs.map((j) => [j.options.name, j.options.rw, j.options.iodepth, j.options.timeBased, j.options.runtimeUs])).toEqual([
      ['a', 'randread', 8, false, 0],
      ['b', 'write', 8, true, 10e6],
    ]);
  });

  it('--name=global is a global section, as in the HOWTO example', () => {
    const cl = parseCommandLine(['--name=global', '--rw=randread', '--size=128m', '--name=job1', '--name=job2']);
    const { jobs } = resolveJobs(cl.sections);
    expect(jobs.map((j) => [j.options.name, j.options.rw, j.options.size])).toEqual([
      ['job1', 'randread', { bytes: 128 << 20 }],
      ['job2', 'randread', { bytes: 128 << 20 }],
    ]);
  });

  it('output options, compare and job files are not job options', () => {
    const cl = parseCommandLine(['--output-format=json+,normal', '--output', 'out.json', '--compare=kernel,qemu', 'a.fio', '--eta=never']);
    expect(cl).toMatchObject({ outputFormat: ['json+', 'normal'], output: 'out.json', compare: ['kernel', 'qemu'], jobFiles: ['a.fio'], eta: 'never', sections: [] });
    expect(parseCommandLine(['--output-format=terse,json', '--terse-version=3', '--status-interval', '2'])).toMatchObject({ outputFormat: ['terse', 'json'], terseVersion: 3, statusIntervalMs: 2000, jobFiles: [] });
    expect(parseCommandLine(['--status-interval=500ms']).statusIntervalMs).toBe(500);
    expect(parseCommandLine([]).statusIntervalMs).toBe(0);
    expect(() => parseCommandLine(['--output-format=csv'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('terse') }));
    // fio 3.33's terse versions are 2 to 5; any other is refused, as fio refuses it ("bad terse version format").
    for (const v of [2, 4, 5] as const) expect(parseCommandLine([`--terse-version=${v}`]).terseVersion).toBe(v);
    for (const v of ['1', '6', '3.0', 'x', '']) expect(() => parseCommandLine([`--terse-version=${v}`])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', hint: expect.stringContaining('2, 3 (the default), 4 (adds trim) and 5') }));
    expect(() => parseCommandLine(['--status-interval=0'])).toThrow(/status-interval/);
    expect(() => parseCommandLine(['--compare=spdk'])).toThrow(/kernel, qemu/);
  });

  it("a flag never eats the next word: '--norandommap a.fio' keeps a.fio as a job file", () => {
    const cl = parseCommandLine(['--norandommap', 'a.fio']);
    expect(cl.jobFiles).toEqual(['a.fio']);
    expect(cl.sections[0]!.options).toEqual([['norandommap', undefined]]);
  });
});
