import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FioJobLogs } from './fio-logs.js';
import { logFileHome, logFileUnder, mergeLogFiles } from './job-logs.js';
import { parseCommandLine, parseJobFile, resolveJobs } from './jobfile.js';

const jobs = (text: string) => resolveJobs(parseJobFile(text)).jobs;

describe("fio's log options", () => {
  it('are read from a job file with fio\'s meanings; a bare write_*_log names the files after the job', () => {
    const [a, b] = jobs('[global]\nwrite_iops_log\nlog_avg_msec=250\n[a]\nwrite_bw_log=bw/a\nwrite_lat_log=lat\n[b]\nwrite_hist_log=h\nlog_hist_msec=100\nlog_offset=1\nper_job_logs=0\nlog_avg_msec=0\n');
    expect(a!.options.logs).toEqual({ iopsPrefix: 'a', bwPrefix: 'bw/a', latPrefix: 'lat', avgMsec: 250, histMsec: 0, logOffset: false, perJobLogs: true });
    expect(b!.options.logs).toEqual({ iopsPrefix: 'b', histPrefix: 'h', avgMsec: 0, histMsec: 100, logOffset: true, perJobLogs: false });
  });

  it('are read from the command line; --log_offset alone is a flag and does not take the next word', () => {
    const cl = parseCommandLine(['--name=x', '--write_iops_log=p', '--log_offset', '--log_avg_msec', '100', 'job.fio']);
    const [x] = resolveJobs(cl.sections).jobs;
    expect(x!.options.logs).toMatchObject({ iopsPrefix: 'p', logOffset: true, avgMsec: 100 });
    expect(cl.jobFiles).toEqual(['job.fio']);
  });

  it('refuse a bad value naming the option', () => {
    expect(() => jobs('[a]\nlog_avg_msec=soon\n')).toThrow(/log_avg_msec/);
    expect(() => jobs('[a]\nlog_offset=maybe\n')).toThrow(/log_offset/);
    expect(() => jobs('[a]\nlog_avg_msec\n')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('without any of them a job writes no log file', () => {
    const [a] = jobs('[a]\n');
    const logs = new FioJobLogs(a!.options.logs, 1);
    expect(logs.enabled).toBe(false);
    expect(logs.files()).toEqual([]);
  });

  it('averaged lines with log_offset=1 keep the offset column, as 0, like fio 3.33', () => {
    const fio = readFileSync(new URL('./fixtures/fio-3.33-avg-log-offset.log.txt', import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    const [x] = jobs('[x]\nwrite_iops_log=x\nlog_avg_msec=200\nlog_offset=1\n');
    const logs = new FioJobLogs(x!.options.logs, 1);
    for (let t = 1; t < 600; t += 1) logs.complete(t, 0, 4096, 8192, 1000, 1000);
    logs.finish(601);
    const ours = logs.files()[0]!.text.trim().split('\n');
    expect(ours.map((l) => l.split(', ').length)).toEqual(fio.map((l) => l.split(', ').length));
    expect(ours.map((l) => l.split(', ').slice(2))).toEqual(fio.map((l) => l.split(', ').slice(2)));
  });

  it('per_job_logs=0: the jobs share one file per kind, joined in job order', () => {
    expect(mergeLogFiles([{ name: 'a_iops.log', text: '1, 2, 0, 0, 0\n' }, { name: 'a_bw.log', text: 'x\n' }, { name: 'a_iops.log', text: '3, 4, 0, 0, 0\n' }])).toEqual([
      { name: 'a_iops.log', text: '1, 2, 0, 0, 0\n3, 4, 0, 0, 0\n' },
      { name: 'a_bw.log', text: 'x\n' },
    ]);
  });

  it('under --log-dir each name has one place and comes back where it points', () => {
    expect(logFileUnder('/out/logs', 'sub/a_iops.1.log')).toBe('/out/logs/rel/sub/a_iops.1.log');
    expect(logFileUnder('/out/logs', '/var/tmp/a_iops.1.log')).toBe('/out/logs/abs/var/tmp/a_iops.1.log');
    expect(logFileHome('rel/sub/a_iops.1.log', '/home/u')).toBe('/home/u/sub/a_iops.1.log');
    expect(logFileHome('abs/var/tmp/a_iops.1.log', '/home/u')).toBe('/var/tmp/a_iops.1.log');
    expect(logFileHome('stray.log', '/home/u')).toBeUndefined();
  });

  it('the end of the job never repeats the time of a window closed in the same millisecond', () => {
    const [x] = jobs('[x]\nwrite_iops_log=x\nlog_avg_msec=500\n');
    const logs = new FioJobLogs(x!.options.logs, 1);
    for (let t = 10; t < 500; t += 10) logs.complete(t, 0, 4096, 0, 1000, 1000);
    logs.complete(500.2, 0, 4096, 0, 1000, 1000); // closes the first window at 500
    logs.complete(500.6, 0, 4096, 0, 1000, 1000);
    logs.finish(500.9);
    const times = logs.files()[0]!.text.trim().split('\n').map((l) => l.split(', ')[0]);
    expect(times).toEqual(['500']);
  });
});
