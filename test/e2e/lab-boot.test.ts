// The lab, end to end on the host: the CLI boots a guest with vfio-pci bound devices and
// carries the command's status, output and files out; the library boots one with kernel
// drivers, an image-backed NVMe, error injection, a null backing and a hot-pluggable
// controller removed through the monitor; failures (missing command, timeout, signals)
// leave no QEMU and no temporary files behind. Needs a built CLI (npx tsc -b).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, root, runCli as run } from './run-cli.js';
import { startLab } from '@vfio-node/lab';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-e2e-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A private TMPDIR for one CLI run, so its run directory and QEMU can be found by path. */
function privateTmp(name: string): string {
  const d = path.join(scratch, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** QEMU processes whose command line mentions `dir`. */
function qemuUnder(dir: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((l) => l.includes('qemu-system') && l.includes(dir));
}

const runCli = (args: string[], tmp: string) => run(args, root, { TMPDIR: tmp });

describe('vfio-node lab run', () => {
  it('runs the command with the NVMe on vfio-pci, carries its exit status and stdout, and copies $VFIO_LAB_OUT', async () => {
    const tmp = privateTmp('vfio');
    const out = path.join(scratch, 'out');
    const script = [
      'echo "nvme=$VFIO_LAB_NVME"',
      'echo "group=$(basename $(readlink /sys/bus/pci/devices/$VFIO_LAB_NVME/iommu_group))"',
      'echo "vfio=$(ls /dev/vfio | tr "\\n" " ")"',
      'echo "override=$(cat /sys/bus/pci/devices/$VFIO_LAB_NVME/driver_override)"',
      'echo "driver=$(basename $(readlink /sys/bus/pci/devices/$VFIO_LAB_NVME/driver))"',
      'echo "hugepages=$(cat /proc/sys/vm/nr_hugepages) cwd=$(pwd) lab=$VFIO_LAB"',
      'echo "cli=$(vfio-node lab --help | head -1)"',
      'echo to-stderr >&2',
      'echo "written in the guest" > $VFIO_LAB_OUT/result.txt',
      'exit 7',
    ].join('; ');
    const r = await runCli(['lab', 'run', '--out', out, '--timeout', '300', '--', 'sh', '-c', script], tmp);

    expect(r.stderr).toContain('to-stderr');
    expect(r.stdout).not.toContain('to-stderr');
    expect(r.stdout).not.toContain('\r');
    expect(r.status).toBe(7);
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(r.stdout)?.[1];
    expect(field('nvme')).toMatch(/^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    expect(field('vfio')!.split(' ')).toContain(field('group'));
    expect(field('override')).toBe('vfio-pci');
    expect(field('driver')).toBe('vfio-pci');
    expect(field('hugepages')).toBe(`256 cwd=${root.replace(/\/$/, '')} lab=1`);
    expect(field('cli')).toMatch(/^usage: vfio-node lab run/);
    expect(fs.readFileSync(path.join(out, 'result.txt'), 'utf8')).toBe('written in the guest\n');
    expect(qemuUnder(tmp)).toEqual([]);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('fails at once, with status 127 and the name, for a command that does not exist', async () => {
    const tmp = privateTmp('missing');
    const t0 = Date.now();
    const r = await runCli(['lab', 'run', '--', 'no-such-command-vfio-node'], tmp);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('command not found: no-such-command-vfio-node');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('kills QEMU on --timeout and says so, with status 124', async () => {
    const tmp = privateTmp('timeout');
    const r = await runCli(['lab', 'run', '--timeout', '3', '--', 'sleep', '600'], tmp);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/timed out after 3000 ms/);
    expect(qemuUnder(tmp)).toEqual([]);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  // Ctrl-C on a terminal sends SIGINT to this process only (QEMU has a process group of its
  // own): the first is passed to the command in the guest, the second kills the guest.
  it('Ctrl-C: passes SIGINT to the command in the guest, which ends it; a second Ctrl-C kills a guest that ignores it; status 130, nothing left', async () => {
    for (const mode of ['handled', 'ignored'] as const) {
      const tmp = privateTmp(`ctrl-c-${mode}`);
      const script = mode === 'handled' ? 'trap "echo got-INT; exit 3" INT; echo started; sleep 600 & wait' : 'trap "" INT; echo started; sleep 600';
      const child = spawn(process.execPath, [cli, 'lab', 'run', '--', 'sh', '-c', script], { cwd: root, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
      const t0 = Date.now();
      while (!stdout.includes('started') && Date.now() - t0 < 240_000) await new Promise((r) => setTimeout(r, 100));
      expect(stdout).toContain('started');
      child.kill('SIGINT');
      if (mode === 'ignored') {
        while (!stderr.includes('stopping the command')) await new Promise((r) => setTimeout(r, 50));
        child.kill('SIGINT');
      }
      expect(await exited).toBe(130);
      if (mode === 'handled') expect(stdout).toContain('got-INT');
      else expect(stderr).toMatch(/killing the guest/);
      expect(qemuUnder(tmp)).toEqual([]);
      expect(fs.readdirSync(tmp)).toEqual([]);
    }
  });

  it('kills QEMU and removes its files on SIGTERM, and QEMU dies with a SIGKILLed host process', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const tmp = privateTmp(`signal-${signal}`);
      const child = spawn(process.execPath, [cli, 'lab', 'run', '--', 'sleep', '600'], { cwd: root, env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
      const exited = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
      const t0 = Date.now();
      while (qemuUnder(tmp).length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
      expect(qemuUnder(tmp)).toHaveLength(1);
      child.kill(signal);
      const [code, sig] = await exited;
      if (signal === 'SIGTERM') expect(code).toBe(128 + 15);
      else expect(sig).toBe('SIGKILL');
      const t1 = Date.now();
      while (qemuUnder(tmp).length && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 100));
      expect(qemuUnder(tmp)).toEqual([]);
      // SIGKILL leaves the run directory; the next lab start sweeps it (see the timeout case).
      if (signal === 'SIGTERM') expect(fs.readdirSync(tmp)).toEqual([]);
      else {
        expect(fs.readdirSync(tmp)).toHaveLength(1);
        const r = await runCli(['lab', 'run', '--timeout', '1', '--', 'true'], tmp);
        expect(r.status).toBe(124);
        expect(fs.readdirSync(tmp)).toEqual([]);
      }
    }
  });
});

describe('startLab', () => {
  it('a guest that does not start the command by the boot deadline ends with ERR_LAB_BOOT_TIMEOUT, the console tail and the QEMU command line', async () => {
    const lab = startLab({ bootTimeoutMs: 500, accel: 'tcg' }, ['true']);
    const err = await lab.wait().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint: string },
    );
    expect(err).toMatchObject({ code: 'ERR_LAB_BOOT_TIMEOUT' });
    expect(err!.message).toMatch(/did not start the command within 0.5 s .*last phase: (boot|init|modules|bind|mount)/);
    expect(err!.message).toMatch(/qemu command line:\n\s+\S*qemu-system-x86_64 .*-accel tcg/);
    expect(err!.message).toContain('console (last lines)');
  });

  it('leaves devices on kernel drivers, backs an NVMe by a host image, injects errors, and hot-removes a controller through the monitor', async () => {
    const image = path.join(scratch, 'nvme.img');
    const lab = startLab(
      {
        bind: 'kernel',
        nics: 2,
        hugepages: 16,
        timeoutMs: 300_000,
        nvme: [
          `size=32M,lba=4096,namespaces=2,serial=IMG,image=${image}`,
          'size=16M,serial=INJ,inject=read:2048',
          'size=16M,serial=NUL,latency=2000000',
          'size=16M,serial=HOT,hotplug=1',
        ],
      },
      [
        'sh',
        '-c',
        [
          'ctrl() { c=$(grep -l "^$1" /sys/class/nvme/*/serial); c=${c%/serial}; echo ${c##*/}; }',
          'I=$(ctrl IMG); J=$(ctrl INJ)',
          'echo "block=$(ls /sys/block | grep nvme | tr "\\n" " ")"',
          'echo "lbs=$(cat /sys/block/${I}n1/queue/logical_block_size) $(cat /sys/block/${I}n2/queue/logical_block_size)"',
          'echo "nics=$VFIO_LAB_NICS net=$(ls /sys/class/net | grep -v lo | wc -l)"',
          'printf "vfio-node-lab-image" | dd of=/dev/${I}n1 bs=4096 seek=3 conv=sync,fsync 2>/dev/null && echo wrote',
          'dd if=/dev/${J}n1 of=/dev/null bs=512 skip=2047 count=1 iflag=direct 2>/dev/null && echo read-2047-ok',
          'dd if=/dev/${J}n1 of=/dev/null bs=512 skip=2048 count=1 iflag=direct 2>/dev/null || echo read-2048-failed',
          'echo READY',
          'while grep -qs HOT /sys/class/nvme/*/serial; do sleep 0.2; done',
          'echo HOT-GONE',
        ].join('; '),
      ],
    );
    let r;
    try {
      await lab.waitForOutput('READY', 200_000);
      expect(await lab.monitor('info pci')).toContain('id "nvme3"');
      await lab.monitor('device_del nvme3');
      r = await lab.wait();
    } finally {
      lab.kill(); // no-op once QEMU has exited
    }

    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^block=nvme\dn1 nvme\dn2 nvme\dn1 nvme\dn1 nvme\dn1 $/m);
    expect(r.stdout).toContain('lbs=4096 4096\n');
    expect(r.stdout).toMatch(/^nics=0000:\S+ 0000:\S+ net=2$/m);
    expect(r.stdout).toContain('wrote\nread-2047-ok\nread-2048-failed\nREADY\nHOT-GONE\n');
    expect(r.qemuLog).toContain('aio failed: Input/output error');
    // The bytes written in the guest are in the host's image file, at LBA 3 of 4 KiB.
    const bytes = fs.readFileSync(image);
    expect(bytes.length).toBe(32 * 2 ** 20);
    expect(bytes.subarray(3 * 4096, 3 * 4096 + 19).toString()).toBe('vfio-node-lab-image');
    expect(fs.statSync(`${image}.2`).size).toBe(32 * 2 ** 20);
    expect(fs.existsSync(lab.runDir)).toBe(false);
    expect(qemuUnder(lab.runDir)).toEqual([]);
    console.log(`lab timings (${r.accel}): boot to command ${r.timings.bootMs} ms, command ${r.timings.commandMs} ms, total ${r.timings.totalMs} ms`);
  });
});
