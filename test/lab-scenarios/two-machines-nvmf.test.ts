// lab: --machines 2 --nvme size=128M,serial=TWOMACHINES --timeout 1500
// Another machine's kernel uses the drive vfio-node drives (issue 17's done line). This
// runs on machine 1 of a two-machine lab: its NVMe controller is bound to vfio-pci and
// served by `vfio-node nvmf serve` on the private link (10.99.0.1:4420). Machine 2, a
// guest of its own (its own kernel, 1 vCPU, no NVMe), is driven through the lab's command
// agent (runOnMachine): its kernel's NVMe/TCP initiator discovers and connects, mkfs.ext4,
// mounts, writes a file, unmounts, fsck -n finds it clean, and it disconnects. Then the
// target stops and this machine reads the drive through VFIO itself: the ext4 superblock
// (magic, the UUID machine 2 reported) and the file's blocks (the sha256 machine 2
// computed of what it wrote) are on the drive. Two guests boot on the host's cores at
// once: the lab's own deadline is longer than other scenarios' (--timeout above).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnMachine, type MachineCommandResult } from '@vfio-node/lab';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme } from '../lab/lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const NQN = 'nqn.2026-12.io.vfio-node:two-machines';
const PORT = 4420;
const SIZE = 128 * 1024 * 1024;
const FS_BLOCK = 4096;
const FILE_BYTES = 1 << 20;

/** A shell script on machine 2 (its own kernel, the host's files read-only under a tmpfs overlay). */
function onMachine2(script: string, timeoutMs = 240_000): Promise<MachineCommandResult> {
  return runOnMachine(2, ['sh', '-ec', script], { timeoutMs });
}

const show = (r: MachineCommandResult) => `status ${r.exitCode}\n${r.stdout}\n${r.stderr}\ntarget said:\n${targetOut}${targetErr}`;

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let linkAddr = '';
let target: ChildProcess | null = null;
let targetOut = '';
let targetErr = '';

beforeAll(async () => {
  const [nvme] = labNvme();
  linkAddr = process.env.VFIO_LAB_LINK_ADDR ?? '';
  expect(linkAddr, 'this scenario runs on machine 1 of `vfio-node lab run --machines 2`').toBe('10.99.0.1');
  target = spawn(process.execPath, [BIN, 'nvmf', 'serve', '--listen', `${linkAddr}:${PORT}`, '--nqn', NQN, `${nvme}/1`], { stdio: ['ignore', 'pipe', 'pipe'] });
  target.stdout!.setEncoding('utf8').on('data', (d: string) => (targetOut += d));
  target.stderr!.setEncoding('utf8').on('data', (d: string) => (targetErr += d));
  await waitFor('the target to print its connect line', () => targetOut.includes('connect with:') || target!.exitCode !== null, 120_000);
  expect(targetOut, targetErr).toContain(`connect with: nvme connect -t tcp -a ${linkAddr} -s ${PORT} -n ${NQN}`);
});

afterAll(async () => {
  if (target && target.exitCode === null) {
    const exited = new Promise((r) => target!.once('exit', r));
    target.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  }
});

