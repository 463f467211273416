import { describe, expect, it } from 'vitest';
import { compareJson } from './compare.js';
import { formatEndScreen, readCompareJson } from './end-screen.js';
import type { PeerResult } from './peer.js';

const ours: PeerResult = { peer: 'vfio-node', label: 'us', command: [], read: { iops: 33012, bwBytes: 33012 * 4096, ios: 330120, latMeanNs: 967_000, clatP50Ns: 900_000, clatP99Ns: 1_712_000 } };
const kernel: PeerResult = { peer: 'kernel', label: 'kernel nvme + fio fio-3.33', command: ['fio'], read: { iops: 18864, bwBytes: 18864 * 4096, ios: 188640, latMeanNs: 1_690_000, clatP99Ns: 3_100_000 } };
const qemu: PeerResult = { peer: 'qemu', label: 'q', command: ['qemu-img', 'bench'], read: { iops: 13813, bwBytes: 13813 * 4096, ios: 330120 }, note: 'sequential offsets only' };

describe("npm start's end screen", () => {
  it('reads back what compareJson wrote', () => {
    const json = JSON.parse(JSON.stringify(compareJson(ours, [kernel, qemu])));
    const back = readCompareJson(json);
    expect(back.ours).toEqual(ours);
    expect(back.peers).toEqual([kernel, qemu]);
  });

  it('one row per engine with IOPS, MiB/s, mean and p99 latency, then the ratios in words', () => {
    const s = formatEndScreen(ours, [kernel, qemu]);
    const lines = s.split('\n');
    expect(lines[0]).toMatch(/^engine\s+dir\s+IOPS\s+MiB\/s\s+mean lat\s+p99 lat$/);
    expect(lines[1]).toMatch(/^vfio-node \(userspace, VFIO\)\s+read\s+33\.0k\s+129\.0\s+967 us\s+1\.71 ms$/);
    expect(lines[2]).toMatch(/^kernel nvme driver \(fio\)\s+read\s+18\.9k\s+73\.7\s+1\.69 ms\s+3\.10 ms$/);
    expect(lines[3]).toMatch(/^QEMU's userspace driver \(qemu-img\)\s+read\s+13\.8k\s+54\.0\s+-\s+-$/);
    expect(s).toContain('vfio-node vs kernel nvme driver (fio): 1.75x the IOPS, 0.57x the mean latency, 0.55x the p99 latency');
    expect(s).toContain("vfio-node vs QEMU's userspace driver (qemu-img): 2.39x the IOPS (sequential offsets only)");
  });

  it('with the runtime among the peers: a row for each of our two paths, and both against the kernel', () => {
    const runtime: PeerResult = { peer: 'vfio-runtime', label: 'r', command: ['vfio-node'], read: { iops: 15000, bwBytes: 15000 * 4096, ios: 150000, latMeanNs: 2_120_000, clatP99Ns: 4_650_000 } };
    const back = readCompareJson(JSON.parse(JSON.stringify(compareJson(ours, [runtime, kernel]))));
    const s = formatEndScreen(back.ours, back.peers);
    const lines = s.split('\n');
    expect(lines[1]).toMatch(/^vfio-node \(userspace, VFIO\)\s+read\s+33\.0k/);
    expect(lines[2]).toMatch(/^vfio-node runtime \(promises\)\s+read\s+15\.0k\s+58\.6\s+2\.12 ms\s+4\.65 ms$/);
    expect(s).toContain('vfio-node direct vs vfio-node runtime (promises): 2.20x the IOPS, 0.46x the mean latency, 0.37x the p99 latency');
    expect(s).toContain('vfio-node direct vs kernel nvme driver (fio): 1.75x the IOPS');
    expect(s).toContain('vfio-node runtime vs kernel nvme driver (fio): 0.80x the IOPS, 1.25x the mean latency, 1.50x the p99 latency');
  });

  it('says so when no peer ran', () => {
    expect(formatEndScreen(ours, [])).toContain('No peer ran');
  });

  it('refuses results without a comparison', () => {
    expect(() => readCompareJson({})).toThrow(/no "vfio-node compare" peers/);
    expect(() => readCompareJson({ peers: [{ peer: 'kernel', read: { iops: 1 } }] })).toThrow(/no vfio-node entry/);
  });
});
