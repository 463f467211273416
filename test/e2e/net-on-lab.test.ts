// `vfio-node net count` with no PCI address, end to end on the host: it boots the lab,
// runs count on one of the lab's NICs with a pktgen partner on the other (the hub joins
// them), and the file asked for with --output lands on the host. Needs a built CLI.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'net-e2e-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const runCli = (args: string[]) => run(args, scratch);


describe('vfio-node net on the lab', () => {
  it("count with no address counts pktgen's frames from the lab's other NIC; --output lands on the host", async () => {
    const r = await runCli(['net', 'count', '--duration=3', '--json', '--output=c.json']);
    expect(r.stderr).toContain("running on the lab's two virtio-net NICs");
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ type: 'summary', app: 'count' });
    expect(summary.sequenced).toBeGreaterThan(0); // frames from pktgen, by their sequence numbers
    const file = JSON.parse(fs.readFileSync(path.join(scratch, 'c.json'), 'utf8'))['vfio-node net'];
    expect(file.app).toBe('count');
    expect(file.summary.packets).toBe(summary.packets);
    expect(file.rates.length).toBeGreaterThan(0);
    expect(file.rates.every((s: { dir: string }) => s.dir === 'rx')).toBe(true);
  });
});
