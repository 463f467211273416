// The last screen of `npm start`, drawn from the results file the guest wrote.
import { describe, expect, it } from 'vitest';
import { compareJson } from '../../bench/src/peers/compare.js';
import { defaultResultsPath, endScreen } from '../../packages/cli/src/commands/main-job.js';

const jobOptions = { name: 'randread-4k-qd32', rw: 'randread', bs: '4k', iodepth: '32', runtime: '10', time_based: '' };
const fioRead = { iops: 20000, bw_bytes: 20000 * 4096, total_ios: 200000, lat_ns: { mean: 1_500_000 }, clat_ns: { percentile: { '99.000000': 2_900_000 } } };

describe('npm start: the end screen', () => {
  it('with peers: the job, the engines table and the ratios', () => {
    const ours = { peer: 'vfio-node' as const, label: 'us', command: [], read: { iops: 20000, bwBytes: 20000 * 4096, ios: 200000, latMeanNs: 1_500_000, clatP99Ns: 2_900_000 } };
    const kernel = { peer: 'kernel' as const, label: 'k', command: ['fio'], read: { iops: 10000, bwBytes: 10000 * 4096, ios: 100000, latMeanNs: 3_000_000, clatP99Ns: 5_800_000 } };
    const s = endScreen({ jobs: [{ 'job options': jobOptions, read: fioRead }], 'vfio-node compare': compareJson(ours, [kernel]) });
    expect(s).toContain('Comparison, the same job in the same lab boot (randread, bs=4k, iodepth=32, runtime=10)');
    expect(s).toMatch(/kernel nvme driver \(fio\)\s+read\s+10\.0k/);
    expect(s).toContain('vfio-node vs kernel nvme driver (fio): 2.00x the IOPS, 0.50x the mean latency, 0.50x the p99 latency');
  });

  it('stopped before the peers (Ctrl-C): our figures alone, and says so', () => {
    const s = endScreen({ jobs: [{ 'job options': jobOptions, read: fioRead, write: { total_ios: 0 } }] });
    expect(s).toContain('Stopped before the peers ran (randread, bs=4k, iodepth=32, runtime=10)');
    expect(s).toMatch(/vfio-node \(userspace, VFIO\)\s+read\s+20\.0k\s+78\.1\s+1\.50 ms\s+2\.90 ms/);
    expect(s).toContain('No peer ran');
  });

  it('results go to results/main-DATE.json', () => {
    expect(defaultResultsPath(new Date(2026, 11, 2, 9, 5, 7))).toBe('results/main-20261202-090507.json');
  });
});
