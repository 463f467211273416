// lab: --bind kernel --nvme size=64M,serial=DATASAFE --hugepages 64
// Data a user can lose (issue 12), on a real kernel nvme driver and then real VFIO: bind
// refuses a controller whose namespace is mounted (here and in another mount namespace)
// or held open by a process, naming who holds it; once on vfio-pci, the writing commands
// and a bench write job refuse a namespace that carries an ext4 filesystem unless --force.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labNvme } from '../lab/lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const MNT = '/mnt/data';
/** Under TCG on a busy host one CLI run takes tens of seconds: each step gets 15 minutes. */
const STEP_MS = 900_000;

/** A line in $VFIO_LAB_OUT/progress.log (readable on the host while the lab runs). */
function note(line: string): void {
  if (process.env.VFIO_LAB_OUT) appendFileSync(join(process.env.VFIO_LAB_OUT, 'progress.log'), `${new Date().toISOString()} ${line}\n`);
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process, asynchronously (under TCG a run takes seconds). */
function cli(...args: string[]): Promise<Run> {
  note(`run vfio-node ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 180_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => {
      note(`  status ${status}: ${stderr.trim().split('\n').join(' | ')}`);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end();
  });
}

function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd}: status ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Starts `sh -c cmd` in the background and waits for its first line on stdout (its "ready"). */
function background(cmd: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.setEncoding('utf8').once('data', () => resolve(child));
    child.on('error', reject);
    child.on('exit', (s) => reject(new Error(`${cmd} exited with ${s} before it was ready`)));
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const driverOf = (addr: string) => basename(readlinkSync(`/sys/bus/pci/devices/${addr}/driver`));

describe('bind refuses a controller whose disk is in use, and writes refuse a namespace that holds ext4', () => {
  let addr: string;
  let disk: string;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    note('beforeAll: mkfs.ext4 and mount');
    addr = labNvme()[0]!;
    expect(driverOf(addr)).toBe('nvme');
    disk = `/dev/${sh(`ls /sys/bus/pci/devices/${addr}/nvme/*/ | grep -E '^nvme[0-9]+n1$' | head -n1`).trim()}`;
    expect(disk).toMatch(/^\/dev\/nvme\d+n1$/);
    // ext4 is a module of the host's kernel (the lab's root is the host's root).
    sh('modprobe ext4');
    sh(`mkfs.ext4 -F -q ${disk}`);
    mkdirSync(MNT, { recursive: true });
    sh(`mount -t ext4 ${disk} ${MNT}`);
    dir = mkdtempSync(join(tmpdir(), 'data-safety-'));
    note('beforeAll: mounted');
  }, STEP_MS);
  afterAll(async () => {
    note('afterAll');
    for (const c of children) await stop(c);
    spawnSync('umount', [MNT]);
  });

  it('bind refuses while the ext4 filesystem is mounted, names the mount, and leaves the device on nvme', async () => {
    const r = await cli('bind', addr);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`vfio-node: ${addr} is in use: ${disk} is mounted on ${MNT}\n`);
    expect(r.stderr).toContain('hint: --force takes it anyway');
    expect(driverOf(addr)).toBe('nvme');
  }, STEP_MS);

  it('bind refuses a disk that a process holds open (sleep 600 < /dev/nvme0n1), naming pid and command', async () => {
    sh(`umount ${MNT}`);
    const holder = await background(`echo started; exec sleep 600 < ${disk}`);
    children.push(holder);
    // Until the shell has exec'd sleep, the fd is the shell's.
    let r!: Run;
    for (let i = 0; i < 10; i++) {
      r = await cli('bind', addr);
      if (r.stderr.includes('(sleep, fd 0)')) break;
    }
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`vfio-node: ${addr} is in use: ${disk} is open in pid ${holder.pid} (sleep, fd 0)\n`);
    expect(driverOf(addr)).toBe('nvme');
    await stop(holder);
  }, STEP_MS);

  it('bind refuses a mount that only another mount namespace has, naming a process in it', async () => {
    const ns = await background(`exec unshare -m --propagation private sh -c 'mount -t ext4 ${disk} ${MNT} && echo mounted && exec sleep 600'`);
    children.push(ns);
    const r = await cli('bind', addr);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${disk} is mounted on ${MNT} in another mount namespace \\(that of pid ${ns.pid}, sleep\\)`));
    expect(driverOf(addr)).toBe('nvme');
    await stop(ns);
  }, STEP_MS);

  it('bind --driver refuses a driver that is not registered, listing the registered ones', async () => {
    const r = await cli('bind', '--driver', '../..', addr);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('vfio-node: no PCI driver "../.." is registered (/sys/bus/pci/drivers)\n');
    expect(r.stderr).toMatch(/hint: Registered PCI drivers: .*\bnvme\b/);
    expect(driverOf(addr)).toBe('nvme');
  }, STEP_MS);

  it('with nothing holding it, bind hands the controller to vfio-pci', async () => {
    // The other namespace's mount goes when its last process has died (the kernel tears it down after).
    let r!: Run;
    for (let i = 0; i < 10; i++) {
      r = await cli('bind', addr);
      if (r.status === 0) break;
      await new Promise((res) => setTimeout(res, 2000));
    }
    expect(r.status).toBe(0);
    expect(driverOf(addr)).toBe('vfio-pci');
  }, STEP_MS);

  it('nvme write and write-zeroes refuse the namespace that holds ext4, naming it; --force writes; short data is refused', async () => {
    const block = join(dir, 'block');
    writeFileSync(block, Buffer.alloc(512, 0xa5));
    const refusal = (cmd: string) => `vfio-node: nvme ${cmd} refused: namespace 1 of ${addr} holds ext4 (at byte 1080)\n`;
    const w = await cli('nvme', 'write', addr, '-n', '1', '-s', '100', '-c', '0', '-z', '512', '-d', block);
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(refusal('write'));
    expect(w.stderr).toContain('--force writes anyway');
    const z = await cli('nvme', 'write-zeroes', addr, '-n', '1', '-s', '100');
    expect(z.status).toBe(1);
    expect(z.stderr).toContain(refusal('write-zeroes'));
    const forced = await cli('nvme', 'write', addr, '-n', '1', '-s', '100', '-c', '0', '-z', '512', '-d', block, '--force');
    expect(forced.stderr).toBe('write: Success\n');
    expect(forced.status).toBe(0);
    const short = join(dir, 'short');
    writeFileSync(short, Buffer.alloc(100, 0x5a));
    const s = await cli('nvme', 'write', addr, '-n', '1', '-s', '200', '-c', '0', '-z', '512', '-d', short, '--force');
    expect(s.status).toBe(1);
    expect(s.stderr).toContain(`vfio-node: ${short} holds 100 bytes, the transfer writes 512\n  hint: Give 512 bytes of data, a smaller size, or --pad-zeros to fill the rest with zeros.`);
    const padded = await cli('nvme', 'write', addr, '-n', '1', '-s', '200', '-c', '0', '-z', '512', '-d', short, '--force', '--pad-zeros');
    expect(padded.stderr).toBe('write: Success\n');
    const back = join(dir, 'back');
    expect((await cli('nvme', 'read', addr, '-n', '1', '-s', '200', '-c', '0', '-z', '512', '-d', back)).status).toBe(0);
    expect(readFileSync(back).equals(Buffer.concat([Buffer.alloc(100, 0x5a), Buffer.alloc(412)]))).toBe(true);
  }, STEP_MS);

  it('nvme dsm and format refuse the namespace that holds ext4, naming it', async () => {
    const d = await cli('nvme', 'dsm', addr, '-n', '1', '--slbs', '100', '--blocks', '8', '--ad');
    expect(d.status).toBe(1);
    expect(d.stderr).toContain(`vfio-node: nvme dsm refused: namespace 1 of ${addr} holds ext4 (at byte 1080)\n`);
    const f = await cli('nvme', 'format', addr, '-n', '1');
    expect(f.status).toBe(1);
    expect(f.stderr).toContain(`vfio-node: nvme format refused: namespace 1 of ${addr} holds ext4 (at byte 1080)\n`);
  }, STEP_MS);

  it('a bench write job refuses the namespace that holds ext4, naming it', async () => {
    const w = await cli('bench', '--name=w', '--rw=write', `--filename=${addr}/1`, '--bs=4k', '--size=256k', '--offset=32m', '--eta=never');
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(`vfio-node: bench job w (rw=write) refused: namespace 1 of ${addr} holds ext4 (at byte 1080)\n`);
    expect(w.stdout).not.toContain('WRITE:');
  }, STEP_MS);

  it('once the superblock is zeroed (write-zeroes --force), the same bench write job looks, finds nothing and runs', async () => {
    // The ext superblock is 1024..2047: LBAs 2 and 3 of 512 bytes.
    const z = await cli('nvme', 'write-zeroes', addr, '-n', '1', '-s', '0', '-c', '7', '--force');
    expect(z.status).toBe(0);
    const w = await cli('bench', '--name=w', '--rw=write', `--filename=${addr}/1`, '--bs=4k', '--size=256k', '--offset=32m', '--eta=never');
    expect(w.stderr).not.toContain('refused');
    expect(w.status).toBe(0);
    expect(w.stdout).toContain('WRITE:');
  }, STEP_MS);
});