describe('machine 2\'s kernel mounts ext4 on an NVMe namespace that machine 1 drives through VFIO and serves over NVMe/TCP', () => {
  let dev = '';
  let uuid = '';
  let sha = '';
  let blocks: number[] = [];

  it('machine 2 is another machine on the private link: its own kernel, one vCPU, no NVMe, 10.99.0.2', async () => {
    const r = await onMachine2('nproc; cat /proc/sys/kernel/random/boot_id; ls /sys/class/nvme | wc -l; ip -4 -o addr show');
    expect(r.exitCode, show(r)).toBe(0);
    const [cpus, bootId, nvmes] = r.stdout.split('\n');
    expect(cpus).toBe('1');
    expect(bootId).not.toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(nvmes).toBe('0');
    expect(r.stdout).toMatch(/inet 10\.99\.0\.2\/24/);
    expect(os.cpus().length).toBe(2);
  });

  it('nvme discover on machine 2 lists the subsystem at 10.99.0.1:4420', async () => {
    // By hand: the kernel's own module requests look outside the lab's chroot.
    const r = await onMachine2(`modprobe nvme-tcp; modprobe ext4; nvme discover -t tcp -a ${linkAddr} -s ${PORT}`);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toMatch(/trtype:\s+tcp/);
    expect(r.stdout).toMatch(new RegExp(`subnqn:\\s+${NQN.replace(/\./g, '\\.')}`));
    expect(r.stdout).toMatch(/traddr:\s+10\.99\.0\.1/);
  });

  it('nvme connect on machine 2 gives a block device of the namespace\'s size; the target saw the host at 10.99.0.2', async () => {
    const r = await onMachine2(`
      nvme connect -t tcp -a ${linkAddr} -s ${PORT} -n ${NQN}
      for i in $(seq 300); do
        for d in /sys/block/nvme*; do
          case \${d##*/} in *c*) continue;; esac
          if [ "$(cat $d/device/subsysnqn 2>/dev/null)" = ${NQN} ]; then echo "\${d##*/} $(cat $d/size)"; exit 0; fi
        done
        sleep 0.2
      done
      echo "no block device of ${NQN}: $(ls /sys/block)" >&2; exit 1`);
    expect(r.exitCode, show(r)).toBe(0);
    const [name, sectors] = r.stdout.trim().split('\n').at(-1)!.split(' ');
    expect(Number(sectors) * 512).toBe(SIZE);
    dev = `/dev/${name}`;
    expect(targetErr).toMatch(/connect: 10\.99\.0\.2:\d+ qid 0 .*host nqn\./);
    expect(targetErr).toMatch(/connect: 10\.99\.0\.2:\d+ qid 1 /);
  });

  it('mkfs.ext4, mount, write a file, umount on machine 2; fsck -n finds the filesystem clean', async () => {
    expect(dev).not.toBe('');
    const r = await onMachine2(`
      mkfs.ext4 -F -q -b ${FS_BLOCK} ${dev}
      mkdir -p /tmp/two-machines
      mount ${dev} /tmp/two-machines
      head -c ${FILE_BYTES} /dev/urandom > /tmp/hello.src
      cp /tmp/hello.src /tmp/two-machines/hello.bin
      sync
      umount /tmp/two-machines
      echo "sha $(sha256sum < /tmp/hello.src | cut -d' ' -f1)"
      echo "uuid $(dumpe2fs -h ${dev} 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')"
      echo "blocks $(debugfs -R 'blocks /hello.bin' ${dev} 2>/dev/null)"`);
    expect(r.exitCode, show(r)).toBe(0);
    const field = (k: string) => new RegExp(`^${k} (.*)$`, 'm').exec(r.stdout)?.[1]?.trim() ?? '';
    sha = field('sha');
    uuid = field('uuid');
    blocks = field('blocks').split(/\s+/).filter(Boolean).map(Number);
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(blocks).toHaveLength(FILE_BYTES / FS_BLOCK);
    const fsck = await onMachine2(`fsck.ext4 -n -f ${dev}`);
    expect(fsck.exitCode, show(fsck)).toBe(0);
    expect(fsck.stdout).toMatch(/12\/\d+ files/); // 11 reserved inodes and hello.bin
  });

  it('nvme disconnect on machine 2 ends the association; the target logs it', async () => {
    const r = await onMachine2(`nvme disconnect -n ${NQN}`);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toMatch(/disconnected 1 controller/);
    await waitFor('the target to log the disconnect', () => /disconnect: .*10\.99\.0\.2.*qid 0|controller \d+ of .*two-machines .*ended/.test(targetErr), 30_000);
  });

  it('with the target stopped, machine 1 reads through VFIO what machine 2 wrote: the ext4 superblock and the file\'s blocks', async () => {
    expect(blocks.length).toBeGreaterThan(0);
    const exited = new Promise<number | null>((r) => target!.once('exit', (code) => r(code)));
    target!.kill('SIGINT');
    expect(await exited, targetErr).toBe(0);
    const ctrl = await NvmeController.open(labNvme()[0]!);
    try {
      const ns = ctrl.namespace(1);
      const buf = ctrl.allocBuffer(FS_BLOCK);
      try {
        // The superblock: 1024 bytes in, magic 0xEF53 at 0x38, the UUID at 0x68.
        await ns.readAt(0, buf.bytes);
        const sb = Buffer.from(buf.bytes.subarray(1024, 2048));
        expect(sb.readUInt16LE(0x38)).toBe(0xef53);
        expect(sb.subarray(0x68, 0x78).toString('hex')).toBe(uuid.replaceAll('-', ''));
        const hash = createHash('sha256');
        for (const b of blocks) {
          await ns.readAt(BigInt(b) * BigInt(FS_BLOCK), buf.bytes);
          hash.update(buf.bytes);
        }
        expect(hash.digest('hex')).toBe(sha);
      } finally {
        buf.release();
      }
    } finally {
      await ctrl.close();
    }
  });
});
