// Removal while I/O runs: the controller sits behind a PCIe root port, the guest's driver
// keeps 64 reads and writes in flight, and the host removes the device through QEMU's
// monitor (device_del). The guest kernel relays the removal to the process through VFIO's
// device request interrupt; the driver must fail every pending command with ERR_DEVICE_GONE
// when the request arrives (not when the command timeout runs out), release the device (so the unplug can finish), and the process must
// stay alive and exit 0 after reporting what it saw.
// Needs a build (npx tsc -b): the guest runs drivers/nvme/dist.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startLab } from '@vfio-node/lab';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nvmeDist = path.join(root, 'drivers/nvme/dist/index.js');

const GUEST = `
  const fs = await import('node:fs');
  const { NvmeController } = await import(${JSON.stringify(nvmeDist)});
  const addr = process.env.VFIO_LAB_NVME.split(' ')[0];
  const ctrl = await NvmeController.open(addr, { queueDepth: 128 });
  const ns = ctrl.namespace(1);
  const mem = ctrl.allocBuffer(64 * 4096);
  let ok = 0, submitted = 0, removalAt = 0, lastSettledAt = 0, removalCode = '';
  const failures = {};
  let running = 64;
  ctrl.onRemoval((err) => { removalAt = performance.now(); removalCode = err.code; console.log('REMOVAL-REQUEST ' + err.code); });
  const loop = async (i) => {
    const b = mem.bytes.subarray(i * 4096, (i + 1) * 4096);
    for (;;) {
      const lba = Math.floor(Math.random() * 16000) * 8;
      submitted++;
      try {
        await (i % 2 ? ns.read(lba, 8, b) : ns.write(lba, 8, b));
        ok++;
        if (ok === 2000) console.log('IO-RUNNING');
      } catch (e) {
        failures[e.code] = (failures[e.code] ?? 0) + 1;
        lastSettledAt = performance.now();
        break;
      }
    }
    running--;
  };
  const loops = Array.from({ length: 64 }, (_, i) => loop(i));
  const progress = setInterval(() => console.error('progress ok=' + ok + ' running=' + running + ' failures=' + JSON.stringify(failures)), 5000);
  // Every loop ends at its first failure; all of them must end.
  let timer;
  const deadline = new Promise((r) => (timer = setTimeout(() => r('deadline'), 400_000)));
  await Promise.race([Promise.all(loops), deadline]);
  clearTimeout(timer); // or it would keep the process alive
  clearInterval(progress);
  const failedWithinMs = Math.round(lastSettledAt - removalAt);
  // After the release the kernel finishes the unplug: the device leaves the guest.
  const t0 = Date.now();
  while (fs.existsSync('/sys/bus/pci/devices/' + addr) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
  let after = '';
  try { await ns.read(0, 8, mem.bytes); } catch (e) { after = e.code; }
  console.log('SUMMARY ' + JSON.stringify({ submitted, ok, failures, running, removalCode, failedWithinMs, deviceLeft: !fs.existsSync('/sys/bus/pci/devices/' + addr), after }));
  await ctrl.close();
`;

describe('a controller removed while I/O runs fails every pending command with ERR_DEVICE_GONE and lets the process carry on', () => {
  it('relays the removal request, fails all pending I/O as it arrives (not by timeout), releases the device and exits 0', async () => {
    // The guest's output and console go to stderr as they come (a hang is then visible).
    const echo = (s: string) => process.stderr.write(s);
    const lab = startLab({ nvme: ['size=64M,serial=HOT,hotplug=1'], hugepages: 32, timeoutMs: 540_000 }, ['node', '--input-type=module', '-e', GUEST], { onStdout: echo, onStderr: echo, onConsole: echo });
    let r;
    try {
      await lab.waitForOutput('IO-RUNNING', 400_000);
      expect(await lab.monitor('info pci')).toContain('id "nvme0"');
      await lab.monitor('device_del nvme0');
      r = await lab.wait();
    } finally {
      lab.kill(); // no-op once QEMU has exited
    }
    expect(r.stderr.split('\n').filter((l) => l && !l.includes('"level":') && !l.startsWith('progress '))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('REMOVAL-REQUEST ERR_DEVICE_GONE\n');
    const line = /^SUMMARY (.*)$/m.exec(r.stdout);
    expect(line, r.stdout.slice(-2000)).not.toBeNull();
    const s = JSON.parse(line![1]!) as {
      submitted: number; ok: number; failures: Record<string, number>; running: number; removalCode: string; failedWithinMs: number; deviceLeft: boolean; after: string;
    };
    console.log(`surprise removal: ${JSON.stringify(s)}`);
    expect(s.ok).toBeGreaterThanOrEqual(2000);
    // All 64 loops ended, each on exactly one failure, and that failure is the removal.
    expect(s.running).toBe(0);
    expect(s.failures).toEqual({ ERR_DEVICE_GONE: 64 });
    expect(s.submitted).toBe(s.ok + 64);
    // From the removal request to the last of the 64 failures, in the guest: the driver
    // fails them when the request arrives, not when its 30 s command timeout runs out (those
    // failures would also carry another code). Measured with two busy loops (yes >
    // /dev/null) on the 2-core host: 7, 28 and 8 ms; 180 ms seen once in an earlier run. The
    // bound, 5 s, is far below the timeout and 25 times the worst seen.
    expect(s.failedWithinMs).toBeGreaterThanOrEqual(0);
    expect(s.failedWithinMs).toBeLessThan(5000);
    expect(s.deviceLeft).toBe(true);
    expect(s.after).toBe('ERR_DEVICE_GONE');
  });
});
