// `vfio-node bench` with no device named, end to end on the host: it boots the lab, runs
// the job inside on the lab's NVMe through vfio-pci, and the file asked for with --output
// lands on the host (the guest's own writes vanish at power-off). Needs a built CLI.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-e2e-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const runCli = (args: string[]) => run(args, scratch);


describe('vfio-node bench on the lab', () => {
  it('--output (a relative path) lands on the host with the whole job, two jobs each get the lab NVMe', async () => {
    const r = await runCli(['bench', '--name=a', '--rw=randread', '--size=2m', '--name=b', '--rw=read', '--size=1m', '--output=r.json', '--output-format=json+']);
    expect(r.stderr).toContain("running on the lab's emulated NVMe");
    expect(r.status).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(scratch, 'r.json'), 'utf8'));
    expect(json.jobs.map((j: { jobname: string }) => j.jobname)).toEqual(['a', 'b']);
    expect(json.jobs[0].read.total_ios).toBe(512);
    expect(json.jobs[1].read.total_ios).toBe(256);
    expect(json.jobs[0]['vfio-node'].target).toMatch(/^0000:00:0[0-9a-f]\.0\/1#qid\d+$/);
    // Not a terminal: no status line in what was printed.
    expect(r.stdout).not.toContain('Jobs:');
  });

  it("fio's log files written in the guest land on the host where their names point, ours and the kernel peer's", async () => {
    // Time-based, 1 s: fio writes an averaged line only when a 100 ms window closes, and a
    // fast kernel peer read the 4 MiB in less than one window (an empty log).
    const r = await runCli(['bench', '--name=l', '--rw=randread', '--size=4m', '--iodepth=4', '--runtime=1', '--time_based', '--write_iops_log=logs/x', '--log_avg_msec=100', '--compare=kernel', '--output=l.json', '--output-format=json+']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(path.join(scratch, 'logs')).sort()).toEqual(['kernel-x_iops.1.log', 'x_iops.1.log']);
    for (const f of ['x_iops.1.log', 'kernel-x_iops.1.log']) {
      const lines = fs.readFileSync(path.join(scratch, 'logs', f), 'utf8').trim().split('\n');
      expect(lines.length, f).toBeGreaterThan(0);
      for (const line of lines) expect(line, f).toMatch(/^\d+, \d+, 0, 0, 0$/);
    }
    const json = JSON.parse(fs.readFileSync(path.join(scratch, 'l.json'), 'utf8'));
    expect(json.jobs[0]['vfio-node'].series.interval_ms).toBe(100);
    expect(json['vfio-node compare'].peers.find((p: { peer: string }) => p.peer === 'kernel').series.read.iops.length).toBeGreaterThan(0);
  });
});

