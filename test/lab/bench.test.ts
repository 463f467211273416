import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

const cli = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const run = promisify(execFile);

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [cli, 'bench', ...args], { timeout: 240_000, maxBuffer: 64 << 20 });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

interface FioJob {
  jobname: string;
  error: number;
  read: { iops: number; io_bytes: number };
  write: { iops: number; io_bytes: number };
  'vfio-node': { target: string };
}

describe('the fio-style benchmark runs on the lab NVMe through worker-owned queue pairs', () => {
  const file = () => `--filename=${labNvme()[0]}/1`;

  it('completes a short time-based run of each rw mode with non-zero IOPS', async () => {
    const modes = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'];
    const args = ['--bs=4k', '--iodepth=8', '--runtime=1', '--time_based', '--size=16M', file(), '--output-format=json'];
    for (const m of modes) args.push(`--name=${m}`, `--rw=${m}`, '--stonewall');
    const r = await bench(args);
    expect(r.code, r.stderr).toBe(0);
    const jobs = (JSON.parse(r.stdout) as { jobs: FioJob[] }).jobs;
    expect(jobs.map((j) => j.jobname)).toEqual(modes);
    for (const j of jobs) {
      expect(j.error).toBe(0);
      if (/read|rw/.test(j.jobname) && j.jobname !== 'write' && j.jobname !== 'randwrite') expect(j.read.iops, j.jobname).toBeGreaterThan(0);
      if (/write|rw/.test(j.jobname)) expect(j.write.iops, j.jobname).toBeGreaterThan(0);
    }
  });

  it('runs numjobs=2 on two queue pairs at once', async () => {
    const r = await bench(['--name=two', '--rw=randread', '--bs=4k', '--iodepth=4', '--numjobs=2', '--runtime=1', '--time_based', file(), '--output-format=json']);
    expect(r.code, r.stderr).toBe(0);
    const jobs = (JSON.parse(r.stdout) as { jobs: FioJob[] }).jobs;
    expect(jobs).toHaveLength(2);
    for (const j of jobs) expect(j.read.iops).toBeGreaterThan(0);
    const qids = jobs.map((j) => /#qid(\d+)$/.exec(j['vfio-node'].target)?.[1]);
    expect(qids[0]).toBeDefined();
    expect(new Set(qids).size).toBe(2);
  });

  it('verify finds a block corrupted behind its back and names its offset', async () => {
    const region = ['--bs=4k', '--size=1M', '--offset=0', file(), '--verify=crc32c'];
    const w = await bench(['--name=w', '--rw=write', '--iodepth=4', ...region]);
    expect(w.code, w.stderr + w.stdout).toBe(0);
    const clean = await bench(['--name=r', '--rw=read', '--iodepth=4', ...region]);
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    // Corrupt the block at byte offset 64 KiB through the driver, as another writer would.
    const ctrl = await NvmeController.open(labNvme()[0]!);
    try {
      const ns = ctrl.namespace(1);
      const buf = ctrl.allocBuffer(4096);
      buf.bytes.fill(0x5a);
      await ns.write((64 * 1024) / ns.blockSize, 4096 / ns.blockSize, buf.bytes);
      buf.release();
    } finally {
      ctrl.close();
    }
    const bad = await bench(['--name=r', '--rw=read', '--iodepth=4', ...region]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/verify: bad magic header 5a5a.* at offset 65536/);
  });
});
