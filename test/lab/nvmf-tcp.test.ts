// The kernel is the client: `vfio-node nvmf serve` (our NVMe/TCP target) serves a RAM disk
// on 127.0.0.1:4420 inside the guest, and the guest's own Linux NVMe/TCP initiator
// (nvme-tcp, driven by nvme-cli) discovers it, connects, gets a block device, moves data
// through it with O_DIRECT (no page cache between the check and the target), makes an
// ext4 filesystem that fsck finds clean, and disconnects. The target runs as a user runs
// it: the real CLI in a child process.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MallocBdev } from '@vfio-node/bdev';
import { NvmeController } from '@vfio-node/nvme';
import { NvmfTarget } from '@vfio-node/nvmf';
import { labNvme } from './lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const NQN = 'nqn.2026-12.io.vfio-node:lab-malloc';
const PORT = 4420;
const SIZE = 64 * 1024 * 1024;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end without blocking the event loop (vitest's worker talks meanwhile). */
async function sh(cmd: string, args: string[], timeout = 60_000): Promise<Run> {
  try {
    const r = await promisify(execFile)(cmd, args, { timeout, maxBuffer: 16 << 20 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}${e.message}` };
  }
}

/** The block devices (nvmeXnY, not the per-path nvmeXcYnZ) whose subsystem NQN is nqn. */
function blockDevicesOf(nqn: string): string[] {
  return readdirSync('/sys/block')
    .filter((d) => /^nvme\d+n\d+$/.test(d))
    .filter((d) => {
      const f = `/sys/block/${d}/device/subsysnqn`;
      return existsSync(f) && readFileSync(f, 'utf8').trim() === nqn;
    });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let target: ChildProcess | null = null;
let targetOut = '';
let targetErr = '';
let work = '';

beforeAll(async () => {
  labNvme(); // inside the lab, or fail
  work = mkdtempSync(join(tmpdir(), 'nvmf-'));
  // The guest's loopback is down at boot; the kernel initiator needs it.
  expect((await sh('ip', ['link', 'set', 'lo', 'up'])).status).toBe(0);
  // Loaded by hand: the kernel's own module requests run modprobe from the initramfs's
  // root, outside the lab's chroot, and find none there.
  for (const m of ['nvme-tcp', 'ext4']) {
    const mod = await sh('modprobe', [m]);
    expect(mod.status, mod.stderr).toBe(0);
  }
  target = spawn(process.execPath, [BIN, 'nvmf', 'serve', '--listen', `127.0.0.1:${PORT}`, '--nqn', NQN, 'malloc:64M'], { stdio: ['ignore', 'pipe', 'pipe'] });
  target.stdout!.setEncoding('utf8').on('data', (d: string) => (targetOut += d));
  target.stderr!.setEncoding('utf8').on('data', (d: string) => (targetErr += d));
  await waitFor('the target to print its connect line', () => targetOut.includes('connect with:') || target!.exitCode !== null, 60_000);
  expect(targetOut, targetErr).toContain(`connect with: nvme connect -t tcp -a 127.0.0.1 -s ${PORT} -n ${NQN}`);
});

afterAll(async () => {
  await sh('nvme', ['disconnect', '-n', NQN]);
  if (target && target.exitCode === null) {
    const exited = new Promise((r) => target!.once('exit', r));
    target.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the guest kernel uses a RAM disk served by vfio-node nvmf serve over NVMe/TCP', () => {
  let dev = '';

  it('nvme discover lists the subsystem at 127.0.0.1:4420 (the discovery controller and its log page)', async () => {
    const r = await sh('nvme', ['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT)]);
    expect(r.status, `${r.stdout}\n${r.stderr}\n${targetErr}`).toBe(0);
    expect(r.stdout).toMatch(/trtype:\s+tcp/);
    expect(r.stdout).toMatch(new RegExp(`subnqn:\\s+${NQN.replace(/\./g, '\\.')}`));
    expect(r.stdout).toMatch(/traddr:\s+127\.0\.0\.1/);
    expect(r.stdout).toMatch(new RegExp(`trsvcid:\\s+${PORT}`));
  });

  it('nvme connect gives a block device of the RAM disk\'s size', async () => {
    const r = await sh('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT), '-n', NQN]);
    expect(r.status, `${r.stdout}\n${r.stderr}\n${targetErr}`).toBe(0);
    const devs = await waitFor('a block device of the subsystem', () => {
      const d = blockDevicesOf(NQN);
      return d.length ? d : undefined;
    });
    expect(devs).toHaveLength(1);
    dev = `/dev/${devs[0]}`;
    expect(Number(readFileSync(`/sys/block/${devs[0]}/size`, 'utf8')) * 512).toBe(SIZE);
    expect(readFileSync(`/sys/block/${devs[0]}/queue/logical_block_size`, 'utf8').trim()).toBe('512');
    expect(targetErr).toMatch(/connect: .* qid 0 .*host nqn\./);
    expect(targetErr).toMatch(/connect: .* qid 1 /);
  });

  it('data written with O_DIRECT reads back identical: 4 KiB (in-capsule data) and 1 MiB (R2T and H2CData)', async () => {
    expect(dev).not.toBe('');
    const small = randomBytes(4096);
    const big = randomBytes(1 << 20);
    writeFileSync(join(work, 'small'), small);
    writeFileSync(join(work, 'big'), big);
    for (const [file, bs, seek] of [['small', '4k', '5'], ['big', '1M', '7']] as const) {
      const w = await sh('dd', [`if=${join(work, file)}`, `of=${dev}`, `bs=${bs}`, 'count=1', `seek=${seek}`, 'oflag=direct', 'conv=fsync']);
      expect(w.status, w.stderr).toBe(0);
    }
    const rs = await sh('dd', [`if=${dev}`, `of=${join(work, 'small.back')}`, 'bs=4k', 'count=1', 'skip=5', 'iflag=direct']);
    const rb = await sh('dd', [`if=${dev}`, `of=${join(work, 'big.back')}`, 'bs=1M', 'count=1', 'skip=7', 'iflag=direct']);
    expect(rs.status, rs.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    expect(readFileSync(join(work, 'small.back')).equals(small)).toBe(true);
    expect(readFileSync(join(work, 'big.back')).equals(big)).toBe(true);
    // Blocks around them are still zeroes (nothing written where the host did not write).
    const z = await sh('dd', [`if=${dev}`, `of=${join(work, 'zero.back')}`, 'bs=4k', 'count=1', 'skip=4', 'iflag=direct']);
    expect(z.status, z.stderr).toBe(0);
    expect(readFileSync(join(work, 'zero.back')).every((b) => b === 0)).toBe(true);
  });

  it('mkfs.ext4, mount, write a file, umount: fsck -n finds the filesystem clean and the file reads back after a remount', async () => {
    expect(dev).not.toBe('');
    const mnt = join(work, 'mnt');
    mkdirSync(mnt);
    const mk = await sh('mkfs.ext4', ['-F', '-q', dev], 120_000);
    expect(mk.status, mk.stderr).toBe(0);
    const mount = await sh('mount', [dev, mnt]);
    expect(mount.status, mount.stderr).toBe(0);
    const content = randomBytes(3 << 20);
    writeFileSync(join(mnt, 'file.bin'), content);
    expect((await sh('sync', [])).status).toBe(0);
    const um = await sh('umount', [mnt]);
    expect(um.status, um.stderr).toBe(0);
    const fsck = await sh('fsck.ext4', ['-n', '-f', dev], 120_000);
    expect(fsck.status, `${fsck.stdout}\n${fsck.stderr}`).toBe(0);
    expect(fsck.stdout).toMatch(/file\.bin|files/);
    // Drop the page cache so that the read goes over NVMe/TCP to the target.
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    const again = await sh('mount', ['-o', 'ro', dev, mnt]);
    expect(again.status, again.stderr).toBe(0);
    try {
      expect(readFileSync(join(mnt, 'file.bin')).equals(content)).toBe(true);
    } finally {
      await sh('umount', [mnt]);
    }
  });

  it('nvme disconnect removes the block device; the target logs the hosts leaving and keeps listening', async () => {
    const r = await sh('nvme', ['disconnect', '-n', NQN]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/disconnected 1 controller/);
    await waitFor('the block device to go', () => blockDevicesOf(NQN).length === 0);
    await waitFor('the target to log the disconnect', () => /disconnect: .*qid 0/.test(targetErr), 10_000);
    expect(target!.exitCode).toBeNull();
    // Reconnect works: a new controller.
    const again = await sh('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT), '-n', NQN]);
    expect(again.status, `${again.stdout}\n${again.stderr}`).toBe(0);
    await waitFor('the block device again', () => blockDevicesOf(NQN).length === 1);
  });

  it('with header and data digests (nvme connect --hdr-digest --data-digest): CRC32C on every PDU, data reads back identical', async () => {
    expect((await sh('nvme', ['disconnect', '-n', NQN])).status).toBe(0);
    await waitFor('the block device to go', () => blockDevicesOf(NQN).length === 0);
    const c = await sh('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT), '-n', NQN, '--hdr-digest', '--data-digest']);
    expect(c.status, `${c.stdout}\n${c.stderr}\n${targetErr}`).toBe(0);
    const [blk] = await waitFor('the block device with digests', () => {
      const d = blockDevicesOf(NQN);
      return d.length === 1 ? d : undefined;
    });
    // Every PDU now carries CRC32C digests that both sides check: a mismatch would end the connection with a C2HTermReq.
    const data = randomBytes(512 * 1024);
    writeFileSync(join(work, 'digest'), data);
    const w = await sh('dd', [`if=${join(work, 'digest')}`, `of=/dev/${blk}`, 'bs=512k', 'count=1', 'seek=9', 'oflag=direct', 'conv=fsync']);
    expect(w.status, w.stderr).toBe(0);
    const r = await sh('dd', [`if=/dev/${blk}`, `of=${join(work, 'digest.back')}`, 'bs=512k', 'count=1', 'skip=9', 'iflag=direct']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(work, 'digest.back')).equals(data)).toBe(true);
    expect(targetErr).toMatch(/qid 1 .*digests: header and data/);
  });

  it('Ctrl-C (SIGINT) ends the associations, the kernel notices, and the target exits 0', async () => {
    const exited = new Promise<number | null>((r) => target!.once('exit', (code) => r(code)));
    target!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(targetErr).toMatch(/SIGINT: disconnecting \d+ connection/);
    expect(targetErr).toMatch(/closed/);
    await sh('nvme', ['disconnect', '-n', NQN]);
  });
});

describe('the guest kernel uses a namespace of the vfio-pci NVMe controller, served through the runtime over NVMe/TCP', () => {
  const NQN2 = 'nqn.2026-12.io.vfio-node:lab-nvme';
  const PORT2 = 4421;
  const pattern = randomBytes(256 * 1024);
  const LBA = 2048; // 512-byte blocks: byte offset 1 MiB

  it('data the kernel writes through the target is on the controller\'s namespace, byte for byte, read back through VFIO after the target exited', async () => {
    const bdev = `${labNvme()[0]}/1`;
    let out = '';
    let err = '';
    const t = spawn(process.execPath, [BIN, 'nvmf', 'serve', '--listen', `127.0.0.1:${PORT2}`, '--nqn', NQN2, bdev], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    t.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => t.once('exit', (code) => r(code)));
    try {
      await waitFor('the target on the NVMe namespace', () => out.includes('connect with:') || t.exitCode !== null, 90_000);
      expect(out, err).toContain(`nsid 1: ${bdev} (`);
      const c = await sh('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT2), '-n', NQN2]);
      expect(c.status, `${c.stdout}\n${c.stderr}\n${err}`).toBe(0);
      const [blk] = await waitFor('the block device', () => {
        const d = blockDevicesOf(NQN2);
        return d.length ? d : undefined;
      });
      expect(Number(readFileSync(`/sys/block/${blk}/size`, 'utf8')) * 512).toBe(256 * 1024 * 1024);
      writeFileSync(join(work, 'nvme-pattern'), pattern);
      const w = await sh('dd', [`if=${join(work, 'nvme-pattern')}`, `of=/dev/${blk}`, 'bs=256k', 'count=1', `seek=${(LBA * 512) / (256 * 1024)}`, 'oflag=direct', 'conv=fsync']);
      expect(w.status, w.stderr).toBe(0);
      const r = await sh('dd', [`if=/dev/${blk}`, `of=${join(work, 'nvme-back')}`, 'bs=256k', 'count=1', `skip=${(LBA * 512) / (256 * 1024)}`, 'iflag=direct']);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(work, 'nvme-back')).equals(pattern)).toBe(true);
      const d = await sh('nvme', ['disconnect', '-n', NQN2]);
      expect(d.status, d.stderr).toBe(0);
    } finally {
      if (t.exitCode === null) t.kill('SIGINT');
    }
    expect(await exited, err).toBe(0);
    // The target closed the runtime (the controller shut down, the device released): open it here and read.
    await using ctrl = await NvmeController.open(labNvme()[0]!);
    const buf = ctrl.allocBuffer(pattern.length);
    try {
      await ctrl.namespace(1).read(LBA, pattern.length / 512, buf.bytes);
      expect(Buffer.from(buf.bytes.subarray(0, pattern.length)).equals(pattern)).toBe(true);
    } finally {
      buf.release();
    }
  });
});

describe('namespaces added and removed while the guest kernel is connected (Asynchronous Event Request, Namespace Attribute notices)', () => {
  const NQN3 = 'nqn.2026-12.io.vfio-node:lab-aen';
  const PORT3 = 4422;

  it('the kernel gets a block device for a namespace added while it is connected, uses it, and drops it when the namespace is removed', async () => {
    // In this process: the API an embedder uses to change namespaces while serving.
    await using t = await NvmfTarget.listen({ listen: `127.0.0.1:${PORT3}`, subsystems: [{ nqn: NQN3, namespaces: [new MallocBdev('first', 16 << 20)] }] });
    const c = await sh('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT3), '-n', NQN3]);
    expect(c.status, `${c.stdout}\n${c.stderr}`).toBe(0);
    try {
      const [first] = await waitFor('the first namespace\'s block device', () => {
        const d = blockDevicesOf(NQN3);
        return d.length === 1 ? d : undefined;
      });
      const added = new MallocBdev('added', 32 << 20);
      const nsid = t.subsystem(NQN3).addNamespace(added);
      expect(nsid).toBe(2);
      // The kernel learns of it only from the AER's notice (it rescans on Namespace Attribute Changed).
      const devs = await waitFor('a second block device after the notice', () => {
        const d = blockDevicesOf(NQN3);
        return d.length === 2 ? d : undefined;
      });
      const second = devs.find((d) => d !== first)!;
      expect(readFileSync(`/sys/block/${second}/nsid`, 'utf8').trim()).toBe('2');
      expect(Number(readFileSync(`/sys/block/${second}/size`, 'utf8')) * 512).toBe(32 << 20);
      const data = randomBytes(64 * 1024);
      writeFileSync(join(work, 'aen-data'), data);
      const w = await sh('dd', [`if=${join(work, 'aen-data')}`, `of=/dev/${second}`, 'bs=64k', 'count=1', 'seek=3', 'oflag=direct', 'conv=fsync']);
      expect(w.status, w.stderr).toBe(0);
      // The bytes are in the added RAM disk, where the kernel put them.
      const back = new Uint8Array(data.length);
      await added.read(BigInt((3 * 64 * 1024) / 512), data.length / 512, back);
      expect(Buffer.from(back).equals(data)).toBe(true);

      expect(t.subsystem(NQN3).removeNamespace(2)).toBe(added);
      await waitFor('the second block device to go after the notice', () => {
        const d = blockDevicesOf(NQN3);
        return d.length === 1 && d[0] === first ? d : undefined;
      });
    } finally {
      await sh('nvme', ['disconnect', '-n', NQN3]);
    }
  });
});
